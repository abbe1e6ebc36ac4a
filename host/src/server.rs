//! Accepting connections (TCP, optionally TLS with ALPN h2) and running one
//! pump per connection, with graceful shutdown.

use crate::app::SharedApp;
use crate::bindings::Options;
use crate::pump::{ConnectionConfig, serve_connection_with};
use crate::runtime::Runtime;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub struct Server {
    pub runtime: Arc<Runtime>,
    pub options: Options,
    pub app: SharedApp,
    /// `None` serves cleartext HTTP/2 with prior knowledge (h2c).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// After shutdown, how long open streams may take to finish.
    pub grace: Duration,
    /// Node's `unknownProtocolTimeout` (10 s): a TLS client that has not
    /// negotiated h2 by then is disconnected. One that negotiates anything
    /// else is disconnected at once (no HTTP/1.1 fallback yet).
    pub handshake_timeout: Duration,
    /// What each connection does besides answering (e.g. ALTSVC).
    pub connection: ConnectionConfig,
}

impl Server {
    /// Accepts until `shutdown` turns true, then closes every connection
    /// gracefully (GOAWAY; open streams finish) and returns.
    pub async fn run(
        self: Arc<Self>,
        listener: TcpListener,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let mut tasks = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (tcp, addr) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            // Out of file descriptors and the like: keep serving.
                            tracing::warn!("accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = tcp.set_nodelay(true);
                    let server = self.clone();
                    let stop = shutdown.clone();
                    tasks.spawn(async move {
                        let peer = addr.to_string();
                        match server.connection(tcp, &peer, stop).await {
                            Ok(()) => {}
                            Err(e) if e.is::<crate::pump::Trap>() => {
                                tracing::warn!(%peer, "connection closed: {e:#}");
                            }
                            // Resets and failed handshakes: routine on the open internet.
                            Err(e) => tracing::debug!(%peer, "connection ended: {e:#}"),
                        }
                    });
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = shutdown.changed() => break,
            }
        }
        drop(listener);
        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(self.grace, drain).await.is_err() {
            tracing::warn!("shutdown grace period over; closing remaining connections");
            tasks.abort_all();
        }
        Ok(())
    }

    async fn connection(
        &self,
        tcp: tokio::net::TcpStream,
        peer: &str,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let summary = match &self.tls {
            None => {
                serve_connection_with(
                    &self.runtime,
                    &self.options,
                    &self.connection,
                    tcp,
                    self.app.clone(),
                    peer,
                    shutdown,
                )
                .await?
            }
            Some(config) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
                let tls = tokio::time::timeout(self.handshake_timeout, acceptor.accept(tcp))
                    .await
                    .map_err(|_| anyhow::anyhow!("TLS handshake timed out"))??;
                if tls.get_ref().1.alpn_protocol() != Some(crate::tls::ALPN_H2) {
                    tracing::info!(%peer, "client did not negotiate HTTP/2 (ALPN h2); closing");
                    return Ok(());
                }
                serve_connection_with(
                    &self.runtime,
                    &self.options,
                    &self.connection,
                    tls,
                    self.app.clone(),
                    peer,
                    shutdown,
                )
                .await?
            }
        };
        tracing::debug!(%peer, ?summary, "connection closed");
        Ok(())
    }
}

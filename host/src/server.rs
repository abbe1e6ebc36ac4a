//! Accepting connections (TCP, optionally TLS with ALPN h2) and running one
//! pump per connection, within the server's limits, with graceful
//! shutdown.

use crate::app::SharedApp;
use crate::bindings::Options;
use crate::limits::{Limits, Refusal};
use crate::pump::{ConnectionConfig, serve_connection_with};
use crate::runtime::Runtime;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
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
    /// How each connection is run. Its `handshake_timeout` also bounds
    /// the TLS handshake and ALPN (Node's `unknownProtocolTimeout`): a
    /// client that negotiates anything but h2 is disconnected at once (no
    /// HTTP/1.1 fallback yet). Without `limits`, the server holds at most
    /// the runtime's `max_connections` and has no memory budget.
    pub connection: ConnectionConfig,
}

/// How long a refused cleartext connection is read from (and discarded)
/// after the refusal, so that closing it does not reset the connection
/// before the client has read the GOAWAY.
const REFUSAL_LINGER: Duration = Duration::from_millis(200);

impl Server {
    /// Accepts until `shutdown` turns true, then closes every connection
    /// gracefully (GOAWAY; open streams finish) and returns.
    pub async fn run(
        self: Arc<Self>,
        listener: TcpListener,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let limits = self.limits();
        // What loading the engine allocated and freed goes back first.
        crate::trim::freed();
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
                    let slot = match limits.admit() {
                        Ok(slot) => slot,
                        Err(why) => {
                            tasks.spawn(refuse(tcp, why, self.tls.is_some()));
                            continue;
                        }
                    };
                    let server = self.clone();
                    let stop = shutdown.clone();
                    tasks.spawn(async move {
                        let _slot = slot;
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
        tracing::debug!(stats = ?limits.stats(), "server stopped");
        Ok(())
    }

    /// The limits connections are admitted under.
    pub fn limits(&self) -> Arc<Limits> {
        self.connection
            .limits
            .clone()
            .unwrap_or_else(|| Limits::new(self.runtime.max_connections() as usize, None))
    }

    async fn connection(
        &self,
        tcp: TcpStream,
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
                let timeout = self.connection.handshake_timeout;
                let tls = tokio::time::timeout(timeout, acceptor.accept(tcp))
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

/// Turns away a connection the server cannot take: over TLS by closing
/// it (no handshake is spent on it); in cleartext with an HTTP/2 refusal
/// written without an instance (SETTINGS, then GOAWAY REFUSED_STREAM).
async fn refuse(mut tcp: TcpStream, why: Refusal, tls: bool) {
    if tls {
        return;
    }
    let reason = match why {
        Refusal::Capacity => "server at connection capacity; retry later",
        Refusal::Memory => "server short of memory; retry later",
    };
    if tcp.write_all(&crate::io::refusal(reason)).await.is_err() {
        return;
    }
    let _ = tcp.shutdown().await;
    // Read what the client sent, until it closes or the linger ends.
    let mut sink = [0u8; 1024];
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

//! Accepting connections (TCP, optionally TLS with ALPN) within the
//! server's limits, and serving each with HTTP/2 (the engine) or, for
//! clients that do not speak it, HTTP/1.1 (hyper), with graceful shutdown.

use crate::bindings::{Options, Settings};
use crate::engine::Runtime;
use crate::serve::http1::{Http1Config, serve_http1};
use crate::serve::limits::{Limits, Refusal};
use crate::serve::pump::{Builder, ConnectionConfig, ConnectionSet, Error, for_serving};
use crate::serve::sniff::{Opening, Rewind, sniff};
use crate::service::{ConnectionInfo, SharedService};
use arc_swap::ArcSwap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A server: accepts connections on a listener and serves each with HTTP/2
/// or HTTP/1.1 until it is told to stop. Built with [`Server::builder`].
pub struct Server {
    runtime: Arc<Runtime>,
    /// Read as each connection starts (see [`Server::update_settings`]).
    options: Arc<ArcSwap<Options>>,
    service: SharedService,
    tls: Option<Arc<rustls::ServerConfig>>,
    grace: Duration,
    connection: ConnectionConfig,
    http1: Option<Http1Config>,
}

/// What a [`Server`] is built from; every setting has a default.
pub struct ServerBuilder {
    server: Server,
}

impl ServerBuilder {
    /// Serves TLS with this configuration (its ALPN list decides what
    /// clients may negotiate). Without it the server speaks cleartext:
    /// h2c with prior knowledge, and HTTP/1.1.
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> ServerBuilder {
        self.server.tls = Some(config);
        self
    }

    /// After shutdown, how long open streams may take to finish (10 s).
    pub fn grace(mut self, grace: Duration) -> ServerBuilder {
        self.server.grace = grace;
        self
    }

    /// How each HTTP/2 connection is run. Its `handshake_timeout` also
    /// bounds the TLS handshake and, in cleartext, the wait for the first
    /// octets (Node's `unknownProtocolTimeout`).
    pub fn connection(mut self, config: ConnectionConfig) -> ServerBuilder {
        let limits = self.server.connection.limits.take();
        self.server.connection = config;
        self.server.connection.limits = self.server.connection.limits.take().or(limits);
        self
    }

    /// HTTP/1.1 for clients that do not speak HTTP/2 (Node's
    /// `allowHTTP1`, on by default): over TLS those that negotiate
    /// `http/1.1` or no ALPN, in cleartext those that do not open with the
    /// HTTP/2 preface. `None`: HTTP/2 only, and the others are
    /// disconnected.
    pub fn http1(mut self, config: Option<Http1Config>) -> ServerBuilder {
        let limits = self.server.http1.as_mut().and_then(|h| h.limits.take());
        self.server.http1 = config.map(|mut h| {
            h.limits = h.limits.or(limits);
            h
        });
        self
    }

    /// The connections held, the memory budget and the counters, for both
    /// protocols. Without it the server holds at most the runtime's
    /// `max_connections` and has no memory budget.
    pub fn limits(mut self, limits: Arc<Limits>) -> ServerBuilder {
        self.server.connection.limits = Some(limits.clone());
        if let Some(h) = self.server.http1.as_mut() {
            h.limits = Some(limits);
        }
        self
    }

    /// The server, ready to `serve`.
    pub fn build(self) -> Arc<Server> {
        Arc::new(self.server)
    }
}

/// How long a refused cleartext connection is read from (and discarded)
/// after the refusal, so that closing it does not reset the connection
/// before the client has read the GOAWAY.
const REFUSAL_LINGER: Duration = Duration::from_millis(200);

impl Server {
    /// A server for `service` on `runtime`'s engine with `options`.
    pub fn builder(
        runtime: Arc<Runtime>,
        options: Options,
        service: SharedService,
    ) -> ServerBuilder {
        ServerBuilder {
            server: Server {
                runtime,
                options: Arc::new(ArcSwap::from_pointee(for_serving(options))),
                service,
                tls: None,
                grace: Duration::from_secs(10),
                connection: ConnectionConfig::default(),
                http1: Some(Http1Config::default()),
            },
        }
    }

    /// Changes the SETTINGS of the connections that begin from now on
    /// (Node's `server.updateSettings`): each field given replaces the
    /// server's, custom settings by identifier; connections already open
    /// keep theirs (a service changes its own with
    /// [`crate::service::Http2Stream::update_settings`]). A value RFC 9113
    /// forbids (a window past 2^31-1, a frame size outside
    /// 16,384..=16,777,215, push enabled by a server) or more than 10
    /// custom settings is refused, and nothing changes.
    pub fn update_settings(&self, settings: Settings) -> anyhow::Result<()> {
        if settings
            .initial_window_size
            .is_some_and(|w| w > 0x7fff_ffff)
        {
            anyhow::bail!("initial-window-size is at most 2147483647");
        }
        if settings
            .max_frame_size
            .is_some_and(|f| !(16_384..=16_777_215).contains(&f))
        {
            anyhow::bail!("max-frame-size is 16384..=16777215");
        }
        if settings.enable_push == Some(true) {
            anyhow::bail!("a server cannot enable push in its SETTINGS (RFC 9113 §6.5.2)");
        }
        let mut options = Options::clone(&self.options.load());
        let to = &mut options.settings;
        let merge = |to: &mut Option<u32>, from: Option<u32>| {
            if from.is_some() {
                *to = from;
            }
        };
        merge(&mut to.header_table_size, settings.header_table_size);
        merge(
            &mut to.max_concurrent_streams,
            settings.max_concurrent_streams,
        );
        merge(&mut to.initial_window_size, settings.initial_window_size);
        merge(&mut to.max_frame_size, settings.max_frame_size);
        merge(&mut to.max_header_list_size, settings.max_header_list_size);
        if settings.enable_push.is_some() {
            to.enable_push = settings.enable_push;
        }
        if settings.enable_connect_protocol.is_some() {
            to.enable_connect_protocol = settings.enable_connect_protocol;
        }
        if settings.no_rfc7540_priorities.is_some() {
            to.no_rfc7540_priorities = settings.no_rfc7540_priorities;
        }
        for (id, value) in settings.custom {
            match to.custom.iter_mut().find(|(i, _)| *i == id) {
                Some(kept) => kept.1 = value,
                None => to.custom.push((id, value)),
            }
        }
        if to.custom.len() > 10 {
            anyhow::bail!("at most 10 custom settings");
        }
        self.options.store(Arc::new(for_serving(options)));
        Ok(())
    }

    /// Accepts until `shutdown` turns true, then closes every connection
    /// gracefully (GOAWAY or `Connection: close`; open streams finish) and
    /// returns.
    pub async fn run(
        self: Arc<Self>,
        listener: TcpListener,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let limits = self.limits();
        // What loading the engine allocated and freed goes back first.
        crate::engine::trim::freed();
        // Every HTTP/2 connection belongs to this set, and closes with it.
        let stopping = ConnectionSet::new();
        let http2 = Arc::new(
            Builder::with_shared_options(self.runtime.clone(), self.options.clone())
                .config(self.connection.clone())
                .in_set(stopping.clone()),
        );
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
                            tasks.spawn(refuse(tcp, why, self.tls.is_some(), self.http1.is_some()));
                            continue;
                        }
                    };
                    let task = serve_accepted(self.clone(), http2.clone(), tcp, addr, slot, shutdown.clone());
                    tasks.spawn(task);
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = shutdown.changed() => break,
            }
        }
        drop(listener);
        stopping.close();
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

    /// Opens an accepted connection: sniffs cleartext for the preface, or
    /// makes the TLS handshake, then starts HTTP/2 on it, or serves all of
    /// an HTTP/1.1 connection.
    async fn open(
        self: Arc<Self>,
        http2: Arc<Builder>,
        tcp: TcpStream,
        peer: String,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<Opened> {
        let timeout = self.connection.handshake_timeout;
        let Some(config) = &self.tls else {
            let info = ConnectionInfo {
                peer: peer.into(),
                encrypted: false,
                alpn: None,
                server_name: None,
            };
            if self.http1.is_none() {
                // HTTP/2 only: the engine answers anything but the
                // preface with GOAWAY(PROTOCOL_ERROR).
                return Ok(self.http2(&http2, tcp, info));
            }
            // Cleartext: the preface says HTTP/2, anything else HTTP/1.1.
            let mut tcp = tcp;
            let (opening, prefix) = match tokio::time::timeout(timeout, sniff(&mut tcp)).await {
                Ok(sniffed) => sniffed?,
                Err(_) => {
                    // Counted before the socket closes: whoever sees the
                    // close sees the count.
                    tracing::debug!(peer = %info.peer, "nothing said in time; closing");
                    if let Some(l) = &self.connection.limits {
                        l.count_handshake_timeout();
                    }
                    drop(tcp);
                    return Ok(Opened::Done);
                }
            };
            let io = Rewind::new(prefix, tcp);
            return match opening {
                Opening::Closed => Ok(Opened::Done),
                Opening::Http2 => Ok(self.http2(&http2, io, info)),
                Opening::Http1 => self.http1(io, info, shutdown).await.map(|()| Opened::Done),
            };
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
        let tls = tokio::time::timeout(timeout, acceptor.accept(tcp))
            .await
            .map_err(|_| anyhow::anyhow!("TLS handshake timed out"))??;
        let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        let info = ConnectionInfo {
            peer: peer.into(),
            encrypted: true,
            alpn: alpn.as_deref().map(|a| String::from_utf8_lossy(a).into()),
            server_name: tls
                .get_ref()
                .1
                .server_name()
                .map(|n| n.to_ascii_lowercase().into()),
        };
        if alpn.as_deref() == Some(crate::tls::ALPN_H2) {
            Ok(self.http2(&http2, tls, info))
        } else {
            // http/1.1 by ALPN, or no ALPN at all.
            self.http1(tls, info, shutdown).await.map(|()| Opened::Done)
        }
    }

    /// HTTP/2 on `io`, to be served by the connection's task; the server's
    /// shutdown asks it to close gracefully (`http2` connections belong to
    /// the server's set).
    fn http2<IO>(&self, http2: &Builder, io: IO, info: ConnectionInfo) -> Opened
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let peer = info.peer.clone();
        let connection = http2.serve_connection(io, self.service.clone(), info);
        Opened::Http2 { connection, peer }
    }

    async fn http1<IO>(
        &self,
        io: IO,
        info: ConnectionInfo,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()>
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let Some(config) = &self.http1 else {
            // Over TLS, ALPN already refused anything but h2.
            tracing::info!(peer = %info.peer, "client does not speak HTTP/2 (HTTP/1.1 is off); closing");
            return Ok(());
        };
        let root = self.runtime.files_root();
        serve_http1(io, self.service.clone(), info, config, root, shutdown).await
    }
}

/// An accepted connection, opened.
enum Opened {
    /// HTTP/2, to be served.
    Http2 {
        connection: crate::serve::pump::Connection,
        peer: Arc<str>,
    },
    /// Served already (HTTP/1.1), or closed before saying anything.
    Done,
}

/// An accepted connection's task, until the connection ends: what every
/// open connection holds for as long as it is open, hibernating or not
/// (its size is tested). The opening is boxed, and gone once HTTP/2
/// starts: a task is as large as its largest state, and an HTTP/2
/// connection's should not be sized for sniffing, a TLS handshake or
/// hyper's connection. Not an `async fn`, which would keep its arguments
/// beside the opening they move into.
fn serve_accepted(
    server: Arc<Server>,
    http2: Arc<Builder>,
    tcp: TcpStream,
    addr: std::net::SocketAddr,
    slot: crate::serve::limits::ConnectionSlot,
    stop: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static {
    let opening = Box::pin(server.open(http2, tcp, addr.to_string(), stop));
    async move {
        let _slot = slot;
        // Bound first: the box goes at the end of this statement, before
        // the connection is served.
        let opened = opening.await;
        let served = match opened {
            Ok(Opened::Http2 { connection, peer }) => match connection.await {
                Ok(summary) => {
                    tracing::debug!(%peer, ?summary, "connection closed");
                    Ok(())
                }
                Err(e) => Err((peer, anyhow::Error::from(e))),
            },
            Ok(Opened::Done) => Ok(()),
            Err(e) => Err((addr.to_string().into(), e)),
        };
        match served {
            Ok(()) => {}
            Err((peer, e)) if matches!(e.downcast_ref::<Error>(), Some(Error::Trap(_))) => {
                tracing::warn!(%peer, "connection closed: {e:#}");
            }
            // Resets, failed handshakes, garbage: routine on the open internet.
            Err((peer, e)) => tracing::debug!(%peer, "connection ended: {e:#}"),
        }
    }
}

/// Turns away a connection the server cannot take, at once and without
/// an instance: over TLS by closing it (no handshake is spent on it); in
/// cleartext with an HTTP/2 refusal (SETTINGS, then GOAWAY
/// REFUSED_STREAM), or, to a client that opens in HTTP/1.1, hyper's 503.
async fn refuse(tcp: TcpStream, why: Refusal, tls: bool, http1: bool) {
    if tls {
        return;
    }
    let reason = match why {
        Refusal::Capacity => "server at connection capacity; retry later",
        Refusal::Memory => "server short of memory; retry later",
    };
    if !http1 {
        return refuse_http2(tcp, reason).await;
    }
    // Told apart as accepted connections are; a client that has said
    // nothing in time is refused as HTTP/2 would be.
    let mut tcp = tcp;
    match tokio::time::timeout(REFUSAL_LINGER, sniff(&mut tcp)).await {
        Ok(Ok((Opening::Http1, prefix))) => {
            crate::serve::http1::refuse_http1(Rewind::new(prefix, tcp), reason, REFUSAL_LINGER)
                .await
        }
        Ok(Ok((Opening::Http2, _))) | Err(_) => refuse_http2(tcp, reason).await,
        Ok(Ok((Opening::Closed, _))) | Ok(Err(_)) => {}
    }
}

/// SETTINGS then GOAWAY(REFUSED_STREAM), written without an instance, then
/// what the client sent is read and dropped until it closes or the linger
/// ends, so that the refusal is not lost to a reset.
async fn refuse_http2<IO: AsyncRead + AsyncWrite + Unpin>(mut io: IO, reason: &str) {
    if io
        .write_all(&crate::engine::io::refusal(reason))
        .await
        .is_err()
    {
        return;
    }
    let _ = io.shutdown().await;
    // Read what the client sent, until it closes or the linger ends.
    let mut sink = [0u8; 1024];
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::shared;

    /// Every open connection's task is as large as its largest state; the
    /// serving future itself is boxed (see pump's test), and so is the
    /// opening. In a test build it was 824 octets, then 448 with the
    /// server's shutdown followed through one signal, the sniffing's timer
    /// boxed and `http2`'s arguments moved into the connection; 152 now
    /// that the opening (sniffing, TLS, HTTP/1.1) is boxed and gone when
    /// HTTP/2 starts, and no argument is kept twice.
    #[tokio::test]
    async fn an_accepted_connections_task_stays_small() {
        let (runtime, options) = Runtime::for_tests().await;
        let service = shared(crate::apps::builtin::Builtin);
        let server = Server::builder(runtime.clone(), options.clone(), service).build();
        let http2 = Arc::new(Builder::new(runtime, options));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (tcp, peer) = listener.accept().await.unwrap();
        let slot = server.limits().admit().unwrap();
        let (_stop, stop) = watch::channel(false);
        let task = serve_accepted(server, http2, tcp, peer, slot, stop);
        let size = std::mem::size_of_val(&task);
        assert!(
            size <= 192,
            "an accepted connection's task is {size} octets"
        );
    }
}

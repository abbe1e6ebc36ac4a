//! Serving HTTP/2 on a connection someone else accepted, as hyper's
//! `server::conn::http2::Builder` does: a [`Builder`] holds what every
//! connection is served with, [`Builder::serve_connection`] gives the
//! [`Connection`] future that runs one to its end, and
//! [`Connection::graceful_shutdown`] asks it to finish (GOAWAY, open
//! streams complete).

use super::signal::{ConnectionSet, Signal};
use super::{ConnectionConfig, ConnectionSummary, Serving, Session, Trap};
use crate::bindings::Options;
use crate::engine::Runtime;
use crate::service::{ConnectionInfo, SharedService};
use arc_swap::ArcSwap;
use futures_util::TryFutureExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};

/// What every connection is served with: the engine, its options, how
/// connections are run, and the service.
#[derive(Clone)]
pub struct Builder {
    runtime: Arc<Runtime>,
    /// Read as each connection starts: [`crate::serve::Server::update_settings`]
    /// changes it for the connections that follow.
    options: Arc<ArcSwap<Options>>,
    /// Shared: each connection holds it, and a config of its own would be
    /// 128 octets more per open connection.
    config: Arc<ConnectionConfig>,
    /// The connections served: one timer for their deadlines while they
    /// wait, and the server's close, which every one of them follows.
    connections: Arc<ConnectionSet>,
}

impl Builder {
    /// Connections on `runtime`'s engine with `options` (say
    /// `runtime.default_options()` with settings of your own), run with
    /// [`ConnectionConfig::default`].
    pub fn new(runtime: Arc<Runtime>, options: Options) -> Builder {
        Builder::with_shared_options(
            runtime,
            Arc::new(ArcSwap::from_pointee(super::for_serving(options))),
        )
    }

    /// As [`Builder::new`], with options that may change between
    /// connections.
    pub(crate) fn with_shared_options(
        runtime: Arc<Runtime>,
        options: Arc<ArcSwap<Options>>,
    ) -> Builder {
        Builder {
            runtime,
            options,
            config: Arc::new(ConnectionConfig::default()),
            connections: ConnectionSet::new(),
        }
    }

    /// Connections that belong to `set`: they close gracefully when it
    /// closes (a server's, when it stops).
    pub(crate) fn in_set(mut self, set: Arc<ConnectionSet>) -> Builder {
        self.connections = set;
        self
    }

    /// How connections are run: timeouts, hibernation, limits.
    pub fn config(mut self, config: ConnectionConfig) -> Builder {
        self.config = Arc::new(config);
        self
    }

    /// The connection config in use.
    pub fn connection_config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// Serves HTTP/2 on `io` with `service` answering its requests; `info`
    /// is what requests see of the connection ([`ConnectionInfo`] in their
    /// extensions). The connection takes an engine instance only when the
    /// peer has something to say: none while it waits for the first octet,
    /// and none while it hibernates.
    pub fn serve_connection<IO>(
        &self,
        io: IO,
        service: SharedService,
        info: ConnectionInfo,
    ) -> Connection
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let signal = self.connections.join();
        let session = Session::new(Serving {
            runtime: self.runtime.clone(),
            options: self.options.load_full(),
            config: self.config.clone(),
            service,
            info,
            io,
            signal: signal.clone(),
        });
        // Mapped, not awaited in an `async` block: the block would keep
        // room for the session beside the future it moved into.
        let driving = super::serve(session).map_err(Error::from);
        Connection {
            driving: Box::pin(driving),
            signal,
        }
    }
}

/// One connection being served; resolves when it has closed, with its
/// summary. Dropping it drops the connection at once.
#[must_use = "a connection is served only while it is polled"]
pub struct Connection {
    driving: Pin<Box<dyn Future<Output = Result<ConnectionSummary, Error>> + Send>>,
    signal: Arc<Signal>,
}

impl Connection {
    /// Closes gracefully: GOAWAY now, open streams finish, then the
    /// connection closes. Keep polling the connection until it resolves.
    pub fn graceful_shutdown(&self) {
        self.signal.request();
    }
}

impl Future for Connection {
    type Output = Result<ConnectionSummary, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.driving.as_mut().poll(cx)
    }
}

/// Why a connection ended other than by closing in good order. Only that
/// connection is affected, whichever it is.
#[derive(Debug)]
pub enum Error {
    /// The transport failed (reset, broken pipe, a TLS error).
    Transport(std::io::Error),
    /// The engine instance trapped or ran out of resources.
    Trap(Trap),
    /// No engine instance could be had within the handshake timeout (all
    /// `max_live` were taken): the peer got GOAWAY REFUSED_STREAM.
    NoInstance,
    /// Anything else (a file being sent failed, a hibernated connection's
    /// snapshot was refused), said in words.
    Other(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Transport(e) => write!(f, "transport: {e}"),
            Error::Trap(t) => t.fmt(f),
            Error::NoInstance => f.write_str("no engine instance free"),
            Error::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Error {
        let e = match e.downcast::<Trap>() {
            Ok(trap) => return Error::Trap(trap),
            Err(e) => e,
        };
        let e = match e.downcast::<Error>() {
            Ok(error) => return error,
            Err(e) => e,
        };
        match e.downcast::<std::io::Error>() {
            Ok(io) => Error::Transport(io),
            Err(e) => Error::Other(format!("{e:#}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::shared;

    /// What every connection's task holds while it waits, hibernating or
    /// not: the serving future is as large as its largest state, and a
    /// value held across any of its waits (the engine connection, 1.5 KiB,
    /// once was) makes every idle connection pay for it.
    #[tokio::test]
    async fn the_serving_future_of_a_connection_stays_small() {
        let (runtime, options) = Runtime::for_tests().await;
        let builder = Builder::new(runtime, options);
        let (io, _peer) = tokio::io::duplex(64);
        let service = shared(crate::apps::builtin::Builtin);
        let info = ConnectionInfo {
            peer: "127.0.0.1:1".into(),
            encrypted: false,
            alpn: None,
            server_name: None,
        };
        let connection = builder.serve_connection(io, service, info);
        let size = std::mem::size_of_val(&*connection.driving);
        // 424 octets over this test's pipe. It was 944: a tokio `Sleep`
        // and two `Notified` in the wait for the next octet (the
        // connection's set keeps its deadline and close now), the session
        // twice (once as the `async fn`'s argument), the session's
        // observer's guard with a copy of the connection's info, and the
        // instance's timer; 2,544 with the engine connection held unboxed.
        assert!(size <= 448, "the serving future is {size} octets");
    }

    /// A transport that keeps the octets of each write apart.
    struct Writes {
        io: tokio::io::DuplexStream,
        seen: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    }

    impl tokio::io::AsyncRead for Writes {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
        }
    }

    impl tokio::io::AsyncWrite for Writes {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let written = std::pin::Pin::new(&mut self.io).poll_write(cx, buf);
            if let std::task::Poll::Ready(Ok(n)) = written {
                self.seen.lock().unwrap().push(buf[..n].to_vec());
            }
            written
        }
        /// As a socket's `writev`: the slices in one write.
        fn poll_write_vectored(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            bufs: &[std::io::IoSlice<'_>],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            self.poll_write(cx, &all)
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.io).poll_flush(cx)
        }
        fn poll_shutdown(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
        }
    }

    /// The frames in `octets`: (type, flags, stream).
    fn frames(mut octets: &[u8]) -> Vec<(u8, u8, u32)> {
        use h2wasm_engine::wire::{FRAME_HEADER_LEN, FrameHeader};
        let mut seen = Vec::new();
        while let Some(h) = FrameHeader::parse(octets) {
            seen.push((h.kind, h.flags, h.stream_id));
            octets = &octets[(FRAME_HEADER_LEN + h.length as usize).min(octets.len())..];
        }
        seen
    }

    /// A client sends its preface, SETTINGS and first request together:
    /// the server's SETTINGS, its acknowledgement of the client's and the
    /// response go back in one write (one wake-up of the client, as h2o
    /// and nghttpd answer), not one write each.
    #[tokio::test]
    async fn a_first_request_is_answered_in_the_write_that_carries_the_settings() {
        use h2wasm_engine::wire::{flag, kind};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (runtime, options) = Runtime::for_tests().await;
        let builder = Builder::new(runtime, options);
        let (io, mut client) = tokio::io::duplex(64 * 1024);
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let io = Writes {
            io,
            seen: seen.clone(),
        };
        let info = ConnectionInfo {
            peer: "127.0.0.1:1".into(),
            encrypted: false,
            alpn: None,
            server_name: None,
        };
        let service = shared(crate::apps::builtin::Builtin);
        let serving = tokio::spawn(builder.serve_connection(io, service, info));
        client
            .write_all(&crate::engine::io::warm_up_request())
            .await
            .unwrap();
        let mut got = Vec::new();
        let answered = |got: &[u8]| {
            frames(got)
                .iter()
                .any(|&(k, f, id)| k == kind::DATA && id == 1 && f & flag::END_STREAM != 0)
        };
        while !answered(&got) {
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(std::time::Duration::from_secs(10), client.read(&mut buf))
                .await
                .expect("the response comes")
                .unwrap();
            assert!(n > 0, "the server closed before answering");
            got.extend_from_slice(&buf[..n]);
        }
        let writes = seen.lock().unwrap().clone();
        let first = frames(&writes[0]);
        let settings = first
            .iter()
            .any(|&(k, f, _)| k == kind::SETTINGS && f & flag::ACK == 0);
        let ack = first
            .iter()
            .any(|&(k, f, _)| k == kind::SETTINGS && f & flag::ACK != 0);
        let response = first
            .iter()
            .any(|&(k, _, id)| k == kind::HEADERS && id == 1);
        assert!(
            settings && ack && response,
            "the first write carried {first:?} (writes: {})",
            writes.len()
        );
        drop(client);
        let _ = serving.await;
    }
}

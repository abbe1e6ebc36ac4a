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
}

//! Serving HTTP/2 on a connection someone else accepted, as hyper's
//! `server::conn::http2::Builder` does: a [`Builder`] holds what every
//! connection is served with, [`Builder::serve_connection`] gives the
//! [`Connection`] future that runs one to its end, and
//! [`Connection::graceful_shutdown`] asks it to finish (GOAWAY, open
//! streams complete).

use super::{ConnectionConfig, ConnectionSummary, Trap};
use crate::bindings::Options;
use crate::engine::Runtime;
use crate::service::{ConnectionInfo, SharedService};
use arc_swap::ArcSwap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;

/// What every connection is served with: the engine, its options, how
/// connections are run, and the service.
#[derive(Clone)]
pub struct Builder {
    runtime: Arc<Runtime>,
    /// Read as each connection starts: [`crate::serve::Server::update_settings`]
    /// changes it for the connections that follow.
    options: Arc<ArcSwap<Options>>,
    /// Shared: each connection's future holds the builder, and a config
    /// of its own would be 128 octets more per open connection.
    config: Arc<ConnectionConfig>,
    /// The server's own close, which every connection it serves follows
    /// (none: only each connection's `graceful_shutdown`).
    server_shutdown: Option<Arc<Shutdown>>,
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
            server_shutdown: None,
        }
    }

    /// Connections that also close gracefully when `server` is requested:
    /// one signal for all of a server's connections, where a wait of
    /// their own beside each would cost every idle connection its room.
    pub(crate) fn following(mut self, server: Arc<Shutdown>) -> Builder {
        self.server_shutdown = Some(server);
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
        let shutdown = Arc::new(Shutdown {
            parent: self.server_shutdown.clone(),
            ..Shutdown::default()
        });
        let builder = self.clone();
        let signal = shutdown.clone();
        let driving = async move {
            let options = builder.options.load_full();
            super::serve(
                &builder.runtime,
                options,
                &builder.config,
                io,
                service,
                &info,
                signal,
            )
            .await
            .map_err(Error::from)
        };
        Connection {
            driving: Box::pin(driving),
            shutdown,
        }
    }
}

/// One connection being served; resolves when it has closed, with its
/// summary. Dropping it drops the connection at once.
#[must_use = "a connection is served only while it is polled"]
pub struct Connection {
    driving: Pin<Box<dyn Future<Output = Result<ConnectionSummary, Error>> + Send>>,
    shutdown: Arc<Shutdown>,
}

impl Connection {
    /// Closes gracefully: GOAWAY now, open streams finish, then the
    /// connection closes. Keep polling the connection until it resolves.
    pub fn graceful_shutdown(&self) {
        self.shutdown.request();
    }
}

impl Future for Connection {
    type Output = Result<ConnectionSummary, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.driving.as_mut().poll(cx)
    }
}

/// A graceful close asked for, shared by a [`Connection`] and its driver;
/// a connection's also follows its server's (`parent`).
#[derive(Default)]
pub(crate) struct Shutdown {
    requested: AtomicBool,
    notify: Notify,
    parent: Option<Arc<Shutdown>>,
}

impl Shutdown {
    /// Asks for the close; every connection following this one closes too.
    pub(crate) fn request(&self) {
        self.requested.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub(super) fn is_requested(&self) -> bool {
        self.requested.load(Ordering::Acquire)
            || self.parent.as_ref().is_some_and(|p| p.is_requested())
    }

    /// Resolves once a graceful close has been asked for, of this
    /// connection or of its server.
    pub(super) async fn requested(&self) {
        loop {
            let mut own = std::pin::pin!(self.notify.notified());
            let mut server = std::pin::pin!(self.parent.as_ref().map(|p| p.notify.notified()));
            // Registered before the flags are looked at: a request between
            // the two still wakes it.
            own.as_mut().enable();
            if let Some(server) = server.as_mut().as_pin_mut() {
                server.enable();
            }
            if self.is_requested() {
                return;
            }
            let either = std::future::poll_fn(|cx| {
                let server_woke = server
                    .as_mut()
                    .as_pin_mut()
                    .is_some_and(|s| s.poll(cx).is_ready());
                match server_woke || own.as_mut().poll(cx).is_ready() {
                    true => Poll::Ready(()),
                    false => Poll::Pending,
                }
            });
            either.await;
        }
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
        // 944 octets over this test's pipe (the builder it holds was 120
        // more while it carried its connection config by value); with the
        // engine connection held unboxed, 2,544 over TCP and 2,432 here.
        assert!(size <= 1_024, "the serving future is {size} octets");
    }
}

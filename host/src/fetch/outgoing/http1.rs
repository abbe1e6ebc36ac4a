//! Outgoing requests over HTTP/1.1, for origins that do not speak
//! HTTP/2: hyper's client connections, kept for reuse once their
//! response is done (keep-alive), a few per origin, each for at most the
//! idle timeout.

use super::Sent;
use crate::fetch::Transport;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::futures::Notified;
use tokio::sync::{Notify, OwnedSemaphorePermit, oneshot};
use tokio::task::AbortHandle;
use wasmtime_wasi_http::{Error, WasiBody};

/// Idle connections kept per origin; more are closed once done.
const IDLE_PER_ORIGIN: usize = 32;

/// One HTTP/1.1 connection: the way to send on it, and its task (which
/// holds the connection slot until the connection closes).
pub(super) struct Connection {
    sender: SendRequest<WasiBody>,
    task: AbortHandle,
}

impl Drop for Connection {
    /// A connection no longer kept closes at once, freeing its slot.
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Idle connections by origin, oldest first.
#[derive(Default)]
pub(super) struct Pool {
    idle: Mutex<HashMap<String, Vec<(Connection, Instant)>>>,
    /// Rung when a connection comes back: requests waiting for a slot
    /// look again.
    returned: Notify,
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<(Connection, Instant)>>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle connection to `origin` still open and not idle for longer
    /// than `idle_timeout` (the newest: the likeliest to be open).
    pub(super) fn take(&self, origin: &str, idle_timeout: Duration) -> Option<Connection> {
        let mut idle = self.lock();
        let list = idle.get_mut(origin)?;
        while let Some((c, since)) = list.pop() {
            if since.elapsed() < idle_timeout && !c.sender.is_closed() && c.sender.is_ready() {
                return Some(c);
            }
        }
        idle.remove(origin);
        None
    }

    fn put(&self, origin: String, c: Connection) {
        {
            let mut idle = self.lock();
            let list = idle.entry(origin).or_default();
            if list.len() < IDLE_PER_ORIGIN {
                list.push((c, Instant::now()));
            }
        }
        self.returned.notify_waiters();
    }

    /// Resolves when a connection comes back (enable it before looking).
    pub(super) fn returned(&self) -> Notified<'_> {
        self.returned.notified()
    }

    /// Closes the connection idle the longest of any origin but `keep`,
    /// to free its slot for a new one; false when none is idle.
    pub(super) fn close_oldest_except(&self, keep: &str) -> bool {
        let mut idle = self.lock();
        let oldest = idle
            .iter()
            .filter(|(origin, _)| origin.as_str() != keep)
            .filter_map(|(origin, list)| list.first().map(|(_, since)| (origin.clone(), *since)))
            .min_by_key(|(_, since)| *since);
        match oldest {
            Some((origin, _)) => {
                if let Some(list) = idle.get_mut(&origin) {
                    list.remove(0);
                    if list.is_empty() {
                        idle.remove(&origin);
                    }
                }
                true
            }
            None => false,
        }
    }
}

/// An HTTP/1.1 connection on `io`, which holds its connection slot
/// (`permit`) until it closes.
pub(super) async fn handshake(
    io: Box<dyn Transport>,
    permit: OwnedSemaphorePermit,
) -> Result<Connection, Error> {
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    let task = tokio::spawn(async move {
        let _slot = permit;
        let _ = conn.await;
    });
    Ok(Connection {
        sender,
        task: task.abort_handle(),
    })
}

/// Sends `request` on `c`; once its response is done the connection goes
/// back to `pool` for `origin`.
pub(super) async fn send(
    mut c: Connection,
    pool: Arc<Pool>,
    origin: String,
    request: http::Request<WasiBody>,
    first_byte: Duration,
) -> Result<Sent, Error> {
    let (mut parts, body) = request.into_parts();
    // HTTP/1.1 sends the path; the authority is in `host`.
    parts.uri = parts.uri.path_and_query().map_or_else(
        || http::Uri::from_static("/"),
        |p| p.as_str().parse().unwrap_or_default(),
    );
    let (done, sent) = oneshot::channel();
    let body = Signalled {
        body,
        done: Some(done),
    }
    .boxed_unsync();
    let exchange = c
        .sender
        .send_request(http::Request::from_parts(parts, body));
    let response = match tokio::time::timeout(first_byte, exchange).await {
        Ok(response) => response?,
        // Given up on: dropping `c` closes the connection.
        Err(_) => return Err(Error::ConnectionReadTimeout),
    };
    // Ready again once the response body has been read to its end; a
    // connection whose response was dropped half-read closes instead.
    tokio::spawn(async move {
        if c.sender.ready().await.is_ok() {
            pool.put(origin, c);
        }
    });
    let sent = Box::new(async move { sent.await.unwrap_or(Err(Error::ConnectionTerminated)) });
    Ok((
        response.map(|b| b.map_err(Error::from).boxed_unsync()),
        sent,
    ))
}

/// A request body that says when it has been sent whole (or failed, or
/// was dropped before its end, as when the connection fails).
struct Signalled {
    body: WasiBody,
    done: Option<oneshot::Sender<Result<(), Error>>>,
}

impl Body for Signalled {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => {
                if let Some(done) = self.done.take() {
                    let _ = done.send(Ok(()));
                }
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(done) = self.done.take() {
                    let _ = done.send(Err(Error::InternalError(Some(format!("{e:?}")))));
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Signalled {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            // An empty body hyper never polled was sent whole.
            let outcome = if self.body.is_end_stream() {
                Ok(())
            } else {
                Err(Error::ConnectionTerminated)
            };
            let _ = done.send(outcome);
        }
    }
}

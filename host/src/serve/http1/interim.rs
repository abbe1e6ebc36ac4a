//! 1xx interim responses over HTTP/1.1 (103 Early Hints, as Node's
//! `writeEarlyHints` sends them). hyper's server writes 100-continue
//! itself and nothing else, so these go in between hyper and the
//! transport: a wrapper that writes them when hyper has nothing of its
//! own in flight.
//!
//! Order is the whole difficulty. hyper buffers what it encodes and only
//! hands it to the transport when it flushes, and it calls the
//! transport's `poll_flush` only once its buffer is empty. So: after a
//! `poll_flush` and before the next `poll_write`, hyper holds nothing
//! unwritten ("clean"), and an interim response written then cannot land
//! inside an earlier response. While hyper is mid-write ("dirty") an
//! interim response waits; hyper's next `poll_flush` writes it first.
//! [`Interim::send`] returns only once its octets are written, so a
//! service that awaits it cannot have its final response overtake it.

use crate::serve::lock;
use crate::service::{BoxFuture, InterimSink};
use http::{HeaderMap, StatusCode};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, oneshot};

/// Interim responses waiting to be written, shared by a connection's
/// transport wrapper and its requests' [`Interim`] handles.
#[derive(Default)]
pub(super) struct Pending {
    state: Mutex<State>,
    /// Rung when a response is queued, so that the connection's task
    /// writes it while hyper waits on the service.
    queued: Notify,
}

#[derive(Default)]
struct State {
    /// hyper has written since it last flushed: its buffer may hold more.
    dirty: bool,
    /// Encoded responses, oldest first, with how much of the first is out.
    queue: std::collections::VecDeque<(Vec<u8>, oneshot::Sender<()>)>,
    written: usize,
}

/// A transport that writes queued interim responses between hyper's own.
/// The transport is shared with the connection's task ([`Drain`]), which
/// writes them while hyper waits on the service; both run on that one
/// task, so the lock is never contended.
pub(super) struct InterimIo<IO> {
    io: Arc<Mutex<IO>>,
    pending: Arc<Pending>,
}

/// The connection task's side of an [`InterimIo`].
pub(super) struct Drain<IO> {
    io: Arc<Mutex<IO>>,
    pending: Arc<Pending>,
}

impl<IO> InterimIo<IO> {
    pub(super) fn new(io: IO) -> (Self, Drain<IO>) {
        let io = Arc::new(Mutex::new(io));
        let pending = Arc::new(Pending::default());
        (
            InterimIo {
                io: io.clone(),
                pending: pending.clone(),
            },
            Drain { io, pending },
        )
    }
}

/// Writes what is queued, unless hyper is mid-write.
fn drain<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    pending: &Pending,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let mut state = lock(&pending.state);
    if state.dirty {
        return Poll::Ready(Ok(()));
    }
    let state = &mut *state;
    while let Some((octets, _)) = state.queue.front() {
        let n = std::task::ready!(Pin::new(&mut *io).poll_write(cx, &octets[state.written..]))?;
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        state.written += n;
        if state.written == octets.len() {
            let (_, done) = state.queue.pop_front().expect("front exists");
            state.written = 0;
            let _ = done.send(());
        }
    }
    Poll::Ready(Ok(()))
}

impl<IO: AsyncWrite + Unpin> Drain<IO> {
    /// Waits for interim responses and writes them (and flushes) whenever
    /// hyper is not mid-write; never ends unless writing fails.
    pub(super) async fn run(&self) -> io::Error {
        loop {
            self.pending.queued.notified().await;
            let written = std::future::poll_fn(|cx| {
                let mut io = lock(&self.io);
                std::task::ready!(drain(&mut *io, &self.pending, cx))?;
                Pin::new(&mut *io).poll_flush(cx)
            })
            .await;
            if let Err(e) = written {
                return e;
            }
        }
    }

    /// A handle for one request.
    pub(super) fn interim(&self) -> Arc<Interim> {
        Arc::new(Interim {
            pending: self.pending.clone(),
            answered: AtomicBool::new(false),
        })
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Drain<IO> {
    /// Closes the sending side, then reads and drops what the client
    /// still sends until it closes or `limit` passes. After hyper has
    /// answered a malformed request with 400 it stops reading; closing
    /// with the rest of that request unread would make the kernel send a
    /// reset, which can destroy the 400 before the client reads it.
    pub(super) async fn linger(&self, limit: std::time::Duration) {
        let closed =
            std::future::poll_fn(|cx| Pin::new(&mut *lock(&self.io)).poll_shutdown(cx)).await;
        if closed.is_err() {
            return;
        }
        let mut sink = [0u8; 1024];
        let _ = tokio::time::timeout(limit, async {
            loop {
                let read = std::future::poll_fn(|cx| {
                    let mut buf = ReadBuf::new(&mut sink);
                    std::task::ready!(Pin::new(&mut *lock(&self.io)).poll_read(cx, &mut buf))?;
                    Poll::Ready(io::Result::Ok(buf.filled().len()))
                })
                .await;
                if !matches!(read, Ok(n) if n > 0) {
                    return;
                }
            }
        })
        .await;
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for InterimIo<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&self.io)).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for InterimIo<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut io = lock(&self.io);
        std::task::ready!(drain(&mut *io, &self.pending, cx))?;
        lock(&self.pending.state).dirty = true;
        Pin::new(&mut *io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut io = lock(&self.io);
        // hyper flushes the transport only with its own buffer empty.
        lock(&self.pending.state).dirty = false;
        std::task::ready!(drain(&mut *io, &self.pending, cx))?;
        Pin::new(&mut *io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&self.io)).poll_shutdown(cx)
    }
}

/// One request's way to send interim responses over HTTP/1.1.
pub(crate) struct Interim {
    pending: Arc<Pending>,
    /// The final response has been handed to hyper: no more 1xx.
    answered: AtomicBool,
}

impl Interim {
    /// Queues the response and waits until it is written; false if the
    /// final response has begun or the connection has gone.
    async fn send(&self, status: StatusCode, headers: &HeaderMap) -> bool {
        if self.answered.load(Ordering::Acquire) {
            return false;
        }
        let (done, written) = oneshot::channel();
        lock(&self.pending.state)
            .queue
            .push_back((encode(status, headers), done));
        self.pending.queued.notify_one();
        written.await.is_ok()
    }
}

/// A request's 1xx over HTTP/1.1 (there is one stream: its id is 0).
impl InterimSink for Interim {
    fn send(&self, _stream_id: u32, status: StatusCode, headers: HeaderMap) -> BoxFuture<'_, bool> {
        Box::pin(async move { Interim::send(self, status, &headers).await })
    }

    /// The final response is being written: later sends are refused.
    fn answered(&self, _stream_id: u32) {
        self.answered.store(true, Ordering::Release);
    }
}

/// `HTTP/1.1 103 Early Hints` and its fields (values are valid
/// `HeaderValue`s, so no CR or LF can break out of a line).
fn encode(status: StatusCode, headers: &HeaderMap) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + headers.len() * 64);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn encodes_a_status_line_and_fields() {
        let mut h = HeaderMap::new();
        h.append("link", "</a.css>; rel=preload".parse().unwrap());
        h.append("link", "</b.js>; rel=preload".parse().unwrap());
        assert_eq!(
            encode(StatusCode::EARLY_HINTS, &h),
            b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\nlink: </b.js>; rel=preload\r\n\r\n"
        );
    }

    /// While hyper's own octets are unflushed, an interim response waits
    /// for the flush instead of cutting into them.
    #[tokio::test]
    async fn waits_while_hyper_is_mid_write() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let (mut io, drainer) = InterimIo::new(client);
        io.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        let interim = drainer.interim();
        let send = tokio::spawn(async move {
            interim
                .send(StatusCode::EARLY_HINTS, &HeaderMap::new())
                .await
        });
        // The connection's task tries while hyper is mid-write: nothing
        // is written until the flush.
        tokio::select! {
            _ = drainer.run() => unreachable!(),
            _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
        }
        io.write_all(b"content-length: 0\r\n\r\n").await.unwrap();
        io.flush().await.unwrap();
        assert!(send.await.unwrap());
        drop(io);
        drop(drainer);
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut server, &mut got)
            .await
            .unwrap();
        assert_eq!(
            got,
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn no_interim_after_the_final_response() {
        let (_io, drainer) = InterimIo::new(tokio::io::sink());
        let interim = drainer.interim();
        InterimSink::answered(&*interim, 0);
        assert!(
            !interim
                .send(StatusCode::EARLY_HINTS, &HeaderMap::new())
                .await
        );
    }
}

//! An HTTP/2 stream's bodies as a byte pipe, for what a stream carries
//! once it is answered: a CONNECT tunnel's TCP bytes (RFC 9113 §8.5), a
//! WebSocket's frames (RFC 8441). Client to server is the request body,
//! server to client the response body.

use crate::service::body::Incoming;
use crate::service::{BoxError, Reset};
use bytes::Bytes;
use http_body::{Body, Frame};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Room for one read of the server's side into a DATA frame's worth.
const CHUNK: usize = 16 * 1024;

/// What the host may hold for one tunnel: a chunk being read into the
/// response, one being written from the request, and the 16 KiB a pipe
/// holds each way (WebSockets; a CONNECT tunnel's socket buffers are the
/// kernel's, counted the same).
pub(crate) const TUNNEL_MEMORY: u32 = 4 * CHUNK as u32;

/// In a tunnel's response's extensions: the octets the host may hold
/// for the stream, counted toward the session's `maxSessionMemory` for as
/// long as it lives. The HTTP/2 driver reserves them before it answers,
/// and answers 503 when the session has no room (`reserve-memory`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeldByHost(pub(crate) u32);

/// Writes the request body into `to` as it arrives, on a task of its
/// own; the body's end (END_STREAM) shuts `to`'s write side, and a reset
/// or a failed write drops it.
pub(crate) fn spawn_request_copy<W>(mut body: Incoming, mut to: W)
where
    W: AsyncWrite + Send + Unpin + 'static,
{
    tokio::spawn(async move {
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            match frame.map(Frame::into_data) {
                Ok(Ok(data)) => {
                    if to.write_all(&data).await.is_err() {
                        return;
                    }
                }
                // Trailers: nothing to carry.
                Ok(Err(_)) => {}
                Err(_) => return,
            }
        }
        let _ = to.shutdown().await;
    });
}

/// `from`'s bytes as a response body: its end ends the body, and a read
/// error resets the stream with `reset` (an RST_STREAM code).
pub(crate) struct ReaderBody<R> {
    from: R,
    buf: Box<[u8]>,
    reset: u32,
}

impl<R> ReaderBody<R> {
    pub(crate) fn new(from: R, reset: u32) -> ReaderBody<R> {
        ReaderBody {
            from,
            buf: vec![0; CHUNK].into_boxed_slice(),
            reset,
        }
    }
}

impl<R: AsyncRead + Unpin> Body for ReaderBody<R> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let mut read = ReadBuf::new(&mut this.buf);
        match Pin::new(&mut this.from).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(_)) => Poll::Ready(Some(Err(Box::new(Reset(this.reset))))),
            Poll::Ready(Ok(())) if read.filled().is_empty() => Poll::Ready(None),
            Poll::Ready(Ok(())) => {
                let data = Bytes::copy_from_slice(read.filled());
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
        }
    }
}

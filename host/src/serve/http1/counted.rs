//! An HTTP/1.1 connection's transport, counting the octets it moves into
//! the metrics (hyper reads and writes it; HTTP/2 counts its own).

use crate::serve::access_log::Protocol;
use crate::serve::metrics::Metrics;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `IO`, its octets counted when there are metrics. Counted as HTTP/1.1
/// (an HTTP/1.0 request shares its connection's count).
pub(super) struct Counted<IO> {
    io: IO,
    metrics: Option<Metrics>,
}

impl<IO> Counted<IO> {
    pub(super) fn new(io: IO, metrics: Option<Metrics>) -> Counted<IO> {
        Counted { io, metrics }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Counted<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(m)) = (&polled, &self.metrics) {
            m.octets(Protocol::Http11, (buf.filled().len() - before) as u64, 0);
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Counted<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if let (Poll::Ready(Ok(n)), Some(m)) = (&polled, &self.metrics) {
            m.octets(Protocol::Http11, 0, *n as u64);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let (Poll::Ready(Ok(n)), Some(m)) = (&polled, &self.metrics) {
            m.octets(Protocol::Http11, 0, *n as u64);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

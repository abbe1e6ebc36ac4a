//! Telling HTTP/2 from HTTP/1.1 on a cleartext connection: a client with
//! prior knowledge opens with the HTTP/2 connection preface (RFC 9113
//! §3.4); anything else is taken as HTTP/1.1 and given to hyper. Only the
//! preface's octets are compared, no request is parsed here; what was
//! read is replayed to whichever protocol takes the connection.

use h2wasm_engine::wire::PREFACE;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// What a cleartext connection opened with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Opening {
    Http2,
    Http1,
    /// The client closed before saying enough to tell.
    Closed,
}

/// The octets [`sniff`] read, to be put back with [`Rewind::new`].
pub(super) struct Prefix {
    seen: [u8; PREFACE.len()],
    len: usize,
}

/// Reads until the octets so far either are the whole preface or differ
/// from it; returns the verdict and what was read. The transport is only
/// borrowed: whoever gives up on a slow client still owns it, and closes
/// it when it chooses (after counting, say).
pub(super) async fn sniff<IO: AsyncRead + Unpin>(
    io: &mut IO,
) -> std::io::Result<(Opening, Prefix)> {
    let mut seen = [0u8; PREFACE.len()];
    let mut n = 0;
    let opening = loop {
        if seen[..n] != PREFACE[..n] {
            break Opening::Http1;
        }
        if n == PREFACE.len() {
            break Opening::Http2;
        }
        let read = io.read(&mut seen[n..]).await?;
        if read == 0 {
            break Opening::Closed;
        }
        n += read;
    };
    Ok((opening, Prefix { seen, len: n }))
}

/// A transport with some octets already read from it put back in front.
pub(super) struct Rewind<IO> {
    prefix: [u8; PREFACE.len()],
    start: usize,
    end: usize,
    io: IO,
}

impl<IO> Rewind<IO> {
    pub(super) fn new(prefix: Prefix, io: IO) -> Self {
        Rewind {
            prefix: prefix.seen,
            start: 0,
            end: prefix.len,
            io,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Rewind<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.start < this.end {
            let n = (this.end - this.start).min(buf.remaining());
            buf.put_slice(&this.prefix[this.start..this.start + n]);
            this.start += n;
            if buf.remaining() > 0 {
                // What the transport has after them, in the same read: a
                // client's SETTINGS and first request follow its preface,
                // and go to the engine with it. An error here comes again
                // with the next read, or it ends as a close does.
                let _ = Pin::new(&mut this.io).poll_read(cx, buf);
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Rewind<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn verdict(mut input: &[u8]) -> (Opening, Vec<u8>) {
        let (opening, prefix) = sniff(&mut input).await.unwrap();
        let mut io = Rewind::new(prefix, input);
        let mut replay = Vec::new();
        io.read_to_end(&mut replay).await.unwrap();
        (opening, replay)
    }

    #[tokio::test]
    async fn one_read_takes_the_preface_and_what_followed_it() {
        let mut h2 = PREFACE.to_vec();
        h2.extend_from_slice(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00");
        let mut input = &h2[..];
        let (_, prefix) = sniff(&mut input).await.unwrap();
        let mut io = Rewind::new(prefix, input);
        let mut first = [0u8; 100];
        let n = io.read(&mut first).await.unwrap();
        assert_eq!(&first[..n], &h2[..]);
    }

    #[tokio::test]
    async fn the_preface_is_http2_anything_else_http1_and_all_is_replayed() {
        let mut h2 = PREFACE.to_vec();
        h2.extend_from_slice(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00");
        assert_eq!(verdict(&h2).await, (Opening::Http2, h2.clone()));
        let h1 = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        assert_eq!(verdict(&h1).await, (Opening::Http1, h1.clone()));
        // "PRI * HTTP/1.1": diverges late, still HTTP/1.1.
        let late = b"PRI * HTTP/1.1\r\n\r\n".to_vec();
        assert_eq!(verdict(&late).await, (Opening::Http1, late.clone()));
        assert_eq!(verdict(b"PRI").await, (Opening::Closed, b"PRI".to_vec()));
        assert_eq!(verdict(b"").await, (Opening::Closed, Vec::new()));
    }
}

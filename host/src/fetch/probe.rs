//! Cleartext servers and the two protocols: which one a server speaks
//! when nothing says (`get http://…` without `--prior-knowledge` or
//! `--http1.1`), and a clear error when one assumed to speak HTTP/2
//! answers in something else (an HTTP/1.x status line, or an HTTP/0.9
//! style error page as Python's http.server sends).
//!
//! The probe sends what an HTTP/2 client sends first, the preface and an
//! empty SETTINGS frame, on a connection of its own, and reads the first
//! octets of the answer: a server that speaks h2c answers with its
//! SETTINGS frame (RFC 9113 §3.4: it must come first); an HTTP/1.x server
//! reads `PRI * HTTP/2.0` as a request it cannot serve and answers it
//! (400, 505) or closes. The probe
//! connection is then closed, and the real one opened in the protocol
//! found: one round trip more than prior knowledge, and never a request
//! sent twice (no request went on the probe).

use h2wasm_engine::connection::PREFACE;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// How long the probe waits for the server's first octets.
pub(super) const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a cleartext server speaks.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Spoken {
    /// HTTP/2 with prior knowledge: it answered with SETTINGS.
    Http2,
    /// HTTP/1.x: why we think so, for `-v`.
    Http1(String),
}

/// Asks the server at `addr` (see the module's documentation).
pub(super) async fn probe(addr: (&str, u16), connect_within: Duration) -> anyhow::Result<Spoken> {
    let mut tcp = super::dial::connect_tcp(addr, connect_within).await?;
    let _ = tcp.set_nodelay(true);
    // The preface, then SETTINGS with no parameters: length 0, type 4,
    // no flags, stream 0.
    let mut hello = PREFACE.to_vec();
    hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    tcp.write_all(&hello).await?;
    let mut first = [0u8; 256];
    let mut n = 0;
    let read = tokio::time::timeout(PROBE_TIMEOUT, async {
        while n < first.len() {
            match tcp.read(&mut first[n..]).await {
                Ok(0) => break,
                Ok(m) => n += m,
                // A reset before any answer: as good as a close.
                Err(_) if n == 0 => break,
                Err(e) => return Err(e),
            }
            if n >= 9 || first[..n].contains(&b'\n') {
                break;
            }
        }
        Ok(())
    })
    .await;
    match read {
        Err(_) => anyhow::bail!(
            "{}:{} did not answer the HTTP/2 preface within {PROBE_TIMEOUT:?}: \
             use --prior-knowledge (HTTP/2) or --http1.1",
            addr.0,
            addr.1
        ),
        Ok(Err(e)) => Err(e.into()),
        Ok(Ok(())) => Ok(classify(&first[..n])),
    }
}

/// What the first octets of an answer to the HTTP/2 preface say.
fn classify(first: &[u8]) -> Spoken {
    if first.len() >= 9 && settings_first(first) && first[5..9] == [0, 0, 0, 0] {
        return Spoken::Http2;
    }
    Spoken::Http1(match first.is_empty() {
        true => "it closed the connection at the HTTP/2 preface".into(),
        false => format!(
            "it answered the HTTP/2 preface with \"{}\"",
            first_line(first)
        ),
    })
}

/// Whether `first` (at least 4 octets) begins as a server's HTTP/2 must:
/// with the header of a SETTINGS frame (type 4).
fn settings_first(first: &[u8]) -> bool {
    first.get(3) == Some(&4)
}

/// The first line of `octets`, printable (at most 80 characters): what a
/// server said instead of HTTP/2, for a message.
fn first_line(octets: &[u8]) -> String {
    octets
        .iter()
        .take_while(|&&b| b != b'\r' && b != b'\n')
        .take(80)
        .map(|&b| match b {
            b' '..=b'~' => b as char,
            _ => '.',
        })
        .collect()
}

/// The transport of a connection taken to speak HTTP/2 (prior
/// knowledge): if the server's first octets are not a SETTINGS frame
/// (an HTTP/1.x status line, say), reading fails with an error saying
/// what came instead, where the engine would report a frame error.
pub(super) struct Http1Answer<IO> {
    io: IO,
    checked: bool,
}

impl<IO> Http1Answer<IO> {
    /// `io`, its first octets to be checked.
    pub(super) fn new(io: IO) -> Http1Answer<IO> {
        Http1Answer { io, checked: false }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Http1Answer<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if !self.checked && matches!(polled, Poll::Ready(Ok(()))) {
            let read = &buf.filled()[before..];
            // Checked once four octets came together (as they do: a read
            // of fewer is left to the engine).
            if !read.is_empty() {
                self.checked = true;
                if read.len() >= 4 && !settings_first(read) {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "the server's answer is not HTTP/2 (\"{}\"): it does not speak \
                             cleartext HTTP/2; leave out --prior-knowledge, or use --http1.1",
                            first_line(read)
                        ),
                    )));
                }
            }
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Http1Answer<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_octets_tell_the_protocol() {
        let settings = [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100];
        assert_eq!(classify(&settings), Spoken::Http2);
        let hyper = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n";
        assert_eq!(
            classify(hyper),
            Spoken::Http1(
                "it answered the HTTP/2 preface with \"HTTP/1.1 400 Bad Request\"".into()
            )
        );
        let python = b"<!DOCTYPE HTML>\n<html lang=\"en\">\n";
        assert_eq!(
            classify(python),
            Spoken::Http1("it answered the HTTP/2 preface with \"<!DOCTYPE HTML>\"".into())
        );
        assert!(matches!(classify(b""), Spoken::Http1(w) if w.contains("closed")));
        assert_eq!(first_line(b"a\x00b\xffc\r\nd"), "a.b.c");
        // A GOAWAY first is HTTP/2 too, but not a server's first frame.
        assert!(matches!(
            classify(&[0, 0, 8, 7, 0, 0, 0, 0, 0]),
            Spoken::Http1(_)
        ));
    }
}

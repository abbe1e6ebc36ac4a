//! The request body a service reads: an [`http_body::Body`] of data frames
//! and, at the end, trailers. Over HTTP/2 it is fed by the connection's
//! engine with flow control: the client may send more only as the service
//! reads. Over HTTP/1.1 it is hyper's.

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// What arrives on an HTTP/2 request body, from the pump.
#[derive(Debug)]
pub(crate) enum BodyItem {
    Data(Bytes),
    Trailers(HeaderMap),
    /// The stream was reset (RST_STREAM with this code) before the body
    /// ended: the body fails rather than look complete.
    Reset(u32),
}

/// What an HTTP/2 request body tells its connection as it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyNote {
    /// (stream, octets) read: the client may send that much more.
    Read(u32, u32),
    /// The service began to read a body its client holds back until
    /// `100 Continue` (`expect: 100-continue`): the connection sends it.
    Wanted(u32),
}

/// Whether a request with `headers` holds its body back until `100
/// Continue` (`expect: 100-continue`, RFC 9110 §10.1.1).
pub(crate) fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// The request body.
#[derive(Debug)]
pub struct Incoming {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Empty,
    Http2(Http2Body),
    Http1(hyper::body::Incoming),
}

/// An HTTP/2 stream's body: items from the pump, and where to hand back
/// flow-control credit as they are read.
#[derive(Debug)]
struct Http2Body {
    stream_id: u32,
    rx: mpsc::UnboundedReceiver<BodyItem>,
    /// Octets read (the pump opens the window again) and the first read
    /// of a body held back for `100 Continue`. Unbounded, but each
    /// message stands for a chunk the client could only send within its
    /// window, or for the one first read.
    consumed: mpsc::UnboundedSender<BodyNote>,
    /// `content-length`, for the size hint.
    length: Option<u64>,
    /// The client asked for `100 Continue` and has not been told yet
    /// that the body is wanted.
    wants_continue: bool,
}

/// The body could not be read: the stream was reset or the connection
/// ended before it was whole.
#[derive(Debug)]
pub struct BodyError {
    why: String,
    /// The RST_STREAM code, when the stream was reset.
    reset: Option<u32>,
}

impl BodyError {
    /// The stream's RST_STREAM code, if a reset ended the body (Node's
    /// `stream.rstCode`).
    pub fn reset_code(&self) -> Option<u32> {
        self.reset
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "body: {}", self.why)
    }
}

impl std::error::Error for BodyError {}

impl Incoming {
    /// A body with nothing in it.
    pub fn empty() -> Incoming {
        Incoming { kind: Kind::Empty }
    }

    /// The body of an HTTP/2 stream whose head carried `headers`
    /// (`content-length` gives the size hint; for a `request`,
    /// `expect: 100-continue` makes the first read ask for `100
    /// Continue`), and where the connection feeds it; nothing to feed
    /// when the head ended the stream. Credit goes back through
    /// `consumed` as the body is read.
    pub(crate) fn http2(
        stream_id: u32,
        end_stream: bool,
        headers: &HeaderMap,
        consumed: &mpsc::UnboundedSender<BodyNote>,
        request: bool,
    ) -> (Incoming, Option<mpsc::UnboundedSender<BodyItem>>) {
        if end_stream {
            return (Incoming::empty(), None);
        }
        let length = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let (tx, rx) = mpsc::unbounded_channel();
        let body = Http2Body {
            stream_id,
            rx,
            consumed: consumed.clone(),
            length,
            wants_continue: request && expects_continue(headers),
        };
        let body = Incoming {
            kind: Kind::Http2(body),
        };
        (body, Some(tx))
    }

    pub(crate) fn http1(body: hyper::body::Incoming) -> Incoming {
        Incoming {
            kind: Kind::Http1(body),
        }
    }
}

impl Body for Incoming {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut self.get_mut().kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Http1(b) => Pin::new(b).poll_frame(cx).map_err(|e| BodyError {
                why: e.to_string(),
                reset: None,
            }),
            Kind::Http2(b) => {
                if b.wants_continue {
                    // Read at last: the client may send what it held back.
                    b.wants_continue = false;
                    let _ = b.consumed.send(BodyNote::Wanted(b.stream_id));
                }
                b.poll_item(cx)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Http1(b) => b.is_end_stream(),
            Kind::Http2(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Http1(b) => b.size_hint(),
            Kind::Http2(b) => b.length.map(SizeHint::with_exact).unwrap_or_default(),
        }
    }
}

impl Http2Body {
    /// The next item the connection fed, as a body frame.
    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let b = self;
        match b.rx.poll_recv(cx) {
            Poll::Ready(Some(BodyItem::Data(d))) => {
                let n = u32::try_from(d.len()).unwrap_or(u32::MAX);
                let _ = b.consumed.send(BodyNote::Read(b.stream_id, n));
                Poll::Ready(Some(Ok(Frame::data(d))))
            }
            Poll::Ready(Some(BodyItem::Trailers(t))) => Poll::Ready(Some(Ok(Frame::trailers(t)))),
            Poll::Ready(Some(BodyItem::Reset(code))) => Poll::Ready(Some(Err(BodyError {
                why: format!(
                    "the stream was reset ({})",
                    crate::engine::convert::code_name(code)
                ),
                reset: Some(code),
            }))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Http2Body {
    /// Data queued for a service that stopped reading still holds the
    /// client's flow-control credit: hand it back, or an upload the
    /// service ignored would stall once it filled the window. (Data that
    /// arrives after this is handed back by the pump.)
    fn drop(&mut self) {
        self.rx.close();
        let mut unread: u64 = 0;
        while let Ok(item) = self.rx.try_recv() {
            if let BodyItem::Data(d) = item {
                unread += d.len() as u64;
            }
        }
        if unread > 0 {
            let n = u32::try_from(unread).unwrap_or(u32::MAX);
            let _ = self.consumed.send(BodyNote::Read(self.stream_id, n));
        }
    }
}

/// A response body read from a file as it is sent, by the host (over
/// HTTP/1.1, or where the engine does not read files itself). Reads are
/// plain blocking calls: for files in the page cache they cost far less
/// than a hop through tokio's blocking pool. A file that ends early fails
/// the body with [`crate::service::Reset`] (INTERNAL_ERROR): what was
/// promised cannot be delivered.
#[derive(Debug)]
pub struct FileBody {
    file: std::fs::File,
    left: u64,
}

/// Read per frame.
const FILE_CHUNK: usize = 64 * 1024;

impl FileBody {
    /// `count` octets of the file at `path` from `offset`.
    pub fn open(path: &std::path::Path, offset: u64, count: u64) -> std::io::Result<FileBody> {
        FileBody::from_file(std::fs::File::open(path)?, offset, count)
    }

    /// `count` octets of `file` from `offset`.
    pub fn from_file(
        mut file: std::fs::File,
        offset: u64,
        count: u64,
    ) -> std::io::Result<FileBody> {
        use std::io::Seek;
        if offset > 0 {
            file.seek(std::io::SeekFrom::Start(offset))?;
        }
        Ok(FileBody { file, left: count })
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = crate::service::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        use std::io::Read;
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(this.left.min(FILE_CHUNK as u64)).unwrap_or(FILE_CHUNK);
        let mut buf = bytes::BytesMut::zeroed(want);
        match this.file.read(&mut buf) {
            Ok(0) | Err(_) => Poll::Ready(Some(Err(Box::new(crate::service::Reset(0x2))))),
            Ok(n) => {
                buf.truncate(n);
                this.left -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(buf.freeze()))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

//! Responses the host reads or prepares for the service: a file
//! ([`ServeFile`], Node's `respondWithFile`/`respondWithFD`) and headers
//! checked and encoded once per connection ([`PreparedHeaders`]).

use super::{BoxError, ResponseBody, empty, text};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// A response whose body is a file, read by the host: over HTTP/2 the
/// engine frames it as flow control allows (`respond-with-payload`) while
/// its octets go from the file to the socket without entering the engine;
/// over HTTP/1.1 it is the body. `content-length` is set. Build one with
/// [`ServeFile::response`]; the response's body is ignored. Trailers after
/// the file: [`ServeFile::trailers`].
#[derive(Clone, Debug)]
pub struct ServeFile {
    pub(crate) source: FileSource,
    pub(crate) offset: u64,
    pub(crate) length: Option<u64>,
    trailers: Option<PendingTrailers>,
}

/// Trailers a service gives once a file's octets are on their way.
pub(crate) type TrailersFuture = Pin<Box<dyn Future<Output = HeaderMap> + Send>>;

/// [`ServeFile::trailers`]'s future, taken by whichever protocol sends
/// the response (a `ServeFile` is cloned out of the extensions).
#[derive(Clone)]
struct PendingTrailers(Arc<Mutex<Option<TrailersFuture>>>);

impl std::fmt::Debug for PendingTrailers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingTrailers")
    }
}

#[derive(Clone, Debug)]
pub(crate) enum FileSource {
    /// Inside the instance, under [`crate::GUEST_FILES`]; the host finds
    /// it under [`crate::RuntimeConfig::files_root`].
    Path(String),
    /// A file someone opened; handed over once.
    Open(Arc<std::sync::Mutex<Option<std::fs::File>>>),
}

impl ServeFile {
    /// The file at `path` inside the instance: `/files/...` where the
    /// runtime pre-opened its `files_root`.
    pub fn path(path: impl Into<String>) -> ServeFile {
        ServeFile {
            source: FileSource::Path(path.into()),
            offset: 0,
            length: None,
            trailers: None,
        }
    }

    /// A file already open, anywhere (Node's `respondWithFD`).
    pub fn open(file: std::fs::File) -> ServeFile {
        ServeFile {
            source: FileSource::Open(Arc::new(std::sync::Mutex::new(Some(file)))),
            offset: 0,
            length: None,
            trailers: None,
        }
    }

    /// `length` octets (at most; `None`: to the end) from `offset`.
    pub fn range(mut self, offset: u64, length: Option<u64>) -> ServeFile {
        self.offset = offset;
        self.length = length;
        self
    }

    /// Trailers after the file (Node's `waitForTrailers` with
    /// `respondWithFile`, and `sendTrailers` in its `wantTrailers`
    /// handler): `trailers` is polled once the headers have gone, and the
    /// fields it gives follow the file's last octet, ending the stream.
    /// Over HTTP/2 the stream stays open until then. Over HTTP/1.1 the
    /// body goes chunked and hyper sends the fields the response names in
    /// `Trailer` to a client that sent `TE: trailers` (RFC 9110 §6.6.2).
    /// A response to HEAD has no trailers.
    pub fn trailers<F>(mut self, trailers: F) -> ServeFile
    where
        F: Future<Output = HeaderMap> + Send + 'static,
    {
        self.trailers = Some(PendingTrailers(Arc::new(Mutex::new(Some(Box::pin(
            trailers,
        ))))));
        self
    }

    /// The trailers' future, if [`ServeFile::trailers`] gave one (once).
    pub(crate) fn take_trailers(&self) -> Option<TrailersFuture> {
        let pending = self.trailers.as_ref()?;
        pending.0.lock().ok()?.take()
    }

    /// Opens the file on the host side: the file, where the body starts,
    /// and its length. A path inside the instance is found under `root`
    /// (the runtime's `files_root`, canonical) and must stay there as the
    /// instance's pre-opened directory would make it: `..`, and symlinks
    /// that lead out, are refused. A file handed over with
    /// [`ServeFile::open`] is taken.
    pub(crate) fn open_host(
        &self,
        root: Option<&std::path::Path>,
    ) -> std::io::Result<(std::fs::File, u64, u64)> {
        let file = match &self.source {
            FileSource::Path(inside) => {
                let rel = inside
                    .strip_prefix(crate::GUEST_FILES)
                    .map(|r| r.trim_start_matches('/'));
                match (root, rel) {
                    (Some(root), Some(rel)) if !rel.split('/').any(|p| p == "..") => {
                        let real = root.join(rel).canonicalize()?;
                        if !real.starts_with(root) {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::PermissionDenied,
                                "the path leads out of the served directory",
                            ));
                        }
                        std::fs::File::open(real)?
                    }
                    _ => return Err(std::io::ErrorKind::NotFound.into()),
                }
            }
            FileSource::Open(open) => open
                .lock()
                .ok()
                .and_then(|mut f| f.take())
                .ok_or(std::io::ErrorKind::NotFound)?,
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        let available = meta.len().saturating_sub(self.offset);
        let count = self.length.map_or(available, |l| l.min(available));
        Ok((file, self.offset, count))
    }

    /// A response with `status` and `headers` whose body is this file.
    pub fn response(self, status: StatusCode, headers: HeaderMap) -> Response<ResponseBody> {
        let mut r = Response::new(empty());
        *r.status_mut() = status;
        *r.headers_mut() = headers;
        r.extensions_mut().insert(self);
        r
    }
}

/// Final response headers built once and sent many times (a cached
/// file's, a fixed page's). An HTTP/2 connection checks and HPACK-encodes
/// them once (`prepare-headers`) and reuses the block while its table
/// allows. Build responses with [`PreparedHeaders::response`]; a response
/// whose status or headers were changed since (by a middleware, say) is
/// sent the ordinary way.
#[derive(Clone, Debug)]
pub struct PreparedHeaders(Arc<PreparedInner>);

#[derive(Debug)]
struct PreparedInner {
    id: u64,
    status: StatusCode,
    headers: HeaderMap,
    /// Maps of responses already sent that still held exactly `headers`
    /// (see `recycle`): `response` takes one instead of a clone. A clone
    /// and, once sent, its drop (two allocations, a reference count per
    /// value) cost a small response ~7% of its CPU. At most
    /// `SPARE_MAPS`: a response from memory is built and sent in the same
    /// pass, so each serving thread needs about one.
    spare: Mutex<Vec<HeaderMap>>,
}

const SPARE_MAPS: usize = 4;

impl PreparedHeaders {
    /// Headers for any number of responses with `status`.
    pub fn new(status: StatusCode, headers: HeaderMap) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        PreparedHeaders(Arc::new(PreparedInner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            status,
            headers,
            spare: Mutex::new(Vec::new()),
        }))
    }

    /// A response with these headers and `body`.
    pub fn response(&self, body: ResponseBody) -> Response<ResponseBody> {
        let mut r = Response::new(body);
        *r.status_mut() = self.0.status;
        // Never waits: a contended pool means a clone.
        let spare = self.0.spare.try_lock().ok().and_then(|mut s| s.pop());
        *r.headers_mut() = spare.unwrap_or_else(|| self.0.headers.clone());
        r.extensions_mut().insert(self.clone());
        r
    }

    /// Takes back the headers of a sent response that [`Self::matches`]
    /// (so equal to these), for a later `response`.
    pub(crate) fn recycle(&self, headers: HeaderMap) {
        if let Ok(mut spare) = self.0.spare.try_lock()
            && spare.len() < SPARE_MAPS
        {
            spare.push(headers);
        }
    }

    /// The responses' status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The responses' fields.
    pub fn headers(&self) -> &HeaderMap {
        &self.0.headers
    }

    /// Unique in the process: what a connection knows this list by.
    pub(crate) fn id(&self) -> u64 {
        self.0.id
    }

    /// Whether `response` still carries exactly these headers, in the
    /// order they were put there (a reordered copy counts as changed and
    /// is sent the ordinary way; comparing in order costs no lookups).
    pub(crate) fn matches<B>(&self, response: &Response<B>) -> bool {
        let (ours, theirs) = (&self.0.headers, response.headers());
        // A value cloned from ours shares its octets: equal without a
        // comparison.
        let same = |a: &HeaderValue, b: &HeaderValue| {
            let (a, b) = (a.as_bytes(), b.as_bytes());
            (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
        };
        response.status() == self.0.status
            && ours.len() == theirs.len()
            && ours.iter().zip(theirs.iter()).all(|(a, b)| {
                a.0 == b.0 && same(a.1, b.1) && a.1.is_sensitive() == b.1.is_sensitive()
            })
    }
}

/// The answer to a file that could not be opened or read: 503 when the
/// process is out of file descriptors (a limit: logged at warn, and the
/// client may retry), 500 otherwise.
pub(crate) fn file_failure(e: &std::io::Error) -> Response<ResponseBody> {
    if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
        tracing::warn!("out of file descriptors, answering 503: {e}");
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "too busy to open the file\n",
        );
    }
    tracing::debug!("cannot serve the file: {e}");
    text(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file\n")
}

/// A body of nothing but trailers, once their future gives them: what
/// follows a file the engine sends (HTTP/2).
pub(crate) struct Trailing(Option<TrailersFuture>);

impl Trailing {
    pub(crate) fn new(trailers: TrailersFuture) -> Trailing {
        Trailing(Some(trailers))
    }
}

impl Body for Trailing {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let Some(pending) = self.0.as_mut() else {
            return Poll::Ready(None);
        };
        let trailers = std::task::ready!(pending.as_mut().poll(cx));
        self.0 = None;
        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }
}

/// A file's octets, then its trailers: a [`ServeFile`] with trailers
/// over HTTP/1.1. No exact size, so that hyper sends it chunked (trailers
/// need that).
pub(crate) struct FileThenTrailers {
    pub(crate) file: super::body::FileBody,
    pub(crate) trailers: Trailing,
}

impl Body for FileThenTrailers {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if !this.file.is_end_stream() {
            return Pin::new(&mut this.file).poll_frame(cx);
        }
        Pin::new(&mut this.trailers).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.file.is_end_stream() && self.trailers.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = SizeHint::new();
        hint.set_lower(self.file.size_hint().lower());
        hint
    }
}

//! The application interface: one [`tower::Service`] from
//! `http::Request<Incoming>` to `http::Response<B>`, the shape of hyper,
//! tower and axum. The same service answers over HTTP/2 (the engine) and
//! HTTP/1.1 (hyper). Bodies are [`http_body::Body`]s, trailers travel as
//! body frames. Over HTTP/1.1 a response's trailers are sent only to a
//! client that asked for them (`TE: trailers`) and only those the
//! response names in its `Trailer` field (RFC 9110 §6.6.2), as hyper does.
//!
//! What only HTTP/2 can do reaches a service through the request's
//! extensions: [`Http2Stream`] (server push, priority, the stream's and
//! the session's facts) is there on HTTP/2 requests only. Protocol-neutral
//! helpers work on both: [`Informational`] (1xx such as 103 Early Hints),
//! [`ServeFile`] (a file read by the engine, or by the host over HTTP/1.1),
//! [`PreparedHeaders`] (headers checked and encoded once per connection),
//! and sensitive fields, which are `HeaderValue::is_sensitive` both ways
//! (never indexed by HPACK).

use crate::body::Incoming;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body of any kind, boxed.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// The one application interface, type-erased: what a server runs.
pub type SharedService = BoxCloneSyncService<Request<Incoming>, Response<ResponseBody>, BoxError>;

/// Any `tower::Service` of HTTP requests (an axum `Router`, hyper's
/// `service_fn`, a `tower` stack) as the server's [`SharedService`].
pub fn shared<S, B>(service: S) -> SharedService
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    BoxCloneSyncService::new(
        service
            .map_response(|r: Response<B>| r.map(box_body))
            .map_err(Into::into),
    )
}

/// Boxes a body for a [`Response<ResponseBody>`]; one boxed already is
/// passed through (a box in a box would cost an allocation per response
/// and an indirection per frame).
pub fn box_body<B>(body: B) -> ResponseBody
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut body = Some(body);
    if let Some(boxed) =
        (&mut body as &mut dyn std::any::Any).downcast_mut::<Option<ResponseBody>>()
    {
        return boxed.take().unwrap_or_else(empty);
    }
    body.map_or_else(empty, |b| b.map_err(Into::into).boxed_unsync())
}

/// A whole body in memory.
pub fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    box_body(http_body_util::Full::new(bytes.into()))
}

/// No body.
pub fn empty() -> ResponseBody {
    box_body(http_body_util::Empty::<Bytes>::new())
}

/// `:protocol` of an extended CONNECT (RFC 8441), in the request's
/// extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protocol(pub String);

/// Facts about the connection a request came on, in every request's
/// extensions.
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    /// The client's address, as the server saw it.
    pub peer: Arc<str>,
    /// Over TLS.
    pub encrypted: bool,
    /// The ALPN protocol negotiated, if any (`h2`, `http/1.1`).
    pub alpn: Option<Arc<str>>,
}

/// Sends 1xx informational responses (103 Early Hints, say) before the
/// final one; in every request's extensions. Over HTTP/2 they are HEADERS
/// frames, in order, before the final response; over HTTP/1.1 as interim
/// responses ahead of hyper's final one (not to HTTP/1.0 clients, which
/// RFC 9110 §15.2 forbids, and `send` says so).
#[derive(Clone)]
pub struct Informational(Sink);

#[derive(Clone)]
enum Sink {
    Http2 {
        stream_id: u32,
        sink: Arc<StreamSink>,
    },
    Http1(crate::http1::Interim),
    /// An HTTP/1.0 client: no 1xx.
    Unavailable,
}

impl Informational {
    pub(crate) fn http2(stream_id: u32, sink: Arc<StreamSink>) -> Self {
        Informational(Sink::Http2 { stream_id, sink })
    }

    pub(crate) fn http1(interim: crate::http1::Interim) -> Self {
        Informational(Sink::Http1(interim))
    }

    pub(crate) fn unavailable() -> Self {
        Informational(Sink::Unavailable)
    }

    /// After this the final response is under way: no more 1xx.
    pub(crate) fn answered(&self) {
        if let Sink::Http1(interim) = &self.0 {
            interim.answered();
        }
    }

    /// Sends a 1xx response; false if it could not be (not 1xx, or 101,
    /// or the response began, or the connection is gone, or HTTP/1.0).
    /// 100 is sent by the server itself for `Expect: 100-continue`.
    pub async fn send(&self, status: StatusCode, headers: HeaderMap) -> bool {
        if !status.is_informational() || status == StatusCode::SWITCHING_PROTOCOLS {
            return false;
        }
        let (stream_id, commands) = match &self.0 {
            Sink::Http2 { stream_id, sink } => (stream_id, &sink.commands),
            Sink::Http1(interim) => return interim.send(status, &headers).await,
            Sink::Unavailable => return false,
        };
        let (done, sent) = oneshot::channel();
        let queued = commands
            .send(crate::pump::StreamCommand::Informational {
                stream_id: *stream_id,
                status,
                headers,
                done,
            })
            .await
            .is_ok();
        queued && sent.await.unwrap_or(false)
    }
}

/// HTTP/2-only features of a request's stream; in the extensions of
/// HTTP/2 requests only (so `req.extensions().get::<Http2Stream>()` also
/// says which protocol a request came over).
#[derive(Clone)]
pub struct Http2Stream {
    pub(crate) stream_id: u32,
    pub(crate) sink: Arc<StreamSink>,
}

/// What an HTTP/2 connection's request handles ([`Http2Stream`],
/// [`Informational`]) share: one allocation per connection, so that the
/// handles cost a request a reference count, not channel senders.
pub(crate) struct StreamSink {
    pub(crate) commands: mpsc::Sender<crate::pump::StreamCommand>,
    /// The client's ENABLE_PUSH.
    pub(crate) push_allowed: bool,
}

/// A session's state as Node reports it (`session.state`).
pub use crate::bindings::SessionState;
/// A stream's state as Node reports it (`stream.state` and friends).
pub use crate::bindings::StreamState;

/// A stream's priority (RFC 7540 §5.3, which Node keeps).
pub use crate::bindings::Priority;

impl Http2Stream {
    pub fn stream_id(&self) -> u32 {
        self.stream_id
    }

    /// Whether the client accepts server push (its ENABLE_PUSH).
    pub fn push_allowed(&self) -> bool {
        self.sink.push_allowed
    }

    /// Server push (Node's `pushStream`): promises `request` (`:path`,
    /// GET or HEAD; the scheme and authority default to this request's)
    /// and returns a handle to answer the pushed stream with, or `None`
    /// when the client disabled push or refused the promise. Push before
    /// the response that refers to the pushed resource.
    pub async fn push(&self, request: Request<()>) -> Option<PushedStream> {
        let (reply, rx) = oneshot::channel();
        let head = request.method() == http::Method::HEAD;
        self.command(crate::pump::StreamCommand::Push {
            stream_id: self.stream_id,
            request,
            reply,
        })
        .await;
        let stream_id = rx.await.ok()??;
        Some(PushedStream {
            stream_id,
            head,
            commands: self.sink.commands.clone(),
        })
    }

    /// Moves the stream in the priority tree and tells the client (Node's
    /// `stream.priority`).
    pub async fn set_priority(&self, priority: Priority) -> bool {
        let (reply, rx) = oneshot::channel();
        self.command(crate::pump::StreamCommand::Priority {
            stream_id: self.stream_id,
            priority,
            reply,
        })
        .await;
        rx.await.unwrap_or(false)
    }

    /// The stream's state now (Node's `stream.state`, `sentHeaders`, ...);
    /// `None` once it is forgotten.
    pub async fn state(&self) -> Option<StreamState> {
        let (reply, rx) = oneshot::channel();
        self.command(crate::pump::StreamCommand::StreamState {
            stream_id: self.stream_id,
            reply,
        })
        .await;
        rx.await.ok().flatten()
    }

    /// The session's state now (Node's `session.state`).
    pub async fn session(&self) -> Option<SessionState> {
        let (reply, rx) = oneshot::channel();
        self.command(crate::pump::StreamCommand::SessionState { reply })
            .await;
        rx.await.ok()
    }

    async fn command(&self, cmd: crate::pump::StreamCommand) {
        let _ = self.sink.commands.send(cmd).await;
    }
}

/// A promised stream, to be answered once.
pub struct PushedStream {
    stream_id: u32,
    /// A pushed HEAD: the response's body is not sent.
    head: bool,
    commands: mpsc::Sender<crate::pump::StreamCommand>,
}

impl PushedStream {
    pub fn stream_id(&self) -> u32 {
        self.stream_id
    }

    /// Sends the pushed response.
    pub async fn respond(self, response: Response<ResponseBody>) {
        let _ = self
            .commands
            .send(crate::pump::StreamCommand::Respond {
                stream_id: self.stream_id,
                head: self.head,
                response: Ok(response),
            })
            .await;
    }
}

/// A response whose body is a file, read by the host: over HTTP/2 the
/// engine frames it as flow control allows (`respond-with-payload`) while
/// its octets go from the file to the socket without entering the engine;
/// over HTTP/1.1 it is the body. `content-length` is set. Build one with
/// [`ServeFile::response`]; the response's body is ignored.
#[derive(Clone, Debug)]
pub struct ServeFile {
    pub(crate) source: FileSource,
    pub(crate) offset: u64,
    pub(crate) length: Option<u64>,
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
        }
    }

    /// A file already open, anywhere (Node's `respondWithFD`).
    pub fn open(file: std::fs::File) -> ServeFile {
        ServeFile {
            source: FileSource::Open(Arc::new(std::sync::Mutex::new(Some(file)))),
            offset: 0,
            length: None,
        }
    }

    /// `length` octets (at most; `None`: to the end) from `offset`.
    pub fn range(mut self, offset: u64, length: Option<u64>) -> ServeFile {
        self.offset = offset;
        self.length = length;
        self
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

    pub fn status(&self) -> StatusCode {
        self.0.status
    }

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

/// What a response body may fail with to reset its HTTP/2 stream with
/// this code (RST_STREAM, RFC 9113 §7): INTERNAL_ERROR (0x2) for a body
/// that cannot be completed, CONNECT_ERROR (0xa) for a tunnel whose TCP
/// side failed. Any other body error resets with INTERNAL_ERROR; over
/// HTTP/1.1 the connection is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reset(pub u32);

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stream reset ({:#x})", self.0)
    }
}

impl std::error::Error for Reset {}

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

/// A plain-text response: `status` with `text` as the body.
pub fn text(status: StatusCode, text: impl Into<Bytes>) -> Response<ResponseBody> {
    let text = text.into();
    let mut r = Response::new(full(text.clone()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    r.headers_mut()
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    r
}

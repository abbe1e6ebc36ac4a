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

pub mod body;
pub(crate) mod files;
mod http2;
mod informational;
pub(crate) mod tunnel;
pub mod websocket;

pub use body::Incoming;
pub(crate) use files::file_failure;
pub use files::{PreparedHeaders, ServeFile};
pub use http2::{
    Http2Control, Http2Stream, Priority, PushedStream, SessionState, Settings, StreamState,
    unchanged_settings,
};
pub use informational::{Informational, InterimSink};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use std::sync::Arc;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

/// Any error a service or a body may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A boxed future: what the protocol drivers' sides of the handles
/// ([`InterimSink`], [`Http2Control`]) return.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

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
    /// The host name the client asked for in TLS (SNI; Node's
    /// `servername`), lowercase; none in cleartext or when the client
    /// sent none (it connected to an address).
    pub server_name: Option<Arc<str>>,
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

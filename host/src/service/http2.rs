//! What only HTTP/2 has, for a service: server push, priority, and the
//! stream's and the session's state, through [`Http2Stream`] in the
//! request's extensions.

use super::{BoxFuture, ResponseBody};
use http::{Request, Response};
use std::sync::Arc;

/// A stream's priority (RFC 7540 §5.3, which Node keeps).
pub use crate::bindings::Priority;
/// A session's state as Node reports it (`session.state`).
pub use crate::bindings::SessionState;
/// A stream's state as Node reports it (`stream.state` and friends).
pub use crate::bindings::StreamState;

/// The HTTP/2 connection driver's side of [`Http2Stream`] and
/// [`PushedStream`]: what a request's handles ask of the connection. The
/// driver implements it; this interface does not know the driver.
pub trait Http2Control: Send + Sync {
    /// Promises `request` on `stream_id` (Node's `pushStream`): the pushed
    /// stream's id, or `None` when the client refused or disabled push.
    fn push(&self, stream_id: u32, request: Request<()>) -> BoxFuture<'_, Option<u32>>;
    /// Answers a pushed stream (`head`: a pushed HEAD, its body not sent).
    fn respond(
        &self,
        stream_id: u32,
        head: bool,
        response: Response<ResponseBody>,
    ) -> BoxFuture<'_, ()>;
    /// Moves the stream in the priority tree and tells the client.
    fn set_priority(&self, stream_id: u32, priority: Priority) -> BoxFuture<'_, bool>;
    /// The stream's state now; `None` once it is forgotten.
    fn stream_state(&self, stream_id: u32) -> BoxFuture<'_, Option<StreamState>>;
    /// The session's state now; `None` once the connection is gone.
    fn session_state(&self) -> BoxFuture<'_, Option<SessionState>>;
}

/// HTTP/2-only features of a request's stream; in the extensions of
/// HTTP/2 requests only (so `req.extensions().get::<Http2Stream>()` also
/// says which protocol a request came over).
#[derive(Clone)]
pub struct Http2Stream {
    stream_id: u32,
    /// The client's ENABLE_PUSH.
    push_allowed: bool,
    control: Arc<dyn Http2Control>,
}

impl Http2Stream {
    /// The handle of `stream_id`, whose connection `control` drives.
    pub fn new(stream_id: u32, push_allowed: bool, control: Arc<dyn Http2Control>) -> Self {
        Http2Stream {
            stream_id,
            push_allowed,
            control,
        }
    }

    /// The HTTP/2 stream it is on.
    pub fn stream_id(&self) -> u32 {
        self.stream_id
    }

    /// Whether the client accepts server push (its ENABLE_PUSH).
    pub fn push_allowed(&self) -> bool {
        self.push_allowed
    }

    /// Server push (Node's `pushStream`): promises `request` (`:path`,
    /// GET or HEAD; the scheme and authority default to this request's)
    /// and returns a handle to answer the pushed stream with, or `None`
    /// when the client disabled push or refused the promise. Push before
    /// the response that refers to the pushed resource.
    pub async fn push(&self, request: Request<()>) -> Option<PushedStream> {
        let head = request.method() == http::Method::HEAD;
        let stream_id = self.control.push(self.stream_id, request).await?;
        Some(PushedStream {
            stream_id,
            head,
            control: self.control.clone(),
        })
    }

    /// Moves the stream in the priority tree and tells the client (Node's
    /// `stream.priority`).
    pub async fn set_priority(&self, priority: Priority) -> bool {
        self.control.set_priority(self.stream_id, priority).await
    }

    /// The stream's state now (Node's `stream.state`, `sentHeaders`, ...);
    /// `None` once it is forgotten.
    pub async fn state(&self) -> Option<StreamState> {
        self.control.stream_state(self.stream_id).await
    }

    /// The session's state now (Node's `session.state`).
    pub async fn session(&self) -> Option<SessionState> {
        self.control.session_state().await
    }
}

/// A promised stream, to be answered once.
pub struct PushedStream {
    stream_id: u32,
    /// A pushed HEAD: the response's body is not sent.
    head: bool,
    control: Arc<dyn Http2Control>,
}

impl PushedStream {
    /// The HTTP/2 stream it is on.
    pub fn stream_id(&self) -> u32 {
        self.stream_id
    }

    /// Sends the pushed response.
    pub async fn respond(self, response: Response<ResponseBody>) {
        self.control
            .respond(self.stream_id, self.head, response)
            .await;
    }
}

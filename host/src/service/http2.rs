//! What only HTTP/2 has, for a service: server push, priority, the
//! stream's and the session's state, and the session itself (PING,
//! SETTINGS, GOAWAY, its receive window), through [`Http2Stream`] in the
//! request's extensions.

use super::{BoxFuture, ResponseBody};
use http::uri::{Authority, Scheme};
use http::{Request, Response};
use std::sync::Arc;
use std::time::Duration;

/// A stream's priority (RFC 7540 §5.3, which Node keeps).
pub use crate::bindings::Priority;
/// A session's state as Node reports it (`session.state`).
pub use crate::bindings::SessionState;
/// SETTINGS parameters; a field left `None` is not sent (see
/// [`unchanged_settings`]).
pub use crate::bindings::Settings;
/// A stream's state as Node reports it (`stream.state` and friends).
pub use crate::bindings::StreamState;

/// SETTINGS that change nothing: set the fields to change, then
/// [`Http2Stream::update_settings`].
pub fn unchanged_settings() -> Settings {
    Settings {
        header_table_size: None,
        enable_push: None,
        max_concurrent_streams: None,
        initial_window_size: None,
        max_frame_size: None,
        max_header_list_size: None,
        enable_connect_protocol: None,
        no_rfc7540_priorities: None,
        custom: Vec::new(),
    }
}

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
    /// The settings the client sent, as in force now; `None` once the
    /// connection is gone.
    fn remote_settings(&self) -> BoxFuture<'_, Option<Settings>>;
    /// Sets the stream's timeout (`None`: none); false if the stream is
    /// gone.
    fn set_timeout(&self, stream_id: u32, timeout: Option<Duration>) -> BoxFuture<'_, bool>;
    /// True once the stream has had no frame for its timeout; false if
    /// it closes, or the connection ends, first.
    fn timed_out(&self, stream_id: u32) -> BoxFuture<'_, bool>;
    /// Sends a PING (`payload`, or a counter); its round trip once the
    /// ACK comes, `None` if the engine refused it (too many outstanding)
    /// or the connection ended first.
    fn ping(&self, payload: Option<u64>) -> BoxFuture<'_, Option<Duration>>;
    /// Sends SETTINGS (they apply when the peer acknowledges them).
    fn update_settings(&self, settings: Settings) -> BoxFuture<'_, bool>;
    /// Sends GOAWAY with `code` and `opaque_data`, the connection staying
    /// open for the streams the peer already opened.
    fn goaway(&self, code: u32, opaque_data: Vec<u8>) -> BoxFuture<'_, bool>;
    /// Sets the connection's receive window, sending WINDOW_UPDATE.
    fn set_local_window_size(&self, size: u32) -> BoxFuture<'_, bool>;
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
    /// The request's scheme and authority: a promise's defaults.
    origin: (Option<Scheme>, Option<Authority>),
}

impl Http2Stream {
    /// The handle of `stream_id`, whose connection `control` drives.
    pub fn new(stream_id: u32, push_allowed: bool, control: Arc<dyn Http2Control>) -> Self {
        Http2Stream {
            stream_id,
            push_allowed,
            control,
            origin: (None, None),
        }
    }

    /// Promises made on this stream get `uri`'s scheme and authority
    /// where they name none (the request's, as a server sets it).
    pub fn with_origin(mut self, uri: &http::Uri) -> Self {
        self.origin = (uri.scheme().cloned(), uri.authority().cloned());
        self
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
    /// the response that refers to the pushed resource. A [`Priority`]
    /// among `request`'s extensions places the pushed stream in the RFC
    /// 7540 dependency tree (Node's pushStream options `parent` and
    /// `exclusive`, and the weight Node sets with `priority({silent})`)
    /// without telling the client; once RFC 9218 priorities are in use, a
    /// `priority` field in the pushed response orders it instead.
    pub async fn push(&self, mut request: Request<()>) -> Option<PushedStream> {
        let head = request.method() == http::Method::HEAD;
        let uri = request.uri();
        if uri.scheme().is_none() || uri.authority().is_none() {
            let mut parts = uri.clone().into_parts();
            if parts.scheme.is_none() {
                parts.scheme = self.origin.0.clone();
            }
            if parts.authority.is_none() {
                parts.authority = self.origin.1.clone();
            }
            if parts.path_and_query.is_none() {
                parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
            }
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
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

    /// Node's `stream.setTimeout`: the stream times out after `timeout`
    /// without a frame either way (`None` turns it off); false if the
    /// stream is gone. See [`timed_out`](Self::timed_out).
    pub async fn set_timeout(&self, timeout: Option<Duration>) -> bool {
        self.control.set_timeout(self.stream_id, timeout).await
    }

    /// Node's stream `timeout` event: true once the stream has gone its
    /// timeout without a frame (then it waits for the next), false if it
    /// closes or the connection ends first. Nothing else happens to the
    /// stream: the service decides (a 408, a reset, or waiting on).
    pub async fn timed_out(&self) -> bool {
        self.control.timed_out(self.stream_id).await
    }

    /// The client's settings as in force now (Node's
    /// `session.remoteSettings`); settings the engine does not interpret
    /// appear in `custom` only where the server's options list them
    /// (`remote_custom_settings`, Node's `remoteCustomSettings`).
    pub async fn remote_settings(&self) -> Option<Settings> {
        self.control.remote_settings().await
    }

    /// Pings the client (Node's `session.ping`): the round trip once its
    /// ACK comes; `None` when the engine refused the PING (more than
    /// `maxOutstandingPings` unanswered) or the connection ended first.
    /// A client that never answers is the connection's timeouts' to
    /// end: wrap the call in a timeout to wait less.
    pub async fn ping(&self, payload: Option<u64>) -> Option<Duration> {
        self.control.ping(payload).await
    }

    /// Sends new SETTINGS for this connection (Node's `session.settings`;
    /// they apply when the client acknowledges them); `false` when the
    /// engine refused them (an invalid value) or the connection is gone.
    pub async fn update_settings(&self, settings: Settings) -> bool {
        self.control.update_settings(settings).await
    }

    /// Sends GOAWAY with `code` (0: NO_ERROR) and `opaque_data` (Node's
    /// `session.goaway`): the client opens no new streams; those it
    /// opened already, this one included, go on.
    pub async fn goaway(&self, code: u32, opaque_data: Vec<u8>) -> bool {
        self.control.goaway(code, opaque_data).await
    }

    /// Sets the connection's receive window to `size` octets (Node's
    /// `session.setLocalWindowSize`), telling the client with
    /// WINDOW_UPDATE.
    pub async fn set_local_window_size(&self, size: u32) -> bool {
        self.control.set_local_window_size(size).await
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

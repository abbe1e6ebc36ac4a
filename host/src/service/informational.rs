//! 1xx informational responses (103 Early Hints, say) sent before the
//! final one, through whichever protocol the request came over.

use super::BoxFuture;
use http::{HeaderMap, StatusCode};
use std::sync::Arc;

/// How 1xx responses reach a client: the protocol driver's side of
/// [`Informational`]. The HTTP/2 connection driver and the HTTP/1.1
/// server each implement it, so that this interface knows neither.
pub trait InterimSink: Send + Sync {
    /// Sends a 1xx response (checked already: not 100, not 101) ahead of
    /// `stream_id`'s final response; resolves to false if it could not be
    /// sent (the final response began, the connection is gone).
    fn send(&self, stream_id: u32, status: StatusCode, headers: HeaderMap) -> BoxFuture<'_, bool>;

    /// The final response is under way: no more 1xx for `stream_id`.
    fn answered(&self, _stream_id: u32) {}
}

/// Sends 1xx informational responses before the final one; in every
/// request's extensions. Over HTTP/2 they are HEADERS frames, in order,
/// before the final response; over HTTP/1.1 interim responses ahead of
/// hyper's final one (not to HTTP/1.0 clients, which RFC 9110 §15.2
/// forbids, and `send` says so).
#[derive(Clone)]
pub struct Informational {
    /// `None`: an HTTP/1.0 client, which gets no 1xx.
    sink: Option<Arc<dyn InterimSink>>,
    stream_id: u32,
}

impl Informational {
    /// 1xx for `stream_id` through `sink`.
    pub fn new(sink: Arc<dyn InterimSink>, stream_id: u32) -> Self {
        Informational {
            sink: Some(sink),
            stream_id,
        }
    }

    /// For a client that may get no 1xx (HTTP/1.0).
    pub fn unavailable() -> Self {
        Informational {
            sink: None,
            stream_id: 0,
        }
    }

    /// After this the final response is under way: no more 1xx.
    pub(crate) fn answered(&self) {
        if let Some(sink) = &self.sink {
            sink.answered(self.stream_id);
        }
    }

    /// Sends a 1xx response; false if it could not be (not 1xx, or 101,
    /// or the response began, or the connection is gone, or HTTP/1.0).
    /// For `Expect: 100-continue` over HTTP/2 the server sends 100
    /// itself when the service first reads the body or answers 2xx (and
    /// none if it answers an error unread); a service may send it sooner
    /// here.
    pub async fn send(&self, status: StatusCode, headers: HeaderMap) -> bool {
        if !status.is_informational() || status == StatusCode::SWITCHING_PROTOCOLS {
            return false;
        }
        match &self.sink {
            Some(sink) => sink.send(self.stream_id, status, headers).await,
            None => false,
        }
    }
}

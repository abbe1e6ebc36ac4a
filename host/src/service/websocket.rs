//! WebSockets for services. The opening handshake comes two ways: over
//! HTTP/1.1 as `GET` with `Upgrade: websocket` (RFC 6455 §4), answered
//! 101 and the connection handed over; over HTTP/2 as an extended CONNECT
//! with `:protocol` websocket (RFC 8441), answered 200 and the stream's
//! bodies carrying the frames, beside the connection's other streams.
//! Either way the service gets one message stream, tokio-tungstenite's
//! [`WebSocketStream`], which does the framing, masking, fragments, ping
//! and close.
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use h2wasm::service::websocket::{Message, WebSocketUpgrade};
//! # fn answer(req: http::Request<h2wasm::service::body::Incoming>) -> http::Response<h2wasm::service::ResponseBody> {
//! match WebSocketUpgrade::new(req) {
//!     Ok(upgrade) => upgrade.on_upgrade(|mut ws| async move {
//!         while let Some(Ok(message)) = ws.next().await {
//!             if let Message::Text(_) | Message::Binary(_) = message {
//!                 let _ = ws.send(message).await;
//!             }
//!         }
//!     }),
//!     Err(refusal) => refusal,
//! }
//! # }
//! ```
//!
//! Bounds: a message (and a frame) is at most 1 MiB unless
//! [`WebSocketUpgrade::max_message_size`] says otherwise; a larger one is
//! a read error, which [`close_after`] answers with 1009 (message too
//! big), as it answers a protocol error with 1002 and bad UTF-8 with 1007. Each WebSocket reads through a 4 KiB
//! buffer and writes each message as it is sent; over HTTP/2 the stream's
//! bodies go through a 16 KiB pipe each way and a WebSocket is one stream
//! toward the session's stream limits (`max_concurrent_streams`), over
//! HTTP/1.1 one connection.

use crate::service::body::Incoming;
use crate::service::tunnel::{HeldByHost, ReaderBody, TUNNEL_MEMORY, spawn_request_copy};
use crate::service::{Http2Stream, Protocol, ResponseBody, box_body, empty, text};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version, header};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

pub use tokio_tungstenite::WebSocketStream;
pub use tokio_tungstenite::tungstenite::Error as WebSocketError;
pub use tokio_tungstenite::tungstenite::Message;
pub use tokio_tungstenite::tungstenite::protocol::CloseFrame;
pub use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// A service's end of an accepted WebSocket.
pub type WebSocket = WebSocketStream<WebSocketIo>;

/// The largest message (and frame) taken unless configured otherwise.
pub const DEFAULT_MAX_MESSAGE: usize = 1 << 20;

/// The read buffer of each WebSocket: small, as most are idle.
const READ_BUFFER: usize = 4 * 1024;

/// The pipe between an HTTP/2 stream's bodies and the WebSocket, each way.
const H2_PIPE: usize = 16 * 1024;

/// The only version of the protocol (RFC 6455 §4.1).
const VERSION: &str = "13";

/// Whether `req` asks to open a WebSocket (the handshake's shape only;
/// [`WebSocketUpgrade::new`] checks the rest).
pub fn is_websocket<B>(req: &Request<B>) -> bool {
    if req.method() == Method::CONNECT {
        return req
            .extensions()
            .get::<Protocol>()
            .is_some_and(|p| p.0.eq_ignore_ascii_case("websocket"));
    }
    has_token(req.headers(), header::UPGRADE, "websocket")
}

/// A WebSocket opening handshake, checked, waiting for the service to
/// accept it ([`on_upgrade`](Self::on_upgrade)) or turn it down (any
/// other response).
pub struct WebSocketUpgrade {
    parts: http::request::Parts,
    way: Way,
    offered: Vec<String>,
    chosen: Option<HeaderValue>,
    config: WebSocketConfig,
    /// What the handler's side may hold beyond the tunnel's pipes (the
    /// read buffer and a message being assembled), counted toward the
    /// session's memory over HTTP/2.
    held: u32,
}

enum Way {
    /// The connection itself, once the 101 is sent.
    Http1 { accept: HeaderValue, on: OnUpgrade },
    /// The stream's request body (client to server).
    Http2 { body: Incoming },
}

impl WebSocketUpgrade {
    /// Checks `req` as an opening handshake; a request that is not one
    /// gets its answer back: 400 naming what is wrong, or 426 (HTTP/1.1)
    /// / 400 (HTTP/2) with `Sec-WebSocket-Version: 13` for another
    /// version (RFC 6455 §4.4).
    #[allow(clippy::result_large_err)]
    pub fn new(req: Request<Incoming>) -> Result<WebSocketUpgrade, Response<ResponseBody>> {
        let http2 =
            req.extensions().get::<Http2Stream>().is_some() || req.version() >= Version::HTTP_2;
        if let Err(why) = check_shape(&req, http2) {
            return Err(text(
                StatusCode::BAD_REQUEST,
                format!("not a WebSocket handshake: {why}\n"),
            ));
        }
        let version = req.headers().get(header::SEC_WEBSOCKET_VERSION);
        if version.is_none_or(|v| v.as_bytes() != VERSION.as_bytes()) {
            let status = if http2 {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UPGRADE_REQUIRED
            };
            let mut refusal = text(status, "WebSocket version 13 only\n");
            refusal.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static(VERSION),
            );
            return Err(refusal);
        }
        let offered = req
            .headers()
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        let (way, parts) = if http2 {
            let (parts, body) = req.into_parts();
            (Way::Http2 { body }, parts)
        } else {
            let key = req.headers().get(header::SEC_WEBSOCKET_KEY);
            let Some(key) = key.filter(|k| is_key(k.as_bytes())) else {
                return Err(text(
                    StatusCode::BAD_REQUEST,
                    "not a WebSocket handshake: Sec-WebSocket-Key is not 16 octets in base64\n",
                ));
            };
            let accept = derive_accept_key(key.as_bytes());
            let accept = HeaderValue::from_str(&accept).expect("base64 is a valid field value");
            let mut req = req;
            let on = hyper::upgrade::on(&mut req);
            let (parts, _) = req.into_parts();
            (Way::Http1 { accept, on }, parts)
        };
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(0)
            .max_message_size(Some(DEFAULT_MAX_MESSAGE))
            .max_frame_size(Some(DEFAULT_MAX_MESSAGE));
        Ok(WebSocketUpgrade {
            parts,
            way,
            offered,
            chosen: None,
            config,
            held: 0,
        })
    }

    /// The request's method, URI, headers and extensions (its body is
    /// the WebSocket's).
    pub fn request(&self) -> &http::request::Parts {
        &self.parts
    }

    /// The subprotocols the client offered (`Sec-WebSocket-Protocol`), in
    /// its order of preference.
    pub fn offered_protocols(&self) -> impl Iterator<Item = &str> {
        self.offered.iter().map(String::as_str)
    }

    /// Accepts with `protocol`, which must be one the client offered
    /// (RFC 6455 §4.2.2); one it did not offer is not sent.
    pub fn protocol(mut self, protocol: &str) -> WebSocketUpgrade {
        self.chosen = self
            .offered
            .iter()
            .find(|p| p.as_str() == protocol)
            .and_then(|p| HeaderValue::from_str(p).ok());
        self
    }

    /// The largest message (and frame) to take, in octets.
    pub fn max_message_size(mut self, octets: usize) -> WebSocketUpgrade {
        self.config = self
            .config
            .max_message_size(Some(octets))
            .max_frame_size(Some(octets));
        self
    }

    /// Accepts: the response to send now (101 over HTTP/1.1, 200 over
    /// HTTP/2), and `handler` run on a task of its own with the
    /// WebSocket once the client has it.
    ///
    /// Over HTTP/2 the WebSocket's buffers count toward the session's
    /// `maxSessionMemory` while it is open: 64 KiB for the pipes between
    /// it and its stream, 4 KiB to read into, and
    /// [`max_message_size`](Self::max_message_size) for a message being
    /// assembled (1 MiB unless changed). A session without room for them
    /// gets 503 instead (logged at warn), and `handler` ends at once.
    pub fn on_upgrade<F, Fut>(mut self, handler: F) -> Response<ResponseBody>
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let message = self.config.max_message_size.unwrap_or(DEFAULT_MAX_MESSAGE);
        let message = u32::try_from(message).unwrap_or(u32::MAX);
        self.held = message.saturating_add(READ_BUFFER as u32);
        let config = self.config;
        self.on_upgrade_io(move |io| async move {
            let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
            handler(ws).await;
        })
    }

    /// Accepts, as [`on_upgrade`](Self::on_upgrade), handing `handler`
    /// the WebSocket's bytes (its frames, both ways) instead of its
    /// messages: for another WebSocket implementation, or to carry them
    /// on as they are (the reverse proxy). Over HTTP/2 the pipes (64 KiB)
    /// count toward the session's memory, as for `on_upgrade`; what
    /// `handler` holds is its own.
    pub fn on_upgrade_io<F, Fut>(self, handler: F) -> Response<ResponseBody>
    where
        F: FnOnce(WebSocketIo) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (mut response, io) = match self.way {
            Way::Http1 { accept, on } => {
                let mut response = Response::new(empty());
                *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                let h = response.headers_mut();
                h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
                h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
                (response, Pending::Http1(on))
            }
            Way::Http2 { body } => {
                let (ours, theirs) = tokio::io::duplex(H2_PIPE);
                let (from_client, to_client) = tokio::io::split(theirs);
                spawn_request_copy(body, to_client);
                // INTERNAL_ERROR: the pipe does not fail while both ends live.
                let body = ReaderBody::new(from_client, 0x2);
                let mut response = Response::new(box_body(body));
                let held = TUNNEL_MEMORY.saturating_add(self.held);
                response.extensions_mut().insert(HeldByHost(held));
                (response, Pending::Http2(ours))
            }
        };
        if let Some(protocol) = self.chosen {
            response
                .headers_mut()
                .insert(header::SEC_WEBSOCKET_PROTOCOL, protocol);
        }
        tokio::spawn(async move {
            let io = match io {
                Pending::Http1(on) => match on.await {
                    Ok(upgraded) => WebSocketIo::Http1(TokioIo::new(upgraded)),
                    Err(_) => return,
                },
                Pending::Http2(pipe) => WebSocketIo::Http2(pipe),
            };
            handler(io).await;
        });
        response
    }

    /// The client's `Sec-WebSocket-Key` (HTTP/1.1 only: HTTP/2 has none).
    pub(crate) fn key(&self) -> Option<&HeaderValue> {
        self.parts.headers.get(header::SEC_WEBSOCKET_KEY)
    }
}

enum Pending {
    Http1(OnUpgrade),
    Http2(DuplexStream),
}

/// What a WebSocket runs over: the upgraded HTTP/1.1 connection, or the
/// pipe to its HTTP/2 stream's bodies.
pub enum WebSocketIo {
    /// The connection, handed over by hyper after the 101.
    Http1(TokioIo<Upgraded>),
    /// The pipe whose other end is the stream's request and response bodies.
    Http2(DuplexStream),
}

impl AsyncRead for WebSocketIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            WebSocketIo::Http1(io) => Pin::new(io).poll_read(cx, buf),
            WebSocketIo::Http2(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WebSocketIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            WebSocketIo::Http1(io) => Pin::new(io).poll_write(cx, buf),
            WebSocketIo::Http2(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            WebSocketIo::Http1(io) => Pin::new(io).poll_flush(cx),
            WebSocketIo::Http2(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            WebSocketIo::Http1(io) => Pin::new(io).poll_shutdown(cx),
            WebSocketIo::Http2(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}

/// Closes `ws` with the code RFC 6455 §7.4.1 gives for the read error
/// `error`: 1009 for a message over the bound, 1002 for a protocol
/// violation, 1007 for text that is not UTF-8. Other errors (the
/// connection's own) leave nothing to close.
pub async fn close_after(ws: &mut WebSocket, error: &WebSocketError) {
    let (code, reason) = match error {
        WebSocketError::Capacity(_) => (CloseCode::Size, "message too big"),
        WebSocketError::Protocol(_) => (CloseCode::Protocol, "protocol error"),
        WebSocketError::Utf8(_) => (CloseCode::Invalid, "text is not UTF-8"),
        _ => return,
    };
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = ws.close(Some(frame)).await;
}

/// What makes `req` not an opening handshake, if anything: over HTTP/2
/// an extended CONNECT for `websocket` (the engine has checked its
/// pseudo-header fields), over HTTP/1.1 a GET with `Upgrade: websocket`
/// and `Connection: upgrade` (RFC 6455 §4.2.1).
fn check_shape(req: &Request<Incoming>, http2: bool) -> Result<(), &'static str> {
    if http2 {
        if req.method() != Method::CONNECT || !is_websocket(req) {
            return Err("expected an extended CONNECT with :protocol websocket");
        }
        return Ok(());
    }
    if req.method() != Method::GET {
        return Err("expected GET");
    }
    if req.version() < Version::HTTP_11 {
        return Err("expected HTTP/1.1");
    }
    if !has_token(req.headers(), header::UPGRADE, "websocket") {
        return Err("expected Upgrade: websocket");
    }
    if !has_token(req.headers(), header::CONNECTION, "upgrade") {
        return Err("expected Connection: upgrade");
    }
    Ok(())
}

/// Whether a comma-separated field has `token` among its elements.
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Whether `key` is 16 octets in base64 (RFC 6455 §4.1): 22 characters
/// of the alphabet and `==`.
fn is_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake(edit: impl FnOnce(&mut http::request::Builder)) -> Request<Incoming> {
        let mut b = Request::get("http://example.org/ws")
            .header("upgrade", "websocket")
            .header("connection", "keep-alive, Upgrade")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-protocol", "chat, superchat");
        edit(&mut b);
        b.body(Incoming::empty()).unwrap()
    }

    /// RFC 6455 §1.3's example: the key and the accept value it gives.
    #[tokio::test]
    async fn an_http1_handshake_is_answered_101_with_the_accept_value() {
        let upgrade = WebSocketUpgrade::new(handshake(|_| {})).ok().unwrap();
        assert_eq!(
            upgrade.offered_protocols().collect::<Vec<_>>(),
            ["chat", "superchat"]
        );
        let response = upgrade.protocol("superchat").on_upgrade(|_| async {});
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let h = response.headers();
        assert_eq!(h["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["sec-websocket-protocol"], "superchat");
    }

    #[tokio::test]
    async fn a_protocol_the_client_did_not_offer_is_not_sent() {
        let upgrade = WebSocketUpgrade::new(handshake(|_| {})).ok().unwrap();
        let response = upgrade.protocol("mqtt").on_upgrade(|_| async {});
        assert!(response.headers().get("sec-websocket-protocol").is_none());
    }

    #[test]
    fn malformed_handshakes_are_refused_with_the_reason() {
        let refused = |req| WebSocketUpgrade::new(req).err().unwrap();
        let bad_key = refused(handshake(|b| {
            b.headers_mut()
                .unwrap()
                .insert("sec-websocket-key", HeaderValue::from_static("short"));
        }));
        assert_eq!(bad_key.status(), StatusCode::BAD_REQUEST);
        let no_connection = refused(handshake(|b| {
            b.headers_mut().unwrap().remove("connection");
        }));
        assert_eq!(no_connection.status(), StatusCode::BAD_REQUEST);
        let old = refused(handshake(|b| {
            b.headers_mut()
                .unwrap()
                .insert("sec-websocket-version", HeaderValue::from_static("8"));
        }));
        assert_eq!(old.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(old.headers()["sec-websocket-version"], "13");
        let post = Request::post("http://example.org/ws")
            .header("upgrade", "websocket")
            .body(Incoming::empty())
            .unwrap();
        assert_eq!(refused(post).status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn keys_are_sixteen_octets_in_base64() {
        assert!(is_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_key(b"dGhlIHNhbXBsZSBub25jZQ"));
        assert!(!is_key(b"dGhlIHNhbXBsZSBub25j!Q=="));
    }
}

//! The site served when no directory is given: an index page, `/echo`,
//! which streams the request body back and reports its size in trailers,
//! and `/ws`, a WebSocket that sends each message back. Every answer is
//! ready at once (the echo's body follows the request's, the WebSocket
//! runs on a task of its own), so no request waits on a task.

use crate::service::body::Incoming;
use crate::service::websocket::{CloseCode, CloseFrame, WebSocketUpgrade, close_after};
use crate::service::{BoxError, PreparedHeaders, ResponseBody, box_body, full};
use bytes::Bytes;
use futures_util::future::{Ready, ready};
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};

const INDEX: &str = "<!doctype html>
<html><head><meta charset=\"utf-8\"><title>h2wasm</title></head>
<body>
<h1>h2wasm</h1>
<p>This page was served over HTTP/2 by an engine running as a WebAssembly component.</p>
<p><code>POST /echo</code> streams the request body back, with its length in the
<code>x-echo-bytes</code> trailer; a WebSocket to <code>/ws</code> gets each
message back.</p>
</body></html>
";

const NOT_FOUND: &str = "not found\n";

/// How long the `/ws` echo waits for a message before it closes (1001).
const WEBSOCKET_IDLE: std::time::Duration = std::time::Duration::from_secs(300);

/// The built-in site as a service.
#[derive(Clone, Copy, Debug, Default)]
pub struct Builtin;

impl tower::Service<Request<Incoming>> for Builtin {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Ready<Result<Response<ResponseBody>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        ready(Ok(answer(req)))
    }
}

fn answer(req: Request<Incoming>) -> Response<ResponseBody> {
    // Built once: every connection prepares each page's headers only once.
    static INDEX_PAGE: LazyLock<PreparedHeaders> =
        LazyLock::new(|| page_headers(StatusCode::OK, "text/html; charset=utf-8", INDEX));
    static NOT_FOUND_PAGE: LazyLock<PreparedHeaders> =
        LazyLock::new(|| page_headers(StatusCode::NOT_FOUND, "text/plain", NOT_FOUND));
    let head = req.method() == Method::HEAD;
    let page = |headers: &PreparedHeaders, body: &'static str| {
        let body = if head { "" } else { body };
        headers.response(full(Bytes::from_static(body.as_bytes())))
    };
    match (req.method(), req.uri().path()) {
        (_, "/echo") => echo(req),
        (_, "/ws") => websocket_echo(req),
        (&Method::GET | &Method::HEAD, "/") => page(&INDEX_PAGE, INDEX),
        _ => page(&NOT_FOUND_PAGE, NOT_FOUND),
    }
}

/// A WebSocket that sends each text and binary message back until the
/// client closes it (its close code echoed, as RFC 6455 §5.5.1 has it),
/// or until it has been idle for `WEBSOCKET_IDLE`.
fn websocket_echo(req: Request<Incoming>) -> Response<ResponseBody> {
    match WebSocketUpgrade::new(req) {
        Ok(upgrade) => upgrade.on_upgrade(|mut ws| async move {
            loop {
                let message = match tokio::time::timeout(WEBSOCKET_IDLE, ws.next()).await {
                    Ok(Some(Ok(message))) => message,
                    Ok(Some(Err(e))) => return close_after(&mut ws, &e).await,
                    Ok(None) => return,
                    Err(_) => {
                        let _ = ws
                            .close(Some(CloseFrame {
                                code: CloseCode::Away,
                                reason: "idle".into(),
                            }))
                            .await;
                        return;
                    }
                };
                // Ping, pong and close are answered by the WebSocket itself.
                if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                    return;
                }
            }
        }),
        Err(refusal) => refusal,
    }
}

fn page_headers(status: StatusCode, content_type: &'static str, body: &str) -> PreparedHeaders {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    PreparedHeaders::new(status, h)
}

/// 200 with the request's body as the response's, as it arrives, then an
/// `x-echo-bytes` trailer with its length.
fn echo(req: Request<Incoming>) -> Response<ResponseBody> {
    let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
    let mut response = Response::new(box_body(Echo {
        body: req.into_body(),
        total: 0,
        done: false,
    }));
    if let Some(ct) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    // Named ahead (RFC 9110 §6.6.2); HTTP/1.1 sends only named trailers.
    response
        .headers_mut()
        .insert(header::TRAILER, HeaderValue::from_static("x-echo-bytes"));
    response
}

struct Echo {
    body: Incoming,
    total: u64,
    done: bool,
}

impl Body for Echo {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(Box::new(e)))),
                Poll::Ready(Some(Ok(frame))) => {
                    // The request's trailers are not echoed.
                    if let Ok(d) = frame.into_data() {
                        self.total += d.len() as u64;
                        return Poll::Ready(Some(Ok(Frame::data(d))));
                    }
                }
                Poll::Ready(None) => {
                    self.done = true;
                    let mut t = HeaderMap::new();
                    t.insert("x-echo-bytes", HeaderValue::from(self.total));
                    return Poll::Ready(Some(Ok(Frame::trailers(t))));
                }
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

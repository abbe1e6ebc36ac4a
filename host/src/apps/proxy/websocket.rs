//! WebSockets through the reverse proxy. The client's opening handshake
//! (an HTTP/1.1 upgrade, or an HTTP/2 extended CONNECT) becomes an
//! HTTP/1.1 upgrade to the upstream on a connection of its own. Once the
//! upstream answers 101 the frames go both ways as they are (RFC 8441
//! §5: the framing is the same over either protocol); anything else it
//! answers is the client's answer. A WebSocket through the proxy that
//! carries nothing either way for the outgoing client's between-bytes
//! deadline is closed, as a silent upstream's response would be.

use super::{Inner, append, looped, remove_hop_by_hop, upstream_fields, via};
use crate::fetch::outgoing::UpgradeResponse;
use crate::service::body::Incoming;
use crate::service::websocket::{WebSocketIo, WebSocketUpgrade};
use crate::service::{BoxError, ConnectionInfo, ResponseBody, box_body, text};
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

impl Inner {
    pub(super) async fn forward_websocket(
        &self,
        request: Request<Incoming>,
    ) -> Response<ResponseBody> {
        let upgrade = match WebSocketUpgrade::new(request) {
            Ok(u) => u,
            Err(refusal) => return refusal,
        };
        let upstream = self.pick();
        let parts = upgrade.request();
        let info = parts.extensions.get::<ConnectionInfo>();
        let mut headers = match upstream_fields(
            upstream,
            parts.headers.clone(),
            &parts.uri,
            parts.version,
            info,
        ) {
            Some(h) => h,
            None => return looped(),
        };
        // Over HTTP/2 the client sent no key: one of ours, whose answer
        // is checked here (over HTTP/1.1 the client checks its own).
        let key = match upgrade.key() {
            Some(k) => k.clone(),
            None => HeaderValue::from_str(&generate_key()).expect("base64 is a field value"),
        };
        headers.insert(header::SEC_WEBSOCKET_KEY, key.clone());
        headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let uri = format!("{}{}{path}", upstream.origin, upstream.path);
        let mut out = Request::get(uri);
        if let Some(h) = out.headers_mut() {
            *h = headers;
        }
        let Ok(out) = out.body(()) else {
            return text(StatusCode::BAD_REQUEST, "cannot forward this request\n");
        };
        let UpgradeResponse { mut response, slot } = match self.outgoing.upgrade(out).await {
            Ok(r) => r,
            Err(e) => return self.unreachable(upstream, &e),
        };
        upstream.down_until.store(0, Ordering::Relaxed);
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            // Turned down: the upstream's answer is the client's.
            let (mut parts, body) = response.into_parts();
            remove_hop_by_hop(&mut parts.headers);
            append(&mut parts.headers, "via", &via(parts.version));
            let body = body.map_err(|e| -> BoxError { format!("upstream body: {e}").into() });
            return Response::from_parts(parts, box_body(body));
        }
        let h = response.headers();
        let accept = derive_accept_key(key.as_bytes());
        if h.get(header::SEC_WEBSOCKET_ACCEPT)
            .map(HeaderValue::as_bytes)
            != Some(accept.as_bytes())
        {
            return text(
                StatusCode::BAD_GATEWAY,
                format!(
                    "upstream {}: a WebSocket answer with the wrong Sec-WebSocket-Accept\n",
                    upstream.origin
                ),
            );
        }
        let mut upgrade = upgrade;
        if let Some(protocol) = h.get(header::SEC_WEBSOCKET_PROTOCOL) {
            let chosen = protocol.to_str().unwrap_or_default();
            if !upgrade.offered_protocols().any(|p| p == chosen) {
                return text(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "upstream {}: a WebSocket subprotocol the client did not offer\n",
                        upstream.origin
                    ),
                );
            }
            upgrade = upgrade.protocol(chosen);
        }
        let extensions = h.get(header::SEC_WEBSOCKET_EXTENSIONS).cloned();
        let via_upstream = via(response.version());
        let upstream_io = hyper::upgrade::on(&mut response);
        let idle = self.outgoing.between_bytes_timeout();
        let mut answer = upgrade.on_upgrade_io(move |client| async move {
            let _slot = slot;
            if let Ok(upgraded) = upstream_io.await {
                carry(client, TokioIo::new(upgraded), idle).await;
            }
        });
        if let Some(extensions) = extensions {
            answer
                .headers_mut()
                .insert(header::SEC_WEBSOCKET_EXTENSIONS, extensions);
        }
        append(answer.headers_mut(), "via", &via_upstream);
        answer
    }
}

/// Copies both ways until either side ends, or nothing has moved for
/// `idle`.
async fn carry<U>(client: WebSocketIo, upstream: U, idle: Duration)
where
    U: AsyncRead + AsyncWrite + Unpin,
{
    let start = Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let mut client = Watched {
        io: client,
        start,
        last: last.clone(),
    };
    let mut upstream = Watched {
        io: upstream,
        start,
        last: last.clone(),
    };
    let copy = tokio::io::copy_bidirectional(&mut client, &mut upstream);
    tokio::pin!(copy);
    loop {
        let moved = Duration::from_millis(last.load(Ordering::Relaxed));
        let deadline = start + moved + idle;
        tokio::select! {
            _ = &mut copy => return,
            _ = tokio::time::sleep_until(deadline.into()) => {
                if last.load(Ordering::Relaxed) == moved.as_millis() as u64 {
                    tracing::debug!("WebSocket through the proxy idle for {} s: closed", idle.as_secs());
                    return;
                }
            }
        }
    }
}

/// An IO that notes when bytes last moved through it (ms since `start`).
struct Watched<T> {
    io: T,
    start: Instant,
    last: Arc<AtomicU64>,
}

impl<T> Watched<T> {
    fn moved(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last.store(now, Ordering::Relaxed);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.moved();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

//! A CONNECT proxy (RFC 9113 §8.5, RFC 9110 §9.3.6) in front of another
//! service: a CONNECT to an allowed `host:port` opens a TCP connection
//! there and carries its bytes both ways — over HTTP/2 as the stream's
//! bodies, over HTTP/1.1 on the connection itself once the 200 is sent.
//! Other targets get 403, and every other request, extended CONNECT
//! (RFC 8441: a WebSocket) included, goes to the wrapped service.

use crate::service::body::Incoming;
use crate::service::tunnel::{HeldByHost, ReaderBody, TUNNEL_MEMORY, spawn_request_copy};
use crate::service::{
    BoxError, Http2Stream, Protocol, ResponseBody, SharedService, box_body, empty, text,
};
use futures_util::future::BoxFuture;
use http::{Method, Request, Response, StatusCode};
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

/// RST_STREAM code for a tunnel whose TCP side failed (§8.5).
const CONNECT_ERROR: u32 = 0xa;

/// A service that answers CONNECT (RFC 9113 §8.5) by tunnelling to the
/// allowed `host:port` targets, and passes every other request on.
#[derive(Clone)]
pub struct ConnectProxy {
    /// `host:port` targets, compared case-insensitively.
    allowed: Arc<Vec<String>>,
    inner: SharedService,
}

impl ConnectProxy {
    /// Tunnels to `allowed` (`host:port`); other requests go to `inner`.
    pub fn new(allowed: Vec<String>, inner: SharedService) -> ConnectProxy {
        let allowed = allowed
            .into_iter()
            .map(|a| a.to_ascii_lowercase())
            .collect();
        ConnectProxy {
            allowed: Arc::new(allowed),
            inner,
        }
    }
}

impl Service<Request<Incoming>> for ConnectProxy {
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response<ResponseBody>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        if req.method() != Method::CONNECT || req.extensions().get::<Protocol>().is_some() {
            return self.inner.call(req);
        }
        let allowed = self.allowed.clone();
        Box::pin(async move { Ok(tunnel(&allowed, req).await) })
    }
}

async fn tunnel(allowed: &[String], mut req: Request<Incoming>) -> Response<ResponseBody> {
    let target = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_ascii_lowercase())
        .unwrap_or_default();
    if !allowed.contains(&target) {
        return text(
            StatusCode::FORBIDDEN,
            format!("CONNECT to {target} is not allowed\n"),
        );
    }
    let tcp = match tokio::net::TcpStream::connect(&target).await {
        Ok(t) => t,
        Err(e) => {
            return text(
                StatusCode::BAD_GATEWAY,
                format!("cannot reach {target}: {e}\n"),
            );
        }
    };
    let _ = tcp.set_nodelay(true);
    if req.extensions().get::<Http2Stream>().is_none() {
        // HTTP/1.1: the connection itself becomes the tunnel after the 200.
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(upgraded) = upgrade.await {
                let mut client = hyper_util::rt::TokioIo::new(upgraded);
                let mut tcp = tcp;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut tcp).await;
            }
        });
        return Response::new(empty());
    }
    // HTTP/2: client → target is the request body (its END_STREAM
    // half-closes the TCP side); target → client is the response body.
    let (tcp_rd, tcp_wr) = tcp.into_split();
    spawn_request_copy(req.into_body(), tcp_wr);
    let mut response = Response::new(box_body(ReaderBody::new(tcp_rd, CONNECT_ERROR)));
    response.extensions_mut().insert(HeldByHost(TUNNEL_MEMORY));
    response
}

//! The metrics listener: `GET /metrics` over HTTP/1.1 (hyper), on an
//! address of its own so that it is never exposed with the sites. It
//! holds at most [`MAX_SCRAPERS`] connections (more are closed at once),
//! each for at most [`CONNECTION_DEADLINE`].

use super::Metrics;
use crate::service::{ResponseBody, text};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// Scrapers connected at once.
pub const MAX_SCRAPERS: usize = 16;
/// How long a scraper's connection is held, all its requests included.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(30);
/// A request's head must arrive within this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The Prometheus text format's media type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves `metrics` on `listener` until `shutdown` turns true.
pub async fn serve(listener: TcpListener, metrics: Metrics, mut shutdown: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_SCRAPERS));
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("metrics: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            // The guard wait_for returns is not held past it.
            _ = async { drop(shutdown.wait_for(|stop| *stop).await) } => return,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "metrics: {MAX_SCRAPERS} scrapers connected already; closing");
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let response = answer(&metrics, &req);
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(tcp), service);
            match tokio::time::timeout(CONNECTION_DEADLINE, conn).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(%peer, "metrics connection: {e}"),
                Err(_) => tracing::debug!(%peer, "metrics connection held too long; closed"),
            }
        });
    }
}

fn answer<B>(metrics: &Metrics, req: &Request<B>) -> Response<ResponseBody> {
    if req.uri().path() != "/metrics" {
        return text(StatusCode::NOT_FOUND, "metrics are at /metrics\n");
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let mut r = text(StatusCode::OK, metrics.render());
    let headers = r.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

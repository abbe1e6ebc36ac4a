//! An axum router served by h2wasm, unchanged: HTTP/2 through the
//! sandboxed engine, HTTP/1.1 through hyper, the same handlers for both.
//! HTTP/2-only features are taken from the request's extensions.
//!
//! Run with `cargo run -p h2wasm --example axum [ADDR]` (default
//! 127.0.0.1:8443, TLS with a development certificate), then e.g.
//! `curl -k https://127.0.0.1:8443/hello/you` (HTTP/2) or with
//! `--http1.1`.

use axum::Router;
use axum::extract::{Path, Request};
use axum::routing::{get, post};
use h2wasm::service::{Http2Stream, Informational};
use http::{HeaderMap, HeaderValue, StatusCode};
use std::sync::Arc;
use std::time::Duration;

/// The application: plain axum.
pub(crate) fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "hello from axum on h2wasm\n" }))
        .route(
            "/hello/{name}",
            get(|Path(name): Path<String>| async move { format!("hello, {name}\n") }),
        )
        .route("/echo", post(|body: String| async move { body }))
        .route("/protocol", get(protocol))
        .route("/hinted", get(hinted))
}

/// Which protocol carried the request: only HTTP/2 requests carry an
/// `Http2Stream` (push, priority, the stream's and session's state).
async fn protocol(req: Request) -> String {
    match req.extensions().get::<Http2Stream>() {
        Some(_) => "HTTP/2\n".into(),
        None => format!("{:?}\n", req.version()),
    }
}

/// 103 Early Hints before the page, over either protocol.
async fn hinted(req: Request) -> (StatusCode, &'static str) {
    if let Some(hints) = req.extensions().get::<Informational>() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            HeaderValue::from_static("</style.css>; rel=preload"),
        );
        hints.send(StatusCode::EARLY_HINTS, h).await;
    }
    (StatusCode::OK, "<link rel=stylesheet href=/style.css>\n")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8443".into());
    let runtime = Arc::new(
        h2wasm::Runtime::embedded(&h2wasm::RuntimeConfig::default())
            .map_err(|e| anyhow::anyhow!("{e:#}"))?,
    );
    let options = runtime
        .default_options()
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let (cert, key) = h2wasm::tls::dev_certificate()?;
    let server =
        h2wasm::serve::Server::builder(runtime, options, h2wasm::service::shared(router()))
            .tls(h2wasm::tls::server_config(&cert, &key, true)?)
            .grace(Duration::from_secs(5))
            .build();
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("axum on h2wasm: https://{}/", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(true);
    });
    server.run(listener, stopped).await
}

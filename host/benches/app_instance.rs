//! What one request costs a wasi:http component in-process, without a
//! network: a fresh instance from the pool, `handle`, and the response
//! body read to its end, one request after another.
//!
//! usage: cargo bench -p h2wasm --bench app_instance -- APP.wasm [REQUESTS]
//! (bench/app runs it with examples/hello).

use h2wasm::apps::wasi_http::{ComponentConfig, WasiHttpApp};
use h2wasm::fetch::outgoing::{Outgoing, OutgoingConfig};
use h2wasm::service::body::Incoming;
use http_body_util::BodyExt;
use std::time::Instant;
use tower::ServiceExt;

fn main() {
    // cargo passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(path) = args.first() else {
        eprintln!("usage: cargo bench -p h2wasm --bench app_instance -- APP.wasm [REQUESTS]");
        std::process::exit(2);
    };
    let requests: u32 = match args.get(1).map(|n| n.parse()) {
        None => 20_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("REQUESTS must be a positive number");
            std::process::exit(2);
        }
    };
    let runtime = std::sync::Arc::new(
        h2wasm::Runtime::embedded(&h2wasm::RuntimeConfig::default()).expect("the engine loads"),
    );
    let outgoing = Outgoing::new(runtime, OutgoingConfig::default()).expect("a TLS client config");
    let app = WasiHttpApp::load(path.as_ref(), ComponentConfig::default(), outgoing)
        .unwrap_or_else(|e| {
            eprintln!("{e:#}");
            std::process::exit(1);
        });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let one = || async {
            let request = http::Request::get("http://localhost/")
                .body(Incoming::empty())
                .expect("a valid request");
            let response = app.clone().oneshot(request).await.expect("infallible");
            assert_eq!(response.status(), 200, "{path} did not answer 200");
            response.into_body().collect().await.expect("a whole body");
        };
        for _ in 0..requests / 10 {
            one().await;
        }
        let started = Instant::now();
        for _ in 0..requests {
            one().await;
        }
        let us = started.elapsed().as_secs_f64() * 1e6 / f64::from(requests);
        println!(
            "{path}: {us:.1} us per request in-process (fresh instance, handle, body), \
             {requests} requests one after another"
        );
    });
}

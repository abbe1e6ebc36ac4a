//! The client side: `h2wasm get` ([`fetch`]), CONNECT tunnels
//! ([`tunnel`]) and the outgoing requests of wasi:http components
//! ([`outgoing`]). A fetch dials the server ([`connect`]), then speaks
//! HTTP/2 through the engine, or HTTP/1.1 through hyper when the server
//! offers no h2 (or it is asked for).

mod dial;
mod exchange;
pub(crate) mod frametrace;
mod h2;
mod http1;
pub mod outgoing;
pub(crate) mod progress;
pub mod report;
pub mod tunnel;

pub use dial::{Connected, Transport, connect};
pub use exchange::{
    BodySource, ClientOptions, Header, Http1, Output, Pushed, Request, Response, Target,
};

use crate::engine::Runtime;

/// Connects, sends every request concurrently on one connection, and
/// returns the responses in request order.
pub async fn fetch(
    runtime: &Runtime,
    target: &Target,
    requests: Vec<Request>,
    opts: &ClientOptions,
) -> anyhow::Result<Vec<Response>> {
    match connect(runtime, target, opts).await? {
        Connected::Http2(io, engine_opts) => {
            if opts.verbose {
                eprintln!("* HTTP/2");
            }
            h2::run(runtime, &engine_opts, io, requests, opts).await
        }
        Connected::Http1(io) => {
            if opts.verbose {
                eprintln!("* HTTP/1.1");
            }
            http1::run(io, target, requests, opts).await
        }
    }
}

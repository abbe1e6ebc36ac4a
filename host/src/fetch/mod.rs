//! The client side: `h2wasm get` ([`fetch`]), CONNECT tunnels
//! ([`tunnel`]) and the outgoing requests of wasi:http components
//! ([`outgoing`]). A fetch dials the server ([`connect`]), then speaks
//! HTTP/2 through the engine, or HTTP/1.1 through hyper when the server
//! offers no h2 (or it is asked for). All three go through one HTTP/2
//! client driver (`h2`).

mod dial;
mod exchange;
pub(crate) mod frametrace;
mod get;
pub(crate) mod h2;
pub mod outgoing;
mod probe;
pub(crate) mod progress;
pub mod report;
pub mod tunnel;

pub use dial::{Connected, Transport, connect};
pub use exchange::{
    BodySource, ClientOptions, Header, Http1, Output, Pushed, Request, Response, Target,
};
pub use get::fetch;

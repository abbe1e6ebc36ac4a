//! h2wasm host: loads the h2wasm HTTP/2 engine component into wasmtime and
//! drives it. One [`Runtime`] per process compiles the component once; each
//! HTTP/2 connection gets its own [`EngineConnection`] — its own `Store` and
//! instance from the pooling allocator — so a trap ends that connection only.
//!
//! The modules, from the ground up:
//! - [`service`]: the application interface (a `tower::Service` of
//!   `http::Request`s), bodies, and what only HTTP/2 has, as extensions.
//! - [`engine`]: the wasm boundary (the compiled component, an instance per
//!   connection, the WIT bindings).
//! - [`serve`]: the server side: accepting (TCP, TLS, sniffing h2c from
//!   HTTP/1.1), limits, the HTTP/2 connection driver and HTTP/1.1 (hyper).
//! - [`fetch`]: the client side: `h2wasm get`, CONNECT tunnels, and the
//!   outgoing requests of wasi:http components.
//! - [`apps`]: services that come with it: the built-in site, static files,
//!   the CONNECT proxy, and wasi:http components.
//! - [`sites`]: many sites behind one address: sites by host name with
//!   their certificates (SNI) and routes by path, swapped whole on reload.
//! - [`tls`]: rustls configurations for both sides, and the development
//!   certificate.

pub mod apps;
pub mod engine;
pub mod fetch;
pub mod serve;
pub mod service;
pub mod sites;
pub mod tls;

pub use engine::{DriveInput, EngineConnection, GUEST_FILES, Runtime, RuntimeConfig, bindings};

/// The engine component built from `guest/` and embedded at compile time.
pub static EMBEDDED_ENGINE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/h2wasm_engine.wasm"));

/// FNV-1a of [`EMBEDDED_ENGINE`] (see [`engine::wasm_hash`]).
pub const EMBEDDED_ENGINE_HASH: u64 = include!(concat!(env!("OUT_DIR"), "/h2wasm_engine_hash.rs"));

//! h2wasm host: loads the h2wasm HTTP/2 engine component into wasmtime and
//! drives it. One [`Runtime`] per process compiles the component once; each
//! HTTP/2 connection gets its own [`EngineConnection`] — its own `Store` and
//! instance from the pooling allocator — so a trap ends that connection only.
//!
//! - [`server::Server`] accepts TCP (and TLS with ALPN `h2`) connections and
//!   runs an [`app::App`] for every request stream; [`pump::serve_connection`]
//!   does the same for any byte stream you already have.
//! - [`client::fetch`] sends requests over one connection.

pub mod apps;
pub mod body;
pub mod client;
mod client_http1;
mod clock;
mod convert;
mod frametrace;
pub mod http1;
mod io;
pub mod limits;
pub mod outgoing;
mod progress;
pub mod pump;
pub mod report;
pub mod runtime;
pub mod server;
pub mod service;
mod sniff;
pub mod tls;
mod trim;
pub mod tunnel;

pub use runtime::{EngineConnection, GUEST_FILES, Runtime, RuntimeConfig};

/// Generated bindings for the `h2wasm:http2/engine` world.
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "engine",
        path: "../wit",
        exports: { default: async },
        // `respond-with-fd` takes a wasi:filesystem descriptor: the same
        // resource wasmtime-wasi hands the engine's own file reads.
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:filesystem": wasmtime_wasi::p2::bindings::filesystem,
        },
    });

    pub use exports::h2wasm::http2::session::{
        BodyChunk, DriveResult, HeldSpan, PayloadRef, PreparedResponse, RequestOptions,
        RespondOptions, StreamCredit, StreamWrite, Transmit,
    };
    pub use exports::h2wasm::http2::types::{
        AltsvcTarget, CommandError, ConnectionError, ConstantTable, DataEvent, Event, FieldSpan,
        FileStat, HeaderBlock, HeaderBlockEvent, HeaderField, HeaderKind, InputDataEvent, Metrics,
        NodeHeader, NodeHeaderValue, Options, Origin, PaddingStrategy, Priority, Role,
        SessionState, Settings, StreamMetrics, StreamState,
    };
}

/// The engine component built from `guest/` and embedded at compile time.
pub static EMBEDDED_ENGINE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/h2wasm_engine.wasm"));

/// FNV-1a of [`EMBEDDED_ENGINE`] (see [`runtime::wasm_hash`]).
pub const EMBEDDED_ENGINE_HASH: u64 = include!(concat!(env!("OUT_DIR"), "/h2wasm_engine_hash.rs"));

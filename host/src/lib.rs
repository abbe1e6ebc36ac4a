//! h2wasm host: loads the h2wasm HTTP/2 engine component into wasmtime and
//! drives it. One [`Runtime`] per process compiles the component once; each
//! HTTP/2 connection gets its own [`EngineConnection`] — its own `Store` and
//! instance from the pooling allocator — so a trap ends that connection only.

pub mod runtime;

pub use runtime::{EngineConnection, Runtime, RuntimeConfig};

/// Generated bindings for the `h2wasm:http2/engine` world.
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "engine",
        path: "../wit",
        exports: { default: async },
    });

    pub use exports::h2wasm::http2::session::{RequestOptions, RespondOptions};
    pub use exports::h2wasm::http2::types::{
        CommandError, ConnectionError, Event, HeaderField, Options, Origin, Role, SessionState,
        Settings, StreamState,
    };
}

/// The engine component built from `guest/` and embedded at compile time.
pub static EMBEDDED_ENGINE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/h2wasm_engine.wasm"));

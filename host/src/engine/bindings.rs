//! Generated bindings for the `h2wasm:http2/engine` world, and the WIT
//! types the host uses by name.

// Generated from the WIT, whose comments become these items' docs
// where it has them.
#![allow(missing_docs)]

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
    BodyChunk, DriveResult, HeldSpan, PayloadRef, PreparedResponse, RequestOptions, RespondOptions,
    StreamCredit, StreamWrite, Transmit,
};
pub use exports::h2wasm::http2::types::{
    AltsvcTarget, CommandError, ConnectionError, ConstantTable, DataEvent, Event, FieldSpan,
    FileStat, HeaderBlock, HeaderBlockEvent, HeaderField, HeaderKind, InputDataEvent, Metrics,
    NodeHeader, NodeHeaderValue, Options, Origin, PaddingStrategy, Priority, Role, SessionState,
    Settings, StreamMetrics, StreamState,
};

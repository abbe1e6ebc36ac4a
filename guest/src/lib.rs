//! h2wasm-engine: a sans-IO HTTP/2 engine (RFC 9113, RFC 7541) with the
//! feature set of Node's `node:http2`, built both as a native library and as
//! a `wasm32-wasip2` WebAssembly component (see `wit/`).
//!
//! The engine never performs I/O and never reads a clock: the embedder feeds
//! bytes with [`Connection::receive`], takes bytes with
//! [`Connection::poll_transmit`], reacts to [`Event`]s from
//! [`Connection::poll_event`], and passes time in.

pub mod connection;
pub mod constants;
pub mod error;
pub mod events;
mod flow;
mod frame;
mod headers;
mod hpack;
mod id_map;
pub mod options;
pub mod pair;
mod priority;
mod rate_limit;
pub mod settings;
mod snapshot;
mod stream;
mod transmit;
pub mod urgency;
pub mod wire;

#[cfg(target_arch = "wasm32")]
mod component;

pub use connection::{
    BatchedResponse, Connection, Metrics, PreparedHeaders, RequestOptions, RespondOptions,
    SessionState, StreamStateInfo,
};
pub use error::{CommandError, ConnectionError, ErrorCode};
pub use events::{Event, Origin};
pub use frame::PrioritySpec;
pub use headers::{HeaderField, HeaderList};
pub use options::{Options, Role};
pub use settings::Settings;
pub use stream::StreamMetrics;
pub use transmit::{PayloadRef, Transmit};

//! The wasm boundary: the engine component compiled once per process
//! ([`Runtime`]), one instance per connection ([`EngineConnection`]), the
//! generated bindings, and what every driver of a connection shares: the
//! clock it passes in, header conversions, and writing engine output to a
//! transport.

pub mod bindings;
pub(crate) mod clock;
pub(crate) mod convert;
pub(crate) mod io;
mod runtime;
pub(crate) mod trim;

pub use io::Trap;
pub(crate) use runtime::EpochTicker;
pub use runtime::{
    DriveInput, EPOCH_TICK, EngineConnection, GUEST_FILES, MAX_LIVE, Runtime, RuntimeConfig,
    wasm_hash,
};

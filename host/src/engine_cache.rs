//! Where the CLI keeps engines compiled to native code, so that serving
//! never runs the compiler in the serving process (its memory would stay
//! with the process) and later starts skip compiling altogether.

use crate::runtime::{Runtime, RuntimeConfig};
use std::path::PathBuf;

/// FNV-1a over the component's bytes: names its compiled copy (the
/// embedded engine's is computed at build time).
pub fn wasm_hash(wasm: &[u8]) -> u64 {
    wasm.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The file a component with `wasm_hash`, compiled for `config`, is kept
/// in: under [`crate::tls::data_dir`]`/engines`, named by the component
/// and by everything about the compiler and its settings that the code
/// depends on.
pub fn compiled_path(wasm_hash: u64, config: &RuntimeConfig) -> wasmtime::Result<PathBuf> {
    let key = Runtime::compatibility_key(config)?;
    Ok(crate::tls::data_dir()
        .join("engines")
        .join(format!("{wasm_hash:016x}-{key:016x}.cwasm")))
}

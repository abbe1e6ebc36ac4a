//! Built-in applications for `h2wasm serve`.

pub mod builtin;
pub mod connect;
pub mod files;
pub mod wasi_http;

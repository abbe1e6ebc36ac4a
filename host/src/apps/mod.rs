//! Built-in applications for `h2wasm serve`: the built-in site, static
//! files, the CONNECT proxy, the reverse proxy, wasi:http components.

pub mod builtin;
pub mod connect;
pub mod extras;
pub mod files;
pub mod keyvalue;
pub mod proxy;
pub mod wasi_http;

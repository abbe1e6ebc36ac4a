//! The server side: accepting connections (TCP, TLS with ALPN, telling
//! h2c from HTTP/1.1 by the first octets) within the server's [`limits`],
//! then serving each with the HTTP/2 connection driver (the engine) or
//! HTTP/1.1 (hyper), with graceful shutdown.

pub mod access_log;
mod date;
pub mod http1;
pub mod limits;
pub mod metrics;
pub mod pump;
mod server;
pub mod session_events;
mod sniff;

pub use access_log::AccessLog;
pub use http1::Http1Config;
pub use limits::Limits;
pub use metrics::Metrics;
pub use pump::{
    Builder, Connection, ConnectionConfig, ConnectionOrigins, ConnectionSummary, Error,
};
pub use server::{Server, ServerBuilder};
pub use session_events::SessionEvents;

/// A mutex's guard, poisoned or not: nothing the server keeps under its
/// locks is left half-changed by a panic, so a poisoned one is as good.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

//! What a key-value backend does: the operations of `wasi:keyvalue`'s
//! store, atomics and batch interfaces on one bucket, each bucket a
//! namespace of its own within the backend. Both backends keep values as
//! the bytes given; a counter (`increment`) is its decimal digits, as
//! Redis keeps it, so a counter reads the same on either.

use crate::service::BoxFuture;
use std::sync::Arc;

/// Why an operation failed, as `wasi:keyvalue/store.error` has it.
#[derive(Debug)]
pub enum Error {
    /// No bucket of that name is granted to the app.
    NoSuchStore,
    /// Anything else, with what went wrong.
    Other(String),
}

impl Error {
    pub(crate) fn other(what: impl std::fmt::Display) -> Error {
        Error::Other(what.to_string())
    }
}

/// An operation's outcome, on its way.
pub type Outcome<T> = BoxFuture<'static, Result<T, Error>>;

/// Longest key, in bytes.
pub const MAX_KEY: usize = 1024;
/// Largest value, in bytes (an app's instance holds it whole).
pub const MAX_VALUE: usize = 1 << 20;
/// Most keys in one batch call, and keys in one `list-keys` page.
pub const MAX_BATCH: usize = 1000;

/// A key-value backend; cheap to clone into each operation's future.
pub trait Backend: Send + Sync + 'static {
    /// The value of `key`, if it has one.
    fn get(&self, bucket: Arc<str>, key: String) -> Outcome<Option<Vec<u8>>>;
    /// Sets `key` to `value`.
    fn set(&self, bucket: Arc<str>, key: String, value: Vec<u8>) -> Outcome<()>;
    /// Removes `key` (nothing if it has no value).
    fn delete(&self, bucket: Arc<str>, key: String) -> Outcome<()>;
    /// Whether `key` has a value.
    fn exists(&self, bucket: Arc<str>, key: String) -> Outcome<bool>;
    /// A page of keys (at most [`MAX_BATCH`]) from `cursor` (none: the
    /// first page), and the cursor of the next page (none: that was the
    /// last).
    fn list_keys(
        &self,
        bucket: Arc<str>,
        cursor: Option<u64>,
    ) -> Outcome<(Vec<String>, Option<u64>)>;
    /// Adds `delta` to the counter at `key` (0 if it has no value) as one
    /// atomic step, and answers the new count.
    fn increment(&self, bucket: Arc<str>, key: String, delta: u64) -> Outcome<u64>;
    /// The value of each key, in order.
    fn get_many(&self, bucket: Arc<str>, keys: Vec<String>) -> Outcome<Vec<Option<Vec<u8>>>>;
    /// Sets each key to its value.
    fn set_many(&self, bucket: Arc<str>, pairs: Vec<(String, Vec<u8>)>) -> Outcome<()>;
    /// Removes each key.
    fn delete_many(&self, bucket: Arc<str>, keys: Vec<String>) -> Outcome<()>;
}

/// A counter's value as stored: its decimal digits.
pub(crate) fn parse_counter(value: &[u8]) -> Result<u64, Error> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| Error::other("the value is not a counter (decimal digits)"))
}

//! The monotonic clock the host passes into the engine (nanoseconds since
//! the process first asked).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

pub fn now_ns() -> u64 {
    u64::try_from(origin().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// The `Instant` at which the engine clock reads `ns`.
pub fn instant_at(ns: u64) -> Instant {
    origin() + Duration::from_nanos(ns)
}

//! The monotonic clock the host passes into the engine (nanoseconds since
//! the process first asked).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

pub(crate) fn now_ns() -> u64 {
    u64::try_from(origin().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// The `Instant` at which the engine clock reads `ns`.
pub(crate) fn instant_at(ns: u64) -> Instant {
    origin() + Duration::from_nanos(ns)
}

/// A monotonic reading that is cheap to take and good to a few
/// milliseconds, for checks made on every request that only care about
/// seconds (is a cached file's metadata a second old?). Readings compare
/// only with each other.
pub(crate) fn coarse_now() -> Duration {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec for the call to fill in. The
        // coarse clock skips the hardware counter read (a fraction of the
        // cost of CLOCK_MONOTONIC, which showed in the profile of small
        // files); it cannot fail for a valid clock id.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
        Duration::new(
            u64::try_from(ts.tv_sec).unwrap_or(0),
            u32::try_from(ts.tv_nsec).unwrap_or(0),
        )
    }
    #[cfg(not(target_os = "linux"))]
    origin().elapsed()
}

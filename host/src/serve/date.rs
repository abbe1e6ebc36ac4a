//! The `Date` every HTTP/2 response carries (RFC 9110 §6.6.1: an origin
//! server with a clock sends it in its 2xx, 3xx and 4xx responses, and
//! may in others; Node's `sendDate`, nghttpd and h2o send it always).
//! hyper adds it over HTTP/1.1. Formatted once a second per thread.

use crate::bindings::HeaderField;
use crate::engine::convert::field;
use http::{HeaderMap, HeaderValue, header};
use std::cell::RefCell;
use std::time::{Duration, UNIX_EPOCH};

thread_local! {
    /// The second last formatted, and its HTTP-date.
    static NOW: RefCell<(u64, HeaderValue)> =
        const { RefCell::new((u64::MAX, HeaderValue::from_static(""))) };
}

/// Seconds since the epoch, from the coarse wall clock (a few ms
/// behind at most: a `Date` is to the second).
fn wall_second() -> u64 {
    wall_now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The coarse wall clock now (a few ms behind at most), for the access
/// log's times: cheaper than `SystemTime::now`.
pub(crate) fn wall_now() -> std::time::SystemTime {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec for the call to fill in; the
        // coarse clock cannot fail for a valid clock id.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
        UNIX_EPOCH
            + Duration::new(
                u64::try_from(ts.tv_sec).unwrap_or(0),
                u32::try_from(ts.tv_nsec).unwrap_or(0),
            )
    }
    #[cfg(not(target_os = "linux"))]
    std::time::SystemTime::now()
}

/// This second (what [`now`] would say it is), without the date.
pub(crate) fn second() -> u64 {
    wall_second()
}

/// This second, and its HTTP-date.
pub(crate) fn now() -> (u64, HeaderValue) {
    let second = wall_second();
    NOW.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != second {
            let text = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(second));
            if let Ok(value) = HeaderValue::from_str(&text) {
                *cached = (second, value);
            }
        }
        (cached.0, cached.1.clone())
    })
}

/// Adds `date` to a response's fields unless the service set one (a
/// proxy passes its upstream's on).
pub(crate) fn add(fields: &mut Vec<HeaderField>, headers: &HeaderMap) {
    if !headers.contains_key(header::DATE) {
        fields.push(field("date", now().1.as_bytes(), false));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_is_an_http_date_of_now() {
        let (second, value) = now();
        let parsed = httpdate::parse_http_date(value.to_str().unwrap()).unwrap();
        assert_eq!(parsed, UNIX_EPOCH + Duration::from_secs(second));
        let wall = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(wall.abs_diff(second) <= 1, "{wall} {second}");
    }

    #[test]
    fn a_date_set_by_the_service_is_kept() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::DATE,
            HeaderValue::from_static("Tue, 01 Dec 2026 00:00:00 GMT"),
        );
        let mut fields = Vec::new();
        add(&mut fields, &headers);
        assert!(fields.is_empty());
        add(&mut fields, &HeaderMap::new());
        assert_eq!(fields.len(), 1);
    }
}

//! A connection's own counts of its requests, kept without atomics and
//! handed to the shared metrics once per turn: per request a small
//! response then costs a few additions, not a dozen atomic operations on
//! counters every connection shares.

use super::{CLASSES, Metrics, class_index, protocol_index};
use crate::serve::access_log::Protocol;
use prometheus::local::LocalHistogram;
use std::time::Duration;

/// Counts kept by one connection until [`Tally::flush`].
pub struct Tally {
    metrics: Metrics,
    protocol: usize,
    requests: [u64; CLASSES.len()],
    streams: u64,
    duration: LocalHistogram,
    first_byte: LocalHistogram,
}

impl Tally {
    pub(super) fn new(metrics: &Metrics, protocol: Protocol) -> Tally {
        let p = protocol_index(protocol);
        Tally {
            requests: [0; CLASSES.len()],
            streams: 0,
            duration: metrics.0.duration[p].local(),
            first_byte: metrics.0.first_byte[p].local(),
            protocol: p,
            metrics: metrics.clone(),
        }
    }

    /// The metrics it counts into (for what is rare enough to count
    /// there at once: resets, GOAWAYs).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// A stream opened.
    pub fn stream_opened(&mut self) {
        self.streams += 1;
    }

    /// A request ended (see [`Metrics::request`]).
    pub fn request(&mut self, status: u16, took: Duration, first_byte: Option<Duration>) {
        self.requests[class_index(status)] += 1;
        self.duration.observe(took.as_secs_f64());
        if let Some(first) = first_byte {
            self.first_byte.observe(first.as_secs_f64());
        }
    }

    /// Hands what it counted to the shared metrics.
    pub fn flush(&mut self) {
        let shared = &self.metrics.0;
        for (class, n) in self.requests.iter_mut().enumerate() {
            if *n > 0 {
                shared.requests[self.protocol][class].inc_by(*n);
                *n = 0;
            }
        }
        if self.streams > 0 {
            shared.streams_opened.inc_by(self.streams);
            self.streams = 0;
        }
        self.duration.flush();
        self.first_byte.flush();
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.flush();
    }
}

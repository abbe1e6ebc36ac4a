//! What each app counts: its failures by kind and its outgoing requests,
//! by the app's name (its file, as configured: a bounded set).

use super::counters;
use prometheus::{IntCounter, IntCounterVec, Registry};

pub(super) struct AppFamilies {
    failures: IntCounterVec,
    outgoing: IntCounterVec,
}

impl AppFamilies {
    pub(super) fn register(registry: &Registry) -> AppFamilies {
        AppFamilies {
            failures: counters(
                registry,
                "h2wasm_app_failures_total",
                "Requests an app did not answer: trap (500), timeout (504), busy (no free instance in time: 503).",
                &["app", "reason"],
            ),
            outgoing: counters(
                registry,
                "h2wasm_app_outgoing_requests_total",
                "Outgoing requests of an app: allowed by its outbound policy (then sent, or failed to connect), or denied.",
                &["app", "outcome"],
            ),
        }
    }

    pub(super) fn app(&self, name: &str) -> AppMetrics {
        let failure = |reason| self.failures.with_label_values(&[name, reason]);
        let outgoing = |outcome| self.outgoing.with_label_values(&[name, outcome]);
        AppMetrics {
            trapped: failure("trap"),
            timed_out: failure("timeout"),
            busy: failure("busy"),
            allowed: outgoing("allowed"),
            denied: outgoing("denied"),
        }
    }
}

/// One app's counters (clones count into the same ones).
#[derive(Clone, Debug)]
pub struct AppMetrics {
    /// Trapped, panicked or out of CPU before answering.
    pub trapped: IntCounter,
    /// Past its time limit.
    pub timed_out: IntCounter,
    /// No free instance within the queue timeout.
    pub busy: IntCounter,
    /// Outgoing requests the policy let through.
    pub allowed: IntCounter,
    /// Outgoing requests the policy refused.
    pub denied: IntCounter,
}

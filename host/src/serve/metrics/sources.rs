//! What a scrape reads rather than what the serving path counts: the
//! server's connections and memory ([`Limits`]), the connections holding
//! an instance ([`Runtime`]), the apps' instances. Each is kept where it
//! is (atomics the server needs anyway) and copied into gauges, or into
//! counters by their difference, once per scrape.

use super::{apps::AppFamilies, counters, follow, gauge, gauges};
use crate::engine::Runtime;
use crate::serve::limits::Limits;
use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Registry};

/// Something a scrape reads.
pub trait Sources: Send + Sync {
    /// Adds what it has to `reading`.
    fn read(&self, reading: &mut Reading);
}

/// What one scrape read: sums over every source.
#[derive(Debug, Default)]
pub struct Reading {
    /// Connections taken on.
    pub accepted: u64,
    /// Connections refused at `--max-connections`.
    pub refused_at_capacity: u64,
    /// Connections refused over the memory budget.
    pub refused_for_memory: u64,
    /// Connections open now.
    pub open: u64,
    /// Of them, hibernating (holding no instance).
    pub hibernating: u64,
    /// Connections holding an engine instance now.
    pub live: u64,
    /// Times a connection hibernated.
    pub hibernations: u64,
    /// Connections closed for a handshake not done in time.
    pub handshake_timeouts: u64,
    /// Connections closed after the idle timeout.
    pub idle_closed: u64,
    /// Resident memory, in octets.
    pub resident: u64,
    /// Its budget (`--max-memory`), in octets.
    pub budget: u64,
    /// Each app's requests running now and its instance limit.
    pub apps: Vec<AppReading>,
}

/// One app's instances as read.
#[derive(Debug)]
pub struct AppReading {
    /// Its name as configured (the component's file).
    pub name: String,
    /// Requests running now, each in an instance.
    pub busy: u64,
    /// Its `--app-instances`.
    pub capacity: u64,
}

impl Sources for std::sync::Arc<Limits> {
    fn read(&self, r: &mut Reading) {
        let s = self.stats();
        r.accepted += s.accepted;
        r.refused_at_capacity += s.refused_at_capacity;
        r.refused_for_memory += s.refused_for_memory;
        r.open += s.open;
        r.hibernating += s.hibernating;
        r.hibernations += s.hibernated;
        r.handshake_timeouts += s.handshake_timeouts;
        r.idle_closed += s.idle_closed;
        r.resident += self.resident().unwrap_or(0);
        r.budget += self.budget().unwrap_or(0);
    }
}

impl Sources for std::sync::Arc<Runtime> {
    fn read(&self, r: &mut Reading) {
        r.live += self.live() as u64;
    }
}

/// The metrics a scrape sets.
pub(super) struct Gauges {
    accepted: IntCounter,
    refused: IntCounterVec,
    open: IntGauge,
    hibernating: IntGauge,
    live: IntGauge,
    hibernations: IntCounter,
    handshake_timeouts: IntCounter,
    idle_closed: IntCounter,
    resident: IntGauge,
    budget: IntGauge,
    instances: IntGaugeVec,
}

impl Gauges {
    pub(super) fn register(registry: &Registry) -> Gauges {
        let counter = |name: &str, help: &str| {
            counters(registry, name, help, &[]).with_label_values(&[] as &[&str])
        };
        Gauges {
            accepted: counter("h2wasm_connections_accepted_total", "Connections taken on."),
            refused: counters(
                registry,
                "h2wasm_connections_refused_total",
                "Connections refused: at --max-connections (capacity) or over --max-memory (memory).",
                &["reason"],
            ),
            open: gauge(registry, "h2wasm_connections_open", "Connections open now."),
            hibernating: gauge(
                registry,
                "h2wasm_connections_hibernating",
                "Open HTTP/2 connections holding no engine instance (idle, written out).",
            ),
            live: gauge(
                registry,
                "h2wasm_connections_live",
                "HTTP/2 connections holding an engine instance now.",
            ),
            hibernations: counter(
                "h2wasm_hibernations_total",
                "Times an idle HTTP/2 connection gave its instance back.",
            ),
            handshake_timeouts: counter(
                "h2wasm_handshake_timeouts_total",
                "Connections closed for not completing their handshake in time.",
            ),
            idle_closed: counter(
                "h2wasm_idle_closed_total",
                "Connections closed after the idle timeout.",
            ),
            resident: gauge(
                registry,
                "h2wasm_resident_memory_bytes",
                "The process's resident memory (sampled every 50 ms).",
            ),
            budget: gauge(
                registry,
                "h2wasm_memory_budget_bytes",
                "The memory budget (--max-memory): above it new connections and streams are refused.",
            ),
            instances: gauges(
                registry,
                "h2wasm_app_instances",
                "Each app's instances: busy (running a request) and idle (free slots of --app-instances).",
                &["app", "state"],
            ),
        }
    }

    /// Reads every source and sets the metrics from what they say.
    pub(super) fn refresh(&self, sources: &[Box<dyn Sources>], apps: &AppFamilies) {
        let mut r = Reading::default();
        for s in sources {
            s.read(&mut r);
        }
        follow(&self.accepted, r.accepted);
        follow(
            &self.refused.with_label_values(&["capacity"]),
            r.refused_at_capacity,
        );
        follow(
            &self.refused.with_label_values(&["memory"]),
            r.refused_for_memory,
        );
        let set = |g: &IntGauge, v: u64| g.set(i64::try_from(v).unwrap_or(i64::MAX));
        set(&self.open, r.open);
        set(&self.hibernating, r.hibernating);
        set(&self.live, r.live);
        follow(&self.hibernations, r.hibernations);
        follow(&self.handshake_timeouts, r.handshake_timeouts);
        follow(&self.idle_closed, r.idle_closed);
        set(&self.resident, r.resident);
        set(&self.budget, r.budget);
        // Apps gone with a reload leave the gauges.
        self.instances.reset();
        for app in &r.apps {
            apps.app(&app.name);
            let busy = app.busy.min(app.capacity);
            set(
                &self
                    .instances
                    .with_label_values(&[app.name.as_str(), "busy"]),
                busy,
            );
            set(
                &self
                    .instances
                    .with_label_values(&[app.name.as_str(), "idle"]),
                app.capacity - busy,
            );
        }
    }
}

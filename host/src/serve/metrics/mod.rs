//! Metrics in the Prometheus text format (`serve --metrics ADDR`), kept
//! with the `prometheus` crate's types. What is counted per request or
//! per frame is counted where it happens, into handles resolved once (no
//! label lookup on the serving path); what the server already keeps
//! (connections, memory, app instances) is read when scraped
//! ([`sources`]). Every label's values come from a fixed set (protocols,
//! status classes, error codes) or from the configuration (sites, routes,
//! apps): none from a request's path or host.

mod apps;
pub mod endpoint;
pub mod sources;
mod tally;

pub use apps::AppMetrics;
pub use sources::Sources;
pub use tally::Tally;

use crate::serve::access_log::Protocol;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Protocols requests are counted by, in [`Protocol`]'s order.
const PROTOCOLS: [&str; 3] = ["h2", "http/1.1", "http/1.0"];

/// Status classes; `none`: the stream ended before a response was sent.
const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];

/// HTTP/2 error codes that have names (RFC 9113 §7: 0 to 0xd), labelled
/// by the engine's names; any other is `unknown`.
const NAMED_CODES: u32 = 0xe;

/// The `code` label of each index [`code_index`] gives.
fn code_labels() -> impl Iterator<Item = &'static str> {
    (0..NAMED_CODES)
        .map(|c| h2wasm_engine::ErrorCode(c).name().unwrap_or("unknown"))
        .chain(["unknown"])
}

/// Request duration and time-to-first-byte buckets, in seconds: 100 µs
/// (a small file from memory) to a minute (a slow app or upstream).
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0, 60.0,
];

/// Who sent a frame: this server or its peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// This server sent it.
    Sent,
    /// The peer sent it.
    Received,
}

/// A server's metrics (cheap to clone: every connection holds one).
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    /// By protocol, then status class.
    requests: Vec<[IntCounter; CLASSES.len()]>,
    /// By protocol.
    duration: Vec<Histogram>,
    first_byte: Vec<Histogram>,
    octets_in: Vec<IntCounter>,
    octets_out: Vec<IntCounter>,
    streams_opened: IntCounter,
    /// By direction, then code.
    resets: [Vec<IntCounter>; 2],
    goaways: [Vec<IntCounter>; 2],
    routes: IntCounterVec,
    apps: apps::AppFamilies,
    sources: Mutex<Vec<Box<dyn Sources>>>,
    gauges: sources::Gauges,
}

impl Metrics {
    /// Empty metrics: every family registered, every value 0.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counted =
            |name: &str, help: &str, labels: &[&str]| counters(&registry, name, help, labels);
        let histograms = |name: &str, help: &str| {
            let opts = HistogramOpts::new(name, help).buckets(BUCKETS.to_vec());
            let family = HistogramVec::new(opts, &["protocol"]).expect("valid metric");
            registry
                .register(Box::new(family.clone()))
                .expect("registered once");
            family
        };
        let requests = counted(
            "h2wasm_requests_total",
            "Requests answered (or ended unanswered: class none), by protocol and status class.",
            &["protocol", "class"],
        );
        let duration = histograms(
            "h2wasm_request_duration_seconds",
            "From a request's head to the end of its response.",
        );
        let first_byte = histograms(
            "h2wasm_response_first_byte_seconds",
            "From a request's head to its response's head.",
        );
        let octets_in = counted(
            "h2wasm_received_bytes_total",
            "Octets read from clients (TLS records decrypted), by protocol.",
            &["protocol"],
        );
        let octets_out = counted(
            "h2wasm_sent_bytes_total",
            "Octets written to clients (before TLS), by protocol.",
            &["protocol"],
        );
        let streams = counted(
            "h2wasm_streams_opened_total",
            "HTTP/2 streams opened: requests and pushes.",
            &[],
        );
        let resets = counted(
            "h2wasm_stream_resets_total",
            "HTTP/2 RST_STREAM frames, by error code and direction.",
            &["code", "direction"],
        );
        let goaways = counted(
            "h2wasm_goaways_total",
            "HTTP/2 GOAWAY frames, by error code and direction.",
            &["code", "direction"],
        );
        let routes = counted(
            "h2wasm_route_requests_total",
            "Requests answered by each route of the configuration, by status class.",
            &["site", "route", "class"],
        );
        let by_code = |family: &IntCounterVec, direction: &str| {
            code_labels()
                .map(|code| family.with_label_values(&[code, direction]))
                .collect()
        };
        let apps = apps::AppFamilies::register(&registry);
        let gauges = sources::Gauges::register(&registry);
        Metrics(Arc::new(Inner {
            requests: PROTOCOLS
                .iter()
                .map(|p| CLASSES.map(|c| requests.with_label_values(&[p, c])))
                .collect(),
            duration: PROTOCOLS
                .iter()
                .map(|p| duration.with_label_values(&[p]))
                .collect(),
            first_byte: PROTOCOLS
                .iter()
                .map(|p| first_byte.with_label_values(&[p]))
                .collect(),
            octets_in: PROTOCOLS
                .iter()
                .map(|p| octets_in.with_label_values(&[p]))
                .collect(),
            octets_out: PROTOCOLS
                .iter()
                .map(|p| octets_out.with_label_values(&[p]))
                .collect(),
            streams_opened: streams.with_label_values(&[] as &[&str]),
            resets: [by_code(&resets, "sent"), by_code(&resets, "received")],
            goaways: [by_code(&goaways, "sent"), by_code(&goaways, "received")],
            routes,
            apps,
            sources: Mutex::new(Vec::new()),
            gauges,
            registry,
        }))
    }

    /// A request ended: `status` 0 if no response was sent; `first_byte`
    /// when its response's head went out (if it did).
    pub fn request(
        &self,
        protocol: Protocol,
        status: u16,
        took: Duration,
        first_byte: Option<Duration>,
    ) {
        let p = protocol_index(protocol);
        self.0.requests[p][class_index(status)].inc();
        self.0.duration[p].observe(took.as_secs_f64());
        if let Some(first) = first_byte {
            self.0.first_byte[p].observe(first.as_secs_f64());
        }
    }

    /// Counts for one connection to keep and hand over in batches.
    pub fn tally(&self, protocol: Protocol) -> Tally {
        Tally::new(self, protocol)
    }

    /// Octets read from and written to a client.
    pub fn octets(&self, protocol: Protocol, read: u64, written: u64) {
        let p = protocol_index(protocol);
        if read > 0 {
            self.0.octets_in[p].inc_by(read);
        }
        if written > 0 {
            self.0.octets_out[p].inc_by(written);
        }
    }

    /// An HTTP/2 stream opened.
    pub fn stream_opened(&self) {
        self.0.streams_opened.inc();
    }

    /// An RST_STREAM with `code`.
    pub fn reset(&self, code: u32, direction: Direction) {
        self.0.resets[direction as usize][code_index(code)].inc();
    }

    /// A GOAWAY with `code`.
    pub fn goaway(&self, code: u32, direction: Direction) {
        self.0.goaways[direction as usize][code_index(code)].inc();
    }

    /// The counters of one route (`site`'s first name, `route` its path
    /// prefix): the same ones for the same names, across reloads.
    pub fn route(&self, site: &str, route: &str) -> RouteMetrics {
        RouteMetrics(Arc::new(
            CLASSES.map(|c| self.0.routes.with_label_values(&[site, route, c])),
        ))
    }

    /// The counters of the app `name` (its file, as configured): the same
    /// ones for the same name, across reloads.
    pub fn app(&self, name: &str) -> AppMetrics {
        self.0.apps.app(name)
    }

    /// Adds what is read when scraped (the server's connections and
    /// memory, the apps' instances).
    pub fn watch(&self, sources: Box<dyn Sources>) {
        self.0
            .sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sources);
    }

    /// Everything, in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        {
            // One scrape at a time reads the sources: counters read from
            // them move by their difference since the last scrape.
            let sources = self.0.sources.lock().unwrap_or_else(|p| p.into_inner());
            self.0.gauges.refresh(&sources, &self.0.apps);
        }
        let families = self.0.registry.gather();
        prometheus::TextEncoder::new()
            .encode_to_string(&families)
            .unwrap_or_else(|e| format!("# encoding failed: {e}\n"))
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// One route's requests by status class.
#[derive(Clone)]
pub struct RouteMetrics(Arc<[IntCounter; CLASSES.len()]>);

impl RouteMetrics {
    /// A response with `status` was given.
    pub fn answered(&self, status: u16) {
        self.0[class_index(status)].inc();
    }
}

fn protocol_index(p: Protocol) -> usize {
    match p {
        Protocol::Http2 => 0,
        Protocol::Http11 => 1,
        Protocol::Http10 => 2,
    }
}

fn class_index(status: u16) -> usize {
    match status {
        100..=599 => usize::from(status / 100 - 1),
        _ => CLASSES.len() - 1,
    }
}

fn code_index(code: u32) -> usize {
    code.min(NAMED_CODES) as usize
}

/// A gauge set from what a scrape reads.
fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("registered once");
    g
}

/// Gauges by labels, set from what a scrape reads.
fn gauges(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("registered once");
    g
}

/// Counters by labels.
fn counters(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("registered once");
    c
}

/// Moves `counter` up to `value` (a count kept elsewhere, read when
/// scraped); never down.
fn follow(counter: &IntCounter, value: u64) {
    let now = counter.get();
    if value > now {
        counter.inc_by(value - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_codes_stay_in_their_sets() {
        assert_eq!(CLASSES[class_index(200)], "2xx");
        assert_eq!(CLASSES[class_index(103)], "1xx");
        assert_eq!(CLASSES[class_index(599)], "5xx");
        assert_eq!(CLASSES[class_index(0)], "none");
        assert_eq!(CLASSES[class_index(600)], "none");
        let codes: Vec<_> = code_labels().collect();
        assert_eq!(codes[code_index(0)], "NO_ERROR");
        assert_eq!(codes[code_index(8)], "CANCEL");
        assert_eq!(codes[code_index(0xd)], "HTTP_1_1_REQUIRED");
        assert_eq!(codes[code_index(0xe)], "unknown");
        assert_eq!(codes[code_index(u32::MAX)], "unknown");
        assert!(!codes[..codes.len() - 1].contains(&"unknown"));
    }

    #[test]
    fn requests_are_counted_by_protocol_and_class() {
        let m = Metrics::new();
        m.request(Protocol::Http2, 200, Duration::from_millis(2), None);
        m.request(Protocol::Http2, 0, Duration::from_millis(2), None);
        m.request(
            Protocol::Http11,
            404,
            Duration::from_millis(1),
            Some(Duration::from_micros(300)),
        );
        m.reset(8, Direction::Received);
        m.route("a.example", "/api").answered(503);
        let text = m.render();
        for line in [
            r#"h2wasm_requests_total{class="2xx",protocol="h2"} 1"#,
            r#"h2wasm_requests_total{class="none",protocol="h2"} 1"#,
            r#"h2wasm_requests_total{class="4xx",protocol="http/1.1"} 1"#,
            r#"h2wasm_response_first_byte_seconds_count{protocol="http/1.1"} 1"#,
            r#"h2wasm_request_duration_seconds_count{protocol="h2"} 2"#,
            r#"h2wasm_stream_resets_total{code="CANCEL",direction="received"} 1"#,
            r#"h2wasm_route_requests_total{class="5xx",route="/api",site="a.example"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }
}

//! `serve --metrics`: the Prometheus endpoint's output passes `promtool
//! check metrics`, and its values move as the test's traffic says they
//! must (requests by protocol, route and class; streams, resets and
//! GOAWAYs; connections open and refused; octets; apps' failures,
//! outgoing requests and instances).

mod common;

use common::raw::{RawClient, ended, frame, hold_a_slot, request};
use common::*;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The metrics page, as a scraper gets it.
fn scrape(addr: SocketAddr) -> String {
    let o = run(Command::new("curl")
        .args(["-sS", "--max-time", "10", "-D", "-"])
        .arg(format!("http://{addr}/metrics")));
    let out = stdout(&o);
    let (head, body) = out.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    body.to_string()
}

/// The value of the sample named exactly `key` (name and labels as
/// printed), 0 if absent.
fn value(text: &str, key: &str) -> f64 {
    text.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .map(|v| v.parse::<f64>().unwrap())
        .next()
        .unwrap_or(0.0)
}

/// `promtool check metrics` finds nothing to say about `text`.
fn promtool_accepts(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; scripts/setup installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success() && o.stdout.is_empty() && o.stderr.is_empty(),
        "promtool: {}{}\n{text}",
        stdout(&o),
        stderr(&o)
    );
}

/// Waits until `key` reads `want` (gauges follow connections closing).
fn until(metrics: SocketAddr, key: &str, want: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(metrics);
        if value(&text, key) == want {
            return text;
        }
        assert!(Instant::now() < deadline, "{key} is not {want}:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn metrics_pass_promtool_and_follow_the_traffic() {
    let dir = scratch_dir("h2wasm-metrics-");
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    std::fs::write(www.join("index.html"), "hello\n").unwrap();
    let faulty = example_component("faulty");
    let fetch = example_component("fetch");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let file = dir.path().join("h2wasm.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[server]
metrics = "{metrics}"
access-log = "off"
max-connections = 3

[[listen]]
address = "{addr}"
tls = false

[[site]]
names = ["127.0.0.1"]
default = true

[[site.route]]
path = "/"
files = {{ root = "www" }}

[[site.route]]
path = "/faulty"
strip-prefix = true
app = {{ component = "{faulty}", time-limit = 1, cpu-limit = 0, instances = 4 }}

[[site.route]]
path = "/fetch"
strip-prefix = true
app = {{ component = "{fetch}" }}
"#,
            faulty = faulty.display(),
            fetch = fetch.display(),
        ),
    )
    .unwrap();
    let server = ServeProcess::spawn(
        &["--config".into(), file.display().to_string()],
        false,
        &[],
        &[addr, metrics],
    );
    let faulty_app = faulty.display().to_string();
    let fetch_app = fetch.display().to_string();
    // The start-up probe's connection, taken on and gone.
    until(metrics, "h2wasm_connections_accepted_total", 1.0);
    let before = until(metrics, "h2wasm_connections_open", 0.0);
    promtool_accepts(&before);
    assert_eq!(
        value(
            &before,
            "h2wasm_requests_total{class=\"2xx\",protocol=\"h2\"}"
        ),
        0.0
    );
    assert!(
        value(&before, "h2wasm_resident_memory_bytes") > 1e6,
        "{before}"
    );
    assert!(
        value(&before, "h2wasm_memory_budget_bytes") > 1e6,
        "{before}"
    );
    let idle = format!("h2wasm_app_instances{{app=\"{faulty_app}\",state=\"idle\"}}");
    assert_eq!(value(&before, &idle), 4.0, "{before}");

    // 200 requests over two h2c connections.
    let base = format!("http://{addr}");
    let o = run(Command::new("h2load")
        .args(["-n", "200", "-c", "2", "-m", "10"])
        .arg(format!("{base}/index.html")));
    assert!(
        stdout(&o).contains("200 succeeded, 0 failed"),
        "{}",
        stdout(&o)
    );
    // HTTP/1.1: a file that is not there.
    assert_eq!(
        curl_status(&["--http1.1", &format!("{base}/missing")]).0,
        "404"
    );
    // The app: a panic (500), a request past its time limit (504) while
    // a scrape sees its instance busy, a denied outgoing request (502).
    assert_eq!(
        curl_status(&["--http2-prior-knowledge", &format!("{base}/faulty/panic")]).0,
        "500"
    );
    let spin = {
        let url = format!("{base}/faulty/spin");
        std::thread::spawn(move || curl_status(&["--http2-prior-knowledge", &url]).0)
    };
    let busy = format!("h2wasm_app_instances{{app=\"{faulty_app}\",state=\"busy\"}}");
    until(metrics, &busy, 1.0);
    assert_eq!(spin.join().unwrap(), "504");
    let denied = curl_status(&[
        "--http2-prior-knowledge",
        &format!("{base}/fetch/?http://{addr}/"),
    ]);
    assert_eq!(denied.0, "502", "{denied:?}");
    // A stream the client resets: CANCEL received. Both frames in one
    // write, so that the server reads the reset before the app can
    // answer (which would make it a 2xx instead of a request with no
    // response).
    let mut c = RawClient::hello(addr);
    let mut headers = c.headers_frame(1, &request("POST", "/faulty/count"), false);
    headers.extend(frame(3, 0, 1, &8u32.to_be_bytes()));
    c.send(&headers);
    c.get(3, "/index.html");
    assert!(c.read_until(Duration::from_secs(5), |f| ended(f, 3)));
    drop(c);

    let after = until(metrics, "h2wasm_connections_open", 0.0);
    promtool_accepts(&after);
    let has = |key: &str, want: f64| {
        assert_eq!(value(&after, key), want, "{key}\n{after}");
    };
    has(
        "h2wasm_requests_total{class=\"2xx\",protocol=\"h2\"}",
        201.0,
    );
    has(
        "h2wasm_requests_total{class=\"4xx\",protocol=\"http/1.1\"}",
        1.0,
    );
    has("h2wasm_requests_total{class=\"5xx\",protocol=\"h2\"}", 3.0);
    // The reset one, answered never.
    has("h2wasm_requests_total{class=\"none\",protocol=\"h2\"}", 1.0);
    has(
        "h2wasm_route_requests_total{class=\"2xx\",route=\"/\",site=\"127.0.0.1\"}",
        201.0,
    );
    has(
        "h2wasm_route_requests_total{class=\"4xx\",route=\"/\",site=\"127.0.0.1\"}",
        1.0,
    );
    has(
        "h2wasm_route_requests_total{class=\"5xx\",route=\"/faulty\",site=\"127.0.0.1\"}",
        2.0,
    );
    has(
        "h2wasm_route_requests_total{class=\"5xx\",route=\"/fetch\",site=\"127.0.0.1\"}",
        1.0,
    );
    has(
        "h2wasm_request_duration_seconds_count{protocol=\"h2\"}",
        205.0,
    );
    has(
        "h2wasm_response_first_byte_seconds_count{protocol=\"http/1.1\"}",
        1.0,
    );
    // 200 + 3 + 1 (reset) + 1 (its neighbour).
    has("h2wasm_streams_opened_total", 205.0);
    has(
        "h2wasm_stream_resets_total{code=\"CANCEL\",direction=\"received\"}",
        1.0,
    );
    has(
        &format!("h2wasm_app_failures_total{{app=\"{faulty_app}\",reason=\"trap\"}}"),
        1.0,
    );
    has(
        &format!("h2wasm_app_failures_total{{app=\"{faulty_app}\",reason=\"timeout\"}}"),
        1.0,
    );
    has(
        &format!("h2wasm_app_outgoing_requests_total{{app=\"{fetch_app}\",outcome=\"denied\"}}"),
        1.0,
    );
    has(&busy, 0.0);
    has(&idle, 4.0);
    // The probe's, h2load's two, curl's four, the raw client's.
    has("h2wasm_connections_accepted_total", 8.0);
    // h2load says goodbye on each of its connections.
    assert!(
        value(
            &after,
            "h2wasm_goaways_total{code=\"NO_ERROR\",direction=\"received\"}"
        ) >= 2.0,
        "{after}"
    );
    assert!(
        value(&after, "h2wasm_received_bytes_total{protocol=\"h2\"}") > 200.0 * 10.0,
        "{after}"
    );
    assert!(
        value(&after, "h2wasm_sent_bytes_total{protocol=\"h2\"}") > 200.0 * 6.0,
        "{after}"
    );
    assert!(
        value(&after, "h2wasm_received_bytes_total{protocol=\"http/1.1\"}") > 40.0,
        "{after}"
    );

    // Three connections held (--max-connections 3): the fourth is refused.
    let held: Vec<RawClient> = (0..3)
        .map(|_| hold_a_slot(addr, Duration::from_secs(10)))
        .collect();
    let open = scrape(metrics);
    assert_eq!(value(&open, "h2wasm_connections_open"), 3.0, "{open}");
    let mut refused = RawClient::hello(addr);
    assert!(refused.read_until(Duration::from_secs(5), |f| {
        f.iter().any(|f| f.goaway_code().is_some())
    }));
    let full = scrape(metrics);
    assert_eq!(
        value(
            &full,
            "h2wasm_connections_refused_total{reason=\"capacity\"}"
        ),
        1.0,
        "{full}"
    );
    drop(held);
    // Not on the sites' listener: the metrics are on their own.
    assert_eq!(
        curl_status(&["--http1.1", &format!("{base}/metrics")]).0,
        "404"
    );
    assert_eq!(curl_status(&[&format!("http://{metrics}/other")]).0, "404");
    drop(server);
}

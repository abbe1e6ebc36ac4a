//! `serve --app` under apps that wait: every request has a wall-clock
//! limit that covers its waits (the client, the request body, outgoing
//! requests), outgoing requests have connect and first-byte timeouts and
//! a connection cap of their own, a request cannot recurse into its own
//! server without bound, and shutdown ends within the grace period
//! whatever the apps are doing.

mod common;

use common::raw::{self, RawClient, request};
use common::*;
use h2wasm::apps::wasi_http::{ComponentConfig, WasiHttpApp};
use h2wasm::fetch::outgoing::policy::{OutboundEntry, OutboundPolicy};
use h2wasm::fetch::outgoing::{Outgoing, OutgoingConfig};
use h2wasm::serve::ConnectionConfig;
use h2wasm::serve::limits::Limits;
use h2wasm::service::shared;
use h2wasm_engine::wire::kind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

const INTERNAL_ERROR: u32 = 0x2;

/// An origin that accepts connections and never says a word; the
/// connections stay open as long as it lives.
struct BlackHole {
    addr: SocketAddr,
    _thread: std::thread::JoinHandle<()>,
}

impl BlackHole {
    fn start() -> BlackHole {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            for c in listener.incoming().flatten() {
                held.push(c);
            }
        });
        BlackHole {
            addr,
            _thread: thread,
        }
    }
}

/// `curl` for `url`: (status, body, seconds taken).
fn fetch(url: &str) -> (String, String, Duration) {
    let started = Instant::now();
    let o = run(Command::new("curl")
        .args(["-sS", "--max-time", "60", "-w", "\n%{http_code}"])
        .arg(url));
    let out = stdout(&o);
    let (body, status) = out.rsplit_once('\n').unwrap_or(("", ""));
    (status.to_string(), body.to_string(), started.elapsed())
}

/// `serve --app NAME ARGS`; its outgoing requests may reach any port of
/// 127.0.0.1 (the origins here, and the server itself), named exactly.
fn serve_app(name: &str, args: &[&str]) -> ServeProcess {
    let app = example_component(name);
    let mut all = vec!["--h2c", "--app", app.to_str().unwrap()];
    all.extend(["--app-allow-outbound", "*://127.0.0.1:*"]);
    all.extend_from_slice(args);
    ServeProcess::start(&all, true)
}

/// Two POSTs whose bodies never come hold both instances of `echo` only
/// until the time limit: their streams (headers already sent) are reset,
/// the instances are dropped, and a request on a new connection is
/// answered; each drop is logged at warn.
#[test]
fn instances_waiting_for_a_body_are_dropped_at_the_time_limit() {
    let server = serve_app("echo", &["--app-time-limit", "2", "--app-instances", "2"]);
    let started = Instant::now();
    let mut waiting: Vec<RawClient> = (0..2)
        .map(|_| {
            let mut c = RawClient::hello(server.addr);
            let f = c.headers_frame(1, &request("POST", "/echo"), false);
            c.send(&f);
            assert!(
                c.read_until(Duration::from_secs(10), |f| {
                    f.iter().any(|f| f.kind == kind::HEADERS && f.stream == 1)
                }),
                "the response's head comes at once"
            );
            c
        })
        .collect();
    for c in waiting.iter_mut() {
        assert!(c.read_until(Duration::from_secs(10), |f| {
            f.iter()
                .any(|f| f.kind == kind::RST_STREAM && f.stream == 1)
        }));
        assert_eq!(c.rst(1), Some(INTERNAL_ERROR), "the body failed");
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "not before the limit: {took:?}"
    );
    assert!(took < Duration::from_secs(6), "at the limit: {took:?}");
    let mut next = RawClient::hello(server.addr);
    next.get(1, "/after");
    assert!(
        next.read_until(Duration::from_secs(5), |f| raw::ended(f, 1)),
        "a new request is answered"
    );
    drop(waiting);
    let log = stderr(&server.stop());
    let lines = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("ran past its time limit of 2s"))
        .count();
    assert_eq!(lines, 2, "{log}");
}

/// `fetch` asking an origin that accepts and never answers: the time
/// limit answers the client 504 (the response had not begun), with a warn
/// line; with a longer time limit, the first-byte timeout fails the
/// outgoing request instead and the component answers 502 with why.
#[test]
fn an_origin_that_never_answers_is_given_up_on() {
    let hole = BlackHole::start();
    let server = serve_app("fetch", &["--app-time-limit", "2"]);
    let url = format!("http://{}/?http://{}/", server.addr, hole.addr);
    let (status, _, took) = fetch(&url);
    assert_eq!(status, "504");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "{took:?}"
    );
    let log = stderr(&server.stop());
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("ran past its time limit")),
        "{log}"
    );

    let server = serve_app(
        "fetch",
        &["--app-time-limit", "30", "--app-first-byte-timeout", "1"],
    );
    let url = format!("http://{}/?http://{}/", server.addr, hole.addr);
    let (status, body, took) = fetch(&url);
    assert_eq!(status, "502", "{body}");
    assert!(body.contains("ConnectionReadTimeout"), "{body}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

/// A listener whose accept queue is full and never drained: a connection
/// to it cannot complete (the kernel drops the SYN), as to a host that
/// does not answer.
fn unreachable_listener() -> (SocketAddr, Vec<TcpStream>) {
    use std::os::fd::FromRawFd;
    // SAFETY: a socket of our own, bound to loopback with a backlog of
    // one and never accepted from; wrapped at once so it is closed.
    let listener = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
            },
            sin_zero: [0; 8],
        };
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&addr as *const libc::sockaddr_in).cast(), len),
            0
        );
        assert_eq!(libc::listen(fd, 0), 0);
        TcpListener::from_raw_fd(fd)
    };
    let addr = listener.local_addr().unwrap();
    // Fill the queue.
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(c) = TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            fillers.push(c);
        }
    }
    std::mem::forget(listener);
    (addr, fillers)
}

#[test]
fn an_origin_that_cannot_be_reached_fails_at_the_connect_timeout() {
    let (addr, _fillers) = unreachable_listener();
    let server = serve_app(
        "fetch",
        &["--app-time-limit", "30", "--app-connect-timeout", "1"],
    );
    let (status, body, took) = fetch(&format!("http://{}/?http://{addr}/", server.addr));
    assert_eq!(status, "502", "{body}");
    assert!(body.contains("ConnectionTimeout"), "{body}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

/// `http://SERVER/?http://SERVER/?...`: a request that fetches itself,
/// `depth` times over.
fn nested(server: SocketAddr, depth: usize) -> String {
    let mut url = format!("http://{server}/?http://{server}/hello");
    for _ in 1..depth {
        url = format!("http://{server}/?{url}");
    }
    url
}

/// A request that fetches from its own server, nested deeper than there
/// are instances, no longer leaves the app answering nobody: the request
/// that finds every instance busy is answered 503 after the queue
/// timeout, and the chain unwinds. Deeper than `--app-max-hops`, the
/// request that arrives once too often is answered 508 (CDN-Loop).
#[test]
fn a_request_that_fetches_its_own_server_is_bounded() {
    let server = serve_app(
        "fetch",
        &["--app-instances", "4", "--app-queue-timeout", "2"],
    );
    let (status, body, took) = fetch(&nested(server.addr, 5));
    assert_eq!(status, "503", "{body}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    // And the server goes on serving.
    let (status, _, _) = fetch(&nested(server.addr, 2));
    assert_ne!(status, "503");
    let log = stderr(&server.stop());
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("--app-queue-timeout")),
        "{log}"
    );

    let server = serve_app("fetch", &["--app-instances", "16", "--app-max-hops", "3"]);
    let started = Instant::now();
    let (status, body, _) = fetch(&nested(server.addr, 6));
    assert_eq!(status, "508", "{body}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let log = stderr(&server.stop());
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("CDN-Loop")),
        "{log}"
    );
}

/// Outgoing HTTP/2 connections take their engine instances from a pool
/// of their own: with one live instance for the server (held by the
/// client's connection while the app waits), the app still reaches an
/// h2c origin.
#[test]
fn outgoing_http2_connections_do_not_take_the_servers_instances() {
    let origin = ServeProcess::start(&["--h2c"], false);
    let origin_h2c = origin.addr.to_string();
    let server = serve_app("fetch", &["--max-live", "1", "--app-h2c", &origin_h2c]);
    let mut c = RawClient::hello(server.addr);
    let url = format!("/?http://{}/", origin.addr);
    let path: &'static str = Box::leak(url.into_boxed_str());
    c.get(1, path);
    assert!(
        c.read_until(Duration::from_secs(10), |f| raw::ended(f, 1)),
        "answered through an HTTP/2 origin connection: {:?}",
        c.frames
    );
    let head = c.response(1).expect("a response");
    assert!(
        head.iter()
            .any(|f| f.name == "x-upstream-status" && f.value == "200"),
        "{head:?}"
    );
}

/// SIGTERM with requests stuck in an app (an instance waiting on an
/// origin that never answers, another on a request body that never
/// comes): the server exits within --grace plus the stated margin.
#[test]
fn shutdown_ends_within_the_grace_period_whatever_the_apps_do() {
    let hole = BlackHole::start();
    let server = serve_app("fetch", &["--grace", "1", "--app-time-limit", "600"]);
    let mut stuck = RawClient::hello(server.addr);
    let url = format!("/?http://{}/", hole.addr);
    let path: &'static str = Box::leak(url.into_boxed_str());
    stuck.get(1, path);
    let mut upload = RawClient::hello(server.addr);
    let f = upload.headers_frame(1, &request("POST", "/"), false);
    upload.send(&f);
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let out = server.stop();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "exited after {took:?}");
    drop(out);
}

/// A pooled HTTP/2 connection to an origin is closed once it has carried
/// no request for the idle timeout; and outgoing connections beyond
/// `max_connections` wait for one within the connect timeout.
#[test]
fn outgoing_connections_are_capped_and_closed_when_idle() {
    let fetch_app = example_component("fetch");
    let origin_limits = Limits::new(100, None);
    let origin = TestServer::start_full(
        runtime(),
        false,
        builtin(),
        |_| {},
        ConnectionConfig {
            limits: Some(origin_limits.clone()),
            ..ConnectionConfig::default()
        },
    );
    let hole = BlackHole::start();
    let outgoing = Outgoing::new(
        runtime(),
        OutgoingConfig {
            policy: OutboundPolicy::allow(vec![
                OutboundEntry::parse("http://127.0.0.1:*").unwrap(),
            ]),
            h2c: [origin.addr.to_string()].into_iter().collect(),
            idle_timeout: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(1),
            first_byte_timeout: Duration::from_secs(3),
            max_connections: 1,
            ..OutgoingConfig::default()
        },
    )
    .unwrap();
    let app = WasiHttpApp::load(&fetch_app, ComponentConfig::default(), outgoing).unwrap();
    let server = TestServer::start(false, shared(app));
    let (status, _, _) = fetch(&server.url(&format!("/?http://{}/", origin.addr)));
    assert_eq!(status, "200");
    assert_eq!(origin_limits.stats().open, 1, "pooled");
    let deadline = Instant::now() + Duration::from_secs(5);
    while origin_limits.stats().open > 0 {
        assert!(Instant::now() < deadline, "the idle connection was closed");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The only connection slot goes to a request that waits on an origin
    // that never answers; another request meanwhile waits within its
    // connect timeout and fails.
    let hole_url = server.url(&format!("/?http://{}/", hole.addr));
    let holding = std::thread::spawn(move || fetch(&hole_url));
    std::thread::sleep(Duration::from_millis(300));
    let (status, body, took) = fetch(&server.url(&format!("/?http://{}/", origin.addr)));
    assert_eq!(status, "502", "{body}");
    assert!(body.contains("ConnectionTimeout"), "{body}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let (status, body, _) = holding.join().unwrap();
    assert_eq!(status, "502", "{body}");
    assert!(body.contains("ConnectionReadTimeout"), "{body}");
    // Its slot is free again.
    let (status, _, _) = fetch(&server.url(&format!("/?http://{}/", origin.addr)));
    assert_eq!(status, "200");
}

//! What an edge server needs beyond answering requests, each with small
//! limits and short timeouts: instances held only while a connection is
//! busy (hibernation), a bounded pool, refusal at capacity, idle and
//! handshake timeouts, stream limits, and floods from peers that never
//! read.

mod common;

use common::raw::{RawClient, frame, request};
use common::*;
use h2wasm::serve::ConnectionConfig;
use h2wasm::serve::limits::Limits;
use h2wasm::service::SharedService;
use h2wasm::{DriveInput, Runtime, RuntimeConfig};
use h2wasm_engine::wire::{flag, kind};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const REFUSED_STREAM: u32 = 0x7;
const ENHANCE_YOUR_CALM: u32 = 0xb;

fn config(limits: &Arc<Limits>) -> ConnectionConfig {
    ConnectionConfig {
        limits: Some(limits.clone()),
        ..ConnectionConfig::default()
    }
}

/// Answers with the `x-tenant` it was sent, in a header and the body.
fn echo_tenant() -> SharedService {
    app(|req| async move {
        let tenant = req
            .headers()
            .get("x-tenant")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_string();
        respond(200, &[("x-echo-tenant", &tenant)], tenant.clone())
    })
}

/// Node's client keeps one session and refers to its HPACK table; between
/// requests the idle connection hibernates (its instance goes back to the
/// pool) and the next request resumes it, with both tables intact.
#[test]
fn idle_connections_hibernate_and_resume_where_they_were() {
    let limits = Limits::new(100, None);
    let server = TestServer::start_full(
        runtime(),
        false,
        echo_tenant(),
        |_| {},
        ConnectionConfig {
            hibernate_after: Some(Duration::from_millis(100)),
            ..config(&limits)
        },
    );
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/node/sequential.js");
    let o = run(Command::new("node")
        .arg(script)
        .arg(server.url("/tenant"))
        .args(["4", "400"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let expected = r#"{"status":200,"echoed":"blue","body":"blue"}"#;
    assert_eq!(out.matches(expected).count(), 4, "{out}");
    let stats = limits.stats();
    assert!(stats.hibernated >= 3, "{stats:?}");
    assert!(stats.resumed >= 3, "{stats:?}");
}

/// Every pooled resource is sized for `max_live` (instances, tables,
/// memories, async stacks): that many connections hold an instance at
/// once, and one more waits for one instead of failing.
#[test]
fn the_pool_holds_max_live_instances_and_more_wait() {
    let runtime = Arc::new(
        Runtime::embedded(&RuntimeConfig {
            max_connections: 100,
            max_live: 6,
            ..RuntimeConfig::default()
        })
        .unwrap(),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let options = runtime.default_options().await.unwrap();
        let role = h2wasm::bindings::Role::Server;
        let mut held = Vec::new();
        for _ in 0..6 {
            let mut c = runtime.connect(role, &options, 0).await.unwrap();
            // An async call: each store now keeps a fiber stack.
            let preface = DriveInput {
                input: b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                ..DriveInput::default()
            };
            c.drive(1, &preface, 1024).await.unwrap();
            held.push(c);
        }
        let waiting = runtime.connect(role, &options, 0);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_millis(300), &mut waiting)
                .await
                .is_err(),
            "a seventh instance while six are live"
        );
        held.pop();
        let c = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("an instance once one is free")
            .unwrap();
        drop(c);
    });
}

/// Beyond `max_connections` a connection is refused at once, without an
/// instance: SETTINGS, then GOAWAY REFUSED_STREAM with last stream 0. The
/// refusal is counted, and service resumes when a slot frees.
/// A default pool reserves ~40 TiB of address space, and a process has
/// 128 TiB: a dropped runtime must give its pool back at once, not when
/// its epoch thread next wakes, or a few made one after another fail.
#[test]
fn a_dropped_runtime_releases_its_pool_at_once() {
    for _ in 0..6 {
        let runtime = Runtime::embedded(&RuntimeConfig::default()).unwrap();
        let engine = runtime.engine().weak();
        drop(runtime);
        assert!(engine.upgrade().is_none(), "nothing holds the engine");
    }
}

#[test]
fn connections_beyond_capacity_are_refused_in_http2() {
    let limits = Limits::new(2, None);
    let server = TestServer::start_full(runtime(), false, builtin(), |_| {}, config(&limits));
    let mut held: Vec<RawClient> = (0..2)
        .map(|_| {
            let mut c = RawClient::hello(server.addr);
            c.get(1, "/");
            assert!(c.read_until(Duration::from_secs(5), |f| common::raw::ended(f, 1)));
            c
        })
        .collect();
    let mut refused = RawClient::connect(server.addr);
    assert!(
        refused.read_to_close(Duration::from_secs(5)),
        "closed at once"
    );
    assert_eq!(refused.frames.first().map(|f| f.kind), Some(kind::SETTINGS));
    let goaway = refused
        .frames
        .iter()
        .find(|f| f.kind == kind::GOAWAY)
        .expect("a GOAWAY");
    assert_eq!(&goaway.payload[..4], &[0, 0, 0, 0], "last stream 0");
    assert_eq!(goaway.goaway_code(), Some(REFUSED_STREAM));
    assert_eq!(limits.stats().refused_at_capacity, 1);
    // A slot frees: the next connection is served.
    held.pop();
    answers_200_within(&server.url("/"), Duration::from_secs(5), || {});
    drop(held);
}

/// The CLI warns about refusals at most once per interval, saying how
/// many there were, and says why.
#[test]
fn refusals_are_logged_at_warn_rate_limited() {
    let server = ServeProcess::start(&["--h2c", "--max-connections", "1"], true);
    let addr = server.addr;
    let held = common::raw::hold_a_slot(addr, Duration::from_secs(10));
    // The held connection takes the only slot; these are refused.
    for _ in 0..5 {
        let mut c = RawClient::connect(addr);
        assert!(c.read_to_close(Duration::from_secs(5)));
        assert_eq!(c.goaway(), Some(REFUSED_STREAM));
    }
    drop(held);
    let out = server.stop();
    let log = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("refusing connections"))
        .collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(
        warnings[0].contains("WARN") && warnings[0].contains("--max-connections"),
        "{log}"
    );
}

/// A connection with no open streams is closed after the idle timeout with
/// GOAWAY NO_ERROR, whether it was hibernating then or not.
#[test]
fn idle_connections_get_goaway_no_error_after_the_idle_timeout() {
    for hibernate_after in [None, Some(Duration::from_millis(50))] {
        let limits = Limits::new(100, None);
        let server = TestServer::start_full(
            runtime(),
            false,
            builtin(),
            |_| {},
            ConnectionConfig {
                idle_timeout: Some(Duration::from_millis(400)),
                hibernate_after,
                ..config(&limits)
            },
        );
        let mut c = RawClient::hello(server.addr);
        c.get(1, "/");
        let started = Instant::now();
        assert!(c.read_to_close(Duration::from_secs(10)), "closed");
        assert!(c.ended(1), "the request was answered first");
        assert_eq!(c.goaway(), Some(0), "GOAWAY NO_ERROR");
        assert!(started.elapsed() >= Duration::from_millis(350));
        assert_eq!(limits.stats().idle_closed, 1);
    }
}

/// A cleartext client that does not send the preface and SETTINGS within
/// the handshake timeout is closed, silent or half-way.
#[test]
fn clients_that_never_finish_the_handshake_are_closed() {
    let limits = Limits::new(100, None);
    let server = TestServer::start_full(
        runtime(),
        false,
        builtin(),
        |_| {},
        ConnectionConfig {
            handshake_timeout: Duration::from_secs(1),
            ..config(&limits)
        },
    );
    // A client that does complete it is served (and the first instance,
    // slow to make in a debug build, is made before the clock matters).
    let mut ok = RawClient::hello(server.addr);
    ok.get(1, "/");
    assert!(ok.read_until(Duration::from_secs(5), |f| common::raw::ended(f, 1)));
    let mut silent = RawClient::connect(server.addr);
    let mut preface_only = RawClient::connect(server.addr);
    preface_only.send(h2wasm_engine::connection::PREFACE);
    for c in [&mut silent, &mut preface_only] {
        let started = Instant::now();
        assert!(c.read_to_close(Duration::from_secs(10)), "closed");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(limits.stats().handshake_timeouts, 2, "{:?}", limits.stats());
}

/// A peer that floods PINGs (or SETTINGS) and never reads the
/// acknowledgements gets GOAWAY ENHANCE_YOUR_CALM and is closed once the
/// bound on unread acknowledgements is reached; others are served all the
/// while.
#[test]
fn ack_floods_from_peers_that_never_read_are_closed() {
    for flood_kind in [kind::PING, kind::SETTINGS] {
        let server = TestServer::start(false, builtin());
        let mut flooder = RawClient::hello(server.addr);
        flooder
            .tcp
            .set_write_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let one = match flood_kind {
            kind::PING => frame(kind::PING, 0, 0, &[7; 8]),
            _ => frame(kind::SETTINGS, 0, 0, &[]),
        };
        let burst: Vec<u8> = one.iter().copied().cycle().take(one.len() * 4096).collect();
        // At most ~250 MB of frames: far beyond every buffer on the way.
        let mut failed = None;
        for _ in 0..4000 {
            if let Err(why) = flooder.try_send(&burst) {
                failed = Some(why);
                break;
            }
        }
        // Closed by the server, not stuck: a stuck one stops reading and
        // our write times out instead.
        assert!(
            matches!(
                failed,
                Some(std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)
            ),
            "{failed:?}"
        );
        // Its last words, if any reached us, were ENHANCE_YOUR_CALM.
        assert!(flooder.read_to_close(Duration::from_secs(5)));
        if let Some(code) = flooder.goaway() {
            assert_eq!(code, ENHANCE_YOUR_CALM);
        }
        let o = run(Command::new("curl")
            .args([
                "-sS",
                "--http2-prior-knowledge",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .arg(server.url("/")));
        assert_eq!(stdout(&o), "200", "others are served");
    }
}

/// The server advertises SETTINGS_MAX_CONCURRENT_STREAMS; streams beyond
/// it are refused with REFUSED_STREAM, and a peer that keeps opening them
/// gets GOAWAY ENHANCE_YOUR_CALM (Node's maxSessionRejectedStreams, as
/// nghttp2 does).
#[test]
fn streams_beyond_the_limit_are_refused_then_the_peer_is_ended() {
    let server = ServeProcess::start(&["--h2c", "--max-concurrent-streams", "5"], false);
    let addr = server.addr;
    let mut c = RawClient::hello(addr);
    assert!(c.read_until(Duration::from_secs(5), |f| {
        f.iter()
            .any(|f| f.kind == kind::SETTINGS && f.flags & flag::ACK == 0)
    }));
    let settings = c.frames[0].settings();
    assert!(settings.contains(&(0x3, 5)), "{settings:?}");
    // Five uploads that never end, then a sixth.
    for i in 0..6u32 {
        let f = c.headers_frame(1 + 2 * i, &request("POST", "/echo"), false);
        c.send(&f);
    }
    assert!(c.read_until(Duration::from_secs(5), |f| {
        f.iter()
            .any(|f| f.stream == 11 && f.kind == kind::RST_STREAM)
    }));
    assert_eq!(c.rst(11), Some(REFUSED_STREAM));
    assert_eq!(c.rst(1), None, "the first five go on");
    // Keep opening: past 100 refusals in a row, GOAWAY.
    let mut burst = Vec::new();
    for i in 6..120u32 {
        burst.extend(c.headers_frame(1 + 2 * i, &request("POST", "/echo"), false));
    }
    let _ = c.try_send(&burst);
    assert!(c.read_to_close(Duration::from_secs(10)));
    assert_eq!(c.goaway(), Some(ENHANCE_YOUR_CALM));
    server.stop();
}

/// `serve` advertises 100 concurrent streams by default.
#[test]
fn serve_advertises_100_concurrent_streams_by_default() {
    let server = ServeProcess::start(&["--h2c"], false);
    let mut c = RawClient::hello(server.addr);
    assert!(c.read_until(Duration::from_secs(5), |f| !f.is_empty()));
    assert!(c.frames[0].settings().contains(&(0x3, 100)));
    server.stop();
}

/// `--max-connections` goes to 100,000 (and beyond) with the largest pool
/// of live instances; the server starts and serves.
#[test]
fn a_server_for_100000_connections_starts_and_serves() {
    let mut server = ServeProcess::start(
        &[
            "--h2c",
            "--max-connections",
            "100000",
            "--max-live",
            "16384",
        ],
        false,
    );
    let url = format!("http://{}/", server.addr);
    answers_200_within(&url, Duration::from_secs(60), || {
        if let Some(status) = server.exited() {
            panic!("h2wasm serve exited: {status}");
        }
    });
    server.stop();
}

/// Asks for `url` over h2c (curl) until it answers 200, calling `check`
/// between tries; fails after `limit`.
fn answers_200_within(url: &str, limit: Duration, mut check: impl FnMut()) {
    let deadline = Instant::now() + limit;
    loop {
        let o = run(Command::new("curl").args([
            "-sS",
            "--http2-prior-knowledge",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            url,
        ]));
        if stdout(&o) == "200" {
            return;
        }
        check();
        assert!(Instant::now() < deadline, "no 200 from {url} in {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Instances are made ahead for the next connections (two, made again
/// as they are taken); a connection takes one and is served by it however
/// long it waited (longer than the call budget here).
#[test]
fn connections_take_instances_made_ahead() {
    let runtime = Arc::new(
        Runtime::embedded(&RuntimeConfig {
            max_connections: 10,
            max_live: 4,
            max_call_time: Some(Duration::from_millis(50)),
            ..RuntimeConfig::default()
        })
        .unwrap(),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let options = runtime.default_options().await.unwrap();
        let role = h2wasm::bindings::Role::Server;
        let ready_within = |n: usize| {
            let runtime = runtime.clone();
            async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                while runtime.ready() != n {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "{} ready",
                        runtime.ready()
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        };
        assert_eq!(runtime.ready(), 0);
        let first = runtime.connect(role, &options, 0).await.unwrap();
        ready_within(2).await;
        // Past the 50 ms call budget since they were made.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut second = runtime.connect(role, &options, 0).await.unwrap();
        assert_eq!(runtime.ready(), 1, "the second connection took one");
        let preface = DriveInput {
            input: b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0",
            ..DriveInput::default()
        };
        second
            .drive(1, &preface, 4096)
            .await
            .expect("served by an instance made ahead");
        ready_within(2).await;
        drop((first, second));
    });
}

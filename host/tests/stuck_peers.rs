//! Peers that stop half-way through something must not hold the server:
//! one that never acknowledges our SETTINGS, one that leaves a frame half
//! sent, and one that never ends a request whose response went out in
//! full. Each is closed in bounded time, none keeps an engine instance
//! while it has nothing to do, and a small pool of instances cannot be
//! locked up by them.

mod common;

use common::raw::{RawClient, frame, request};
use common::*;
use h2wasm::serve::ConnectionConfig;
use h2wasm::serve::limits::Limits;
use h2wasm_engine::HeaderField;
use h2wasm_engine::wire::{flag, kind};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const ENHANCE_YOUR_CALM: u32 = 0xb;
const SEC: u64 = 1_000_000_000;

/// Answers at once with a small body, without reading the request's.
fn answers_without_reading() -> h2wasm::service::SharedService {
    app(|_req| async move { respond(200, &[], "done") })
}

fn post(c: &mut RawClient, stream: u32) {
    let mut fields = request("POST", "/upload");
    fields.push(HeaderField::new("content-type", "application/octet-stream"));
    let f = c.headers_frame(stream, &fields, false);
    c.send(&f);
}

/// A client that sends the preface and SETTINGS and never acknowledges
/// the server's.
fn never_acks(addr: SocketAddr) -> RawClient {
    let mut c = RawClient::connect(addr);
    c.acks_settings = false;
    c.send_preface(&[]);
    c
}

/// A client that has said hello and then sends four of a frame header's
/// nine octets.
fn half_a_frame(addr: SocketAddr) -> RawClient {
    let mut c = RawClient::hello(addr);
    c.send(&[0, 0, 8, kind::PING]);
    c
}

/// A client whose POST is answered in full while it never ends the
/// request; returns once the response has arrived.
fn half_open(addr: SocketAddr) -> RawClient {
    let mut c = RawClient::hello(addr);
    post(&mut c, 1);
    assert!(
        c.read_until(Duration::from_secs(10), |f| common::raw::ended(f, 1)),
        "the response arrives while the request is open"
    );
    c
}

/// `serve --idle-timeout` closes each of them with GOAWAY NO_ERROR, as it
/// closes a well-behaved idle client: hibernation no longer restarts the
/// idle clock when it cannot happen, and the half-open stream is reset
/// (RST_STREAM NO_ERROR) after the half-closed timeout, after which the
/// connection is idle like any other.
#[test]
fn stuck_peers_are_closed_by_the_idle_timeout_whatever_their_state() {
    let idle = Duration::from_millis(1500);
    let server = TestServer::start_full(
        runtime(),
        false,
        answers_without_reading(),
        |o| {
            // Only the idle timeout (and the half-closed one) in play.
            o.frame_timeout_ns = Some(600 * SEC);
            o.half_closed_timeout_ns = Some(SEC);
        },
        ConnectionConfig {
            idle_timeout: Some(idle),
            hibernate_after: Some(Duration::from_millis(200)),
            ..ConnectionConfig::default()
        },
    );
    let addr = server.addr;
    let started = Instant::now();
    let clients: Vec<(&str, std::thread::JoinHandle<RawClient>)> = vec![
        (
            "never acknowledges",
            std::thread::spawn(move || never_acks(addr)),
        ),
        (
            "half a frame",
            std::thread::spawn(move || half_a_frame(addr)),
        ),
        (
            "half-open request",
            std::thread::spawn(move || half_open(addr)),
        ),
    ];
    for (what, c) in clients {
        let mut c = c.join().unwrap();
        assert!(c.read_to_close(Duration::from_secs(12)), "{what}: closed");
        let took = started.elapsed();
        assert!(
            took >= idle,
            "{what}: not before the idle timeout ({took:?})"
        );
        assert!(
            took < Duration::from_secs(6),
            "{what}: closed after {took:?}"
        );
        assert_eq!(c.goaway(), Some(0), "{what}: GOAWAY NO_ERROR");
        if what == "half-open request" {
            assert_eq!(c.rst(1), Some(0), "RST_STREAM NO_ERROR on the stream");
        }
    }
}

/// A frame that is not whole within the frame timeout ends the connection
/// with GOAWAY ENHANCE_YOUR_CALM, however slowly its octets keep coming.
#[test]
fn a_frame_not_whole_in_time_ends_the_connection() {
    let server = TestServer::start_full(
        runtime(),
        false,
        builtin(),
        |o| o.frame_timeout_ns = Some(SEC),
        ConnectionConfig::default(),
    );
    let mut stalled = half_a_frame(server.addr);
    let started = Instant::now();
    assert!(stalled.read_to_close(Duration::from_secs(10)), "closed");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(stalled.goaway(), Some(ENHANCE_YOUR_CALM));
    // A PING trickled an octet every 200 ms: 17 octets would take 3.4 s.
    let mut trickle = RawClient::hello(server.addr);
    let ping = frame(kind::PING, 0, 0, b"trickled");
    let started = Instant::now();
    for octet in ping {
        if trickle.try_send(&[octet]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(trickle.read_to_close(Duration::from_secs(10)), "closed");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(trickle.goaway(), Some(ENHANCE_YOUR_CALM));
    assert!(
        !trickle
            .frames
            .iter()
            .any(|f| f.kind == kind::PING && f.flags & flag::ACK != 0),
        "the trickled PING was never whole"
    );
}

/// A service that answered and then reads on sees the request body fail
/// when the half-closed timeout resets the stream: a cut-off body never
/// looks complete.
#[test]
fn a_body_cut_off_by_the_half_closed_timeout_fails() {
    use http_body_util::BodyExt;
    let (tx, rx) = std::sync::mpsc::channel::<Result<usize, String>>();
    let tx = std::sync::Mutex::new(tx);
    let tx = std::sync::Arc::new(tx);
    let service = app(move |req: http::Request<h2wasm::service::body::Incoming>| {
        let tx = tx.clone();
        async move {
            tokio::spawn(async move {
                let read = req.into_body().collect().await;
                let outcome = read.map(|b| b.to_bytes().len()).map_err(|e| e.to_string());
                let _ = tx.lock().unwrap().send(outcome);
            });
            respond(200, &[], "answered before the upload ended")
        }
    });
    let server = TestServer::start_full(
        runtime(),
        false,
        service,
        |o| o.half_closed_timeout_ns = Some(SEC / 2),
        ConnectionConfig::default(),
    );
    let mut c = half_open(server.addr);
    c.send(&frame(kind::DATA, 0, 1, b"part of it"));
    let outcome = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the body ends one way or another");
    assert!(
        outcome.is_err(),
        "a failed body, not a short one: {outcome:?}"
    );
    c.read_until(Duration::from_secs(5), |f| {
        f.iter()
            .any(|f| f.kind == kind::RST_STREAM && f.stream == 1)
    });
    assert_eq!(c.rst(1), Some(0), "RST_STREAM NO_ERROR");
}

/// With three instances in all, three stuck peers (one of each kind)
/// cannot lock a well-behaved client out, as they did when each kept its
/// instance for good: the one that acknowledges nothing gives its
/// instance back, the others are closed within their timeouts, and all
/// three are gone within a few seconds.
#[test]
fn stuck_peers_cannot_lock_a_small_pool_of_instances() {
    let server = ServeProcess::start(
        &[
            "--h2c",
            "--max-live",
            "3",
            "--idle-timeout",
            "2",
            "--unknown-protocol-timeout",
            "2",
            "--hibernate-after",
            "200",
            "--frame-timeout",
            "2",
            "--half-closed-timeout",
            "1",
        ],
        false,
    );
    let addr = server.addr;
    let started = Instant::now();
    let mut stuck = [half_open(addr), never_acks(addr), half_a_frame(addr)];
    // Past the stuck peers' timeouts, a well-behaved client is served at
    // once.
    std::thread::sleep(Duration::from_millis(2500).saturating_sub(started.elapsed()));
    let mut good = RawClient::hello(addr);
    good.get(1, "/");
    assert!(
        good.read_until(Duration::from_secs(3), |f| common::raw::ended(f, 1)),
        "a well-behaved client is answered: {:?}",
        good.frames
    );
    assert_eq!(good.goaway(), None, "not refused");
    for (i, c) in stuck.iter_mut().enumerate() {
        assert!(
            c.read_to_close(Duration::from_secs(10).saturating_sub(started.elapsed())),
            "stuck peer {i} closed"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// 2,000 clients that send the preface and SETTINGS and never acknowledge
/// the server's cost what 2,000 hibernated clients cost (each held one live
/// instance before: about 140 KiB).
#[test]
fn two_thousand_never_acknowledging_clients_cost_what_hibernated_ones_do() {
    const N: usize = 2000;
    let measure = |kind: &str| -> f64 {
        let server = ServeProcess::start(&["--h2c", "--hibernate-after", "200"], false);
        // The server's first instance and its pool are made before the
        // clock matters.
        drop(common::raw::hold_a_slot(
            server.addr,
            Duration::from_secs(10),
        ));
        std::thread::sleep(Duration::from_millis(1500));
        let rest = server.rss_kib();
        let mut held: Vec<RawClient> = Vec::with_capacity(N);
        for _ in 0..N {
            let c = match kind {
                "never-acknowledging" => never_acks(server.addr),
                _ => {
                    let mut c = RawClient::hello(server.addr);
                    c.get(1, "/");
                    c
                }
            };
            held.push(c);
        }
        for c in held.iter_mut() {
            let answered = c.read_until(Duration::from_secs(20), |f| match kind {
                "never-acknowledging" => f.iter().any(|f| f.kind == kind::SETTINGS),
                _ => common::raw::ended(f, 1),
            });
            assert!(answered, "{kind}: every client is served");
        }
        // Hibernation, then the allocator giving freed memory back.
        std::thread::sleep(Duration::from_millis(2500));
        let all = server.rss_kib();
        let per = all.saturating_sub(rest) as f64 / N as f64;
        eprintln!(
            "{N} {kind} clients: {:.1} MiB at rest, {:.1} MiB with all held, {per:.1} KiB each",
            rest as f64 / 1024.0,
            all as f64 / 1024.0
        );
        drop(held);
        per
    };
    let hibernated = measure("hibernated");
    let never_ack = measure("never-acknowledging");
    eprintln!(
        "never-acknowledging / hibernated: {:.2}x per connection",
        never_ack / hibernated.max(0.1)
    );
    assert!(
        never_ack <= hibernated * 1.5 + 4.0,
        "never-acknowledging clients {never_ack:.1} KiB each, hibernated {hibernated:.1}"
    );
}

/// `Limits` counts the idle closes of stuck peers like any other.
#[test]
fn idle_closes_of_stuck_peers_are_counted() {
    let limits = Limits::new(100, None);
    let server = TestServer::start_full(
        runtime(),
        false,
        builtin(),
        |_| {},
        ConnectionConfig {
            idle_timeout: Some(Duration::from_millis(800)),
            hibernate_after: Some(Duration::from_millis(100)),
            limits: Some(limits.clone()),
            ..ConnectionConfig::default()
        },
    );
    let mut c = never_acks(server.addr);
    assert!(c.read_to_close(Duration::from_secs(10)));
    let stats = limits.stats();
    assert_eq!(stats.idle_closed, 1, "{stats:?}");
    assert!(stats.hibernated >= 1, "it hibernated first: {stats:?}");
}

/// 20 readers that announce the largest SETTINGS_MAX_FRAME_SIZE, open
/// every window, ask for a 4 MiB file on ten streams each and never read:
/// what the server holds for each stays within the output batch bound
/// (512 KiB, plus what the engine has built), where a peer allowing 16 MiB
/// frames used to get multi-megabyte DATA frames (about 15 MiB held each).
#[test]
fn readers_that_never_read_hold_one_batch_whatever_their_frame_size() {
    use std::os::fd::AsRawFd;
    const READERS: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let file = data_file(dir.path(), 4 << 20, 7);
    std::fs::rename(&file, dir.path().join("big.bin")).unwrap();
    let root = dir.path().to_str().unwrap();
    let server = ServeProcess::start(&["--h2c", root], false);
    drop(common::raw::hold_a_slot(
        server.addr,
        Duration::from_secs(10),
    ));
    std::thread::sleep(Duration::from_millis(500));
    let before = server.rss_kib();
    let max_window = (1u32 << 31) - 1;
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let mut c = RawClient::connect(server.addr);
        let small: libc::c_int = 4096;
        // SAFETY: setting an int socket option on our own open socket.
        unsafe {
            libc::setsockopt(
                c.tcp.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&small as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        // SETTINGS_INITIAL_WINDOW_SIZE and SETTINGS_MAX_FRAME_SIZE at
        // their largest, and the connection window opened as far.
        c.send_preface(&[(0x4, max_window), (0x5, (1 << 24) - 1)]);
        c.send(&frame(
            kind::WINDOW_UPDATE,
            0,
            0,
            &(max_window - 65_535).to_be_bytes(),
        ));
        for i in 0..10 {
            let f = c.headers_frame(1 + 2 * i, &request("GET", "/big.bin"), true);
            c.send(&f);
        }
        readers.push(c);
    }
    std::thread::sleep(Duration::from_secs(3));
    let held = server.rss_kib().saturating_sub(before);
    eprintln!(
        "{READERS} readers that never read: {:.1} MiB held ({:.0} KiB each)",
        held as f64 / 1024.0,
        held as f64 / READERS as f64
    );
    assert!(
        held < (READERS as u64) * 2 * 1024,
        "{held} KiB held for {READERS} readers that never read"
    );
    drop(readers);
}

//! The process-wide memory budget (`--max-memory`): while resident memory
//! is above it, new streams are refused with REFUSED_STREAM and new
//! connections with an HTTP/2 refusal; open streams and connections go on,
//! and service resumes when memory falls. Alone in its test binary: it
//! moves the process's own resident memory.

mod common;

use common::raw::RawClient;
use common::*;
use h2wasm::serve::ConnectionConfig;
use h2wasm::serve::limits::{Limits, resident_bytes};
use std::time::{Duration, Instant};

const REFUSED_STREAM: u32 = 0x7;

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn over_budget_new_streams_and_connections_are_refused_until_memory_falls() {
    // Warm up: the engine compiled, one connection served.
    let warm = TestServer::start(false, builtin());
    let mut c = RawClient::hello(warm.addr);
    c.get(1, "/");
    assert!(c.read_until(Duration::from_secs(5), |f| common::raw::ended(f, 1)));
    drop(c);
    let budget = resident_bytes().expect("Linux") + (96 << 20);
    let limits = Limits::new(100, Some(budget));
    let server = TestServer::start_full(
        runtime(),
        false,
        builtin(),
        |_| {},
        ConnectionConfig {
            limits: Some(limits.clone()),
            ..ConnectionConfig::default()
        },
    );
    let mut a = RawClient::hello(server.addr);
    a.get(1, "/");
    assert!(a.read_until(Duration::from_secs(5), |f| common::raw::ended(f, 1)));

    // 200 MiB, every page touched.
    let ballast = vec![1u8; 200 << 20];
    wait_for("over budget", || limits.memory_exhausted());
    a.get(3, "/");
    assert!(a.read_until(Duration::from_secs(5), |f| {
        f.iter().any(|f| f.stream == 3 && f.rst_code().is_some())
    }));
    assert_eq!(a.rst(3), Some(REFUSED_STREAM));
    let mut b = RawClient::connect(server.addr);
    assert!(b.read_to_close(Duration::from_secs(5)));
    assert_eq!(b.goaway(), Some(REFUSED_STREAM));
    assert_eq!(limits.stats().refused_for_memory, 1);

    drop(std::hint::black_box(ballast));
    wait_for("back under budget", || !limits.memory_exhausted());
    a.get(5, "/");
    assert!(a.read_until(Duration::from_secs(5), |f| common::raw::ended(f, 5)));
    assert_eq!(a.rst(5), None);
    let status = a
        .response(5)
        .and_then(|h| h.into_iter().find(|f| f.name == ":status"));
    assert_eq!(
        status.map(|f| f.value),
        Some(bytes::Bytes::from_static(b"200"))
    );
}

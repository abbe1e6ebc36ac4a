//! `wasi:keyvalue` for apps (`serve --app-keyvalue NAME=LOCATION`), with
//! `examples/kv` as the app: the same suite against the embedded store (a
//! database file) and a real `redis-server`; data kept across restarts;
//! no bucket unless granted; the bounds; and concurrent increments, from
//! one server and from three servers sharing one Redis, losing no update.

mod common;

use common::*;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `curl` over h2c with `args`: (status, body).
fn curl(args: &[&str]) -> (String, String) {
    curl_status(&[&["--http2-prior-knowledge"], args].concat())
}

fn serve(buckets: &[&str]) -> ServeProcess {
    let app = example_component("kv");
    let mut args = vec!["--h2c", "--app", app.to_str().unwrap()];
    for b in buckets {
        args.extend(["--app-keyvalue", b]);
    }
    ServeProcess::start(&args, false)
}

/// `serve --app kv --app-keyvalue GRANT`, which must fail: what it said.
fn refused(grant: &str) -> String {
    let app = example_component("kv");
    let o = run(h2wasm_bin()
        .args(["serve", "--h2c", "--listen", "127.0.0.1:0", "--app"])
        .arg(&app)
        .args(["--app-keyvalue", grant]));
    assert!(!o.status.success(), "{grant}: it started");
    stderr(&o)
}

/// A `redis-server` of its own on a free port, with nothing saved to disk.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start() -> RedisServer {
        RedisServer::start_on(free_port())
    }

    fn start_on(port: u16) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/setup installs it)");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        RedisServer { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What every backend must do, through the app: bucket `b` is granted,
/// `other` is not.
fn suite(base: &str, dir: &Path) {
    let url = |path: &str| format!("{base}{path}");
    assert_eq!(curl(&["-X", "PUT", "-d", "hello", &url("/b/k1")]).0, "200");
    assert_eq!(curl(&[&url("/b/k1")]), ("200".into(), "hello".into()));
    assert_eq!(curl(&[&url("/b/missing")]).0, "404");
    // Bytes come back as they were given.
    let binary = data_file(dir, 64 << 10, 3);
    let at = format!("@{}", binary.display());
    assert_eq!(
        curl(&["-X", "PUT", "--data-binary", &at, &url("/b/bin")]).0,
        "200"
    );
    let back = dir.join("back.bin");
    let o = run(Command::new("curl")
        .args(["-sS", "--http2-prior-knowledge", "-o"])
        .arg(&back)
        .arg(url("/b/bin")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(sha256_file(&back), sha256_file(&binary));
    assert_eq!(curl(&["-X", "DELETE", &url("/b/k1")]).0, "200");
    assert_eq!(curl(&[&url("/b/k1")]).0, "404");
    // Counters.
    assert_eq!(
        curl(&["-X", "POST", &url("/b/c")]),
        ("200".into(), "1\n".into())
    );
    assert_eq!(
        curl(&["-X", "POST", &url("/b/c?add=41")]),
        ("200".into(), "42\n".into())
    );
    assert_eq!(curl(&[&url("/b/c")]), ("200".into(), "42".into()));
    // A value that is not a counter cannot be incremented.
    curl(&["-X", "PUT", "-d", "x", &url("/b/word")]);
    assert_eq!(curl(&["-X", "POST", &url("/b/word")]).0, "500");
    // Batches of at most 1,000 keys; 2,500 keys listed through pages.
    let too_many: String = (0..1001).map(|i| format!("k{i:04}=v\n")).collect();
    let (status, body) = curl(&["--data-binary", &too_many, &url("/b/?many")]);
    assert_eq!(status, "500");
    assert!(body.contains("at most 1000"), "{body}");
    for chunk in 0..3 {
        let lines: String = (chunk * 1000..(chunk * 1000 + 1000).min(2500))
            .map(|i| format!("k{i:04}=v{i}\n"))
            .collect();
        let (status, body) = curl(&["--data-binary", &lines, &url("/b/?many")]);
        assert_eq!(status, "200", "{body}");
    }
    let (status, listed) = curl(&[&url("/b/")]);
    assert_eq!(status, "200");
    let mut keys: Vec<&str> = listed.lines().collect();
    keys.sort();
    let mut want: Vec<String> = (0..2500).map(|i| format!("k{i:04}")).collect();
    want.extend(["bin".into(), "c".into(), "word".into()]);
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(
        curl(&[&url("/b/?many=k0007,nothing,k2499")]),
        ("200".into(), "k0007=v7\nk2499=v2499\n".into())
    );
    assert_eq!(
        curl(&["-X", "DELETE", &url("/b/?many=k0007,k2499")]).0,
        "200"
    );
    assert_eq!(
        curl(&[&url("/b/?many=k0007,k0008,k2499")]),
        ("200".into(), "k0008=v8\n".into())
    );
    // Bounds: a key over 1,024 bytes, a value over 1 MiB.
    let long_key = "k".repeat(1025);
    let (status, body) = curl(&[&url(&format!("/b/{long_key}"))]);
    assert_eq!(status, "500");
    assert!(body.contains("at most 1024"), "{body}");
    let big = data_file(dir, (1 << 20) + 1, 4);
    let at = format!("@{}", big.display());
    let (status, body) = curl(&["-X", "PUT", "--data-binary", &at, &url("/b/big")]);
    assert_eq!(status, "500");
    assert!(body.contains("at most 1048576"), "{body}");
    // A bucket not granted.
    assert_eq!(
        curl(&[&url("/other/x")]),
        ("404".into(), "no such bucket\n".into())
    );
}

/// `n` POSTs (of one byte, which the app ignores) to `url`, `c`
/// connections with `m` streams each. The body file is the caller's own
/// (tests run at once: a shared file truncated by one while another's
/// h2load maps it fails that h2load).
fn h2load_posts(body: &Path, url: &str, n: u32, c: u32, m: u32) -> String {
    std::fs::write(body, "1").unwrap();
    let o = run(Command::new("h2load")
        .args([
            "-n",
            &n.to_string(),
            "-c",
            &c.to_string(),
            "-m",
            &m.to_string(),
        ])
        .arg("-d")
        .arg(body)
        .arg(url));
    format!("{}{}", stdout(&o), stderr(&o))
}

fn succeeded(report: &str, n: u32) -> bool {
    report.contains(&format!("{n} succeeded, 0 failed"))
}

#[test]
fn the_embedded_store_keeps_data_across_restarts_and_counts_exactly() {
    let dir = scratch_dir("h2wasm-kv-");
    let file = dir.path().join("data.redb");
    let grant = format!("b={}", file.display());
    let server = serve(&[&grant]);
    let base = format!("http://{}", server.addr);
    suite(&base, dir.path());
    // 2,000 increments, 64 at once.
    let body = dir.path().join("post.txt");
    let report = h2load_posts(&body, &format!("{base}/b/hits"), 2000, 4, 16);
    assert!(succeeded(&report, 2000), "{report}");
    assert_eq!(curl(&[&format!("{base}/b/hits")]).1, "2000");
    assert!(server.stop().status.success());
    // Another process, the same file: everything is still there.
    let server = serve(&[&grant]);
    let base = format!("http://{}", server.addr);
    assert_eq!(curl(&[&format!("{base}/b/c")]).1, "42");
    assert_eq!(curl(&[&format!("{base}/b/hits")]).1, "2000");
    // While it runs, a second process cannot have the file.
    let said = refused(&grant);
    assert!(
        said.contains("another process has this key-value file open"),
        "{said}"
    );
    assert!(server.stop().status.success());
}

#[test]
fn redis_passes_the_same_suite_and_three_servers_lose_no_update() {
    let redis = RedisServer::start();
    let dir = scratch_dir("h2wasm-kv-");
    let grant = format!("b={}", redis.url());
    let servers: Vec<ServeProcess> = (0..3).map(|_| serve(&[&grant])).collect();
    let bases: Vec<String> = servers
        .iter()
        .map(|s| format!("http://{}", s.addr))
        .collect();
    suite(&bases[0], dir.path());
    // What one server wrote, another reads.
    assert_eq!(curl(&[&format!("{}/b/c", bases[1])]).1, "42");
    // 3 × 1,000 increments at once, 64 at a time per server.
    let reports: Vec<String> = std::thread::scope(|s| {
        let runs: Vec<_> = bases
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let body = dir.path().join(format!("post-{i}.txt"));
                s.spawn(move || h2load_posts(&body, &format!("{b}/b/hits"), 1000, 4, 16))
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for r in &reports {
        assert!(succeeded(r, 1000), "{r}");
    }
    assert_eq!(curl(&[&format!("{}/b/hits", bases[2])]).1, "3000");
    for s in servers {
        assert!(s.stop().status.success());
    }
}

#[test]
fn a_redis_that_is_down_fails_the_request_not_the_server() {
    let port = free_port();
    let grant = format!("b=redis://127.0.0.1:{port}/");
    let server = serve(&[&grant]);
    let base = format!("http://{}", server.addr);
    let started = Instant::now();
    let (status, body) = curl(&[&format!("{base}/b/k")]);
    assert_eq!(status, "500", "{body}");
    assert!(body.contains("cannot reach"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(15));
    // Once it is up, the same server reaches it.
    let redis = RedisServer::start_on(port);
    assert_eq!(
        curl(&["-X", "PUT", "-d", "v", &format!("{base}/b/k")]).0,
        "200"
    );
    assert_eq!(curl(&[&format!("{base}/b/k")]).1, "v");
    drop(redis);
    assert!(server.stop().status.success());
}

#[test]
fn bad_grants_are_refused_with_the_reason() {
    for (grant, said) in [
        ("nothing", "expected NAME=LOCATION"),
        ("=x.redb", "expected NAME=LOCATION"),
        ("b=ftp://host/", "expected a redis:// or valkey:// URL"),
        ("b=/nonexistent-dir/x.redb", "/nonexistent-dir"),
    ] {
        let text = refused(grant);
        assert!(text.contains(said), "{grant}: {text}");
    }
}

/// In a configuration file an `app` route takes the same grants as
/// `keyvalue = ["NAME=LOCATION"]`, a database file's path being relative
/// to the file (as the component's is).
#[test]
fn an_app_route_takes_buckets_relative_to_its_file() {
    let dir = scratch_dir("h2wasm-kv-");
    let app = example_component("kv");
    let port = free_port();
    let file = dir.path().join("h2wasm.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[listen]]
address = "127.0.0.1:{port}"
tls = false

[[site]]
default = true

[[site.route]]
path = "/"
app = {{ component = "{app}", keyvalue = ["b=kv.redb"] }}
"#,
            app = app.display()
        ),
    )
    .unwrap();
    let server = ServeProcess::spawn(
        &["--config".into(), file.display().to_string()],
        false,
        &[],
        &[std::net::SocketAddr::from(([127, 0, 0, 1], port))],
    );
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(
        curl(&["-X", "POST", &format!("{base}/b/n?add=5")]),
        ("200".into(), "5\n".into())
    );
    assert!(dir.path().join("kv.redb").exists());
    assert!(server.stop().status.success());
}

//! Server behaviour through real clients: static files, trap isolation,
//! graceful shutdown, and the CLI's handling of bad input.

mod common;

use common::*;
use h2wasm::service::{ServeFile, SharedService, shared};
use h2wasm::{Runtime, RuntimeConfig};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn curl_h2c() -> Command {
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "30", "--http2-prior-knowledge"]);
    c
}

#[test]
fn static_files_ranges_validators_and_traversal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<p>home</p>").unwrap();
    std::fs::create_dir(dir.path().join("css")).unwrap();
    std::fs::write(dir.path().join("css/site.css"), "body{}").unwrap();
    // Files up to 1 MiB are answered from memory, larger ones from disk
    // as they are sent: both ways must get HEAD, ranges and 416 right.
    let blob = data_file(dir.path(), 70_000, 9);
    let big = data_file(dir.path(), 1_500_000, 10);
    let app: SharedService = shared(h2wasm::apps::files::StaticFiles::new(dir.path()).unwrap());
    let server = TestServer::start(false, app);

    let o = run(curl_h2c().arg("-i").arg(server.url("/")));
    let out = stdout(&o);
    assert!(out.starts_with("HTTP/2 200"), "{out}");
    assert!(out.contains("content-type: text/html"), "{out}");
    assert!(out.contains("content-length: 11"), "{out}");
    assert!(out.ends_with("<p>home</p>"), "{out}");

    let o = run(curl_h2c().arg("-i").arg(server.url("/css/site.css")));
    assert!(stdout(&o).contains("content-type: text/css"));

    for (file, len) in [(&blob, 70_000), (&big, 1_500_000)] {
        let url = server.url(&format!("/{}", file.file_name().unwrap().to_str().unwrap()));
        // HEAD: headers only.
        let o = run(curl_h2c().arg("-I").arg(&url));
        let head = stdout(&o);
        assert!(head.contains(&format!("content-length: {len}")), "{head}");

        // Range → 206 with exactly those bytes.
        let o = run(curl_h2c()
            .args(["-r", "1000-1999", "-w", "%{http_code}", "-o"])
            .arg(dir.path().join("part"))
            .arg(&url));
        assert_eq!(stdout(&o), "206");
        let whole = std::fs::read(file).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("part")).unwrap(),
            &whole[1000..2000]
        );
        let o = run(curl_h2c()
            .args([
                "-r",
                &format!("{}-", len + 20_000),
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .arg(&url));
        assert_eq!(stdout(&o), "416");
        let o = run(curl_h2c().arg(&url));
        assert_eq!(o.stdout, whole, "{len} octets arrive whole");
    }

    // ETag and If-Modified-Since → 304.
    let o = run(curl_h2c().arg("-I").arg(server.url("/index.html")));
    let head = stdout(&o);
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .unwrap()
        .trim()
        .to_string();
    let lm = head
        .lines()
        .find_map(|l| l.strip_prefix("last-modified: "))
        .unwrap()
        .trim()
        .to_string();
    let o = run(curl_h2c()
        .args(["-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg(format!("if-none-match: {etag}"))
        .arg(server.url("/index.html")));
    assert_eq!(stdout(&o), "304");
    let o = run(curl_h2c()
        .args(["-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg(format!("if-modified-since: {lm}"))
        .arg(server.url("/index.html")));
    assert_eq!(stdout(&o), "304");

    // Small files are answered from memory: ranges slice the cached copy,
    // and a change is picked up once the cached metadata is a second old.
    let o = run(curl_h2c()
        .args(["-r", "3-6"])
        .arg(server.url("/index.html")));
    assert_eq!(stdout(&o), "home");
    std::fs::write(dir.path().join("index.html"), "<p>changed, longer</p>").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let o = run(curl_h2c().arg(server.url("/")));
    assert_eq!(stdout(&o), "<p>changed, longer</p>");
    let o = run(curl_h2c()
        .args(["-X", "DELETE", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(server.url("/index.html")));
    assert_eq!(stdout(&o), "405");

    // Nothing outside the directory, however it is spelled.
    for path in [
        "/../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/css/../../etc/passwd",
        "/missing",
    ] {
        let o = run(curl_h2c()
            .args(["--path-as-is", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(server.url(path)));
        assert_eq!(stdout(&o), "404", "{path}");
    }
}

/// Cached files and built-in pages answer with headers prepared once per
/// connection, their HPACK block reused while the table is unchanged: two
/// independent decoders (nghttp2's in h2load, ours in `get`) must see the
/// right fields on every stream, however responses interleave.
#[test]
fn repeated_responses_with_prepared_headers_decode_right_on_one_connection() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.html"), "aaa").unwrap();
    std::fs::write(dir.path().join("b.css"), "bb").unwrap();
    let app: SharedService = shared(h2wasm::apps::files::StaticFiles::new(dir.path()).unwrap());
    let server = TestServer::start(false, app);
    let (a, b, missing) = (
        server.url("/a.html"),
        server.url("/b.css"),
        server.url("/x"),
    );

    let o = run(Command::new("h2load")
        .args(["-n", "3000", "-c", "1", "-m", "50"])
        .args([&a, &b, &missing]));
    let out = stdout(&o);
    // h2load counts the 404s as failed; an HPACK error would show as errored.
    assert!(
        out.contains("3000 done, 2000 succeeded, 1000 failed, 0 errored"),
        "{out}"
    );
    assert!(out.contains("2000 2xx, 0 3xx, 1000 4xx"), "{out}");
    // Each query string is its own cache entry with its own headers: more
    // than a connection keeps prepared, so it releases and prepares again.
    let many: Vec<String> = (0..400).map(|i| format!("{a}?v={i}")).collect();
    let o = run(Command::new("h2load")
        .args(["-n", "1200", "-c", "1", "-m", "50"])
        .args(&many));
    let out = stdout(&o);
    assert!(
        out.contains("1200 done, 1200 succeeded, 0 failed, 0 errored"),
        "{out}"
    );

    let o = run(h2wasm_bin()
        .args(["get", "--prior-knowledge", "-i"])
        .args([&a, &b, &a, &missing, &a, &b, &a]));
    let out = stdout(&o);
    let responses: Vec<&str> = out.split(":status: ").skip(1).collect();
    assert_eq!(responses.len(), 7, "{out}");
    for (i, r) in responses.iter().enumerate() {
        let (status, ctype, len, body) = match i {
            0 | 2 | 4 | 6 => ("200", "text/html", "3", "aaa"),
            1 | 5 => ("200", "text/css", "2", "bb"),
            _ => ("404", "text/plain", "10", "not found\n"),
        };
        assert!(r.starts_with(status), "response {i}: {r}");
        assert!(
            r.contains(&format!("content-type: {ctype}")),
            "response {i}: {r}"
        );
        assert!(
            r.contains(&format!("content-length: {len}\n")),
            "response {i}: {r}"
        );
        assert!(r.ends_with(body), "response {i}: {r}");
    }
}

/// A service's prepared response that a middleware then changed is sent
/// the ordinary way, and its changed headers never come back: every later
/// response built from the same prepared headers carries exactly them.
#[test]
fn a_changed_prepared_response_does_not_reach_later_ones() {
    use h2wasm::service::{PreparedHeaders, full};
    let mut fields = http::HeaderMap::new();
    fields.insert("content-type", http::HeaderValue::from_static("text/plain"));
    fields.insert("x-page", http::HeaderValue::from_static("cached"));
    let prepared = PreparedHeaders::new(http::StatusCode::OK, fields);
    let app = app(move |req| {
        let prepared = prepared.clone();
        async move {
            let mut r = prepared.response(full("page"));
            if req.uri().path() == "/changed" {
                r.headers_mut()
                    .insert("x-changed", http::HeaderValue::from_static("yes"));
                r.headers_mut()
                    .insert("x-page", http::HeaderValue::from_static("changed"));
            }
            r
        }
    });
    let server = TestServer::start(false, app);
    let (plain, changed) = (server.url("/plain"), server.url("/changed"));
    let o = run(h2wasm_bin()
        .args(["get", "--prior-knowledge", "-i"])
        .args([&plain, &changed, &plain, &changed, &changed, &plain, &plain]));
    let out = stdout(&o);
    let responses: Vec<&str> = out.split(":status: ").skip(1).collect();
    assert_eq!(responses.len(), 7, "{out}");
    for (i, r) in responses.iter().enumerate() {
        let was_changed = matches!(i, 1 | 3 | 4);
        assert!(r.starts_with("200"), "response {i}: {r}");
        assert_eq!(
            r.contains("x-changed: yes"),
            was_changed,
            "response {i}: {r}"
        );
        let page = if was_changed {
            "x-page: changed"
        } else {
            "x-page: cached"
        };
        assert!(r.contains(page), "response {i}: {r}");
        assert!(r.ends_with("page"), "response {i}: {r}");
    }
}

#[test]
fn a_trapping_instance_closes_only_its_connection() {
    // 16 MiB of linear memory per instance; /explode answers with a 64 MiB
    // header field, which the engine must take in and cannot fit, so that
    // instance traps. (A large body would not do: the host keeps it.)
    let runtime = Arc::new(
        Runtime::embedded(&RuntimeConfig {
            max_connections: 16,
            max_memory_per_connection: 16 << 20,
            ..Default::default()
        })
        .unwrap(),
    );
    let app = app(|req| async move {
        if req.uri().path() == "/explode" {
            respond(200, &[("x-huge", &"x".repeat(64 << 20))], "")
        } else if req.uri().path() == "/large" {
            respond(200, &[], vec![7u8; 32 << 20])
        } else {
            let mut site = shared(h2wasm::apps::builtin::Builtin);
            tower::Service::call(&mut site, req).await.unwrap()
        }
    });
    let server = TestServer::start_with(runtime, false, app);
    // A Node session that stays open across the explosion.
    let script = r#"
        const http2 = require('node:http2');
        const s = http2.connect(process.argv[1]);
        const get = (p) => new Promise((ok, ko) => {
          const r = s.request({ ':path': p });
          r.on('response', (h) => ok(h[':status'])); r.on('error', ko); r.resume();
        });
        (async () => {
          console.log(await get('/'));
          process.stdout.write('ready\n');
          await new Promise((r) => process.stdin.once('data', r));
          console.log(await get('/'));
          s.close();
        })().catch((e) => { console.error(e); process.exit(1); });
    "#;
    let mut node = Command::new("node")
        .args([
            "-e",
            script,
            &format!("http://127.0.0.1:{}", server.addr.port()),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(node.stdout.take().unwrap());
    let mut line = String::new();
    use std::io::{BufRead, Write};
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "200");
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");

    let o = run(curl_h2c()
        .arg(server.url("/explode"))
        .arg("-o")
        .arg("/dev/null"));
    assert!(!o.status.success(), "the exploding connection fails");

    // The long-lived connection and new ones still work.
    node.stdin.take().unwrap().write_all(b"go\n").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "200", "existing connection survived");
    assert!(node.wait().unwrap().success());
    let o = run(curl_h2c()
        .args(["-o", "/dev/null", "-w", "%{http_code}"])
        .arg(server.url("/")));
    assert_eq!(stdout(&o), "200", "new connections are served");

    // A whole body twice the instance's memory is fine: the host keeps
    // it, and the engine frames references to it.
    let o = run(curl_h2c()
        .args(["-o", "/dev/null", "-w", "%{http_code} %{size_download}"])
        .arg(server.url("/large")));
    assert_eq!(stdout(&o), format!("200 {}", 32 << 20));
}

/// The engine built with its test-only `hang-for-tests` feature: input
/// containing `HANGHANG` makes it spin forever.
fn hanging_engine() -> Vec<u8> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("engine-hang");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "-p",
            "h2wasm-engine",
            "--release",
            "--target",
            "wasm32-wasip2",
        ])
        .args(["--features", "hang-for-tests", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .unwrap();
    assert!(status.success(), "building the hanging test engine");
    std::fs::read(target.join("wasm32-wasip2/release/h2wasm_engine.wasm")).unwrap()
}

/// A guest stuck in a loop is interrupted once its call has run for
/// `max_call_time`: that connection ends, and the server serves others
/// meanwhile and afterwards.
#[test]
fn a_stuck_instance_is_stopped_after_its_call_budget() {
    use std::io::{Read, Write};
    let budget = Duration::from_millis(500);
    let runtime = Arc::new(
        Runtime::new(
            &hanging_engine(),
            &RuntimeConfig {
                max_connections: 16,
                max_call_time: Some(budget),
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let server = TestServer::start_with(runtime, false, builtin());
    let mut stuck = std::net::TcpStream::connect(server.addr).unwrap();
    stuck
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let started = Instant::now();
    stuck
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nHANGHANG")
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let o = run(curl_h2c()
        .args(["-w", "%{http_code}", "-o", "/dev/null"])
        .arg(server.url("/")));
    assert_eq!(stdout(&o), "200", "served while another instance spins");
    let mut rest = Vec::new();
    match stuck.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    let took = started.elapsed();
    assert!(
        took >= budget && took < Duration::from_secs(20),
        "the stuck connection ended after {took:?}"
    );
    let o = run(curl_h2c()
        .args(["-w", "%{http_code}", "-o", "/dev/null"])
        .arg(server.url("/")));
    assert_eq!(
        stdout(&o),
        "200",
        "served after the stuck instance was stopped"
    );
}

/// RFC 9113 §5.2/§6.9: request bodies the application never reads (the
/// built-in site answers 404 to a POST without reading it) hand their
/// flow-control credit back, so neither those uploads nor later ones on the
/// same connection stall. Each body is larger than both the stream and the
/// connection window (64 KiB), so one octet held back would hang the fetch.
#[test]
fn uploads_the_application_never_reads_do_not_stall_the_connection() {
    let server = TestServer::start(false, builtin());
    let dir = tempfile::tempdir().unwrap();
    let upload = data_file(dir.path(), 300_000, 21);
    let echoed = dir.path().join("echoed");
    let mut get = Command::new("timeout");
    get.arg("60").arg(env!("CARGO_BIN_EXE_h2wasm"));
    get.args(["get", "--prior-knowledge", "-d"])
        .arg(format!("@{}", upload.display()));
    for _ in 0..3 {
        get.args(["-o", "/dev/null"]);
    }
    get.arg("-o").arg(&echoed);
    for path in ["/ignored-1", "/ignored-2", "/ignored-3", "/echo"] {
        get.arg(server.url(path));
    }
    let o = run(&mut get);
    assert!(o.status.success(), "{:?} {}", o.status, stderr(&o));
    assert_eq!(sha256_file(&echoed), sha256_file(&upload));
}

/// Uploads on one connection at once, their DATA frames interleaved (the
/// server hands a read's data to each stream as one chunk): each stream's
/// echo is its own body, whole and in order.
#[test]
fn concurrent_uploads_on_one_connection_each_echo_their_own_body() {
    let server = TestServer::start(false, builtin());
    let script = r#"
        const http2 = require('node:http2');
        const crypto = require('node:crypto');
        const s = http2.connect(process.argv[1]);
        s.on('error', (e) => { console.error(e); process.exit(1); });
        const results = [];
        let left = 6;
        for (let i = 0; i < 6; i++) {
            const body = crypto.randomBytes(150000 + i * 20011);
            const req = s.request({ ':method': 'POST', ':path': '/echo?' + i });
            const got = [];
            req.on('data', (c) => got.push(c));
            req.on('end', () => {
                const echoed = Buffer.concat(got);
                results[i] = echoed.equals(body) ? 'same' : `differs: ${echoed.length} of ${body.length}`;
                if (--left === 0) { console.log(results.join('\n')); s.close(); }
            });
            for (let at = 0; at < body.length; at += 16384) {
                req.write(body.subarray(at, at + 16384));
            }
            req.end();
        }
    "#;
    let o = run(Command::new("timeout")
        .args(["60", "node", "-e", script])
        .arg(server.url("")));
    assert!(o.status.success(), "{:?} {}", o.status, stderr(&o));
    assert_eq!(stdout(&o).lines().collect::<Vec<_>>(), vec!["same"; 6]);
}

#[test]
fn graceful_shutdown_lets_open_streams_finish() {
    let app = app(|_req| async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        respond(200, &[], "done")
    });
    let server = TestServer::start(false, app);
    let url = server.url("/slow");
    let client = std::thread::spawn(move || run(curl_h2c().arg("-v").arg(url)));
    std::thread::sleep(Duration::from_millis(300));
    let addr = server.addr;
    let started = Instant::now();
    server.shutdown();
    let o = client.join().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "done");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "waited for the stream"
    );
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer listening"
    );
}

#[test]
fn cli_rejects_bad_input_clearly() {
    let cases: &[(&[&str], &str)] = &[
        (&["serve", "--listen", "nonsense"], "invalid value"),
        (
            &["serve", "/definitely/not/here"],
            "cannot serve /definitely/not/here",
        ),
        (
            &[
                "serve",
                "--cert",
                "/nope.pem",
                "--key",
                "/nope.key",
                "--listen",
                "127.0.0.1:0",
            ],
            "cannot read certificate /nope.pem",
        ),
        (&["serve", "--cert", "/nope.pem"], "--key"),
        (&["serve", "--max-connections", "0"], "invalid value"),
        (
            &["serve", "--max-connections", "1000001"],
            "not in 1..=1000000",
        ),
        (&["serve", "--max-live", "16385"], "not in 1..=16384"),
        (&["serve", "--max-concurrent-streams", "0"], "invalid value"),
        (
            &["serve", "--max-memory", "lots"],
            "expected a size such as 512M",
        ),
        (&["serve", "--max-memory", "1M"], "too small"),
        (&["serve", "--idle-timeout", "-1"], "unexpected argument"),
        (&["serve", "--hibernate-after", "x"], "invalid value"),
        (
            &["serve", "--max-call-time", "99999999"],
            "not in 0..=3600000",
        ),
        (
            &["get", "--weight", "300", "http://127.0.0.1:9/"],
            "not in 1..=256",
        ),
        (
            &[
                "get",
                "--weight",
                "8",
                "--weight",
                "9",
                "http://127.0.0.1:9/",
            ],
            "more --weight values than URLs",
        ),
        (
            &["serve", "--origin", "https://example.org/path"],
            "expected scheme://host[:port]",
        ),
        (
            &["serve", "--padding", "lots"],
            "possible values: none, aligned, max",
        ),
        (&["get"], "required"),
        (&["get", "ftp://example.com/"], "unsupported URL scheme"),
        (&["get", "not a url"], "invalid URL"),
        (
            &["get", "-H", "no-colon", "http://127.0.0.1:1/"],
            "expected 'name: value'",
        ),
        // No flag: the probe for the protocol finds nobody there.
        (
            &["get", "http://127.0.0.1:1/"],
            "cannot connect to 127.0.0.1:1",
        ),
        (
            &["get", "--prior-knowledge", "http://127.0.0.1:1/"],
            "cannot connect",
        ),
        (
            &[
                "get",
                "--prior-knowledge",
                "http://a.test/",
                "http://b.test/",
            ],
            "one origin",
        ),
        (
            &[
                "get",
                "-d",
                "@/no/such/file",
                "--prior-knowledge",
                "http://127.0.0.1:1/",
            ],
            "cannot read /no/such/file",
        ),
        (&["info", "--engine", "/no/such.wasm"], "cannot read engine"),
        (&["bogus"], "unrecognized subcommand"),
    ];
    for (args, expected) in cases {
        let o = run(h2wasm_bin().args(*args));
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(
            err.contains(expected),
            "{args:?}: expected {expected:?} in {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // A file that is not a component is an error, not a crash.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").unwrap();
    let o = run(h2wasm_bin().args(["info", "--engine"]).arg(&junk));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("compiling the engine component"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn get_gives_up_on_a_server_that_does_not_take_the_connection() {
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    // A listener whose accept queue is full: the kernel drops further
    // SYNs, so a connect waits (SYN retransmits) instead of failing.
    let full = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen(2) on a socket this test owns.
    assert_eq!(unsafe { libc::listen(full.as_raw_fd(), 0) }, 0);
    let full_addr = full.local_addr().unwrap();
    let mut queued = Vec::new();
    for _ in 0..8 {
        match TcpStream::connect_timeout(&full_addr, Duration::from_millis(300)) {
            Ok(s) => queued.push(s),
            Err(_) => break,
        }
    }
    assert!(
        TcpStream::connect_timeout(&full_addr, Duration::from_millis(300)).is_err(),
        "the accept queue should be full after {} connections",
        queued.len()
    );
    // A server that takes the connection and never says a word: the TLS
    // handshake waits for its answer.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let holder = std::thread::spawn(move || {
        let held: Vec<TcpStream> = silent.incoming().take(1).filter_map(Result::ok).collect();
        std::thread::sleep(Duration::from_secs(3));
        drop(held);
    });
    let cases = [
        (
            vec![
                "--prior-knowledge".to_string(),
                format!("http://{full_addr}/"),
            ],
            format!("cannot connect to 127.0.0.1:{}", full_addr.port()),
            "no connection within 1 s (--connect-timeout)",
        ),
        // Without a flag, the probe's own connect has the same deadline.
        (
            vec![format!("http://{full_addr}/")],
            format!("cannot connect to 127.0.0.1:{}", full_addr.port()),
            "no connection within 1 s (--connect-timeout)",
        ),
        (
            vec!["-k".to_string(), format!("https://{silent_addr}/")],
            "TLS handshake with 127.0.0.1 failed".to_string(),
            "no answer within 1 s (--connect-timeout)",
        ),
    ];
    for (args, context, why) in cases {
        let started = Instant::now();
        let o = run(h2wasm_bin()
            .args(["get", "--connect-timeout", "1"])
            .args(&args));
        let took = started.elapsed();
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?}: {err}");
        assert!(
            err.contains(&context) && err.contains(why),
            "{args:?}: {err}"
        );
        // The deadline, not the kernel's (SYN retries take minutes).
        assert!(took < Duration::from_secs(5), "{args:?} took {took:?}");
    }
    let o = run(h2wasm_bin().args(["get", "--connect-timeout", "0", "http://127.0.0.1:1/"]));
    assert!(stderr(&o).contains("not in 1..=3600"), "{}", stderr(&o));
    holder.join().unwrap();
    drop(queued);
}

#[test]
fn get_verbose_prints_frames_both_ways() {
    let server = TestServer::start(false, builtin());
    let o = run(h2wasm_bin()
        .args(["get", "-v", "--prior-knowledge", "-d", "hi"])
        .arg(server.url("/echo")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "hi");
    let err = stderr(&o);
    for line in [
        "* send SETTINGS stream=0",
        "* recv SETTINGS stream=0 length=0 ACK",
        "* send HEADERS stream=1",
        "* send DATA stream=1 length=2 END_STREAM",
        "* recv DATA stream=1 length=2",
        "* recv HEADERS stream=1 length=",
        "* send GOAWAY stream=0 length=8 last_stream=0 NO_ERROR",
        // Node's performance entries: the stream's and the session's.
        "* stream 1: closed after ",
        "2 B read, 2 B written, first header ",
        "* session: 1 streams (at most 1 at once",
    ] {
        assert!(err.contains(line), "missing {line:?} in\n{err}");
    }
}

#[test]
fn server_logs_a_session_summary_at_close() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let mut server = Served::start(
        &[],
        &[
            ("RUST_LOG", "h2wasm::session=info"),
            ("H2WASM_DATA_DIR", data_dir),
        ],
    );
    let o = run(curl_h2c().arg(&server.url));
    assert!(o.status.success());
    let summary = server.log_line("streams (at most");
    assert!(
        summary.contains("1 streams (at most 1 at once"),
        "{summary}"
    );
}

#[test]
fn expect_100_continue_gets_100_before_the_body() {
    let server = TestServer::start(false, builtin());
    let dir = tempfile::tempdir().unwrap();
    let input = data_file(dir.path(), 50_000, 3);
    let output = dir.path().join("out");
    let o = run(curl_h2c()
        .args(["-D", "-", "-H", "Expect: 100-continue", "--data-binary"])
        .arg(format!("@{}", input.display()))
        .arg("-o")
        .arg(&output)
        .arg(server.url("/echo")));
    let head = stdout(&o);
    let first = head.lines().next().unwrap_or_default();
    assert!(first.starts_with("HTTP/2 100"), "{head}");
    assert!(head.contains("HTTP/2 200"), "{head}");
    assert_eq!(sha256_file(&output), sha256_file(&input));
}

/// A `h2wasm serve` process, killed when dropped.
struct Served {
    child: std::process::Child,
    /// Its stderr, after the "serving" line.
    log: std::io::BufReader<std::process::ChildStderr>,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// `h2wasm serve --h2c` on a free port with `args` and `env`.
    fn start(args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> Served {
        let mut all: Vec<&std::ffi::OsStr> = vec!["--h2c".as_ref()];
        all.extend(args);
        Served::start_tls_or_not(&all, env)
    }

    fn start_tls_or_not(args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> Served {
        Served::spawn(h2wasm_bin(), args, env)
    }

    /// `start`, with the process allowed only `files` open files.
    fn start_with_open_files(
        files: u32,
        args: &[&std::ffi::OsStr],
        env: &[(&str, &str)],
    ) -> Served {
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--nofile={files}:{files}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_h2wasm"));
        let mut all: Vec<&std::ffi::OsStr> = vec!["--h2c".as_ref()];
        all.extend(args);
        Served::spawn(cmd, &all, env)
    }

    fn spawn(mut cmd: Command, args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> Served {
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stderr(std::process::Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let log = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut served = Served {
            child,
            log,
            url: String::new(),
        };
        let line = served.log_line("serving HTTP/2 on ");
        served.url = line
            .trim()
            .trim_start_matches("h2wasm: serving HTTP/2 on ")
            .trim_end_matches('/')
            .to_string();
        served
    }

    /// The next log line containing `needle`.
    fn log_line(&mut self, needle: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let n = std::io::BufRead::read_line(&mut self.log, &mut line).unwrap();
            assert!(n > 0, "server log ended before {needle:?}");
            if line.contains(needle) {
                return line;
            }
        }
    }
}

#[test]
fn cli_serves_large_files_as_host_payload() {
    let dir = tempfile::tempdir().unwrap();
    let blob = data_file(dir.path(), 3 << 20, 21);
    let name = blob.file_name().unwrap().to_str().unwrap().to_string();
    let server = Served::start(&[dir.path().as_os_str()], &[("RUST_LOG", "warn")]);
    let url = &server.url;
    let out = dir.path().join("got");
    let o = run(curl_h2c()
        .args(["-o"])
        .arg(&out)
        .args(["-w", "%{http_code} %{size_download}"])
        .arg(format!("{url}/{name}")));
    assert_eq!(stdout(&o), format!("200 {}", 3 << 20));
    assert_eq!(sha256_file(&out), sha256_file(&blob));
    let o = run(curl_h2c()
        .args(["-r", "1000000-1099999", "-o"])
        .arg(&out)
        .args(["-w", "%{http_code}"])
        .arg(format!("{url}/{name}")));
    assert_eq!(stdout(&o), "206");
    let whole = std::fs::read(&blob).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), &whole[1_000_000..1_100_000]);
}

/// Files served as host payload stay open until sent: when the process
/// runs out of file descriptors, further requests get 503 (retry later),
/// logged at warn, and serving goes on once files close.
#[test]
fn running_out_of_file_descriptors_answers_503() {
    let dir = tempfile::tempdir().unwrap();
    // Larger than the files kept in memory: each answer opens it.
    let blob = data_file(dir.path(), 2 << 20, 3);
    let name = blob.file_name().unwrap().to_str().unwrap().to_string();
    let data_dir = tempfile::tempdir().unwrap();
    let mut server = Served::start_with_open_files(
        128,
        &[dir.path().as_os_str()],
        &[
            ("RUST_LOG", "warn"),
            ("H2WASM_DATA_DIR", data_dir.path().to_str().unwrap()),
        ],
    );
    // Two clients, 100 streams each, with windows shut: no DATA can go,
    // so every file that was opened stays open.
    let script = r#"
        const http2 = require('node:http2');
        const [url, path] = process.argv.slice(1);
        const counts = {};
        let pending = 0;
        const sessions = [0, 1].map(() =>
          http2.connect(url, { settings: { initialWindowSize: 0 } }));
        const done = () => {
          console.log(JSON.stringify(counts));
          for (const s of sessions) s.destroy();
        };
        for (const s of sessions) {
          for (let i = 0; i < 100; i++) {
            pending++;
            const r = s.request({ ':path': path });
            const count = (k) => { counts[k] = (counts[k] || 0) + 1; if (--pending === 0) done(); };
            r.on('response', (h) => count(String(h[':status'])));
            r.on('error', () => count('error'));
          }
        }
    "#;
    let o = run(Command::new("node").args(["-e", script, &server.url, &format!("/{name}")]));
    let counts: std::collections::HashMap<String, u32> =
        serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(counts.get("error"), None, "{counts:?}");
    assert!(counts.get("200").is_some_and(|&n| n > 0), "{counts:?}");
    assert!(counts.get("503").is_some_and(|&n| n > 0), "{counts:?}");
    assert_eq!(counts.values().sum::<u32>(), 200, "{counts:?}");
    server.log_line("out of file descriptors, answering 503");
    // The clients are gone and their files closed: served again.
    let out = dir.path().join("got");
    let o = run(curl_h2c()
        .arg("-o")
        .arg(&out)
        .args(["-w", "%{http_code}"])
        .arg(format!("{}/{name}", server.url)));
    assert_eq!(stdout(&o), "200");
    assert_eq!(sha256_file(&out), sha256_file(&blob));
}

/// Node's respondWithFD: the service opens a file — here with no
/// directory pre-opened for the instance at all — and its body goes out
/// as host payload (the engine frames it, the pump reads it).
#[test]
fn responses_from_files_the_host_opened() {
    let dir = tempfile::tempdir().unwrap();
    let blob = data_file(dir.path(), 2 << 20, 5);
    let (path, dir_path) = (blob.clone(), dir.path().to_path_buf());
    let app = app(move |req| {
        let (path, dir_path) = (path.clone(), dir_path.clone());
        async move {
            let (file, offset, length) = match req.uri().path() {
                "/whole" => (std::fs::File::open(&path), 0, None),
                "/range" => (std::fs::File::open(&path), 1_000_000, Some(70_000)),
                _ => (std::fs::File::open(&dir_path), 0, None),
            };
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/x-test"),
            );
            ServeFile::open(file.unwrap())
                .range(offset, length)
                .response(http::StatusCode::OK, headers)
        }
    });
    let server = TestServer::start(false, app);
    let out = dir.path().join("got");
    let o = run(curl_h2c()
        .arg("-o")
        .arg(&out)
        .args(["-w", "%{http_code} %{size_download} %{content_type}"])
        .arg(server.url("/whole")));
    assert_eq!(stdout(&o), format!("200 {} application/x-test", 2 << 20));
    assert_eq!(sha256_file(&out), sha256_file(&blob));
    let o = run(curl_h2c()
        .args(["-D", "-", "-o"])
        .arg(&out)
        .arg(server.url("/range")));
    assert!(
        stdout(&o).contains("content-length: 70000"),
        "{}",
        stdout(&o)
    );
    let whole = std::fs::read(&blob).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), &whole[1_000_000..1_070_000]);
    // A directory is no body: 500 before anything else was said, as over
    // HTTP/1.1.
    let o = run(curl_h2c()
        .args(["-o", "/dev/null", "-w", "%{http_code}"])
        .arg(server.url("/dir")));
    assert_eq!(stdout(&o), "500");
}

/// `ServeFile::path`: a path inside the instance's `/files`, opened by the
/// host under the runtime's `files_root`. It may not lead out, by `..` or
/// by a symlink, over HTTP/2 or HTTP/1.1: the pre-opened directory would
/// not let the engine out either.
#[test]
fn file_paths_stay_inside_the_served_directory() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let blob = data_file(root.path(), 300_000, 9);
    std::fs::write(outside.path().join("secret"), b"secret\n").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("link")).unwrap();
    let runtime = Arc::new(
        Runtime::embedded(&RuntimeConfig {
            max_connections: 16,
            files_root: Some(root.path().to_path_buf()),
            ..Default::default()
        })
        .unwrap(),
    );
    let name = blob.file_name().unwrap().to_str().unwrap().to_string();
    let app = app(move |req| {
        let name = name.clone();
        async move {
            let inside = match req.uri().path() {
                "/blob" => format!("{}/{name}", h2wasm::GUEST_FILES),
                "/link" => format!("{}/link", h2wasm::GUEST_FILES),
                _ => format!("{}/../secret", h2wasm::GUEST_FILES),
            };
            ServeFile::path(inside).response(http::StatusCode::OK, http::HeaderMap::new())
        }
    });
    let server = TestServer::start_with(runtime, false, app);
    let out = root.path().join("got");
    for http in ["--http2-prior-knowledge", "--http1.1"] {
        let get = |path: &str| {
            run(Command::new("curl")
                .args(["-sS", "--max-time", "30", http, "-o"])
                .arg(&out)
                .args(["-w", "%{http_code}"])
                .arg(server.url(path)))
        };
        assert_eq!(stdout(&get("/blob")), "200", "{http}");
        assert_eq!(sha256_file(&out), sha256_file(&blob), "{http}");
        assert_eq!(stdout(&get("/link")), "500", "{http}");
        assert_eq!(stdout(&get("/dotdot")), "500", "{http}");
        assert!(!std::fs::read(&out).unwrap().starts_with(b"secret"));
    }
}

#[test]
fn tls_clients_without_h2_get_http1_unless_it_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("RUST_LOG", "warn"),
        ("H2WASM_DATA_DIR", dir.path().to_str().unwrap()),
    ];
    let server =
        Served::start_tls_or_not(&["--unknown-protocol-timeout".as_ref(), "1".as_ref()], &env);
    let addr = server.url.trim_start_matches("https://").to_string();
    // A client that connects and says nothing: gone after the timeout.
    let mut silent = std::net::TcpStream::connect(&addr).unwrap();
    silent
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 64];
    let n = std::io::Read::read(&mut silent, &mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the server closed the connection");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // A client that negotiates HTTP/1.1 only is served HTTP/1.1.
    let curl_h1 = |addr: &str| {
        run(Command::new("curl")
            .args(["-sS", "-k", "--http1.1", "--max-time", "5"])
            .args(["-o", "/dev/null", "-w", "%{http_version} %{http_code}"])
            .arg(format!("https://{addr}/")))
    };
    assert_eq!(stdout(&curl_h1(&addr)), "1.1 200");
    // With --no-http1 it is disconnected.
    let h2_only = Served::start_tls_or_not(&["--no-http1".as_ref()], &env);
    let addr = h2_only.url.trim_start_matches("https://").to_string();
    assert!(!curl_h1(&addr).status.success());
}

#[test]
fn node_client_sees_the_altsvc_advertisement() {
    let server = Served::start(
        &["--altsvc".as_ref(), r#"h2=":8443"; ma=60"#.as_ref()],
        &[("RUST_LOG", "warn")],
    );
    let script = r#"
        const http2 = require('node:http2');
        const s = http2.connect(process.argv[1]);
        s.on('altsvc', (alt, origin, streamId) => {
            console.log(JSON.stringify({ alt, origin, streamId }));
            s.close();
        });
        s.on('error', (e) => { console.error(e); process.exit(1); });
        const req = s.request({ ':path': '/' });
        req.resume();
    "#;
    let o = run(Command::new("node").args(["-e", script]).arg(&server.url));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        r#"{"alt":"h2=\":8443\"; ma=60","origin":"","streamId":1}"#
    );
    // Our client shows it with -v.
    let o = run(h2wasm_bin()
        .args(["get", "-v", "--prior-knowledge"])
        .arg(format!("{}/", server.url)));
    assert!(
        stderr(&o).contains(r#"* ALTSVC stream 1 origin "": h2=":8443"; ma=60"#),
        "{}",
        stderr(&o)
    );
    let o = run(h2wasm_bin().args(["serve", "--altsvc", "bad\u{7f}value"]));
    assert!(
        stderr(&o).contains("expected an Alt-Svc field value"),
        "{}",
        stderr(&o)
    );
}

/// Logs carry no colour codes when stderr is not a terminal (a log file
/// stays plain text).
#[test]
fn logs_are_plain_text_off_a_terminal() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = h2wasm_bin()
        .args(["serve", "--h2c", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = Instant::now() + Duration::from_secs(60);
    while stdout(&run(curl_h2c()
        .args(["-o", "/dev/null", "-w", "%{http_code}"])
        .arg(&url)))
        != "200"
    {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("\"GET / HTTP/2.0\" 200"), "{log}");
    assert!(!log.contains('\u{1b}'), "{log:?}");
}

/// `get -o FILE` shows a progress meter on a terminal, as curl does —
/// size, rate and time left when the length is known — and nothing
/// otherwise.
#[test]
fn get_shows_progress_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = data_file(dir.path(), 3 << 20, 5);
    let name = file.file_name().unwrap().to_str().unwrap().to_string();
    let app: SharedService = shared(h2wasm::apps::files::StaticFiles::new(dir.path()).unwrap());
    let server = TestServer::start(false, app);
    let out_file = dir.path().join("got.bin");
    let get = format!(
        "{} get --prior-knowledge -o {} {}",
        env!("CARGO_BIN_EXE_h2wasm"),
        out_file.display(),
        server.url(&format!("/{name}"))
    );
    // A terminal: `script` runs the command on a pseudo-terminal.
    let o = run(Command::new("script").args(["-qfec", &get, "/dev/null"]));
    assert!(o.status.success(), "{}", stdout(&o));
    let screen = stdout(&o);
    assert!(screen.contains("3.0 MiB / 3.0 MiB"), "{screen:?}");
    assert!(
        screen.contains("/s") && screen.contains("left"),
        "{screen:?}"
    );
    assert_eq!(sha256_file(&out_file), sha256_file(&file));
    // Not a terminal: silent.
    std::fs::remove_file(&out_file).unwrap();
    let o = run(h2wasm_bin()
        .args(["get", "--prior-knowledge", "-o"])
        .arg(&out_file)
        .arg(server.url(&format!("/{name}"))));
    assert!(o.status.success());
    assert_eq!(stderr(&o), "");
    assert_eq!(sha256_file(&out_file), sha256_file(&file));
}

#[test]
fn a_response_to_head_carries_no_content_whatever_the_service_gives() {
    // Services need not special-case HEAD (an axum GET route answers it):
    // the body they return is not sent, over HTTP/2 as over HTTP/1.1.
    let server = TestServer::start(
        false,
        app(|_req| async { respond(200, &[("content-length", "5")], "abcde") }),
    );
    let mut c = common::raw::RawClient::hello(server.addr);
    let head = c.headers_frame(1, &common::raw::request("HEAD", "/"), true);
    c.send(&head);
    assert!(c.read_until(Duration::from_secs(10), |f| common::raw::ended(f, 1)));
    let response = c.response(1).unwrap();
    assert!(
        response
            .iter()
            .any(|f| f.name == "content-length" && f.value == b"5"[..]),
        "{response:?}"
    );
    let data = c.frames.iter().filter(|f| f.stream == 1 && f.kind == 0);
    assert_eq!(data.map(|f| f.payload.len()).sum::<usize>(), 0);
    assert_eq!(c.rst(1), None);
    let o = run(Command::new("curl")
        .args(["-sS", "-I", "--http1.1"])
        .arg(server.url("/")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("content-length: 5"), "{}", stdout(&o));
}

#[test]
fn a_request_body_cut_by_rst_stream_fails_instead_of_ending() {
    use http_body_util::BodyExt;
    // What the service saw: Some(true) if reading the body failed.
    let seen = Arc::new(std::sync::Mutex::new(None::<bool>));
    let record = seen.clone();
    let server = TestServer::start(
        false,
        app(move |req: http::Request<h2wasm::service::body::Incoming>| {
            let record = record.clone();
            async move {
                let failed = req.into_body().collect().await.is_err();
                *record.lock().unwrap() = Some(failed);
                respond(200, &[], "")
            }
        }),
    );
    let mut c = common::raw::RawClient::hello(server.addr);
    let head = c.headers_frame(1, &common::raw::request("POST", "/"), false);
    c.send(&head);
    c.send_frame(0x0, 0, 1, b"part of a body");
    // RST_STREAM(CANCEL): the upload ends without END_STREAM.
    c.send_frame(0x3, 0, 1, &0x8u32.to_be_bytes());
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(*seen.lock().unwrap(), Some(true), "the body must fail");
}

#[test]
fn requests_that_repeat_the_previous_one_are_the_same_requests() {
    use common::raw::{RawClient, request};
    use h2wasm_engine::HeaderField;
    use http_body_util::BodyExt;
    // The engine reports a request whose fields equal the previous one's
    // as repeated, and the server uses what it made of that one again:
    // each must still reach the service as itself (its own stream, its
    // own body), and one that `http` cannot represent is refused each
    // time it comes.
    let server = TestServer::start(
        false,
        app(
            |req: http::Request<h2wasm::service::body::Incoming>| async move {
                let stream = req
                    .extensions()
                    .get::<h2wasm::service::Http2Stream>()
                    .map(|s| s.stream_id())
                    .unwrap_or(0);
                let summary = format!(
                    "{} {} {} x={:?} stream={stream} body=",
                    req.method(),
                    req.uri(),
                    req.headers().len(),
                    req.headers()
                        .get("x-tag")
                        .map(|v| v.to_str().unwrap().to_string()),
                );
                let body = req.into_body().collect().await.unwrap().to_bytes();
                respond(
                    200,
                    &[],
                    format!("{summary}{}", String::from_utf8_lossy(&body)),
                )
            },
        ),
    );
    let mut c = RawClient::hello(server.addr);
    let mut post = request("POST", "/up?q=1");
    post.push(HeaderField::new("x-tag", "a"));
    let mut bad = request("GET", "/bad");
    // Valid HTTP/2 (RFC 9113 §8.2.1 forbids only NUL, CR and LF), but not
    // a value `http` accepts.
    bad.push(HeaderField::new("x-tag", "\u{1}"));
    let mut sent = Vec::new();
    for (id, fields, body) in [
        (1, &post, Some("one")),
        (3, &post, Some("two")),
        (5, &bad, None),
        (7, &bad, None),
        (9, &request("GET", "/g"), None),
        (11, &request("GET", "/g"), None),
        (13, &post, Some("three")),
    ] {
        let head = c.headers_frame(id, fields, body.is_none());
        c.send(&head);
        if let Some(b) = body {
            c.send_frame(0x0, 0x1, id, b.as_bytes());
        }
        sent.push(id);
    }
    let all_done = |f: &[common::raw::Frame]| {
        sent.iter().all(|&id| {
            common::raw::ended(f, id) || f.iter().any(|x| x.stream == id && x.rst_code().is_some())
        })
    };
    assert!(c.read_until(Duration::from_secs(10), all_done));
    let body = |id: u32| {
        let data = c.frames.iter().filter(|f| f.stream == id && f.kind == 0);
        String::from_utf8(data.flat_map(|f| f.payload.clone()).collect()).unwrap()
    };
    assert_eq!(
        body(1),
        "POST http://127.0.0.1/up?q=1 1 x=Some(\"a\") stream=1 body=one"
    );
    assert_eq!(
        body(3),
        "POST http://127.0.0.1/up?q=1 1 x=Some(\"a\") stream=3 body=two"
    );
    assert_eq!(c.rst(5), Some(0x1), "PROTOCOL_ERROR");
    assert_eq!(c.rst(7), Some(0x1), "refused again when repeated");
    assert_eq!(body(9), "GET http://127.0.0.1/g 0 x=None stream=9 body=");
    assert_eq!(body(11), "GET http://127.0.0.1/g 0 x=None stream=11 body=");
    assert_eq!(
        body(13),
        "POST http://127.0.0.1/up?q=1 1 x=Some(\"a\") stream=13 body=three"
    );
}

/// A service's response with HTTP/1.1's connection-specific fields
/// (RFC 9113 §8.2.2 forbids them in HTTP/2): they are left out, as hyper
/// does, and the response goes out; the same service over HTTP/1.1 keeps
/// them. One the engine refuses for another reason (a final status of
/// 1xx) gets RST_STREAM INTERNAL_ERROR at once: the stream is never left
/// waiting.
#[test]
fn responses_with_connection_specific_fields_are_answered_or_reset() {
    let server = TestServer::start(
        false,
        app(|req| async move {
            match req.uri().path() {
                "/hop" => respond(
                    200,
                    &[
                        ("connection", "keep-alive"),
                        ("keep-alive", "timeout=5"),
                        ("x-kept", "1"),
                    ],
                    "hello",
                ),
                _ => respond(103, &[], ""),
            }
        }),
    );
    let o = run(curl_h2c()
        .args(["-sS", "-D", "-", "--max-time", "10"])
        .arg(server.url("/hop")));
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(out.starts_with("HTTP/2 200"), "{out}");
    assert!(out.contains("x-kept: 1"), "{out}");
    assert!(!out.contains("keep-alive"), "{out}");
    assert!(out.ends_with("hello"), "{out}");

    let started = std::time::Instant::now();
    let o = run(curl_h2c()
        .args(["-sS", "--max-time", "10"])
        .arg(server.url("/early")));
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("INTERNAL_ERROR")
            || stderr(&o).contains("stream error")
            || stderr(&o).contains("HTTP/2 stream"),
        "{}",
        stderr(&o)
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "reset at once, not left to time out"
    );
    server.shutdown();
}

//! `serve --app`: standard wasi:http components (the examples in
//! `examples/`, built for wasm32-wasip2 with the `wasip2` crate) served
//! over h2, h2c and HTTP/1.1; bodies streamed both ways with trailers;
//! failures that end only their request; components composed with wac.

mod common;

use common::raw::{self, RawClient, request};
use common::*;
use h2wasm::apps::wasi_http::{ComponentConfig, WasiHttpApp};
use h2wasm::fetch::outgoing::policy::{OutboundEntry, OutboundPolicy};
use h2wasm::fetch::outgoing::{Outgoing, OutgoingConfig};
use h2wasm::service::{SharedService, shared};
use h2wasm::tls::Trust;
use h2wasm_engine::HeaderField;
use h2wasm_engine::wire::kind;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A component that makes no outgoing requests (or only to the platform's
/// trusted origins).
fn app(path: &Path, config: ComponentConfig) -> SharedService {
    let outgoing = Outgoing::new(runtime(), OutgoingConfig::default()).unwrap();
    shared(WasiHttpApp::load(path, config, outgoing).unwrap())
}

/// `curl -sS ARGS URL`: (status line's HTTP version, body).
fn curl(args: &[&str], url: &str) -> (String, String) {
    let o = run(Command::new("curl")
        .args(["-sS", "--max-time", "30", "-w", "\n%{http_version}"])
        .args(args)
        .arg(url));
    assert!(o.status.success(), "curl {args:?} {url}: {}", stderr(&o));
    let out = stdout(&o);
    let (body, version) = out.rsplit_once('\n').unwrap();
    (version.to_string(), body.to_string())
}

#[test]
fn one_command_serves_a_component_over_h2_h2c_and_http1() {
    let hello = example_component("hello");
    let hello = hello.to_str().unwrap();
    let (cert, key) = certs();
    let tls = ServeProcess::start(
        &[
            "--app",
            hello,
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
        false,
    );
    let url = format!("https://127.0.0.1:{}/greet?x=1", tls.addr.port());
    let ca = cert.to_str().unwrap();
    let (version, body) = curl(&["--http2", "--cacert", ca], &url);
    assert_eq!(
        (version.as_str(), body.as_str()),
        ("2", "hello from a wasi:http component: /greet?x=1\n")
    );
    let (version, body) = curl(&["--http1.1", "--cacert", ca], &url);
    assert_eq!(
        (version.as_str(), body.as_str()),
        ("1.1", "hello from a wasi:http component: /greet?x=1\n")
    );
    drop(tls);

    let h2c = ServeProcess::start(&["--h2c", "--app", hello], false);
    let url = format!("http://127.0.0.1:{}/a", h2c.addr.port());
    let (version, body) = curl(&["--http2-prior-knowledge"], &url);
    assert_eq!(
        (version.as_str(), body.as_str()),
        ("2", "hello from a wasi:http component: /a\n")
    );
    let (version, body) = curl(&["--http1.1"], &url);
    assert_eq!(
        (version.as_str(), body.as_str()),
        ("1.1", "hello from a wasi:http component: /a\n")
    );
    // HEAD: the component sends no body; the length it declared stays.
    let o = run(Command::new("curl")
        .args(["-sS", "-I", "--http2-prior-knowledge"])
        .arg(&url));
    assert!(o.status.success(), "{}", stderr(&o));
    let head = stdout(&o);
    let length = "hello from a wasi:http component: /a\n".len();
    assert!(
        head.contains(&format!("content-length: {length}")),
        "{head}"
    );
}

/// POSTs `size` bytes to the echo component with curl and checks the
/// echo by SHA-256 and the `x-echo-bytes` trailer.
fn curl_echo(server: &TestServer, size: u64, seed: u64, http1: bool) {
    let dir = tempfile::tempdir().unwrap();
    let input = data_file(dir.path(), size, seed);
    let output = dir.path().join("out");
    let head = dir.path().join("head");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "120", "--data-binary"])
        .arg(format!("@{}", input.display()))
        .arg("-o")
        .arg(&output)
        .arg("-D")
        .arg(&head);
    match (server.tls, http1) {
        (true, _) => cmd.arg("--cacert").arg(certs().0),
        (false, false) => cmd.arg("--http2-prior-knowledge"),
        (false, true) => cmd.arg("--http1.1"),
    };
    if http1 {
        // HTTP/1.1 trailers go only to clients that ask for them.
        cmd.args(["--http1.1", "-H", "TE: trailers"]);
    }
    let o = run(cmd.arg(server.url("/")));
    assert!(o.status.success(), "size {size}: {}", stderr(&o));
    assert_eq!(sha256_file(&output), sha256_file(&input), "size {size}");
    let head = std::fs::read_to_string(&head).unwrap();
    assert!(
        head.contains(&format!("x-echo-bytes: {size}")),
        "size {size}, http1 {http1}: {head}"
    );
}

#[test]
fn echo_streams_bodies_both_ways_with_trailers() {
    let echo = example_component("echo");
    let h2c = TestServer::start(false, app(&echo, ComponentConfig::default()));
    let tls = TestServer::start(true, app(&echo, ComponentConfig::default()));
    for (i, size) in [0u64, 1, 16_384, 65_537, 4 << 20].into_iter().enumerate() {
        curl_echo(&h2c, size, i as u64 + 1, false);
        curl_echo(&h2c, size, i as u64 + 10, true);
        curl_echo(&tls, size, i as u64 + 20, false);
        curl_echo(&tls, size, i as u64 + 30, true);
    }
}

#[test]
fn echo_streams_256_mib_without_holding_it() {
    let echo = example_component("echo");
    let server = ServeProcess::start(&["--h2c", "--app", echo.to_str().unwrap()], false);
    let dir = tempfile::tempdir().unwrap();
    let input = data_file(dir.path(), 256 << 20, 77);
    for http1 in [false, true] {
        let output = dir.path().join("out");
        let mut get = h2wasm_bin();
        get.arg("get");
        if http1 {
            get.arg("--http1.1");
        } else {
            get.arg("--prior-knowledge");
        }
        let o = run(get
            .arg("-d")
            .arg(format!("@{}", input.display()))
            .arg("-o")
            .arg(&output)
            .arg(format!("http://127.0.0.1:{}/", server.addr.port())));
        assert!(o.status.success(), "http1 {http1}: {}", stderr(&o));
        assert_eq!(sha256_file(&output), sha256_file(&input), "http1 {http1}");
    }
    // 256 MiB went up and came back twice; the server held a bounded part
    // of it at a time.
    let peak_mib = server.peak_rss_kib() / 1024;
    assert!(peak_mib < 200, "the server's peak RSS was {peak_mib} MiB");
}

#[test]
fn request_trailers_come_back_as_response_trailers() {
    let echo = example_component("echo");
    let server = TestServer::start(false, app(&echo, ComponentConfig::default()));
    let mut c = RawClient::hello(server.addr);
    let head = c.headers_frame(1, &request("POST", "/"), false);
    c.send(&head);
    c.send_frame(kind::DATA, 0, 1, b"twelve bytes");
    let trailers = c.headers_frame(1, &[HeaderField::new("x-checksum", "abc")], true);
    c.send(&trailers);
    assert!(c.read_until(Duration::from_secs(10), |f| raw::ended(f, 1)));
    let blocks = c.header_blocks(1).unwrap();
    assert_eq!(blocks.len(), 2, "a response and its trailers: {blocks:?}");
    let last = blocks.last().unwrap();
    let has = |name: &str, value: &str| {
        last.iter()
            .any(|f| f.name == name && f.value == value.as_bytes())
    };
    assert!(has("x-checksum", "abc"), "{last:?}");
    assert!(has("x-echo-bytes", "12"), "{last:?}");
    let data: Vec<u8> = c
        .frames
        .iter()
        .filter(|f| f.kind == kind::DATA && f.stream == 1)
        .flat_map(|f| f.payload.clone())
        .collect();
    assert_eq!(data, b"twelve bytes");
}

/// `examples/faulty` served in-process with `config`.
fn faulty_server(config: ComponentConfig) -> TestServer {
    TestServer::start(false, app(&example_component("faulty"), config))
}

#[test]
fn a_failing_request_ends_alone() {
    let server = faulty_server(ComponentConfig {
        max_memory: 16 << 20,
        max_time: Some(Duration::from_secs(2)),
        ..ComponentConfig::default()
    });
    // Before anything was sent: 500, for a panic, a missing response and
    // the memory limit; 504 for the time limit.
    let mut spin = Command::new("curl");
    spin.args(["-sS", "--http2-prior-knowledge", "-o", "/dev/null"])
        .args(["-w", "%{http_code}"])
        .arg(server.url("/spin"));
    let spinning = spin.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    for path in ["/panic", "/no-answer", "/grow"] {
        let o = run(Command::new("curl")
            .args(["-sS", "--http2-prior-knowledge", "-o", "/dev/null"])
            .args(["-w", "%{http_code}"])
            .arg(server.url(path)));
        assert_eq!(stdout(&o), "500", "{path}");
    }
    // A spinning instance holds no one else up.
    let (_, body) = curl(&["--http2-prior-knowledge"], &server.url("/"));
    assert_eq!(body, "ok");
    assert!(started.elapsed() < Duration::from_secs(2));
    let spun = spinning.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&spun.stdout), "504");
    assert!(started.elapsed() >= Duration::from_secs(2));

    // After the response began: RST_STREAM INTERNAL_ERROR, and the
    // connection goes on serving.
    let mut c = RawClient::hello(server.addr);
    c.get(1, "/panic-midway");
    assert!(c.read_until(Duration::from_secs(10), |f| {
        f.iter()
            .any(|f| f.stream == 1 && f.kind == kind::RST_STREAM)
    }));
    assert_eq!(c.rst(1), Some(0x2));
    assert!(c.response(1).is_some(), "the response had begun");
    c.get(3, "/");
    assert!(c.read_until(Duration::from_secs(10), |f| raw::ended(f, 3)));
    let data: Vec<u8> = c
        .frames
        .iter()
        .filter(|f| f.kind == kind::DATA && f.stream == 3)
        .flat_map(|f| f.payload.clone())
        .collect();
    assert_eq!(data, b"ok");
    assert!(
        !c.frames
            .iter()
            .any(|f| f.kind == kind::GOAWAY || (f.stream == 3 && f.kind == kind::RST_STREAM))
    );

    // Over HTTP/1.1 the connection is closed instead: curl sees an
    // incomplete response.
    let o = run(Command::new("curl")
        .args(["-sS", "--http1.1", "-o", "/dev/null"])
        .arg(server.url("/panic-midway")));
    assert!(!o.status.success());
    let (version, body) = curl(&["--http1.1"], &server.url("/"));
    assert_eq!((version.as_str(), body.as_str()), ("1.1", "ok"));
}

/// The CPU limit counts the instance's own running time: a spinning
/// instance traps at it (500) long before its wall-clock limit.
#[test]
fn a_spinning_instance_traps_at_its_cpu_limit() {
    let server = faulty_server(ComponentConfig {
        max_time: Some(Duration::from_secs(60)),
        max_cpu: Some(Duration::from_millis(500)),
        ..ComponentConfig::default()
    });
    let started = Instant::now();
    let o = run(Command::new("curl")
        .args(["-sS", "--http2-prior-knowledge", "-o", "/dev/null"])
        .args(["-w", "%{http_code}"])
        .arg(server.url("/spin")));
    assert_eq!(stdout(&o), "500");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn a_component_of_the_wrong_world_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let engine = dir.path().join("h2wasm_engine.wasm");
    std::fs::write(&engine, h2wasm::EMBEDDED_ENGINE).unwrap();
    let cases = [
        (
            // The engine component: it exports h2wasm:http2/session.
            engine,
            "is not a wasi:http/proxy component: it does not export wasi:http/incoming-handler@0.2.x (it exports h2wasm:http2/",
        ),
        (
            // The middleware alone imports the handler it forwards to.
            example_component("bearer"),
            "needs an import that a wasi:http/proxy host does not provide",
        ),
        (
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"),
            "is not a WebAssembly component",
        ),
    ];
    for (path, expected) in cases {
        assert!(path.exists(), "{}", path.display());
        let o = run(h2wasm_bin()
            .args(["serve", "--h2c", "--listen", "127.0.0.1:0", "--app"])
            .arg(&path));
        assert!(!o.status.success());
        let err = stderr(&o);
        assert!(
            err.contains(expected) && err.contains(path.to_str().unwrap()),
            "{}: {err}",
            path.display()
        );
    }
    let o = run(h2wasm_bin().args(["serve", "--app-memory", "64M"]));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--app"), "{}", stderr(&o));
}

#[test]
fn h2load_100000_requests_100_streams_at_once() {
    let hello = example_component("hello");
    let server = TestServer::start(false, app(&hello, ComponentConfig::default()));
    let o = run(Command::new("h2load")
        .args(["-n", "100000", "-c", "1", "-m", "100"])
        .arg(server.url("/")));
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(
        out.contains("100000 total, 100000 started, 100000 done, 100000 succeeded, 0 failed"),
        "{out}"
    );
}

#[test]
fn a_middleware_composed_with_wac_guards_an_app() {
    let dir = tempfile::tempdir().unwrap();
    let composed = dir.path().join("guarded-hello.wasm");
    let o = run(Command::new("wac")
        .arg("plug")
        .arg(example_component("bearer"))
        .arg("--plug")
        .arg(example_component("hello"))
        .arg("-o")
        .arg(&composed));
    assert!(o.status.success(), "wac plug: {}", stderr(&o));
    let server = TestServer::start(false, app(&composed, ComponentConfig::default()));
    for http1 in [false, true] {
        let proto = if http1 {
            "--http1.1"
        } else {
            "--http2-prior-knowledge"
        };
        let o = run(Command::new("curl")
            .args(["-sS", proto, "-w", "%{http_code}", "-o", "/dev/null"])
            .arg(server.url("/private")));
        assert_eq!(stdout(&o), "401");
        let (_, body) = curl(
            &[proto, "-H", "authorization: Bearer h2wasm-example-token"],
            &server.url("/private"),
        );
        assert_eq!(body, "hello from a wasi:http component: /private\n");
        let o = run(Command::new("curl")
            .args(["-sS", proto, "-w", "%{http_code}", "-o", "/dev/null"])
            .args(["-H", "authorization: Bearer wrong"])
            .arg(server.url("/private")));
        assert_eq!(stdout(&o), "401");
    }
}

#[test]
fn a_request_without_a_host_is_answered_400_not_by_the_component() {
    // wasi:http needs an authority. (Over HTTP/2 the engine already
    // refuses a request without :authority; HTTP/1.0 may omit Host.)
    let hello = example_component("hello");
    let server = TestServer::start(false, app(&hello, ComponentConfig::default()));
    let o = run(Command::new("curl")
        .args(["-sS", "--http1.0", "-H", "Host:", "-w", "%{http_code}"])
        .arg(server.url("/")));
    assert_eq!(
        stdout(&o),
        "the request names no host (:authority or Host)\n400"
    );
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process killed when the test ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn outgoing_requests_reach_http2_origins_over_http2() {
    let fetch = example_component("fetch");
    let (cert, key) = certs();
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("hello.txt"), "from nghttpd\n").unwrap();
    // nghttpd and Node's http2 server speak HTTP/2 only: an answer from
    // them is an answer over HTTP/2. Python's http.server speaks only
    // HTTP/1.x.
    let h2c = free_port();
    let _nghttpd_h2c = Child(
        Command::new("nghttpd")
            .args(["--no-tls", "-a", "127.0.0.1", "-d"])
            .arg(site.path())
            .arg(h2c.to_string())
            .spawn()
            .expect("nghttpd is installed"),
    );
    let tls = free_port();
    let _nghttpd_tls = Child(
        Command::new("nghttpd")
            .args(["-a", "127.0.0.1", "-d"])
            .arg(site.path())
            .arg(tls.to_string())
            .arg(&key)
            .arg(&cert)
            .spawn()
            .expect("nghttpd is installed"),
    );
    let plain = free_port();
    let _python = Child(
        Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
            .arg(site.path())
            .arg(plain.to_string())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 is installed"),
    );
    let node = NodeServer::start(&["tls", cert.to_str().unwrap(), key.to_str().unwrap()]);
    for port in [h2c, tls, plain] {
        wait_for(port);
    }
    let outgoing = Outgoing::new(
        runtime(),
        OutgoingConfig {
            // The origins here, all on loopback, named exactly.
            policy: OutboundPolicy::allow(
                ["*://127.0.0.1:*", "*://localhost:*"]
                    .iter()
                    .map(|e| OutboundEntry::parse(e).unwrap())
                    .collect(),
            ),
            h2c: [format!("127.0.0.1:{h2c}")].into_iter().collect(),
            trust: Trust::CaFile(cert.clone()),
            ..OutgoingConfig::default()
        },
    )
    .unwrap();
    let app = WasiHttpApp::load(&fetch, ComponentConfig::default(), outgoing).unwrap();
    let server = TestServer::start(false, shared(app));

    let cases = [
        (
            format!("http://127.0.0.1:{h2c}/hello.txt"),
            "from nghttpd\n",
        ),
        (
            format!("https://localhost:{tls}/hello.txt"),
            "from nghttpd\n",
        ),
        (
            format!("https://localhost:{}/hello", node.port),
            "hello from node\n",
        ),
        (
            format!("http://127.0.0.1:{plain}/hello.txt"),
            "from nghttpd\n",
        ),
    ];
    for (url, expected) in &cases {
        for proto in ["--http2-prior-knowledge", "--http1.1"] {
            let o = run(Command::new("curl")
                .args(["-sS", "-i", proto])
                .arg(server.url(&format!("/?{url}"))));
            let out = stdout(&o);
            assert!(o.status.success(), "{url}: {}", stderr(&o));
            assert!(out.contains("x-upstream-status: 200"), "{url}: {out}");
            assert!(out.ends_with(expected), "{url}: {out}");
        }
    }
    // Many requests at once share one pooled connection to an origin.
    let node_hello = format!("https://localhost:{}/hello", node.port);
    let o = run(Command::new("h2load")
        .args(["-n", "400", "-c", "2", "-m", "20"])
        .arg(server.url(&format!("/?{node_hello}"))));
    let out = stdout(&o);
    assert!(
        out.contains("400 succeeded, 0 failed"),
        "{out}{}",
        stderr(&o)
    );
    let (_, sessions) = curl(
        &["--http2-prior-knowledge"],
        &server.url(&format!("/?https://localhost:{}/sessions", node.port)),
    );
    assert_eq!(sessions, "1\n", "Node saw this many HTTP/2 sessions");
    // An origin that is not there: 502 from the component, with why.
    let (_, body) = curl(
        &["--http2-prior-knowledge"],
        &server.url(&format!("/?http://127.0.0.1:{}/", free_port())),
    );
    assert!(body.contains("ConnectionRefused"), "{body}");
}

#[test]
fn every_request_sees_a_fresh_instance() {
    // Pool slots are reset in place between requests (pages kept
    // resident): nothing one request left in memory reaches the next.
    let server = faulty_server(ComponentConfig::default());
    let o = run(Command::new("h2load")
        .args(["-n", "2000", "-c", "4", "-m", "8"])
        .arg(server.url("/count")));
    assert!(stdout(&o).contains("2000 succeeded"), "{}", stdout(&o));
    for _ in 0..20 {
        let (_, body) = curl(&["--http2-prior-knowledge"], &server.url("/count"));
        assert_eq!(body, "1");
    }
}

//! HTTP/1.1 for clients without HTTP/2 (Node's `allowHTTP1`): the same
//! services answer through hyper, over TLS (ALPN http/1.1, or none) and
//! in cleartext (no preface), with curl, Node's `http`/`https`, h2load
//! --h1, headless Chromium with h2 turned off, and h2wasm's own client.

mod common;

use common::*;
use h2wasm::service::{Informational, empty, text};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

fn curl(args: &[&str]) -> std::process::Output {
    run(Command::new("curl")
        .args(["-sS", "-k", "--http1.1", "--max-time", "60"])
        .args(args))
}

/// A directory with a small page and a 100-byte file, for `--dir`.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<html><body><p id=hello>hello over http/1.1</p></body></html>\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("hundred.txt"), [b'x'; 100]).unwrap();
    dir
}

/// curl --http1.1 over TLS and in cleartext: keep-alive, HEAD, ranges,
/// 304, chunked uploads with trailers back, Expect: 100-continue.
#[test]
fn curl_http1_over_tls_and_cleartext() {
    let dir = site();
    let root = dir.path().to_str().unwrap();
    for tls in [true, false] {
        let mut args = vec![root];
        if !tls {
            args.push("--h2c");
        }
        let server = ServeProcess::start(&args, false);
        let scheme = if tls { "https" } else { "http" };
        let base = format!("{scheme}://localhost:{}", server.addr.port());
        let url = |p: &str| format!("{base}{p}");

        // Two requests on one kept-alive connection, both HTTP/1.1.
        assert_eq!(
            two_on_one_connection(&url("/index.html"), &url("/hundred.txt")),
            "1.1 200 1\n1.1 200 0\n"
        );

        // HEAD: the headers, the length, no body.
        let o = curl(&["-I", &url("/hundred.txt")]);
        let head = stdout(&o).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("content-length: 100"), "{head}");

        // A range.
        let o = curl(&["-r", "10-19", "-D", "-", &url("/hundred.txt")]);
        let out = stdout(&o);
        assert!(out.starts_with("HTTP/1.1 206"), "{out}");
        assert!(
            out.to_ascii_lowercase()
                .contains("content-range: bytes 10-19/100")
        );
        assert!(out.ends_with("\r\n\r\nxxxxxxxxxx"), "{out}");

        // 304 for a matching validator.
        let etag = head
            .lines()
            .find_map(|l| l.strip_prefix("etag: "))
            .expect("an ETag")
            .trim()
            .to_string();
        let o = curl(&[
            "-o",
            "/dev/null",
            "-w",
            "%{response_code}",
            "-H",
            &format!("If-None-Match: {etag}"),
            &url("/hundred.txt"),
        ]);
        assert_eq!(stdout(&o), "304");

        // Built-in /echo is not in --dir mode; a separate server has it.
        drop(server);
        let args: Vec<&str> = if tls { vec![] } else { vec!["--h2c"] };
        let server = ServeProcess::start(&args, false);
        let echo = format!("{scheme}://localhost:{}/echo", server.addr.port());
        // A chunked upload; the echo comes back chunked, with its
        // x-echo-bytes trailer (asked for by TE).
        let o = curl(&[
            "-D",
            "-",
            "-H",
            "Transfer-Encoding: chunked",
            "-H",
            "TE: trailers",
            "--data-binary",
            "hello, chunked world",
            &echo,
        ]);
        let out = stdout(&o);
        assert!(out.contains("HTTP/1.1 200"), "{out}");
        assert!(
            out.to_ascii_lowercase()
                .contains("transfer-encoding: chunked"),
            "{out}"
        );
        assert!(out.contains("hello, chunked world"), "{out}");
        assert!(out.contains("x-echo-bytes: 20"), "{out}");
    }
}

/// `Expect: 100-continue`: the client is told to go on when the service
/// first reads the body, and the body arrives whole.
#[test]
fn expect_100_continue_over_tls_and_cleartext() {
    use http_body_util::BodyExt;
    for tls in [true, false] {
        let server = TestServer::start(
            tls,
            app(|req| async move {
                let body = req.into_body().collect().await.unwrap().to_bytes();
                text(StatusCode::OK, format!("{} bytes\n", body.len()))
            }),
        );
        let o = curl(&[
            "-v",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            "a body worth waiting for",
            &server.url("/upload"),
        ]);
        let err = stderr(&o);
        assert!(err.contains("< HTTP/1.1 100 Continue"), "{err}");
        assert!(err.contains("< HTTP/1.1 200 OK"), "{err}");
        assert_eq!(stdout(&o), "24 bytes\n");
    }
}

/// `--h2c` serves both protocols on one port; `--no-http1` is HTTP/2
/// only again: in cleartext the engine answers a non-preface with
/// GOAWAY, over TLS ALPN offers only h2.
#[test]
fn h2c_takes_both_protocols_and_no_http1_turns_it_off() {
    let server = ServeProcess::start(&["--h2c"], false);
    let url = format!("http://127.0.0.1:{}/", server.addr.port());
    assert_eq!(version_used(&["--http1.1"], &url), "1.1");
    assert_eq!(version_used(&["--http2-prior-knowledge"], &url), "2");
    drop(server);

    let server = ServeProcess::start(&["--h2c", "--no-http1"], false);
    let mut tcp = std::net::TcpStream::connect(server.addr).unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let _ = tcp.read_to_end(&mut got);
    // Frames: SETTINGS, then GOAWAY (type 7) with PROTOCOL_ERROR (1).
    let mut goaway = None;
    let mut at = 0;
    while at + 9 <= got.len() {
        let len = u32::from_be_bytes([0, got[at], got[at + 1], got[at + 2]]) as usize;
        let payload = &got[(at + 9).min(got.len())..(at + 9 + len).min(got.len())];
        if got[at + 3] == 7 && payload.len() >= 8 {
            goaway = Some(u32::from_be_bytes(payload[4..8].try_into().unwrap()));
        }
        at += 9 + len;
    }
    assert_eq!(goaway, Some(1), "{got:?}");
    drop(server);

    let server = ServeProcess::start(&["--no-http1"], false);
    let url = format!("https://localhost:{}/", server.addr.port());
    let o = curl(&["-o", "/dev/null", &url]);
    assert!(
        !o.status.success(),
        "an HTTP/1.1-only client is turned away"
    );
    assert_eq!(version_used(&[], &url), "2");
}

/// The HTTP version curl used for one request with `flags`.
fn version_used(flags: &[&str], url: &str) -> String {
    let o = run(Command::new("curl")
        .args(["-sS", "-k", "-o", "/dev/null", "-w", "%{http_version}"])
        .args(flags)
        .arg(url));
    stdout(&o)
}

/// Node's `https` and `http` clients, with bodies from 0 B to 256 MiB
/// both ways (echoed, checked by SHA-256), and the echo's trailer.
#[test]
fn node_clients_and_bodies_to_256_mib_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/node/http1.js");
    let tls = ServeProcess::start(&[], false);
    let clear = ServeProcess::start(&["--h2c"], false);
    let sizes: &[(u64, bool)] = &[
        (0, true),
        (1, false),
        (16_385, true),
        (1 << 20, false),
        (256 << 20, false),
    ];
    for (i, &(len, over_tls)) in sizes.iter().enumerate() {
        let file = data_file(dir.path(), len, i as u64 + 1);
        let url = match over_tls {
            true => format!("https://localhost:{}/echo", tls.addr.port()),
            false => format!("http://127.0.0.1:{}/echo", clear.addr.port()),
        };
        let o = run(Command::new("node")
            .arg(&script)
            .args(["client", &url])
            .arg(&file));
        assert!(o.status.success(), "{}", stderr(&o));
        let got: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        assert_eq!(got["status"], 200);
        assert_eq!(got["httpVersion"], "1.1");
        assert_eq!(got["length"], len, "{len} bytes");
        assert_eq!(got["sha256"], sha256_file(&file), "{len} bytes");
        assert_eq!(got["trailers"]["x-echo-bytes"], len.to_string());
        std::fs::remove_file(file).unwrap();
    }
    // A plain GET with each client.
    for url in [
        format!("https://localhost:{}/", tls.addr.port()),
        format!("http://127.0.0.1:{}/", clear.addr.port()),
    ] {
        let o = run(Command::new("node").arg(&script).args(["client", &url]));
        let got: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        assert_eq!(got["status"], 200, "{url}");
        assert_eq!(got["httpVersion"], "1.1", "{url}");
    }
}

/// `h2load --h1`: 100,000 requests over 10 kept-alive connections, none
/// failed.
#[test]
fn h2load_h1_100000_requests_none_failed() {
    let server = ServeProcess::start(&["--h2c"], false);
    let url = format!("http://127.0.0.1:{}/", server.addr.port());
    let o = run(Command::new("h2load")
        .args(["--h1", "-n", "100000", "-c", "10", "-T", "30"])
        .arg(&url));
    let out = stdout(&o);
    assert!(
        out.contains("100000 succeeded, 0 failed, 0 errored, 0 timeout"),
        "{out}"
    );
}

/// Garbage instead of the preface: hyper answers 400 and closes, and the
/// server goes on serving.
#[test]
fn garbage_gets_a_400_from_hyper_and_the_server_keeps_serving() {
    // Debug: each connection's end is logged, for a failure's message.
    let server = ServeProcess::start_with_env(&["--h2c"], true, &[("RUST_LOG", "h2wasm=debug")]);
    // With more sent after the malformed head than hyper reads, closing
    // at once would reset the connection and could destroy the 400: the
    // server holds it, reading, until the client closes.
    let trailing = vec![b'x'; 32 * 1024];
    let mut wrong = Vec::new();
    for attempt in 0..20 {
        let mut tcp = std::net::TcpStream::connect(server.addr).unwrap();
        tcp.write_all(b"\x16\x03\x01garbage\x00\xff not a request\r\n\r\n")
            .unwrap();
        tcp.write_all(&trailing).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let read = tcp.read_to_end(&mut got);
        let got = String::from_utf8_lossy(&got);
        if !got.starts_with("HTTP/1.1 400 Bad Request") {
            wrong.push(format!(
                "attempt {attempt}: {read:?} {got:?} from {:?}",
                tcp.local_addr()
            ));
        }
    }
    if !wrong.is_empty() {
        let log = server.stop();
        panic!(
            "{wrong:#?}\nserver log:\n{}",
            String::from_utf8_lossy(&log.stderr)
        );
    }
    let url = format!("http://127.0.0.1:{}/", server.addr.port());
    for http in ["--http1.1", "--http2-prior-knowledge"] {
        let o = run(Command::new("curl").args([
            "-sS",
            http,
            "-o",
            "/dev/null",
            "-w",
            "%{response_code}",
            &url,
        ]));
        assert_eq!(stdout(&o), "200");
    }
    let out = server.stop();
    assert!(out.status.success());
}

/// 103 Early Hints reach an HTTP/1.1 client as an interim response ahead
/// of the final one (as Node's `writeEarlyHints`), and never reach an
/// HTTP/1.0 client, for which `send` says false.
#[test]
fn early_hints_are_sent_as_http1_interim_responses() {
    let server = TestServer::start(
        false,
        app(|req| async move {
            let hints = req.extensions().get::<Informational>().unwrap().clone();
            let mut h = HeaderMap::new();
            h.insert(
                "link",
                HeaderValue::from_static("</style.css>; rel=preload"),
            );
            let sent = hints.send(StatusCode::EARLY_HINTS, h).await;
            text(StatusCode::OK, format!("hints sent: {sent}\n"))
        }),
    );
    let exchange = |request: &[u8]| {
        let mut tcp = std::net::TcpStream::connect(server.addr).unwrap();
        tcp.write_all(request).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let _ = tcp.read_to_end(&mut got);
        String::from_utf8(got).unwrap()
    };
    let got = exchange(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(
        got.starts_with(
            "HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n"
        ),
        "{got}"
    );
    assert!(got.ends_with("hints sent: true\n"), "{got}");
    let got = exchange(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n");
    assert!(got.starts_with("HTTP/1.0 200 OK\r\n"), "{got}");
    assert!(got.ends_with("hints sent: false\n"), "{got}");
    // And as curl sees it.
    let o = run(Command::new("curl").args(["-sS", "-v", "--http1.1", &server.url("/")]));
    assert!(
        stderr(&o).contains("< HTTP/1.1 103 Early Hints"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&o), "hints sent: true\n");
}

/// Shutdown over HTTP/1.1: the request in progress is answered, with
/// `Connection: close`, and the server then returns.
#[test]
fn graceful_shutdown_finishes_the_request_with_connection_close() {
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let server = TestServer::start(
        false,
        app(move |_req| {
            let _ = entered_tx.send(());
            async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                text(StatusCode::OK, "finished\n")
            }
        }),
    );
    let mut tcp = std::net::TcpStream::connect(server.addr).unwrap();
    tcp.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    entered_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let stopping = std::thread::spawn(move || server.shutdown());
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let _ = tcp.read_to_end(&mut got);
    let got = String::from_utf8_lossy(&got).to_ascii_lowercase();
    assert!(got.starts_with("http/1.1 200 ok\r\n"), "{got}");
    assert!(got.contains("connection: close\r\n"), "{got}");
    assert!(got.ends_with("finished\n"), "{got}");
    stopping.join().unwrap();
}

/// At capacity, an HTTP/1.1 client gets hyper's 503 with Retry-After
/// (HTTP/2's refusal is SETTINGS + GOAWAY), and each request is in the
/// access log marked HTTP/1.1.
#[test]
fn capacity_refusal_is_a_503_and_requests_are_logged() {
    let server = ServeProcess::start(&["--h2c", "--max-connections", "1"], true);
    let url = format!("http://127.0.0.1:{}/", server.addr.port());
    let o = curl(&["-o", "/dev/null", "-w", "%{response_code}", &url]);
    assert_eq!(stdout(&o), "200");
    let held = common::raw::hold_a_slot(server.addr, Duration::from_secs(10));
    let o = curl(&["-D", "-", "-o", "/dev/null", &url]);
    let out = stdout(&o).to_ascii_lowercase();
    assert!(out.starts_with("http/1.1 503"), "{out}");
    assert!(out.contains("retry-after: 1"), "{out}");
    drop(held);
    let log = String::from_utf8_lossy(&server.stop().stderr).into_owned();
    assert!(
        log.lines().any(|l| l.contains("\"GET / HTTP/1.1\" 200")),
        "{log}"
    );
    assert!(log.contains("refusing connections"), "{log}");
}

/// Headless Chromium with HTTP/2 turned off loads the page over TLS with
/// HTTP/1.1 (the access log says which protocol served it).
#[test]
fn chromium_without_h2_loads_a_page_over_http1() {
    let dir = site();
    let server = ServeProcess::start(&[dir.path().to_str().unwrap()], true);
    let browser = chromium();
    let profile = tempfile::tempdir().unwrap();
    let o = run(Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-http2",
            "--ignore-certificate-errors",
            "--timeout=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!(
            "https://localhost:{}/index.html",
            server.addr.port()
        )));
    let dom = stdout(&o);
    assert!(
        dom.contains("<p id=\"hello\">hello over http/1.1</p>"),
        "{dom}\n{}",
        stderr(&o)
    );
    let log = String::from_utf8_lossy(&server.stop().stderr).into_owned();
    assert!(
        log.lines()
            .any(|l| l.contains("\"GET /index.html HTTP/1.1\" 200")),
        "{log}"
    );
}

/// `h2wasm get` falls back to HTTP/1.1 when a TLS server offers no h2,
/// says so with -v, and `--http1.1` forces it.
#[test]
fn get_falls_back_to_http1_and_can_be_forced() {
    let (cert, key) = certs();
    let node = NodeServer::start_script(
        "http1.js",
        &["server", cert.to_str().unwrap(), key.to_str().unwrap()],
    );
    let o = run(h2wasm_bin()
        .args(["get", "-k", "-v"])
        .arg(format!("https://localhost:{}/", node.port)));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "hello over http/1.1\n");
    assert!(stderr(&o).contains("* HTTP/1.1"), "{}", stderr(&o));

    let server = TestServer::start(true, builtin());
    let o = run(h2wasm_bin()
        .args(["get", "-k", "-v", "--http1.1"])
        .arg(server.url("/echo"))
        .args(["-d", "forced"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "forced");
    assert!(stderr(&o).contains("* HTTP/1.1"), "{}", stderr(&o));
    let o = run(h2wasm_bin().args(["get", "-k", "-v"]).arg(server.url("/")));
    assert!(stderr(&o).contains("* HTTP/2"), "{}", stderr(&o));
}

/// `get http://…` with no flag: h2c where the server speaks it (h2wasm,
/// nghttpd), HTTP/1.1 where it does not (Python's http.server, which
/// answers the preface with an error page; hyper's HTTP/1.1 server, with
/// `HTTP/1.1 400`), `-v` saying which and why; `--prior-knowledge`
/// against them is an error saying what the server sent and the flag to
/// use, not a frame error.
#[test]
fn get_on_http_urls_finds_the_protocol_the_server_speaks() {
    let dir = site();
    std::fs::write(dir.path().join("plain.txt"), "from python\n").unwrap();
    let port = free_port();
    let mut python = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
        .arg(dir.path())
        .arg(port.to_string())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 is installed");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "python did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let get = |args: &[&str], url: &str| run(h2wasm_bin().arg("get").args(args).arg(url));
    let python_url = format!("http://127.0.0.1:{port}/plain.txt");
    let o = get(&["-v"], &python_url);
    let said = stderr(&o);
    assert!(o.status.success(), "{said}");
    assert_eq!(stdout(&o), "from python\n");
    assert!(
        said.contains("* HTTP/1.1: the server does not speak cleartext HTTP/2 (it answered the HTTP/2 preface with \""),
        "{said}"
    );
    let o = get(&["--prior-knowledge"], &python_url);
    let said = stderr(&o);
    assert!(!o.status.success());
    // Python closes with our later frames unread: its reset may reach
    // us before its answer does (the lingering server below is the
    // deterministic case).
    assert!(
        said.contains("the server's answer is not HTTP/2 (\"") && said.contains("--http1.1")
            || said.contains("reset"),
        "{said}"
    );
    assert!(!said.contains("0x6"), "{said}");
    let _ = python.kill();
    let _ = python.wait();

    // A server of HTTP/1.1 only that answers the preface with a status
    // line, as nginx and hyper do.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http1_url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for tcp in listener.incoming().take(3) {
            let Ok(mut tcp) = tcp else { continue };
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(2)));
            // The whole head first, and after the answer everything the
            // client still sends, as servers linger: a close with input
            // unread would reset the connection and could destroy the
            // answer before the client reads it.
            let mut head = Vec::new();
            let mut chunk = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                match tcp.read(&mut chunk) {
                    Ok(n) if n > 0 => head.extend_from_slice(&chunk[..n]),
                    _ => break,
                }
            }
            let answer: &[u8] = match head.starts_with(b"PRI ") {
                true => {
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                }
                false => {
                    b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\nconnection: close\r\n\r\nfrom 1.1\n"
                }
            };
            let _ = tcp.write_all(answer);
            let _ = tcp.shutdown(std::net::Shutdown::Write);
            while matches!(tcp.read(&mut chunk), Ok(n) if n > 0) {}
        }
    });
    let o = get(&["-v"], &http1_url);
    let said = stderr(&o);
    assert!(o.status.success(), "{said}");
    assert_eq!(stdout(&o), "from 1.1\n");
    assert!(
        said.contains("(it answered the HTTP/2 preface with \"HTTP/1.1 400 Bad Request\")"),
        "{said}"
    );
    let o = get(&["--prior-knowledge"], &http1_url);
    let said = stderr(&o);
    assert!(!o.status.success());
    assert!(
        said.contains("the server's answer is not HTTP/2 (\"HTTP/1.1 400 Bad Request\")"),
        "{said}"
    );

    // h2wasm with HTTP/1.1 on and off, and nghttpd: all h2c.
    for flags in [&["--h2c"][..], &["--h2c", "--no-http1"][..]] {
        let server = ServeProcess::start(flags, false);
        let o = get(
            &["-v", "-d", "probe"],
            &format!("http://{}/echo", server.addr),
        );
        let said = stderr(&o);
        assert!(o.status.success(), "{flags:?}: {said}");
        assert_eq!(stdout(&o), "probe");
        assert!(
            said.contains("* h2c: the server answered the HTTP/2 preface with SETTINGS"),
            "{said}"
        );
        assert!(said.contains("* HTTP/2"), "{said}");
    }
    let port = free_port();
    let mut nghttpd = Command::new("nghttpd")
        .args(["-a", "127.0.0.1", "--no-tls", "-d"])
        .arg(dir.path())
        .arg(port.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("nghttpd is installed");
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nghttpd did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = get(&["-v"], &format!("http://127.0.0.1:{port}/plain.txt"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "from python\n");
    assert!(stderr(&o).contains("* HTTP/2"), "{}", stderr(&o));
    let _ = nghttpd.kill();
    let _ = nghttpd.wait();
}

/// A 204 with no body at all keeps the HTTP/1.1 connection usable.
#[test]
fn empty_responses_keep_the_connection() {
    let server = TestServer::start(
        false,
        app(|_req| async move { Response::builder().status(204).body(empty()).unwrap() }),
    );
    let url = server.url("/");
    assert_eq!(two_on_one_connection(&url, &url), "1.1 204 1\n1.1 204 0\n");
}

/// Two GETs in one curl --http1.1 run: for each, the version, the status
/// and how many connections it opened (0: it reused the kept-alive one).
fn two_on_one_connection(a: &str, b: &str) -> String {
    let o = curl(&[
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{response_code} %{num_connects}\n",
        a,
        b,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

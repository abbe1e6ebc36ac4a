//! The reverse proxy (`proxy` routes of `serve --config`), against
//! upstreams over HTTP/1.1 and h2c: fields forwarded and hop-by-hop ones
//! removed, bodies streamed both ways, trailers, pooled connections,
//! round robin with a passive health check, and 502/504.

mod common;

use common::*;
use h2wasm::service::ConnectionInfo;
use http::{Request, Response};
use http_body::Frame;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn temp_dir() -> tempfile::TempDir {
    scratch_dir("h2wasm-proxy-")
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// An upstream: `/headers` answers the request's fields, `/echo` echoes
/// the body, `/trailers` sends trailers, `/stall` begins a body and
/// stops; every request's client address
/// is kept (to count the proxy's connections); anything else answers
/// `name`.
fn upstream(name: &'static str, peers: Arc<Mutex<HashSet<String>>>) -> TestServer {
    TestServer::start(
        false,
        app(move |req: Request<h2wasm::service::Incoming>| {
            let peers = peers.clone();
            async move {
                if let Some(info) = req.extensions().get::<ConnectionInfo>() {
                    peers.lock().unwrap().insert(info.peer.to_string());
                }
                match req.uri().path() {
                    "/headers" => {
                        let mut text = format!("{} {}\n", req.method(), req.uri().path());
                        for (n, v) in req.headers() {
                            text.push_str(&format!("{n}: {}\n", v.to_str().unwrap_or("?")));
                        }
                        respond(200, &[], text)
                    }
                    "/echo" => Response::new(h2wasm::service::box_body(req.into_body())),
                    "/trailers" => {
                        let mut trailers = http::HeaderMap::new();
                        trailers.insert("x-trailer", "done".parse().unwrap());
                        let frames = vec![
                            Ok::<_, std::convert::Infallible>(Frame::data(bytes::Bytes::from(
                                "body",
                            ))),
                            Ok(Frame::trailers(trailers)),
                        ];
                        let body =
                            http_body_util::StreamBody::new(futures_util::stream::iter(frames));
                        let mut r = Response::new(h2wasm::service::box_body(body));
                        r.headers_mut()
                            .insert("trailer", "x-trailer".parse().unwrap());
                        r
                    }
                    // Begins its body and never goes on.
                    "/stall" => {
                        let begun =
                            futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
                                Frame::data(bytes::Bytes::from("begun")),
                            )]);
                        let frames =
                            futures_util::StreamExt::chain(begun, futures_util::stream::pending());
                        let body = http_body_util::StreamBody::new(frames);
                        Response::new(h2wasm::service::box_body(body))
                    }
                    _ => respond(200, &[], name),
                }
            }
        }),
    )
}

fn write_config(dir: &Path, text: &str) -> String {
    let file = dir.join("h2wasm.toml");
    std::fs::write(&file, text).unwrap();
    file.display().to_string()
}

use common::curl_status as curl;

/// Through the proxy to an HTTP/1.1 upstream and to an h2c one, from
/// HTTP/2 and HTTP/1.1 clients: the upstream sees the client named and
/// no hop-by-hop field; 4 MiB goes up and comes back whole; trailers
/// come back; the proxy's connections to the upstream are reused.
#[test]
fn proxies_fields_bodies_and_trailers_over_http1_and_h2c() {
    let peers = Arc::new(Mutex::new(HashSet::new()));
    let up = upstream("up", peers.clone());
    let dir = temp_dir();
    let port = free_port();
    let file = write_config(
        dir.path(),
        &format!(
            r#"
[[listen]]
address = "127.0.0.1:{port}"
tls = false

[[site]]
default = true

[[site.route]]
path = "/h1"
strip-prefix = true
proxy = {{ upstreams = ["http://{up}"] }}

[[site.route]]
path = "/h2"
strip-prefix = true
proxy = {{ upstreams = ["http://{up}"], h2c = true }}
"#,
            up = up.addr
        ),
    );
    let server = ServeProcess::spawn(&["--config".into(), file], false, &[], &[addr(port)]);
    let base = format!("http://127.0.0.1:{port}");
    let body = data_file(dir.path(), 4 << 20, 7);
    let want = sha256_file(&body);
    for route in ["h1", "h2"] {
        for client in ["--http1.1", "--http2-prior-knowledge"] {
            let (code, seen) = curl(&[
                client,
                "-H",
                "connection: x-secret",
                "-H",
                "x-secret: 1",
                "-H",
                "x-forwarded-for: 192.0.2.9",
                &format!("{base}/{route}/headers?q=1"),
            ]);
            assert_eq!(code, "200", "{route} {client}: {seen}");
            assert!(
                seen.starts_with("GET /headers\n"),
                "{route} {client}: {seen}"
            );
            assert!(
                seen.contains("x-forwarded-for: 192.0.2.9, 127.0.0.1\n"),
                "{seen}"
            );
            assert!(
                seen.contains(&format!(
                    "forwarded: for=127.0.0.1;host=\"127.0.0.1:{port}\";proto=http\n"
                )),
                "{seen}"
            );
            assert!(seen.contains("x-forwarded-proto: http\n"), "{seen}");
            // Via names the protocol the proxy received (RFC 9110 §7.6.3).
            let via = if client == "--http1.1" {
                "via: 1.1 h2wasm-"
            } else {
                "via: 2 h2wasm-"
            };
            assert!(seen.contains(via), "{route} {client}: {seen}");
            // Over HTTP/1.1 `Connection` makes x-secret hop-by-hop; HTTP/2
            // has no `Connection` (curl leaves it out), so there it is an
            // ordinary field and goes on.
            let hop_by_hop = client == "--http1.1";
            assert_eq!(
                seen.contains("x-secret"),
                !hop_by_hop,
                "{route} {client}: {seen}"
            );
            // Streaming both ways: 4 MiB up and back.
            let out = dir.path().join("echoed.bin");
            let o = run(Command::new("curl").args([
                "-sS",
                client,
                "--data-binary",
                &format!("@{}", body.display()),
                "-o",
                out.to_str().unwrap(),
                &format!("{base}/{route}/echo"),
            ]));
            assert!(o.status.success(), "{}", stderr(&o));
            assert_eq!(
                sha256_file(&out),
                want,
                "{route} {client}: the echo differs"
            );
        }
        // Trailers come back to an HTTP/2 client (asked for, as HTTP/1.1
        // needs them to be).
        let o = run(Command::new("nghttp").args([
            "-v",
            "-H",
            "te: trailers",
            &format!("{base}/{route}/trailers"),
        ]));
        let out = stdout(&o);
        assert!(out.contains("x-trailer: done"), "{route}: {out}");
    }
    // HTTP/1.1 connections to the upstream were kept and reused.
    peers.lock().unwrap().clear();
    for _ in 0..50 {
        assert_eq!(curl(&[&format!("{base}/h1/")]).0, "200");
    }
    let used = peers.lock().unwrap().len();
    assert!(
        used <= 2,
        "50 sequential requests took {used} upstream connections"
    );
    assert!(server.stop().status.success());
}

/// Round robin over two upstreams; one that refuses connections gets 502
/// and is then left out; one that never answers gets 504 after the
/// response timeout.
#[test]
fn upstream_failures_and_round_robin() {
    let peers = Arc::new(Mutex::new(HashSet::new()));
    let a = upstream("A", peers.clone());
    let b = upstream("B", peers.clone());
    let refused = free_port();
    // Accepts, reads, never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming().flatten().take(16) {
            held.push(conn);
        }
    });
    let dir = temp_dir();
    let port = free_port();
    let file = write_config(
        dir.path(),
        &format!(
            r#"
[[listen]]
address = "127.0.0.1:{port}"
tls = false

[[site]]
default = true

[[site.route]]
path = "/rr"
strip-prefix = true
proxy = {{ upstreams = ["http://{a}", "http://{b}"] }}

[[site.route]]
path = "/dead"
proxy = {{ upstreams = ["http://127.0.0.1:{refused}"] }}

[[site.route]]
path = "/half"
strip-prefix = true
proxy = {{ upstreams = ["http://127.0.0.1:{refused}", "http://{a}"], fail-timeout = 60 }}

[[site.route]]
path = "/loop"
proxy = {{ upstreams = ["http://127.0.0.1:{port}"] }}

[[site.route]]
path = "/silent"
proxy = {{ upstreams = ["http://{silent_addr}"], response-timeout = 1 }}
"#,
            a = a.addr,
            b = b.addr
        ),
    );
    let server = ServeProcess::spawn(&["--config".into(), file], false, &[], &[addr(port)]);
    let base = format!("http://127.0.0.1:{port}");
    let turns: Vec<String> = (0..6).map(|_| curl(&[&format!("{base}/rr/")]).1).collect();
    assert_eq!(turns, ["A", "B", "A", "B", "A", "B"]);
    let (code, text) = curl(&[&format!("{base}/dead")]);
    assert_eq!(code, "502", "{text}");
    assert!(text.contains("connection refused"), "{text}");
    // The refusing upstream fails at most once, then is left out.
    let codes: Vec<String> = (0..8)
        .map(|_| curl(&[&format!("{base}/half/")]).0)
        .collect();
    let failed = codes.iter().filter(|c| *c == "502").count();
    assert!(failed <= 1, "{codes:?}");
    assert!(codes[1..].iter().all(|c| c == "200"), "{codes:?}");
    // An upstream that leads back here: the request comes round once
    // and is answered 508 Loop Detected, not passed on for ever.
    let (code, text) = curl(&[&format!("{base}/loop")]);
    assert_eq!(code, "508", "{text}");
    let started = Instant::now();
    let (code, text) = curl(&["--http2-prior-knowledge", &format!("{base}/silent")]);
    assert_eq!(code, "504", "{text}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert!(server.stop().status.success());
}

/// A body that stops in the middle is given up after `read-timeout`,
/// and the server goes on serving: an upstream's (the client sees its
/// HTTP/2 stream reset, or its HTTP/1.1 connection closed, with what came
/// before), and a client's in the middle of an echo.
#[test]
fn a_body_that_stops_is_given_up_both_ways() {
    let up = upstream("up", Arc::default());
    let dir = temp_dir();
    let port = free_port();
    let file = write_config(
        dir.path(),
        &format!(
            r#"
[[listen]]
address = "127.0.0.1:{port}"
tls = false

[[site]]
default = true

[[site.route]]
path = "/h1"
strip-prefix = true
proxy = {{ upstreams = ["http://{up}"], read-timeout = 1 }}

[[site.route]]
path = "/h2"
strip-prefix = true
proxy = {{ upstreams = ["http://{up}"], h2c = true, read-timeout = 1 }}
"#,
            up = up.addr
        ),
    );
    let server = ServeProcess::spawn(&["--config".into(), file], false, &[], &[addr(port)]);
    let base = format!("http://127.0.0.1:{port}");
    for route in ["h1", "h2"] {
        for client in ["--http1.1", "--http2-prior-knowledge"] {
            let started = Instant::now();
            let o = run(Command::new("curl")
                .args(["-sS", "--max-time", "20", client])
                .arg(format!("{base}/{route}/stall")));
            let took = started.elapsed();
            // Not curl's own time-out (28): the server ended it.
            assert!(!o.status.success(), "{route} {client}: {}", stdout(&o));
            assert_ne!(
                o.status.code(),
                Some(28),
                "{route} {client}: {}",
                stderr(&o)
            );
            assert_eq!(stdout(&o), "begun", "{route} {client}");
            assert!(
                took >= Duration::from_millis(900) && took < Duration::from_secs(10),
                "{route} {client}: {took:?}"
            );
        }
        // A client that sends 10 of the 100 octets it announced, then
        // nothing, to an upstream that echoes as it reads: the exchange
        // is given up within the read time-out, and this connection is
        // closed without a whole answer.
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(addr(port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let started = Instant::now();
        tcp.write_all(
            format!(
                "POST /{route}/echo HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\
                 content-length: 100\r\n\r\n0123456789"
            )
            .as_bytes(),
        )
        .unwrap();
        let mut got = Vec::new();
        let ended = tcp.read_to_end(&mut got);
        let took = started.elapsed();
        assert!(
            ended.is_ok() && took < Duration::from_secs(10),
            "{route}: {ended:?} after {took:?}: {}",
            String::from_utf8_lossy(&got)
        );
        // What came back (if the head did) is not a whole 100-octet echo.
        let text = String::from_utf8_lossy(&got);
        assert!(!text.ends_with("0\r\n\r\n"), "{route}: {text}");
        // And the server goes on serving.
        let (code, text) = curl(&[&format!("{base}/{route}/plain")]);
        assert_eq!((code.as_str(), text.as_str()), ("200", "up"));
    }
    assert!(server.stop().status.success());
}

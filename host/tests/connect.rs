//! CONNECT tunnels (RFC 9113 §8.5): Node's client through our proxy, our
//! client through Node's proxy and through ours, to a TCP echo server on
//! loopback.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};

/// Echoes each connection's bytes until EOF, then closes its side.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = conn.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    addr
}

fn proxy(allowed: SocketAddr) -> TestServer {
    let app = h2wasm::apps::connect::ConnectProxy::new(vec![allowed.to_string()], builtin());
    TestServer::start(false, h2wasm::service::shared(app))
}

/// `h2wasm get --connect` with `input` on stdin; returns its output.
fn tunnel_through(proxy_url: &str, target: &str, input: &[u8]) -> std::process::Output {
    let mut child = h2wasm_bin()
        .args(["get", "--prior-knowledge", "--connect", target, proxy_url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

#[test]
fn node_client_tunnels_through_our_proxy() {
    let echo = echo_server();
    let server = proxy(echo);
    let script = r#"
        const http2 = require('node:http2');
        const [url, allowed, denied] = process.argv.slice(1);
        const s = http2.connect(url);
        const result = {};
        let pending = 2;
        const done = () => { if (--pending === 0) { console.log(JSON.stringify(result)); s.close(); } };
        const t = s.request({ ':method': 'CONNECT', ':authority': allowed });
        const chunks = [];
        t.on('response', (h) => { result.status = h[':status']; });
        t.on('data', (c) => chunks.push(c));
        t.on('end', () => { result.echo = Buffer.concat(chunks).toString(); done(); });
        t.write('hello through ');
        t.end('the tunnel');
        const d = s.request({ ':method': 'CONNECT', ':authority': denied });
        d.on('response', (h) => { result.denied = h[':status']; });
        d.resume();
        d.on('end', done);
        d.end();
        s.on('error', (e) => { console.error(e); process.exit(1); });
    "#;
    let o = run(Command::new("node")
        .args(["-e", script])
        .arg(format!("http://127.0.0.1:{}", server.addr.port()))
        .arg(echo.to_string())
        .arg("127.0.0.1:9"));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for part in [
        r#""status":200"#,
        r#""denied":403"#,
        r#""echo":"hello through the tunnel""#,
    ] {
        assert!(out.contains(part), "missing {part} in {out}");
    }
}

#[test]
fn our_client_tunnels_through_node_and_through_us() {
    let echo = echo_server();
    let node = NodeServer::start(&[]);
    let input = b"across node's proxy\n".repeat(1000);
    let o = tunnel_through(
        &format!("http://127.0.0.1:{}", node.port),
        &echo.to_string(),
        &input,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, input);

    let server = proxy(echo);
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let o = tunnel_through(&server.url("/"), &echo.to_string(), &big);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout.len(), big.len());
    assert!(o.stdout == big, "the echoed megabytes match");

    let o = tunnel_through(&server.url("/"), "127.0.0.1:9", b"x");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("refused the tunnel to 127.0.0.1:9: status 403"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn connect_flags_are_checked() {
    for (args, expect) in [
        (
            &["serve", "--allow-connect", "nohost"][..],
            "expected HOST:PORT",
        ),
        (
            &["serve", "--allow-connect", "a:1,b:0"][..],
            "expected HOST:PORT",
        ),
        (
            &[
                "get",
                "--connect",
                "a:1",
                "http://127.0.0.1:1/",
                "http://127.0.0.1:1/x",
            ][..],
            "exactly one URL",
        ),
    ] {
        let o = run(h2wasm_bin().args(args));
        assert!(!o.status.success());
        assert!(stderr(&o).contains(expect), "{args:?}: {}", stderr(&o));
    }
}

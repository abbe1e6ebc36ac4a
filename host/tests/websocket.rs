//! WebSockets end to end: the built-in site's `/ws` echo opened by
//! headless Chromium over HTTP/2 (RFC 8441 extended CONNECT, TLS) and over
//! HTTP/1.1 (`Upgrade: websocket`), by Python's `websockets` client, and
//! by Node's http2 client framing by hand; SETTINGS_ENABLE_CONNECT_PROTOCOL
//! sent only where a WebSocket is served.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The page Chromium runs: 100 messages, text and binary by turns, each
/// compared with its echo; another request on the same connection half
/// way through; a close with 4001; the outcome reported as a request the
/// access log records.
const PAGE: &str = r#"<!doctype html><html><body><script>
const ws = new WebSocket(`wss://${location.host}/ws`);
ws.binaryType = 'arraybuffer';
const message = (n) => n % 2 ? new Uint8Array(n * 100).fill(n).buffer : `text ${n}`;
const same = (a, b) => typeof a === 'string'
  ? a === b
  : b instanceof ArrayBuffer && a.byteLength === b.byteLength
    && new Uint8Array(a).every((x, k) => x === new Uint8Array(b)[k]);
let sent = 0, echoed = 0, other = 'none';
ws.onopen = () => ws.send(message(0));
ws.onmessage = async (e) => {
  if (same(message(sent), e.data)) echoed++;
  sent++;
  if (sent === 50) other = (await (await fetch('/other.txt')).text()).trim();
  if (sent < 100) ws.send(message(sent)); else ws.close(4001, 'done');
};
const report = (what) => fetch(`/report?${what}`);
ws.onclose = (e) => report(`echoed=${echoed}&code=${e.code}&reason=${e.reason}&other=${other}`);
ws.onerror = () => report('error');
</script></body></html>
"#;

/// A TLS server of one site: the page and `other.txt` from a directory,
/// the built-in site's echo at `/ws`; its access log in `log`.
fn page_server(dir: &Path, log: &Path) -> ServeProcess {
    let (cert, key) = certs();
    std::fs::create_dir_all(dir.join("site")).unwrap();
    std::fs::write(dir.join("site/index.html"), PAGE).unwrap();
    std::fs::write(dir.join("site/other.txt"), "other\n").unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.join("h2wasm.toml");
    std::fs::write(
        &config,
        format!(
            r#"[[listen]]
address = "{addr}"
tls = true

[[site]]
names = ["localhost"]
default = true
cert = "{}"
key = "{}"
[[site.route]]
path = "/"
files = {{ root = "{}" }}
[[site.route]]
path = "/ws"
echo = true
"#,
            cert.display(),
            key.display(),
            dir.join("site").display()
        ),
    )
    .unwrap();
    let args = [
        "--config".to_string(),
        config.display().to_string(),
        "--access-log-file".to_string(),
        log.display().to_string(),
    ];
    ServeProcess::spawn(&args, false, &[], &[addr])
}

/// Runs Chromium on the page until it reports (20 s at most); the access
/// log then.
fn chromium_runs_the_page(http2: bool) -> String {
    let dir = scratch_dir("websocket-page");
    let log = dir.path().join("access.log");
    let server = page_server(dir.path(), &log);
    let profile = tempfile::tempdir().unwrap();
    let mut browser = Command::new(chromium());
    browser
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .arg(format!(
            "--ignore-certificate-errors-spki-list={}",
            spki_hash(&certs().0)
        ))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if !http2 {
        browser.arg("--disable-http2");
    }
    let mut browser = browser
        .arg(format!("https://localhost:{}/", server.addr.port()))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = String::new();
    while Instant::now() < deadline {
        seen = std::fs::read_to_string(&log).unwrap_or_default();
        if seen.contains("/report?") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = browser.kill();
    let _ = browser.wait();
    drop(server);
    seen
}

/// Chromium opens the WebSocket over HTTP/2 on the page's own connection
/// (an extended CONNECT, answered 200), gets all 100 messages back, loads
/// another resource on that connection while it is open, and sees its
/// close code echoed.
#[test]
fn chromium_uses_a_websocket_over_http2() {
    let log = chromium_runs_the_page(true);
    assert!(
        log.contains("/report?echoed=100&code=4001&reason=done&other=other HTTP/2.0"),
        "{log}"
    );
    assert!(log.contains("\"GET /other.txt HTTP/2.0\" 200"), "{log}");
    // The WebSocket's stream is logged once it closes; the page's own
    // requests show that the connection was one HTTP/2 connection.
    assert!(!log.contains("HTTP/1.1"), "{log}");
}

/// The same page with HTTP/2 turned off: the handshake is an HTTP/1.1
/// upgrade (101) and the echo the same.
#[test]
fn chromium_uses_a_websocket_over_http1() {
    let log = chromium_runs_the_page(false);
    assert!(log.contains("\"GET /ws HTTP/1.1\" 101"), "{log}");
    assert!(
        log.contains("/report?echoed=100&code=4001&reason=done&other=other HTTP/1.1"),
        "{log}"
    );
}

/// Python's `websockets` client (HTTP/1.1): text and binary messages
/// echoed, a subprotocol chosen from none (none is sent back), its close
/// code and reason echoed, and a message over the 1 MiB bound closes the
/// WebSocket with 1009 (message too big).
#[test]
fn python_websockets_client_gets_its_messages_back() {
    let server = ServeProcess::start(&["--h2c", "--access-log", "off"], false);
    let out = python_client(&format!("ws://{}/ws", server.addr), &[]);
    assert!(out.contains("closed 4001 done"), "{out}");
    let script = r#"
import asyncio, sys, websockets
async def main(url):
    async with websockets.connect(url, max_size=2**21) as ws:
        try:
            await ws.send(b"x" * (2**20 + 1))
            await ws.recv()
        except websockets.ConnectionClosed as e:
            print("too big", e.rcvd.code)
asyncio.run(main(sys.argv[1]))
"#;
    let o = run(Command::new("timeout")
        .args(["30", "python3", "-c", script])
        .arg(format!("ws://{}/ws", server.addr)));
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.contains("too big 1009"), "{out}");
}

/// Node's http2 client: prints the server's ENABLE_CONNECT_PROTOCOL and,
/// where it is on, opens a WebSocket to argv's path with an extended
/// CONNECT, sends a masked text frame and then a close frame with 4001,
/// printing what comes back.
const NODE_CLIENT: &str = r#"
const http2 = require('http2');
const [url, path] = process.argv.slice(1);
const mask = (op, payload) => {
  const key = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload).map((b, i) => b ^ key[i % 4]);
  return Buffer.concat([Buffer.from([0x80 | op, 0x80 | payload.length]), key, masked]);
};
const s = http2.connect(url);
s.once('remoteSettings', (st) => {
  console.log('enableConnectProtocol', st.enableConnectProtocol);
  if (!st.enableConnectProtocol) return s.close();
  const req = s.request({':method': 'CONNECT', ':protocol': 'websocket', ':path': path,
    ':scheme': 'http', ':authority': new URL(url).host, 'sec-websocket-version': '13'});
  let got = Buffer.alloc(0);
  req.on('response', (h) => {
    console.log('status', h[':status'], 'via', h['via'] || '-');
    req.write(mask(0x1, Buffer.from('hello')));
  });
  req.on('data', (d) => {
    got = Buffer.concat([got, d]);
    if (got.length === 7) {
      console.log('echo', got[0].toString(16), got[1], got.subarray(2).toString());
      req.write(mask(0x8, Buffer.from([0x0f, 0xa1])));
    }
  });
  req.on('end', () => {
    const close = got.subarray(7);
    console.log('close', close[0].toString(16), close.readUInt16BE(2));
    req.end();
  });
  req.on('close', () => s.close());
});
"#;

fn node_client(url: &str, path: &str) -> String {
    let o = run(Command::new("timeout").args(["20", "node", "-e", NODE_CLIENT, url, path]));
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    out
}

/// Python's `websockets` client: 100 messages (text and binary by turns)
/// and their echoes, a close with 4001 and its echo, then each response
/// field `fields` names.
const PYTHON_CLIENT: &str = r#"
import asyncio, sys, websockets
async def main(url, fields):
    async with websockets.connect(url) as ws:
        for i in range(100):
            message = f"text {i}" if i % 2 == 0 else bytes([i]) * (i * 100)
            await ws.send(message)
            assert await ws.recv() == message, i
        await ws.close(code=4001, reason="done")
        print("closed", ws.close_code, ws.close_reason)
        for f in fields:
            print(f, ws.response.headers.get(f, "-"))
asyncio.run(main(sys.argv[1], sys.argv[2:]))
"#;

fn python_client(url: &str, fields: &[&str]) -> String {
    let o = run(Command::new("timeout")
        .args(["30", "python3", "-c", PYTHON_CLIENT, url])
        .args(fields));
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    out
}

/// Node's http2 client over h2c: the server's SETTINGS carry
/// ENABLE_CONNECT_PROTOCOL where the built-in site (its `/ws`) is served
/// and not where only files are; an extended CONNECT gets 200, a masked
/// text frame comes back unmasked, and a close frame is answered with
/// the same code and the end of the stream.
#[test]
fn node_opens_a_websocket_with_extended_connect() {
    let builtin = ServeProcess::start(&["--h2c", "--access-log", "off"], false);
    let dir = scratch_dir("websocket-files");
    let files = ServeProcess::start(
        &["--h2c", "--access-log", "off", dir.path().to_str().unwrap()],
        false,
    );
    let out = node_client(&format!("http://{}", files.addr), "/ws");
    assert!(out.contains("enableConnectProtocol false"), "{out}");
    let out = node_client(&format!("http://{}", builtin.addr), "/ws");
    for line in [
        "enableConnectProtocol true",
        "status 200",
        "echo 81 5 hello",
        "close 88 4001",
    ] {
        assert!(out.contains(line), "{line} in {out}");
    }
}

/// A `proxy` route carries WebSockets to its upstream (another h2wasm's
/// built-in site, over HTTP/1.1): Python's client through it over
/// HTTP/1.1 and Node's over HTTP/2 (an extended CONNECT made an upgrade
/// to the upstream) get their messages and close codes back, with the
/// proxy in `Via`; the upstream's refusal (404 for a path that is not a
/// WebSocket) reaches the client as it is.
#[test]
fn websockets_go_through_the_reverse_proxy() {
    let upstream = ServeProcess::start(&["--h2c", "--access-log", "off"], false);
    let dir = scratch_dir("websocket-proxy");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.path().join("h2wasm.toml");
    std::fs::write(
        &config,
        format!(
            r#"[[listen]]
address = "{addr}"
tls = false

[[site]]
default = true
[[site.route]]
path = "/up"
strip-prefix = true
proxy = {{ upstreams = ["http://{}"] }}
"#,
            upstream.addr
        ),
    )
    .unwrap();
    let args = [
        "--config".to_string(),
        config.display().to_string(),
        "--access-log".to_string(),
        "off".to_string(),
    ];
    let proxy = ServeProcess::spawn(&args, false, &[], &[addr]);
    let out = python_client(&format!("ws://{addr}/up/ws"), &["via"]);
    assert!(out.contains("closed 4001 done"), "{out}");
    assert!(out.contains("via 1.1 h2wasm-"), "{out}");
    let out = node_client(&format!("http://{addr}"), "/up/ws");
    for line in [
        "enableConnectProtocol true",
        "status 200 via 1.1 h2wasm-",
        "echo 81 5 hello",
        "close 88 4001",
    ] {
        assert!(out.contains(line), "{line} in {out}");
    }
    let refused = run(Command::new("timeout").args([
        "20",
        "python3",
        "-c",
        "import asyncio, sys, websockets\n\
         async def main():\n\
         \x20   try:\n\
         \x20       async with websockets.connect(sys.argv[1]): pass\n\
         \x20   except websockets.InvalidStatus as e:\n\
         \x20       print('status', e.response.status_code)\n\
         asyncio.run(main())",
        &format!("ws://{addr}/up/nothing"),
    ]));
    assert!(
        stdout(&refused).contains("status 404"),
        "{}",
        stdout(&refused)
    );
    drop(proxy);
}

/// Over HTTP/2 a WebSocket's buffers count toward the session's
/// maxSessionMemory while it is open (the built-in echo's: 64 KiB of
/// pipes, 4 KiB to read into, a 1 MiB message): with 2 MiB, Node's
/// client gets one WebSocket, the second gets 503 with `Retry-After`,
/// and once the first is closed another is accepted on the same
/// connection.
#[test]
fn websockets_over_http2_count_toward_the_session_memory() {
    let service = h2wasm::service::shared(h2wasm::apps::builtin::Builtin);
    let server = TestServer::start_configured(runtime(), false, service, |o| {
        o.max_session_memory = 2;
        o.settings.enable_connect_protocol = Some(true);
    });
    let script = r#"
const http2 = require('http2');
const url = process.argv[1];
const s = http2.connect(url);
s.on('error', (e) => { console.error(e); process.exit(1); });
const open = () => new Promise((ok) => {
  const req = s.request({':method': 'CONNECT', ':protocol': 'websocket', ':path': '/ws',
    ':scheme': 'http', ':authority': new URL(url).host, 'sec-websocket-version': '13'});
  req.on('response', (h) => ok({ req, status: h[':status'], retry: h['retry-after'] || '-' }));
  req.on('error', () => {});
});
// A masked close frame (1000); the echo answers it and ends the stream.
const close = (req) => new Promise((ok) => {
  req.on('close', ok);
  req.resume();
  req.end(Buffer.from([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2]));
});
(async () => {
  // Extended CONNECT waits for the server's ENABLE_CONNECT_PROTOCOL.
  await new Promise((ok) => s.once('remoteSettings', ok));
  const a = await open();
  console.error('a', a.status);
  const b = await open();
  console.error('b', b.status);
  b.req.resume();
  await close(a.req);
  console.error('a closed');
  const c = await open();
  console.log(JSON.stringify({ a: a.status, b: b.status, retry: b.retry, c: c.status }));
  s.destroy();
})();
setTimeout(() => { console.error('no answer in 20 s'); process.exit(1); }, 20000).unref();
"#;
    let o = run(Command::new("node")
        .args(["-e", script])
        .arg(server.url("")));
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        r#"{"a":200,"b":503,"retry":"1","c":200}"#
    );
}

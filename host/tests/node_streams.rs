//! Stream features of Node's server API with Node's clients as peers:
//! trailers after a file response (`respondWithFile` with
//! `waitForTrailers`), and pushed streams placed in the priority tree
//! (`pushStream`'s `parent` and `exclusive`).

mod common;

use common::*;
use h2wasm::service::{Http2Stream, Priority, ServeFile, full};
use sha2::Digest;
use std::process::Command;

/// 300 KiB: more than a stream's first window, so the trailers wait for
/// the client's WINDOW_UPDATEs.
fn big_file(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let data: Vec<u8> = (0..300 * 1024u32).map(|i| (i % 251) as u8).collect();
    let path = dir.join("data.bin");
    std::fs::write(&path, &data).unwrap();
    (path, hex(&sha2::Sha256::digest(&data)))
}

fn hex(octets: &[u8]) -> String {
    octets.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_file_response_sends_its_trailers_after_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (path, digest) = big_file(dir.path());
    let service = app(move |_req| {
        let path = path.clone();
        async move {
            let file = std::fs::File::open(&path).unwrap();
            // Computed when the response asks for them, from the file.
            let trailers = async move {
                let data = tokio::fs::read(&path).await.unwrap();
                let mut t = http::HeaderMap::new();
                let sum = hex(&sha2::Sha256::digest(&data));
                t.insert("x-sha256", sum.parse().unwrap());
                t
            };
            let mut headers = http::HeaderMap::new();
            headers.insert("trailer", "x-sha256".parse().unwrap());
            ServeFile::open(file)
                .trailers(trailers)
                .response(http::StatusCode::OK, headers)
        }
    });
    let server = TestServer::start(false, service);
    let script = r#"
const http2 = require('node:http2');
const http = require('node:http');
const crypto = require('node:crypto');
const url = process.argv[1];
const report = {};
const h2 = () => new Promise((ok, ko) => {
  const s = http2.connect(url);
  s.on('error', ko);
  const req = s.request({ ':path': '/data.bin' });
  const hash = crypto.createHash('sha256');
  let length = 0;
  req.on('response', (h) => { report.h2Length = h['content-length']; });
  req.on('data', (c) => { hash.update(c); length += c.length; });
  req.on('trailers', (t) => { report.h2Trailer = t['x-sha256']; });
  req.on('end', () => {
    report.h2Body = hash.digest('hex');
    report.h2Octets = length;
    const head = s.request({ ':path': '/data.bin', ':method': 'HEAD' });
    head.on('response', (h) => { report.headLength = h['content-length']; });
    head.on('trailers', () => { report.headTrailers = true; });
    head.on('end', () => { s.close(); ok(); });
    head.resume();
  });
  req.on('error', ko);
});
const h1 = () => new Promise((ok, ko) => {
  http.get(url + '/data.bin', { headers: { te: 'trailers' } }, (res) => {
    const hash = crypto.createHash('sha256');
    res.on('data', (c) => hash.update(c));
    res.on('end', () => {
      report.h1Chunked = res.headers['transfer-encoding'];
      report.h1Body = hash.digest('hex');
      report.h1Trailer = res.trailers['x-sha256'];
      ok();
    });
  }).on('error', ko);
});
h2().then(h1).then(() => console.log(JSON.stringify(report)))
  .catch((e) => { console.error(e); process.exit(1); });
"#;
    let o = run(Command::new("node")
        .args(["-e", script])
        .arg(server.url("")));
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let size = (300 * 1024).to_string();
    assert_eq!(report["h2Length"], size.as_str(), "{report}");
    assert_eq!(report["h2Octets"], 300 * 1024, "{report}");
    assert_eq!(report["h2Body"], digest.as_str(), "{report}");
    assert_eq!(report["h2Trailer"], digest.as_str(), "{report}");
    // HEAD: the length, no content and so no trailers.
    assert_eq!(report["headLength"], size.as_str(), "{report}");
    assert!(report.get("headTrailers").is_none(), "{report}");
    // HTTP/1.1: chunked, so that the trailers can follow.
    assert_eq!(report["h1Chunked"], "chunked", "{report}");
    assert_eq!(report["h1Body"], digest.as_str(), "{report}");
    assert_eq!(report["h1Trailer"], digest.as_str(), "{report}");
}

/// `/placed` pushes `/a` and then `/b` as a dependent of `/a` (Node's
/// `pushStream({ parent })`); `/plain` pushes the same two side by side.
/// Both are answered, `/a` first, while the client's connection window
/// (64 KiB, Node's default) holds them back: as the window opens, a
/// dependent stream goes only when its parent cannot (RFC 7540 §5.3.1),
/// so `/b`'s first octet follows `/a`'s last; side by side they share.
#[test]
fn a_pushed_stream_placed_under_another_waits_for_it() {
    let service = app(|req| async move {
        let stream = req.extensions().get::<Http2Stream>().unwrap().clone();
        let placed = req.uri().path() == "/placed";
        let promise = |path: &str| http::Request::get(path).body(()).unwrap();
        let a = stream.push(promise("/a")).await.expect("push /a");
        let mut b_request = promise("/b");
        if placed {
            b_request.extensions_mut().insert(Priority {
                parent: a.stream_id(),
                exclusive: false,
                weight: 16,
            });
        }
        let b = stream.push(b_request).await.expect("push /b");
        let body = vec![b'x'; 256 * 1024];
        a.respond(http::Response::new(full(body.clone()))).await;
        b.respond(http::Response::new(full(body))).await;
        respond(200, &[], "page")
    });
    let server = TestServer::start(false, service);
    let script = r#"
const http2 = require('node:http2');
const order = (path) => new Promise((ok, ko) => {
  // Streams may take 1 MiB each; the connection keeps its 64 KiB window.
  const s = http2.connect(process.argv[1], { settings: { initialWindowSize: 1 << 20 } });
  s.on('error', ko);
  const seen = [];
  let ended = 0;
  s.on('stream', (pushed, headers) => {
    const name = headers[':path'];
    pushed.on('data', (c) => seen.push([name, c.length]));
    pushed.on('end', () => { ended += 1; if (ended === 2) { s.close(); ok(seen); } });
  });
  const req = s.request({ ':path': path });
  req.resume();
  req.on('error', ko);
});
setTimeout(() => { console.error('no end in 20 s'); process.exit(1); }, 20000).unref();
(async () => {
  const report = { placed: await order('/placed'), plain: await order('/plain') };
  console.log(JSON.stringify(report));
})().catch((e) => { console.error(e); process.exit(1); });
"#;
    let o = run(Command::new("node")
        .args(["-e", script])
        .arg(server.url("")));
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    // Where /b's first chunk and /a's last chunk came, and the octets.
    let positions = |key: &str| {
        let seen = report[key].as_array().unwrap();
        let name = |i: usize| seen[i][0].as_str().unwrap().to_string();
        let first_b = (0..seen.len()).find(|&i| name(i) == "/b").unwrap();
        let last_a = (0..seen.len()).rev().find(|&i| name(i) == "/a").unwrap();
        let octets: u64 = seen.iter().map(|c| c[1].as_u64().unwrap()).sum();
        (first_b, last_a, octets)
    };
    let (first_b, last_a, octets) = positions("placed");
    assert_eq!(octets, 512 * 1024, "{report}");
    assert!(first_b > last_a, "/b began before /a ended: {report}");
    let (first_b, last_a, octets) = positions("plain");
    assert_eq!(octets, 512 * 1024, "{report}");
    assert!(first_b < last_a, "side by side, /b waited for /a: {report}");
}

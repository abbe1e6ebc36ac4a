//! RFC 9218 priorities end to end: a service reads a request's urgency
//! and changes its response's with the `priority` field (Node's client),
//! and headless Chromium's page load gets its render-blocking stylesheet
//! before the images it asked for first.

mod common;

use common::*;
use h2wasm::service::{Http2Stream, Incoming};
use http::Request;
use std::process::Command;
use std::time::{Duration, Instant};

/// `/urgency` answers the stream's urgency and incrementalness as the
/// engine holds them; `/big/slow` answers 2 MiB with `priority: u=6` (the
/// server's word over the client's); `/big/*` 4 MiB.
fn service_server() -> TestServer {
    TestServer::start(
        false,
        app(|req: Request<Incoming>| async move {
            let path = req.uri().path().to_string();
            if path == "/urgency" {
                let state = match req.extensions().get::<Http2Stream>() {
                    Some(s) => s.state().await,
                    None => None,
                };
                let text = state.map_or("-".into(), |s| format!("{} {}", s.urgency, s.incremental));
                return respond(200, &[], text);
            }
            if path == "/big/slow" {
                return respond(200, &[("priority", "u=6")], vec![b'x'; 2 << 20]);
            }
            respond(200, &[], vec![b'x'; 4 << 20])
        }),
    )
}

/// Node's client asks for 2 MiB as most urgent (`u=1`), then 4 MiB
/// (`u=2`); the service makes the first `u=6`, so the second ends first
/// (taking turns, or the client's word alone, would end the smaller,
/// earlier one first). The service reads `u=1, i` from a request's field.
#[test]
fn a_service_reads_and_changes_priorities_node_sees_the_order() {
    let server = service_server();
    let script = r#"
const http2 = require('http2');
const s = http2.connect(process.argv[1]);
const get = (path, priority) => new Promise((resolve) => {
  const req = s.request({':path': path, priority});
  let body = '';
  req.setEncoding('latin1');
  req.on('data', (d) => body += d);
  req.on('end', () => resolve([path, body.length < 100 ? body : body.length]));
});
(async () => {
  console.log('urgency', (await get('/urgency', 'u=1, i'))[1]);
  const ended = [];
  await Promise.all([get('/big/slow', 'u=1'), get('/big/fast', 'u=2')]
    .map((p) => p.then(([path]) => ended.push(path))));
  console.log('ended', ended.join(' '));
  s.close();
})();
"#;
    let o = run(Command::new("timeout")
        .args(["20", "node", "-e", script])
        .arg(format!("http://{}", server.addr)));
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.contains("urgency 1 true"), "{out}");
    assert!(out.contains("ended /big/fast /big/slow"), "{out}");
}

/// The page: eight 4 MiB images, and once the parser is done (the images
/// asked for), a 5 MiB render-blocking stylesheet (Chromium asks for it
/// as most urgent, `u=0`, the images as incremental and less urgent).
const PAGE: &str = r#"<!doctype html><html><head><meta charset=utf-8>
<script>
addEventListener('DOMContentLoaded', () => {
  const l = document.createElement('link');
  l.rel = 'stylesheet';
  l.href = '/style.css';
  l.setAttribute('blocking', 'render');
  document.head.appendChild(l);
});
</script></head><body>
<img src=/i1.png><img src=/i2.png><img src=/i3.png><img src=/i4.png>
<img src=/i5.png><img src=/i6.png><img src=/i7.png><img src=/i8.png>
<p>page</p>
</body></html>
"#;

/// Headless Chromium over TLS, told SETTINGS_NO_RFC7540_PRIORITIES (so
/// it signals by RFC 9218 alone): the stylesheet, asked for after the
/// images or with them, is whole before every image still on its way
/// when it was asked for (the server's access log: a line as each
/// response completes, with when it was asked for). This is the page
/// load as a browser sees it; on loopback Chromium's own timing and
/// flow control favour the stylesheet too, so the engine's order is
/// shown exactly by `guest/tests/urgency.rs` and by Node's test above.
#[test]
fn chromium_gets_the_stylesheet_before_the_images_asked_for_first() {
    let dir = scratch_dir("priorities-page");
    let site = dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), PAGE).unwrap();
    // Real images, 4 MiB each (1024 x 1024 RGBA, noise, stored without
    // compression): Chromium stops loading an image it cannot decode.
    let png = r#"
import os, struct, sys, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
side = 1024
rows = b"".join(b"\0" + os.urandom(side * 4) for _ in range(side))
ihdr = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
image = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 0)) + chunk(b"IEND", b"")
for path in sys.argv[1:]:
    open(path, "wb").write(image)
"#;
    let images: Vec<String> = (1..=8)
        .map(|i| site.join(format!("i{i}.png")).display().to_string())
        .collect();
    let made = run(Command::new("python3").args(["-c", png]).args(&images));
    assert!(made.status.success(), "{}", stderr(&made));
    // Smaller than Chromium's 6 MiB stream window, larger than an image.
    let css = format!("/* {} */\np {{ color: green }}\n", "x".repeat(5 << 20));
    std::fs::write(site.join("style.css"), css).unwrap();
    let log = dir.path().join("access.log");
    let (cert, key) = certs();
    let server = ServeProcess::start(
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--compress",
            "off",
            // Chromium then signals by RFC 9218 alone (its RFC 7540 tree
            // would order these responses the same way by itself).
            "--no-rfc7540-priorities",
            "--access-log",
            "json",
            "--access-log-file",
            log.to_str().unwrap(),
            site.to_str().unwrap(),
        ],
        false,
    );
    let profile = tempfile::tempdir().unwrap();
    let mut browser = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .arg(format!(
            "--ignore-certificate-errors-spki-list={}",
            spki_hash(&cert)
        ))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("https://localhost:{}/", server.addr.port()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Until the stylesheet and all eight images are in the log.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    while Instant::now() < deadline
        && !(seen.contains("/style.css") && seen.matches(".png").count() >= 8)
    {
        std::thread::sleep(Duration::from_millis(100));
        seen = std::fs::read_to_string(&log).unwrap_or_default();
    }
    let _ = browser.kill();
    let _ = browser.wait();
    assert!(
        seen.lines()
            .filter(|l| l.contains(".png") || l.contains("/style.css"))
            .all(|l| l.contains("\"protocol\":\"HTTP/2.0\"")),
        "all over HTTP/2: {seen}"
    );
    // Each response, in the order they were whole (the log's order):
    // when it was asked for and when it was whole (ms).
    let spans: Vec<(String, f64, f64, bool)> = seen
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            let target = v["target"].as_str()?.to_string();
            // "2026-12-06T08:51:23.168Z": the time of day in ms.
            let clock = v["time"].as_str()?.split('T').nth(1)?.trim_end_matches('Z');
            let mut parts = clock.split(':').map(|p| p.parse::<f64>().unwrap_or(0.0));
            let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
            let start = ((h * 60.0 + m) * 60.0 + sec) * 1000.0;
            let reset = !v["reset"].is_null();
            Some((target, start, start + v["duration_ms"].as_f64()?, reset))
        })
        .collect();
    let css = spans
        .iter()
        .position(|(t, ..)| t == "/style.css")
        .unwrap_or_else(|| panic!("no stylesheet in {seen}"));
    let css_start = spans[css].1;
    // Images asked for before the stylesheet or with it (within 3 ms: the
    // browser asks for the first images alone, the rest in a batch close to
    // the stylesheet, either side of it) and not whole within 3 ms of it
    // (what was in the socket's buffers by then goes first whatever the
    // order). An image the browser reset was not whole at all.
    let contended: Vec<usize> = (0..spans.len())
        .filter(|&i| {
            let (target, start, end, reset) = &spans[i];
            target.ends_with(".png")
                && !reset
                && *start <= css_start + 3.0
                && *end > css_start + 3.0
        })
        .collect();
    assert!(
        contended.len() >= 2,
        "images in flight with the stylesheet: {seen}"
    );
    for i in contended {
        assert!(
            css < i,
            "{} was whole before the stylesheet: {seen}",
            spans[i].0
        );
    }
}

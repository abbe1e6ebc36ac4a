//! Every HTTP/2 response carries a `Date` (RFC 9110 §6.6.1), whatever
//! path it takes: a small file (headers prepared once per connection),
//! a large file, an error, a streamed body; the date moves on with the
//! clock on a long-lived connection; a service's own `Date` is kept.

mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, SystemTime};

fn date_of(headers: &str) -> SystemTime {
    let line = headers
        .lines()
        .find_map(|l| l.strip_prefix("date: "))
        .unwrap_or_else(|| panic!("no date in {headers}"));
    httpdate::parse_http_date(line.trim()).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

fn near_now(t: SystemTime) {
    let now = SystemTime::now();
    let off = now.duration_since(t).unwrap_or_else(|e| e.duration());
    assert!(off < Duration::from_secs(5), "{t:?} is not now ({now:?})");
}

#[test]
fn every_http2_response_has_a_date() {
    let dir = tempfile::Builder::new()
        .prefix("h2wasm-date-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    std::fs::write(dir.path().join("small.html"), "<p>small</p>\n").unwrap();
    data_file(dir.path(), 2 << 20, 3);
    let big = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name() != "small.html")
        .unwrap()
        .file_name()
        .into_string()
        .unwrap();
    let server = ServeProcess::start(&["--h2c", dir.path().to_str().unwrap()], false);
    let base = format!("http://127.0.0.1:{}", server.addr.port());
    for path in ["/small.html", &format!("/{big}"), "/missing"] {
        let o = run(Command::new("curl").args([
            "-sS",
            "--http2-prior-knowledge",
            "-D",
            "-",
            "-o",
            "/dev/null",
            &format!("{base}{path}"),
        ]));
        near_now(date_of(&stdout(&o)));
    }
    drop(server);

    // The built-in site's /echo streams its body back.
    let server = ServeProcess::start(&["--h2c"], false);
    let o = run(Command::new("curl").args([
        "-sS",
        "--http2-prior-knowledge",
        "-D",
        "-",
        "-o",
        "/dev/null",
        "-d",
        "x",
        &format!("http://127.0.0.1:{}/echo", server.addr.port()),
    ]));
    near_now(date_of(&stdout(&o)));
    drop(server);

    // One connection, a second apart: each response has its own second.
    let server = ServeProcess::start(&["--h2c", dir.path().to_str().unwrap()], false);
    let script = r#"
const http2 = require('http2');
const session = http2.connect(`http://127.0.0.1:${process.argv[1]}`);
const get = () => new Promise((resolve, reject) => {
  const req = session.request({ ':path': '/small.html' });
  req.on('response', (h) => resolve(h['date']));
  req.on('error', reject);
  req.resume();
});
(async () => {
  const first = await get();
  await new Promise((r) => setTimeout(r, 2100));
  const second = await get();
  console.log(first); console.log(second);
  session.close();
})().catch((e) => { console.error(e); process.exit(1); });
"#;
    let o = run(Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(server.addr.port().to_string()));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let dates: Vec<SystemTime> = out
        .lines()
        .map(|l| httpdate::parse_http_date(l).unwrap())
        .collect();
    assert_eq!(dates.len(), 2, "{out}");
    let apart = dates[1].duration_since(dates[0]).unwrap_or_default();
    assert!(apart >= Duration::from_secs(2), "{out}");
}

/// A service that sets its own `Date` (as a proxy passing its upstream's
/// on does) keeps it.
#[test]
fn a_service_date_is_kept() {
    let server = TestServer::start(
        false,
        app(
            |_req| async move { respond(200, &[("date", "Tue, 01 Dec 2026 00:00:00 GMT")], "dated") },
        ),
    );
    let o = run(Command::new("curl").args([
        "-sS",
        "--http2-prior-knowledge",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("http://{}/", server.addr),
    ]));
    let headers = stdout(&o);
    assert_eq!(headers.matches("date: ").count(), 1, "{headers}");
    assert!(
        headers.contains("date: Tue, 01 Dec 2026 00:00:00 GMT"),
        "{headers}"
    );
}

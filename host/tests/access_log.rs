//! The access log (`serve --access-log FORMAT --access-log-file FILE`):
//! one line per request over HTTP/2 and HTTP/1.1 in the common, combined
//! and JSON formats, client text escaped, reopened on SIGUSR1 after a
//! rename, nothing at all with `off`, and a line for a request its
//! client reset before the answer went.

mod common;

use common::raw::{RawClient, frame, request};
use common::*;
use h2wasm_engine::wire::kind;
use std::path::Path;
use std::time::{Duration, Instant};

/// A directory with one page of `len` bytes.
fn site(dir: &Path, len: usize) -> String {
    let root = dir.join("site");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("page.html"), "x".repeat(len)).unwrap();
    root.display().to_string()
}

/// The file's lines once it has `n` (the writer runs every 100 ms).
fn lines(file: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `serve --h2c root` writing JSON lines to `file`.
fn json_logging(file: &Path, root: &str) -> ServeProcess {
    let file = file.to_str().unwrap();
    let args = [
        "--h2c",
        "--access-log",
        "json",
        "--access-log-file",
        file,
        root,
    ];
    ServeProcess::start(&args, false)
}

#[test]
fn common_and_combined_lines_for_both_protocols() {
    let dir = scratch_dir("h2wasm-access-");
    let root = site(dir.path(), 1234);
    for format in ["common", "combined"] {
        let file = dir.path().join(format!("{format}.log"));
        let server = ServeProcess::start(
            &[
                "--h2c",
                "--access-log",
                format,
                "--access-log-file",
                file.to_str().unwrap(),
                &root,
            ],
            false,
        );
        let url = format!("http://{}/page.html?q=1", server.addr);
        let ua = "agent \"quoted\"";
        for proto in ["--http2-prior-knowledge", "--http1.1"] {
            let (status, _) = curl_status(&[proto, "-A", ua, "-e", "https://r.example/", &url]);
            assert_eq!(status, "200");
        }
        let got = lines(&file, 2);
        assert_eq!(got.len(), 2, "{got:?}");
        for (line, proto) in got.iter().zip(["HTTP/2.0", "HTTP/1.1"]) {
            assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
            assert!(
                line.contains(&format!("] \"GET /page.html?q=1 {proto}\" 200 1234")),
                "{line}"
            );
            let tail = " \"https://r.example/\" \"agent \\\"quoted\\\"\"";
            assert_eq!(line.ends_with(tail), format == "combined", "{line}");
        }
        assert!(server.stop().status.success());
    }
}

#[test]
fn json_lines_are_json_with_every_field() {
    let dir = scratch_dir("h2wasm-access-");
    let root = site(dir.path(), 10);
    let file = dir.path().join("access.json");
    let server = json_logging(&file, &root);
    let (status, _) = curl_status(&[
        "--http2-prior-knowledge",
        "-A",
        "a\tb",
        &format!("http://{}/missing", server.addr),
    ]);
    assert_eq!(status, "404");
    let got = lines(&file, 1);
    let v: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(v["client"], "127.0.0.1");
    assert_eq!(v["method"], "GET");
    assert_eq!(v["target"], "/missing");
    assert_eq!(v["protocol"], "HTTP/2.0");
    assert_eq!(v["status"], 404);
    assert_eq!(v["user_agent"], "a\tb");
    assert!(v["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(v["time"].as_str().unwrap().ends_with('Z'), "{v}");
    assert!(server.stop().status.success());
}

#[test]
fn sigusr1_reopens_the_file_after_a_rename() {
    let dir = scratch_dir("h2wasm-access-");
    let root = site(dir.path(), 10);
    let file = dir.path().join("access.log");
    let server = ServeProcess::start(
        &["--h2c", "--access-log-file", file.to_str().unwrap(), &root],
        false,
    );
    let url = format!("http://{}/page.html", server.addr);
    curl_status(&["--http2-prior-knowledge", &url]);
    assert_eq!(lines(&file, 1).len(), 1);
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&file, &rotated).unwrap();
    server.signal(libc::SIGUSR1);
    // The writer opens the file again at its next batch.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !file.exists() {
        assert!(Instant::now() < deadline, "no new file after SIGUSR1");
        std::thread::sleep(Duration::from_millis(50));
    }
    curl_status(&["--http2-prior-knowledge", &url]);
    curl_status(&["--http1.1", &url]);
    assert!(server.stop().status.success());
    assert_eq!(lines(&rotated, 1).len(), 1);
    assert_eq!(lines(&file, 2).len(), 2);
}

#[test]
fn off_writes_nothing() {
    let dir = scratch_dir("h2wasm-access-");
    let root = site(dir.path(), 10);
    let server = ServeProcess::start(&["--h2c", "--access-log", "off", &root], true);
    let url = format!("http://{}/page.html", server.addr);
    curl_status(&["--http2-prior-knowledge", &url]);
    curl_status(&["--http1.1", &url]);
    let log = stderr(&server.stop());
    assert!(!log.contains("GET /page.html"), "{log}");
}

#[test]
fn a_request_reset_before_its_answer_is_logged_with_the_reset() {
    let dir = scratch_dir("h2wasm-access-");
    let root = site(dir.path(), 10);
    let file = dir.path().join("access.json");
    let server = json_logging(&file, &root);
    let mut c = RawClient::hello(server.addr);
    // A first request, so that the connection has the page's response
    // headers prepared: answers from memory then go out with the next
    // drive. Then stream 3 and its RST_STREAM (CANCEL) in one write: the
    // server reads both before that drive; stream 5 is answered.
    c.get(1, "/page.html");
    assert!(c.read_until(Duration::from_secs(5), |f| common::raw::ended(f, 1)));
    let mut out = c.headers_frame(3, &request("GET", "/page.html"), true);
    out.extend(frame(kind::RST_STREAM, 0, 3, &8u32.to_be_bytes()));
    out.extend(c.headers_frame(5, &request("GET", "/page.html?second"), true));
    c.send(&out);
    assert!(c.read_until(Duration::from_secs(5), |f| common::raw::ended(f, 5)));
    assert_eq!(c.rst(3), None, "the client reset it: no answer, no reset");
    let got = lines(&file, 3);
    assert_eq!(got.len(), 3, "{got:?}");
    let v: Vec<serde_json::Value> = got
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v[0]["status"], 200, "{got:?}");
    assert_eq!(v[1]["target"], "/page.html", "{got:?}");
    assert_eq!(v[1]["status"], 0, "{got:?}");
    assert_eq!(v[1]["bytes"], 0, "{got:?}");
    assert_eq!(v[1]["reset"], "CANCEL", "{got:?}");
    assert_eq!(v[2]["target"], "/page.html?second", "{got:?}");
    assert_eq!(v[2]["status"], 200, "{got:?}");
    assert_eq!(v[2]["bytes"], 10, "{got:?}");
    assert!(v[2]["reset"].is_null(), "{got:?}");
    drop(c);
    assert!(server.stop().status.success());
}

//! The server and client against real HTTP/2 peers on loopback: curl,
//! nghttp, h2load, nghttpd and Node's http2 module.

mod common;

use common::*;
use std::process::Command;

fn curl(server: &TestServer) -> Command {
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "60"]);
    if server.tls {
        c.args(["--http2", "--cacert"]).arg(certs().0);
    } else {
        c.arg("--http2-prior-knowledge");
    }
    c
}

fn check_curl(server: &TestServer) {
    let o = run(curl(server)
        .args(["-w", "\n%{http_version} %{http_code}"])
        .arg(server.url("/")));
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("<h1>h2wasm</h1>"), "{out}");
    assert!(out.ends_with("\n2 200"), "{out}");

    let o = run(curl(server)
        .args(["-o", "/dev/null", "-w", "%{http_code}"])
        .arg(server.url("/nope")));
    assert_eq!(stdout(&o), "404");

    let dir = tempfile::tempdir().unwrap();
    let input = data_file(dir.path(), 1 << 20, 7);
    let output = dir.path().join("echo.out");
    let o = run(curl(server)
        .arg("--data-binary")
        .arg(format!("@{}", input.display()))
        .arg("-o")
        .arg(&output)
        .arg(server.url("/echo")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(sha256_file(&output), sha256_file(&input));
}

#[test]
fn curl_h2c() {
    let server = TestServer::start(false, builtin());
    check_curl(&server);
}

#[test]
fn curl_tls() {
    let server = TestServer::start(true, builtin());
    check_curl(&server);
}

fn nghttp(server: &TestServer) {
    let o = run(Command::new("nghttp")
        .args(["-nv", "-t", "30"])
        .arg(server.url("/")));
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(out.contains(":status: 200"), "{out}");
    assert!(out.contains("recv SETTINGS frame"), "{out}");
    // Several streams on one connection, with a body.
    let dir = tempfile::tempdir().unwrap();
    let input = data_file(dir.path(), 100_000, 3);
    let o = run(Command::new("nghttp")
        .args(["-n", "-s", "-t", "30", "-d"])
        .arg(&input)
        .arg(server.url("/echo?1"))
        .arg(server.url("/echo?2"))
        .arg(server.url("/echo?3")));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    // nghttp's statistics: one line per stream with code and size.
    let rows = stdout(&o)
        .lines()
        .filter(|l| l.contains(" 200 ") && l.contains(" 97K /echo?"))
        .count();
    assert_eq!(rows, 3, "{}", stdout(&o));
}

#[test]
fn nghttp_h2c() {
    nghttp(&TestServer::start(false, builtin()));
}

#[test]
fn nghttp_tls() {
    nghttp(&TestServer::start(true, builtin()));
}

fn h2load(server: &TestServer, n: u32) {
    let o = run(Command::new("h2load")
        .args(["-n", &n.to_string(), "-c", "4", "-m", "100", "-T", "60"])
        .arg(server.url("/")));
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    let line = out
        .lines()
        .find(|l| l.starts_with("requests:"))
        .unwrap_or_else(|| panic!("no summary: {out}"));
    assert!(
        line.contains(&format!("{n} succeeded, 0 failed, 0 errored")),
        "{line}"
    );
    let status = out
        .lines()
        .find(|l| l.starts_with("status codes:"))
        .unwrap();
    assert!(
        status.starts_with(&format!("status codes: {n} 2xx")),
        "{status}"
    );
}

#[test]
fn h2load_100k_requests_h2c() {
    h2load(&TestServer::start(false, builtin()), 100_000);
}

#[test]
fn h2load_100k_requests_tls() {
    h2load(&TestServer::start(true, builtin()), 100_000);
}

#[test]
fn node_client_against_our_server() {
    for tls in [false, true] {
        let server = TestServer::start(tls, builtin());
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/node/client.js");
        let ca = if tls {
            certs().0.display().to_string()
        } else {
            "-".into()
        };
        let url = if tls {
            format!("https://localhost:{}", server.addr.port())
        } else {
            format!("http://127.0.0.1:{}", server.addr.port())
        };
        let o = run(Command::new("node").arg(script).arg(url).arg(ca));
        assert!(o.status.success(), "{}", stderr(&o));
        let report = stdout(&o);
        assert!(
            report.contains(r#""index":{"status":200,"hasTitle":true}"#),
            "{report}"
        );
        assert!(report.contains(r#""missing":404"#), "{report}");
        assert!(
            report.contains(r#""echo":{"status":200,"same":true,"trailer":"1048576"}"#),
            "{report}"
        );
        assert!(report.contains(r#""concurrent":20"#), "{report}");
    }
}

#[test]
fn our_client_against_node_server() {
    let (cert, key) = certs();
    for tls in [false, true] {
        let node = if tls {
            NodeServer::start(&["tls", cert.to_str().unwrap(), key.to_str().unwrap()])
        } else {
            NodeServer::start(&[])
        };
        let base = if tls {
            format!("https://localhost:{}", node.port)
        } else {
            format!("http://127.0.0.1:{}", node.port)
        };
        let mut get = h2wasm_bin();
        get.arg("get").arg("-i");
        if tls {
            get.arg("--cacert").arg(&cert);
        } else {
            get.arg("--prior-knowledge");
        }
        let o = run(get
            .arg(format!("{base}/hello"))
            .arg(format!("{base}/hello"))
            .arg(format!("{base}/big")));
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        assert_eq!(
            out.matches("hello from node").count(),
            2,
            "{}",
            &out[..out.len().min(500)]
        );
        assert!(out.contains("x-peer: node"));
        assert!(out.len() > 1 << 20, "the 1 MiB /big body arrived");

        // Body up, body back, and Node's trailer checks what it received.
        let dir = tempfile::tempdir().unwrap();
        let input = data_file(dir.path(), 300_000, 11);
        let output = dir.path().join("out");
        let mut get = h2wasm_bin();
        get.arg("get")
            .arg("-i")
            .arg("-d")
            .arg(format!("@{}", input.display()));
        if tls {
            get.arg("--cacert").arg(&cert);
        } else {
            get.arg("--prior-knowledge");
        }
        let o = run(get.arg("-o").arg(&output).arg(format!("{base}/echo")));
        assert!(o.status.success(), "{}", stderr(&o));
        let sha = sha256_file(&input);
        assert_eq!(sha256_file(&output), sha);
        assert!(
            stdout(&o).contains(&format!("x-sha256: {sha}")),
            "{}",
            stdout(&o)
        );
    }
}

#[test]
fn our_client_against_nghttpd() {
    let dir = tempfile::tempdir().unwrap();
    let file = data_file(dir.path(), 200_000, 5);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // At most 2 concurrent streams: our requests go out before nghttpd's
    // SETTINGS say so, so some are refused (REFUSED_STREAM) and must be
    // sent again (RFC 9113 §8.7).
    let mut child = Command::new("nghttpd")
        .args(["--no-tls", "-m", "2", "-a", "127.0.0.1", "-d"])
        .arg(dir.path())
        .arg(port.to_string())
        .spawn()
        .expect("nghttpd is installed (package nghttp2-server)");
    let url = format!(
        "http://127.0.0.1:{port}/{}",
        file.file_name().unwrap().to_str().unwrap()
    );
    let outputs: Vec<_> = (0..6)
        .map(|i| dir.path().join(format!("fetched-{i}")))
        .collect();
    let mut ok = false;
    let mut last = String::new();
    for _ in 0..50 {
        let mut get = h2wasm_bin();
        get.args(["get", "--prior-knowledge"]);
        for out in &outputs {
            get.arg("-o").arg(out);
        }
        let o = run(get.args(std::iter::repeat_n(&url, outputs.len())));
        if o.status.success() {
            ok = true;
            break;
        }
        last = stderr(&o);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "h2wasm get against nghttpd: {last}");
    for out in &outputs {
        assert_eq!(sha256_file(out), sha256_file(&file));
    }
}

#[test]
fn node_client_sees_origin_frames_and_reads_padded_frames() {
    let server = TestServer::start_configured(runtime(), true, builtin(), |o| {
        o.origins = vec![
            "https://a.example.org".into(),
            "https://b.example.org:8443".into(),
        ];
        o.padding_strategy = h2wasm::bindings::PaddingStrategy::Max;
    });
    let url = format!("https://localhost:{}", server.addr.port());
    let ca = certs().0.display().to_string();
    // Node reports ORIGIN frames only over TLS, through `origin` and
    // `originSet`.
    let script = r#"
        const http2 = require('node:http2');
        const fs = require('node:fs');
        const s = http2.connect(process.argv[1], { ca: fs.readFileSync(process.argv[2]) });
        s.on('origin', (origins) => {
            console.log(JSON.stringify({ origins, set: s.originSet }));
            s.close();
        });
        s.on('error', (e) => { console.error(e); process.exit(1); });
    "#;
    let o = run(Command::new("node").args(["-e", script]).arg(&url).arg(&ca));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(r#""origins":["https://a.example.org","https://b.example.org:8443"]"#),
        "{out}"
    );
    assert!(out.contains("https://a.example.org"), "{out}");
    // Every frame padded to the maximum: Node's full client report still
    // sees exact bodies (1 MiB echo included) and trailers.
    let client = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/node/client.js");
    let o = run(Command::new("node").arg(client).arg(&url).arg(&ca));
    assert!(o.status.success(), "{}", stderr(&o));
    let report = stdout(&o);
    assert!(
        report.contains(r#""echo":{"status":200,"same":true,"trailer":"1048576"}"#),
        "{report}"
    );
}

/// More distinct small files on one connection than it keeps prepared
/// header lists for (256), up to 100 requested at once (nghttp: one
/// connection for every URI): lists the pending responses use stay until
/// the drive that sends them, the others are released, and every stream
/// gets its own file (sizes differ per file; identity coding, so that no
/// file is compressed).
#[test]
fn one_connection_answers_more_distinct_files_than_it_keeps_prepared() {
    let dir = scratch_dir("h2wasm-many-files-");
    let files = 300;
    for i in 0..files {
        std::fs::write(dir.path().join(format!("f{i}.txt")), "x".repeat(i + 1)).unwrap();
    }
    let server = ServeProcess::start(
        &["--h2c", "--access-log", "off", dir.path().to_str().unwrap()],
        false,
    );
    let o = run(Command::new("nghttp")
        .args(["-ns", "-t", "60", "-H", "accept-encoding: identity"])
        .args((0..files).map(|i| format!("http://{}/f{i}.txt", server.addr))));
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    // The statistics: "id responseEnd requestStart process code size path".
    let mut answered = 0;
    for line in out.lines().filter(|l| l.trim_end().ends_with(".txt")) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let i: usize = cols[cols.len() - 1]
            .trim_start_matches("/f")
            .trim_end_matches(".txt")
            .parse()
            .unwrap_or_else(|_| panic!("{line}"));
        assert_eq!(cols[cols.len() - 3], "200", "{line}");
        assert_eq!(cols[cols.len() - 2], (i + 1).to_string(), "{line}");
        answered += 1;
    }
    assert_eq!(answered, files, "{out}");
    server.stop();
}

//! Server push end to end: `h2wasm serve --push` to Node's client and to
//! `h2wasm get --save-pushed`, and Node's pushes to `h2wasm get`.

mod common;

use common::*;
use std::process::Command;

/// A site with a page and two assets; `/` pushes both.
fn pushing_site() -> (tempfile::TempDir, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<link rel=stylesheet href=/style.css>",
    )
    .unwrap();
    std::fs::write(dir.path().join("style.css"), "body{color:red}").unwrap();
    // Larger than one frame and than the small-file cache: streamed.
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.path().join("app.js"), &big).unwrap();
    let rules = [(
        "/".to_string(),
        vec![
            "/style.css".to_string(),
            "/app.js".to_string(),
            "/missing.js".to_string(),
        ],
    )];
    let files = h2wasm::apps::files::StaticFiles::new(dir.path())
        .unwrap()
        .with_push(rules.into_iter().collect());
    let server = TestServer::start(false, h2wasm::service::shared(files));
    (dir, server)
}

#[test]
fn node_client_receives_our_pushes() {
    let (dir, server) = pushing_site();
    let script = r#"
        const http2 = require('node:http2');
        const crypto = require('node:crypto');
        const s = http2.connect(process.argv[1]);
        const pushed = {};
        let pending = 0;
        s.on('stream', (stream, headers) => {
            pending += 1;
            const chunks = [];
            stream.on('push', (h) => { pushed[headers[':path']] = { status: h[':status'] }; });
            stream.on('data', (c) => chunks.push(c));
            stream.on('end', () => {
                const body = Buffer.concat(chunks);
                pushed[headers[':path']].sha256 = crypto.createHash('sha256').update(body).digest('hex');
                pushed[headers[':path']].authority = headers[':authority'];
                pending -= 1;
                finish();
            });
        });
        let page = null;
        const req = s.request({ ':path': '/' });
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => { page = Buffer.concat(chunks).toString(); finish(); });
        function finish() {
            if (page === null || pending > 0 || Object.keys(pushed).length < 2) return;
            console.log(JSON.stringify({ page, pushed }));
            s.close();
        }
        s.on('error', (e) => { console.error(e); process.exit(1); });
    "#;
    let o = run(Command::new("node")
        .args(["-e", script])
        .arg(format!("http://127.0.0.1:{}", server.addr.port())));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(r#""page":"<link rel=stylesheet href=/style.css>""#),
        "{out}"
    );
    let css = sha256_file(&dir.path().join("style.css"));
    let js = sha256_file(&dir.path().join("app.js"));
    assert!(
        out.contains(&format!(r#""/style.css":{{"status":200,"sha256":"{css}""#)),
        "{out}"
    );
    assert!(
        out.contains(&format!(r#""/app.js":{{"status":200,"sha256":"{js}""#)),
        "{out}"
    );
    assert!(
        !out.contains("missing.js"),
        "nothing is promised for a missing file: {out}"
    );
}

#[test]
fn our_client_saves_our_pushes() {
    let (dir, server) = pushing_site();
    let saved = tempfile::tempdir().unwrap();
    let o = run(h2wasm_bin()
        .args(["get", "--prior-knowledge", "--save-pushed"])
        .arg(saved.path())
        .arg(server.url("/")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "<link rel=stylesheet href=/style.css>");
    for asset in ["style.css", "app.js"] {
        assert_eq!(
            std::fs::read(saved.path().join(asset)).unwrap(),
            std::fs::read(dir.path().join(asset)).unwrap(),
            "{asset}"
        );
        assert!(
            stderr(&o).contains(&format!("pushed /{asset} 200")),
            "{}",
            stderr(&o)
        );
    }
    // `-v` shows each promise as it arrives.
    let o = run(h2wasm_bin()
        .args(["get", "-v", "--prior-knowledge"])
        .arg(server.url("/")));
    assert!(
        stderr(&o).contains("push promise, stream 2 for /style.css"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn our_client_receives_nodes_pushes() {
    let node = NodeServer::start(&[]);
    let saved = tempfile::tempdir().unwrap();
    let o = run(h2wasm_bin()
        .args(["get", "--prior-knowledge", "--save-pushed"])
        .arg(saved.path())
        .arg(format!("http://127.0.0.1:{}/pushy", node.port)));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "page\n");
    assert_eq!(
        std::fs::read_to_string(saved.path().join("pushed.txt")).unwrap(),
        "pushed by node\n"
    );
}

#[test]
fn serve_push_needs_a_directory_and_valid_rules() {
    for (args, expect) in [
        (&["serve", "--push", "/=/a.css"][..], "DIR"),
        (
            &["serve", "--push", "nonsense", "."][..],
            "expected PAGE=ASSET",
        ),
    ] {
        let o = run(h2wasm_bin().args(args));
        assert!(!o.status.success());
        assert!(stderr(&o).contains(expect), "{args:?}: {}", stderr(&o));
    }
}

//! `h2wasm:http2/response-extras` for wasi:http components, with
//! `examples/early-hints`: 103 Early Hints and a pushed stylesheet seen by
//! Node's client (informational and push events) and curl (over h2c and
//! HTTP/1.1), its stream's priority read and set, and the component
//! refused by a host that only has the proxy world, naming the import.

mod common;

use common::*;
use std::process::Command;

const STYLE: &str = "body { font-family: sans-serif; color: #234; }\n";

fn serve() -> ServeProcess {
    let app = example_component("early_hints");
    ServeProcess::start(&["--h2c", "--app", app.to_str().unwrap()], false)
}

#[test]
fn node_sees_the_early_hints_and_the_push() {
    let server = serve();
    let script = r#"
        const http2 = require('node:http2');
        const s = http2.connect(process.argv[1]);
        const seen = { informational: [], pushed: null, page: null };
        s.on('stream', (stream, headers) => {
            const chunks = [];
            stream.on('push', (h) => { seen.pushed = { path: headers[':path'], status: h[':status'], type: h['content-type'] }; });
            stream.on('data', (c) => chunks.push(c));
            stream.on('end', () => { seen.pushed.body = Buffer.concat(chunks).toString(); done(); });
        });
        const req = s.request({ ':path': '/' });
        req.on('headers', (h) => seen.informational.push({ status: h[':status'], link: h['link'] }));
        let status = null;
        req.on('response', (h) => { status = h[':status']; });
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => { seen.page = { status, body: Buffer.concat(chunks).toString() }; done(); });
        function done() {
            if (!seen.page || !seen.pushed || seen.pushed.body === undefined) return;
            console.log(JSON.stringify(seen));
            clearTimeout(timer);
            s.close();
        }
        s.on('error', (e) => { console.error(e); process.exit(1); });
        const timer = setTimeout(() => { console.error('timed out', JSON.stringify(seen)); process.exit(1); }, 20000);
    "#;
    let o = run(Command::new("node")
        .args(["-e", script])
        .arg(format!("http://{}", server.addr)));
    assert!(o.status.success(), "{}", stderr(&o));
    let seen: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        seen["informational"],
        serde_json::json!([{ "status": 103, "link": "</style.css>; rel=preload; as=style" }])
    );
    assert_eq!(
        seen["pushed"],
        serde_json::json!({ "path": "/style.css", "status": 200, "type": "text/css", "body": STYLE })
    );
    assert_eq!(seen["page"]["status"], 200);
    assert!(
        seen["page"]["body"]
            .as_str()
            .unwrap()
            .contains("<link rel=stylesheet href=/style.css>"),
        "{seen}"
    );
}

#[test]
fn curl_sees_the_early_hints_over_h2c_and_http1() {
    let server = serve();
    for (flag, hints, ok) in [
        ("--http2-prior-knowledge", "< HTTP/2 103", "< HTTP/2 200"),
        ("--http1.1", "< HTTP/1.1 103", "< HTTP/1.1 200"),
    ] {
        let o = run(Command::new("curl")
            .args(["-sSv", "--max-time", "20", flag])
            .arg(format!("http://{}/", server.addr)));
        assert!(o.status.success(), "{}", stderr(&o));
        let said = stderr(&o);
        let (at_hints, at_ok) = (said.find(hints), said.find(ok));
        assert!(
            at_hints.is_some() && at_ok.is_some() && at_hints < at_ok,
            "{flag}: {said}"
        );
        assert!(
            said.contains("< link: </style.css>; rel=preload; as=style"),
            "{flag}: {said}"
        );
        assert!(stdout(&o).contains("<h1>"), "{flag}");
    }
}

#[test]
fn a_component_reads_and_sets_its_priority_over_http2_only() {
    let server = serve();
    let (status, body) = curl_status(&[
        "--http2-prior-knowledge",
        &format!("http://{}/priority", server.addr),
    ]);
    assert_eq!(status, "200");
    // RFC 7540 §5.3.5: a stream's default weight is 16, on the root.
    assert_eq!(
        body,
        "before: weight 16 parent 0\nset: true\nafter: weight 200 parent 0\n"
    );
    let (status, body) = curl_status(&["--http1.1", &format!("http://{}/priority", server.addr)]);
    assert_eq!(status, "200");
    assert_eq!(body, "before: none\nset: false\nafter: none\n");
}

/// A host with WASI and wasi:http only (as `wasmtime serve` is) refuses
/// the component and names the import it lacks.
#[test]
fn a_proxy_only_host_refuses_it_naming_the_import() {
    use wasmtime::component::{Component, Linker};
    struct Host {
        wasi: wasmtime_wasi::WasiCtx,
        http: wasmtime_wasi_http::WasiHttpCtx,
        table: wasmtime::component::ResourceTable,
    }
    impl wasmtime_wasi::WasiView for Host {
        fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
            wasmtime_wasi::WasiCtxView {
                ctx: &mut self.wasi,
                table: &mut self.table,
            }
        }
    }
    impl wasmtime_wasi_http::WasiHttpView for Host {
        fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
            wasmtime_wasi_http::WasiHttpCtxView {
                ctx: &mut self.http,
                table: &mut self.table,
                hooks: wasmtime_wasi_http::default_hooks(),
            }
        }
    }
    let engine = wasmtime::Engine::default();
    let mut linker = Linker::<Host>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).unwrap();
    let component = Component::from_file(&engine, example_component("early_hints")).unwrap();
    let err = match linker.instantiate_pre(&component) {
        Ok(_) => panic!("a host without response-extras instantiated it"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("h2wasm:http2/response-extras"), "{err}");
    // A proxy-world example needs nothing of ours: the same host runs it.
    let hello = Component::from_file(&engine, example_component("hello")).unwrap();
    if let Err(e) = linker.instantiate_pre(&hello) {
        panic!("hello on a proxy-only host: {e:#}");
    }
}

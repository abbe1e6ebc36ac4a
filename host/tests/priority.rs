//! Stream priority (RFC 7540 §5.3, which Node 20 still speaks) with Node as
//! the peer: weights we send reach Node's `stream.state`, and weights Node
//! sends share our server's bandwidth.

mod common;

use common::*;
use h2wasm::service::SharedService;
use std::process::Command;

#[test]
fn node_server_sees_the_weights_our_client_sends() {
    let node = NodeServer::start(&[]);
    let url = format!("http://127.0.0.1:{}/stream-state", node.port);
    let o = run(h2wasm_bin()
        .args([
            "get",
            "--prior-knowledge",
            "--weight",
            "200",
            "--weight",
            "7",
        ])
        .args([&url, &url, &url]));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // Two weighted requests, then one left at the default.
    let weights: Vec<&str> = out
        .split(r#"{"weight":"#)
        .skip(1)
        .map(|r| r.split(',').next().unwrap_or_default())
        .collect();
    assert_eq!(weights, ["200", "7", "16"], "{out}");

    let o = run(h2wasm_bin()
        .args(["get", "--prior-knowledge", "--weight", "0"])
        .arg(&url));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--weight"), "{}", stderr(&o));
}

/// 4 MiB for any path, handed to the engine whole: which stream's data
/// goes next is then the engine's scheduling alone, not how fast each
/// handler happens to refill its stream.
fn big_bodies() -> SharedService {
    app(|_req| async move { respond(200, &[], vec![b'x'; 4 << 20]) })
}

#[test]
fn our_server_shares_bandwidth_by_the_weights_node_sends() {
    let server = TestServer::start(false, big_bodies());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/node/priority.js");
    let o = run(Command::new("node").arg(script).args([
        server.url("/heavy"),
        server.url("/light"),
        "256".into(),
        "8".into(),
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let light_at_heavy_end: u64 = out
        .split(r#""atHeavyEnd":{"heavy":4194304,"light":"#)
        .nth(1)
        .and_then(|r| r.split('}').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("heavy did not finish first: {out}"));
    // Weights 256:8 give the light stream about 3% while both are ready;
    // equal sharing would have it near 4 MiB too.
    assert!(
        light_at_heavy_end < 1 << 20,
        "light stream had {light_at_heavy_end} octets when the heavy one ended: {out}"
    );
}

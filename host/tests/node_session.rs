//! Session and informational features with Node's http2 as the peer:
//! PING, SETTINGS acknowledgement, custom settings, 103 Early Hints,
//! Expect: 100-continue, and sensitive (never-indexed) fields both ways.

mod common;

use common::*;
use h2wasm::service::{Informational, SharedService};
use http_body_util::BodyExt;
use std::process::Command;

fn node_app() -> SharedService {
    app(|req| async move {
        match req.uri().path() {
            "/early" => {
                let hints = req.extensions().get::<Informational>().unwrap().clone();
                let mut h = http::HeaderMap::new();
                h.insert(
                    "link",
                    http::HeaderValue::from_static("</s.css>; rel=preload"),
                );
                assert!(hints.send(http::StatusCode::EARLY_HINTS, h).await);
                respond(200, &[], "page")
            }
            "/expect" => {
                let body = req.into_body().collect().await.unwrap().to_bytes();
                respond(200, &[], body)
            }
            _ => {
                let mut names: Vec<&str> = req
                    .headers()
                    .iter()
                    .filter(|(_, v)| v.is_sensitive())
                    .map(|(n, _)| n.as_str())
                    .collect();
                names.sort();
                let seen = names.join(",");
                respond(200, &[("x-sensitive-received", &seen)], "")
            }
        }
    })
}

#[test]
fn node_client_session_and_informational_features() {
    let server = TestServer::start(false, node_app());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/node/session.js");
    let o = run(Command::new("node").arg(script).arg(server.url("")));
    assert!(o.status.success(), "{}", stderr(&o));
    let report = stdout(&o);
    for expected in [
        r#""ping":"h2wasm!!""#,
        r#""settingsAcked":true"#,
        r#""early":["103 </s.css>; rel=preload"]"#,
        r#""earlyFinal":200"#,
        r#""earlyBody":"page""#,
        r#""continued":true"#,
        r#""expectBody":"sent after 100""#,
        // Node marks `authorization` itself; `x-secret` was asked for.
        r#""sensitiveReceived":"authorization,x-secret""#,
    ] {
        assert!(
            report.contains(expected),
            "{expected} missing from {report}"
        );
    }
}

#[test]
fn node_server_sees_the_fields_our_client_sends_never_indexed() {
    let node = NodeServer::start(&[]);
    let url = format!("http://127.0.0.1:{}/sensitive", node.port);
    let o = run(h2wasm_bin()
        .args(["get", "--prior-knowledge"])
        .args([
            "-H",
            "authorization: Bearer t",
            "-H",
            "cookie: a=1",
            "-H",
            "x-plain: v",
        ])
        .arg(&url));
    assert!(o.status.success(), "{}", stderr(&o));
    // authorization and short cookies go never-indexed (RFC 7541 §7.1.3).
    let mut names: Vec<String> = json_names(&stdout(&o));
    names.sort();
    assert_eq!(names, ["authorization", "cookie"], "{}", stdout(&o));
}

/// The names in a JSON array of strings such as `["a","b"]`.
fn json_names(json: &str) -> Vec<String> {
    json.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_matches('"').to_string())
        .collect()
}

/// Node's `customSettings`: a setting Node does not know, sent in our
/// SETTINGS, reaches a Node client that lists it in `remoteCustomSettings`.
#[test]
fn node_client_receives_our_custom_settings() {
    let server = TestServer::start_configured(runtime(), false, node_app(), |o| {
        o.settings.custom = vec![(0x1234, 77)];
    });
    let script = r#"
        const http2 = require('node:http2');
        const s = http2.connect(process.argv[1], { remoteCustomSettings: [0x1234] });
        s.on('error', (e) => { console.error(e); process.exit(1); });
        s.once('remoteSettings', (settings) => {
          console.log(JSON.stringify(settings.customSettings));
          s.close();
        });
    "#;
    let o = run(Command::new("node")
        .args(["-e", script])
        .arg(server.url("")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), r#"{"4660":77}"#);
}

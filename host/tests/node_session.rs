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
            // Answered without reading the body.
            "/refuse" => respond(417, &[], ""),
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
        // Unread, so no 100: Node never sent the body.
        r#""refusedContinued":false"#,
        r#""refusedStatus":417"#,
        // Node marks `authorization` itself; `x-secret` was asked for.
        r#""sensitiveReceived":"authorization,x-secret""#,
    ] {
        assert!(
            report.contains(expected),
            "{expected} missing from {report}"
        );
    }
}

/// A service that drives its session as a Node server can: PING with a
/// payload and the round trip back, SETTINGS, its receive window, and
/// GOAWAY with opaque data; Node's client sees each as Node's events and
/// state report it.
#[test]
fn a_service_drives_its_session_as_node_servers_can() {
    use h2wasm::service::{Http2Stream, unchanged_settings};
    let service = app(|req| async move {
        let stream = req.extensions().get::<Http2Stream>().unwrap().clone();
        let said = match req.uri().path() {
            // "h2wasm!!" as a big-endian u64.
            "/ping" => match stream.ping(Some(0x6832_7761_736d_2121)).await {
                Some(rtt) if rtt < std::time::Duration::from_secs(5) => "pong".to_string(),
                other => format!("no pong: {other:?}"),
            },
            "/settings" => {
                let mut settings = unchanged_settings();
                settings.max_concurrent_streams = Some(7);
                stream.update_settings(settings).await.to_string()
            }
            "/window" => stream.set_local_window_size(4 << 20).await.to_string(),
            "/goaway" => stream.goaway(0, b"bye".to_vec()).await.to_string(),
            _ => "?".to_string(),
        };
        respond(200, &[], said)
    });
    let server = TestServer::start(false, service);
    let script = r#"
const http2 = require('node:http2');
const session = http2.connect(process.argv[1]);
session.on('error', (e) => { console.error(e); process.exit(1); });
const report = { pings: [], maxConcurrent: [] };
session.on('ping', (payload) => report.pings.push(payload.toString()));
session.on('remoteSettings', (s) => report.maxConcurrent.push(s.maxConcurrentStreams));
session.on('goaway', (code, last, opaque) => {
  report.goaway = { code, last, opaque: opaque ? opaque.toString() : null };
});
const get = (path) => new Promise((ok, ko) => {
  const req = session.request({ ':path': path });
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d) => { body += d; });
  req.on('end', () => ok(body));
  req.on('error', ko);
});
(async () => {
  report.ping = await get('/ping');
  report.settings = await get('/settings');
  report.window = await get('/window');
  report.remoteWindowSize = session.state.remoteWindowSize;
  report.goawayAnswer = await get('/goaway');
  await new Promise((ok) => setTimeout(ok, 100));
  console.log(JSON.stringify(report));
  session.close();
})().catch((e) => { console.error(e); process.exit(1); });
"#;
    let o = run(Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(server.url("")));
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(report["ping"], "pong", "{report}");
    assert_eq!(report["pings"], serde_json::json!(["h2wasm!!"]), "{report}");
    assert_eq!(report["settings"], "true", "{report}");
    // The connection's first SETTINGS, then the service's.
    let max = report["maxConcurrent"].as_array().unwrap();
    assert_eq!(max.last(), Some(&serde_json::json!(7)), "{report}");
    assert_eq!(report["window"], "true", "{report}");
    assert_eq!(report["remoteWindowSize"], 4 << 20, "{report}");
    assert_eq!(report["goawayAnswer"], "true", "{report}");
    // GOAWAY NO_ERROR naming the last stream Node opened (/goaway's, the
    // 4th: stream 7), with its opaque data.
    assert_eq!(
        report["goaway"],
        serde_json::json!({"code": 0, "last": 7, "opaque": "bye"}),
        "{report}"
    );
}

/// Node's `server.updateSettings`: connections that begin after the
/// change get the new SETTINGS, one already open keeps its own, and a
/// value RFC 9113 forbids is refused with nothing changed.
#[test]
fn updated_server_settings_reach_the_connections_that_follow() {
    use h2wasm::service::unchanged_settings;
    let server = TestServer::start(false, builtin());
    // Node: one connection opened before the change and one after; each
    // prints the maxConcurrentStreams its first SETTINGS carried. The
    // change happens when the first line is read.
    let script = r#"
const http2 = require('node:http2');
const readline = require('node:readline');
const url = process.argv[1];
const first = (session) => new Promise((ok) => session.once('remoteSettings', (s) => ok(s)));
(async () => {
  const before = http2.connect(url);
  console.log(`before ${(await first(before)).maxConcurrentStreams}`);
  // Wait for the test to change the settings (it writes a line).
  const rl = readline.createInterface({ input: process.stdin });
  await new Promise((ok) => rl.once('line', ok));
  // An open stdin would keep Node running after the sessions close.
  rl.close();
  process.stdin.destroy();
  const after = http2.connect(url);
  const s = await first(after);
  console.log(`after ${s.maxConcurrentStreams} ${s.initialWindowSize}`);
  console.log(`still ${before.remoteSettings.maxConcurrentStreams}`);
  before.close();
  after.close();
})().catch((e) => { console.error(e); process.exit(1); });
"#;
    let mut child = Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(server.url(""))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let before = lines.next().unwrap().unwrap();
    // A push-enabling server, a window past 2^31-1: refused whole.
    let mut bad = unchanged_settings();
    bad.max_concurrent_streams = Some(3);
    bad.enable_push = Some(true);
    assert!(server.server.update_settings(bad).is_err());
    let mut too_wide = unchanged_settings();
    too_wide.initial_window_size = Some(1 << 31);
    assert!(server.server.update_settings(too_wide).is_err());
    let mut settings = unchanged_settings();
    settings.max_concurrent_streams = Some(5);
    settings.initial_window_size = Some(1 << 20);
    server.server.update_settings(settings).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"go\n").unwrap();
    drop(stdin);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(child.wait().unwrap().success());
    assert!(before.starts_with("before "), "{before}");
    assert_ne!(before, "before 5");
    let old = before.trim_start_matches("before ");
    assert_eq!(
        rest,
        [format!("after 5 {}", 1 << 20), format!("still {old}")]
    );
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

/// Node's server session events, through `ConnectionConfig::session_events`:
/// `session`, the client's SETTINGS (its initial ones, then an update),
/// its PING payload, its GOAWAY with opaque data and ours in answer, and
/// `close`, in order.
#[test]
fn session_events_reach_an_observer() {
    #[derive(Default)]
    struct Seen(std::sync::Mutex<Vec<String>>);
    impl Seen {
        fn push(&self, s: String) {
            self.0.lock().unwrap().push(s);
        }
    }
    use h2wasm::service::ConnectionInfo;
    impl h2wasm::serve::SessionEvents for Seen {
        fn session(&self, _: &ConnectionInfo) {
            self.push("session".into());
        }
        fn remote_settings(&self, _: &ConnectionInfo, s: &h2wasm::service::Settings) {
            self.push(format!("settings {:?}", s.initial_window_size));
        }
        fn ping(&self, _: &ConnectionInfo, payload: u64) {
            self.push(format!(
                "ping {:?}",
                String::from_utf8_lossy(&payload.to_be_bytes())
            ));
        }
        fn goaway(
            &self,
            _: &ConnectionInfo,
            from: h2wasm::serve::session_events::Sender,
            code: u32,
            _: u32,
            opaque: &[u8],
        ) {
            self.push(format!(
                "goaway {from:?} {code} {}",
                String::from_utf8_lossy(opaque)
            ));
        }
        fn close(&self, _: &ConnectionInfo) {
            self.push("close".into());
        }
    }
    let seen = std::sync::Arc::new(Seen::default());
    let config = h2wasm::serve::ConnectionConfig {
        session_events: Some(seen.clone()),
        ..Default::default()
    };
    let server = TestServer::start_full(runtime(), false, node_app(), |_| {}, config);
    let script = r#"
        const http2 = require('node:http2');
        const s = http2.connect(process.argv[1], { settings: { initialWindowSize: 100000 } });
        s.on('error', (e) => { console.error(e); process.exit(1); });
        s.once('remoteSettings', () => {
          s.ping(Buffer.from('abcdefgh'), () => {
            s.settings({ initialWindowSize: 200000 }, () => {
              s.goaway(0, 0, Buffer.from('bye'));
              setTimeout(() => s.destroy(), 100);
            });
          });
        });
    "#;
    let o = run(Command::new("timeout")
        .args(["20", "node", "-e", script])
        .arg(server.url("")));
    assert!(o.status.success(), "{}", stderr(&o));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.0.lock().unwrap().iter().any(|e| e == "close") {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            seen.0.lock().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "session",
            "settings Some(100000)",
            "ping \"abcdefgh\"",
            "settings Some(200000)",
            "goaway Peer 0 bye",
            // Ours in answer: the session closes from both sides.
            "goaway Us 0 ",
            "close",
        ],
        "{seen:?}"
    );
}

/// Node's `stream.setTimeout` and its `timeout` event, from a service: a
/// POST whose client sends nothing for 300 ms gets 408 when the timeout
/// fires; one whose client sends a chunk every 50 ms is read whole.
#[test]
fn a_service_times_out_a_quiet_stream() {
    let service = app(|req: http::Request<h2wasm::service::Incoming>| async move {
        let Some(stream) = req
            .extensions()
            .get::<h2wasm::service::Http2Stream>()
            .cloned()
        else {
            return respond(500, &[], "no stream");
        };
        assert!(
            stream
                .set_timeout(Some(std::time::Duration::from_millis(300)))
                .await
        );
        let body = req.into_body().collect();
        tokio::select! {
            timed = stream.timed_out() => {
                respond(if timed { 408 } else { 500 }, &[], "timed out")
            }
            body = body => {
                let n = body.map(|b| b.to_bytes().len()).unwrap_or(0);
                respond(200, &[], format!("{n} bytes"))
            }
        }
    });
    let server = TestServer::start_configured(runtime(), false, service, |_| {});
    let script = r#"
        const http2 = require('node:http2');
        const s = http2.connect(process.argv[1]);
        const post = (chunks) => new Promise((resolve) => {
          const req = s.request({ ':method': 'POST', ':path': '/' });
          let body = '';
          req.setEncoding('utf8');
          req.on('response', (h) => body += h[':status'] + ' ');
          req.on('data', (d) => body += d);
          req.on('end', () => { req.close(); resolve(body); });
          req.on('error', () => {});
          let sent = 0;
          const next = () => {
            if (sent === chunks) return req.end();
            sent++;
            req.write('x'.repeat(100));
            setTimeout(next, 50);
          };
          if (chunks > 0) next();
        });
        (async () => {
          console.log(await post(0));
          console.log(await post(12));
          s.close();
        })();
    "#;
    let o = run(Command::new("timeout")
        .args(["20", "node", "-e", script])
        .arg(server.url("")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "408 timed out\n200 1200 bytes");
}

/// Node's `remoteCustomSettings` on our side: of the two settings Node's
/// client sends that the engine does not interpret, the service sees
/// (`Http2Stream::remote_settings`) only the one the server lists.
#[test]
fn a_service_sees_the_custom_settings_the_server_lists() {
    let service = app(|req: http::Request<h2wasm::service::Incoming>| async move {
        let custom = match req.extensions().get::<h2wasm::service::Http2Stream>() {
            Some(s) => s.remote_settings().await.map(|s| format!("{:?}", s.custom)),
            None => None,
        };
        respond(200, &[], custom.unwrap_or_else(|| "-".into()))
    });
    let server = TestServer::start_configured(runtime(), false, service, |o| {
        o.remote_custom_settings = vec![0x1234];
    });
    let script = r#"
        const http2 = require('node:http2');
        const s = http2.connect(process.argv[1], {
          settings: { customSettings: { 0x1234: 5, 0x4321: 6 } },
        });
        s.on('error', (e) => { console.error(e); process.exit(1); });
        const req = s.request({ ':path': '/' });
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (d) => body += d);
        req.on('end', () => { console.log(body); s.close(); });
    "#;
    let o = run(Command::new("node")
        .args(["-e", script])
        .arg(server.url("")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "[(4660, 5)]");
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

//! Where an app's outgoing requests may go (`--app-allow-outbound`):
//! nowhere by default; an entry allows a scheme, host and port; loopback
//! and the server's own addresses only through an entry that names the
//! host, whatever a wildcard says and whatever a name resolves to. A
//! denied request fails in the component with `HTTP-request-denied`, and
//! each denied destination is logged once at warn.

mod common;

use common::*;
use std::process::Command;

/// `curl` for `url`: (status, body).
fn get(url: &str) -> (String, String) {
    let o = run(Command::new("curl")
        .args(["-sS", "--max-time", "30", "-w", "\n%{http_code}"])
        .arg(url));
    let out = stdout(&o);
    let (body, status) = out.rsplit_once('\n').unwrap_or(("", ""));
    (status.to_string(), body.to_string())
}

/// `examples/fetch` allowed `allow` (each an --app-allow-outbound value).
fn fetcher(allow: &[&str]) -> ServeProcess {
    let app = example_component("fetch");
    let mut args = vec!["--h2c", "--app", app.to_str().unwrap()];
    for entry in allow {
        args.extend(["--app-allow-outbound", entry]);
    }
    ServeProcess::start(&args, true)
}

fn denied(body: &str) -> bool {
    body.contains("fetch failed") && body.contains("HttpRequestDenied")
}

#[test]
fn nothing_is_reached_without_an_entry_and_each_denial_is_logged_once() {
    let origin = ServeProcess::start(&["--h2c"], false);
    let app = fetcher(&[]);
    let url = format!("http://{}/?http://{}/", app.addr, origin.addr);
    for _ in 0..3 {
        let (status, body) = get(&url);
        assert_eq!(status, "502", "{body}");
        assert!(denied(&body), "{body}");
    }
    let log = stderr(&app.stop());
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("denied"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains(&format!("http://{}", origin.addr)),
        "{log}"
    );
}

#[test]
fn an_entry_naming_the_host_and_port_reaches_it_and_no_other_port() {
    let origin = ServeProcess::start(&["--h2c"], false);
    let other = ServeProcess::start(&["--h2c"], false);
    let entry = format!("http://127.0.0.1:{}", origin.addr.port());
    let app = fetcher(&[&entry]);
    let (status, body) = get(&format!("http://{}/?http://{}/", app.addr, origin.addr));
    assert_eq!(status, "200", "{body}");
    assert!(body.contains("h2wasm"), "{body}");
    let (status, body) = get(&format!("http://{}/?http://{}/", app.addr, other.addr));
    assert_eq!(status, "502", "{body}");
    assert!(denied(&body), "{body}");
    // The scheme is part of the entry.
    let (status, body) = get(&format!("http://{}/?https://{}/", app.addr, origin.addr));
    assert_eq!(status, "502", "{body}");
    assert!(denied(&body), "{body}");
}

/// A wildcard allows public destinations only: loopback is refused by
/// address, and so is a name that resolves to it (`localhost` here; a
/// public name an attacker points at 127.0.0.1 is the same case). Named
/// exactly, the same name is allowed.
#[test]
fn a_wildcard_never_reaches_loopback_even_through_a_name() {
    let origin = ServeProcess::start(&["--h2c"], false);
    let port = origin.addr.port();
    let app = fetcher(&["*://*:*"]);
    for target in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
    ] {
        let (status, body) = get(&format!("http://{}/?{target}", app.addr));
        assert_eq!(status, "502", "{target}: {body}");
        assert!(denied(&body), "{target}: {body}");
    }
    let log = stderr(&app.stop());
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("resolves to a loopback")),
        "{log}"
    );

    let app = fetcher(&["*://*:*", &format!("http://localhost:{port}")]);
    let (status, body) = get(&format!("http://{}/?http://localhost:{port}/", app.addr));
    assert_eq!(status, "200", "{body}");
}

/// The server's own address, like any loopback one, needs an entry that
/// names it: a request that would come back to this server is refused
/// under a wildcard.
#[test]
fn the_server_itself_needs_an_entry_naming_it() {
    let app = fetcher(&["http://*:*"]);
    let (status, body) = get(&format!("http://{}/?http://{}/", app.addr, app.addr));
    assert_eq!(status, "502", "{body}");
    assert!(denied(&body), "{body}");
    drop(app);
    // Named: the request comes back through the server to an origin.
    let app = fetcher(&["http://127.0.0.1:*"]);
    let origin = ServeProcess::start(&["--h2c"], false);
    let inner = format!("http://{}/?http://{}/", app.addr, origin.addr);
    let (status, body) = get(&format!("http://{}/?{inner}", app.addr));
    assert_eq!(status, "200", "{body}");
    assert!(body.contains("h2wasm"), "{body}");
}

#[test]
fn bad_entries_are_refused_with_what_was_expected() {
    let app = example_component("fetch");
    for entry in [
        "example.com",
        "ftp://example.com",
        "https://example.com/api",
    ] {
        let o = run(h2wasm_bin()
            .args(["serve", "--h2c", "--listen", "127.0.0.1:0", "--app"])
            .arg(&app)
            .args(["--app-allow-outbound", entry]));
        assert!(!o.status.success(), "{entry}");
        let err = stderr(&o);
        assert!(err.contains("--app-allow-outbound"), "{err}");
        assert!(err.contains("expected SCHEME://HOST[:PORT]"), "{err}");
    }
}

/// An --app-h2c origin nothing allows could never be reached: the
/// server refuses to start and says which entry would allow it.
#[test]
fn an_h2c_origin_no_entry_allows_is_refused_at_startup() {
    let app = example_component("fetch");
    let o = run(h2wasm_bin()
        .args(["serve", "--h2c", "--listen", "127.0.0.1:0", "--app"])
        .arg(&app)
        .args(["--app-h2c", "127.0.0.1:9000"])
        .args(["--app-allow-outbound", "https://example.org"]));
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("--app-h2c 127.0.0.1:9000")
            && err.contains("--app-allow-outbound http://127.0.0.1:9000"),
        "{err}"
    );
}

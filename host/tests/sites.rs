//! Many sites behind one address (`serve --config`): listeners, sites
//! chosen by SNI and host, routes by longest prefix, the 421 of RFC 9113
//! §9.1.2 for requests a connection may not carry, redirects, the
//! `[server]` table under command-line flags, `check-config`'s errors,
//! and reloads (SIGHUP) that drop nothing, against curl, nghttp,
//! openssl s_client and h2load.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn temp_dir() -> tempfile::TempDir {
    scratch_dir("h2wasm-sites-")
}

/// A self-signed certificate for `names`, as `NAME.pem` and `NAME-key.pem`.
fn certificate(dir: &Path, file: &str, names: &[&str]) -> (PathBuf, PathBuf) {
    let c =
        rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let cert = dir.join(format!("{file}.pem"));
    let key = dir.join(format!("{file}-key.pem"));
    std::fs::write(&cert, c.cert.pem()).unwrap();
    std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// `h2wasm check-config` on `text`: its exit status and output.
fn check(dir: &Path, text: &str) -> (bool, String) {
    let file = dir.join("h2wasm.toml");
    std::fs::write(&file, text).unwrap();
    let o = run(h2wasm_bin().arg("check-config").arg(&file));
    (o.status.success(), format!("{}{}", stdout(&o), stderr(&o)))
}

use common::curl_status as curl;

/// A server's stderr lines, collected as they are written.
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn follow(server: &mut ServeProcess) -> Log {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = server.take_stderr();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Log(lines)
    }

    /// Waits for the `n`th line (1-based) containing `needle`.
    fn wait_for(&self, needle: &str, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found: Vec<String> = self
                .0
                .lock()
                .unwrap()
                .iter()
                .filter(|l| l.contains(needle))
                .cloned()
                .collect();
            if found.len() >= n {
                return found[n - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "no line {n} with {needle:?} in {:#?}",
                self.0.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Every kind of mistake is named with its line and key and what was
/// expected, and nothing is served from a file that has one.
#[test]
fn check_config_says_where_and_what_was_expected() {
    let dir = temp_dir();
    std::fs::create_dir(dir.path().join("www")).unwrap();
    let (a_cert, a_key) = certificate(dir.path(), "a", &["a.localhost"]);
    let site = format!(
        "[[site]]\nnames = [\"a.localhost\"]\ncert = {:?}\nkey = {:?}\n[[site.route]]\npath = \"/\"\nfiles = {{ root = \"www\" }}\n",
        a_cert, a_key
    );
    let listen = "[[listen]]\naddress = \"127.0.0.1:1\"\n";
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("{listen}bogus = 1\n{site}"),
            vec![
                "line 3",
                "unknown field `bogus`",
                "expected one of `address`",
            ],
        ),
        (
            format!("[[listen]]\naddress = \"nowhere\"\n{site}"),
            vec![
                "line 1",
                "[[listen]] 1 address",
                "expected e.g. 127.0.0.1:8443",
            ],
        ),
        (
            format!("[server]\nidle-timeout = 30\nmax-connections = 0\n{listen}{site}"),
            vec![
                "line 3",
                "[server] max-connections",
                "0 is not in 1..=1000000",
            ],
        ),
        (
            format!("[server]\nmax-conections = 5\n{listen}{site}"),
            vec![
                "line 2",
                "max-conections",
                "unknown key in [server]: expected one of max-connections",
            ],
        ),
        (
            format!("[server]\npadding = \"lots\"\n{listen}{site}"),
            vec!["line 2", "[server] padding", "invalid value 'lots'"],
        ),
        (
            format!("{listen}{site}echo = true\n"),
            vec![
                "line 7",
                "route /",
                "exactly one of files, app, proxy, redirect and echo",
            ],
        ),
        (
            format!(
                "{listen}{site}[[site.route]]\npath = \"/x\"\napp = {{ component = \"x.wasm\", instances = 0 }}\n"
            ),
            vec!["line 12", "app.instances", "0 is not in 1..="],
        ),
        (
            format!("{listen}{site}[[site.route]]\npath = \"/x\"\napp = {{ instances = 2 }}\n"),
            vec![
                "line 10",
                "route /x app",
                "expected component = \"APP.wasm\"",
            ],
        ),
        (
            format!(
                "{listen}{site}[[site.route]]\npath = \"/p\"\nproxy = {{ upstreams = [\"ftp://x\"] }}\n"
            ),
            vec![
                "line 10",
                "proxy.upstreams",
                "expected an http:// or https:// URL",
            ],
        ),
        (
            format!(
                "{listen}{site}[[site.route]]\npath = \"/p\"\nproxy = {{ upstreams = [\"http://x:1\"], fail-timeout = 0 }}\n"
            ),
            vec![
                "line 10",
                "proxy.fail-timeout",
                "expected 1 to 3600 seconds",
            ],
        ),
        (
            format!("{listen}{site}[[site.route]]\npath = \"x\"\necho = true\n"),
            vec!["line 10", "path", "expected a path prefix starting with /"],
        ),
        (
            format!("{listen}{}", site.replace("\"www\"", "\"missing\"")),
            vec!["line 7", "files.root", "not a directory"],
        ),
        (
            format!(
                "{listen}{}",
                site.replace("[\"a.localhost\"]", "[\"b.localhost\"]")
            ),
            vec!["line 3", "[[site]] 1", "does not cover b.localhost"],
        ),
        (
            format!("{listen}{site}{site}"),
            vec![
                "line 10",
                "[[site]] 2",
                "a.localhost is already a name of site 1",
            ],
        ),
        (
            format!("unmatched-host = 500\n{listen}{site}"),
            vec!["line 1", "unmatched-host", "expected 421 or 404"],
        ),
        (
            format!("{listen}{}", site.replace("[\"a.localhost\"]", "[\"a b\"]")),
            vec!["line 4", "names", "is not a host name"],
        ),
        (
            site.clone(),
            vec!["[[listen]]", "expected at least one [[listen]]"],
        ),
    ];
    for (text, wanted) in cases {
        let (ok, out) = check(dir.path(), &text);
        assert!(!ok, "accepted:\n{text}");
        for w in wanted {
            assert!(out.contains(w), "{w:?} not in {out:?} for:\n{text}");
        }
    }
    let (ok, out) = check(dir.path(), &format!("{listen}{site}"));
    assert!(ok, "{out}");
    assert!(
        out.contains("listen https://127.0.0.1:1 (h2, http/1.1)"),
        "{out}"
    );
    assert!(out.contains("site a.localhost"), "{out}");
    assert!(out.contains("files "), "{out}");
}

/// Two TLS sites with their own certificates, chosen by SNI; a third
/// sharing the first one's certificate may ride on its connections, the
/// second may not (421, over h2 and HTTP/1.1); routes by longest prefix,
/// with the prefix stripped where asked and no other spelling of a path
/// getting round its route; redirects; a host no site has gets the
/// configured 404; a cleartext listener moves HTTP/1.1 to https.
#[test]
fn sites_by_sni_and_host_with_routes_by_prefix() {
    let dir = temp_dir();
    let d = dir.path();
    let (a_cert, _) = certificate(d, "a", &["a.localhost", "*.a.localhost", "c.localhost"]);
    let (b_cert, _) = certificate(d, "b", &["b.localhost"]);
    std::fs::create_dir(d.join("www")).unwrap();
    std::fs::write(d.join("www/index.html"), "site a\n").unwrap();
    let (tls, clear, redirect) = (free_port(), free_port(), free_port());
    let config = format!(
        r#"
unmatched-host = 404

[server]
max-concurrent-streams = 50

[[listen]]
address = "127.0.0.1:{tls}"

[[listen]]
address = "127.0.0.1:{clear}"
tls = false

[[listen]]
address = "127.0.0.1:{redirect}"
tls = false
redirect-to-https = {tls}

[[site]]
names = ["a.localhost", "*.a.localhost"]
cert = "a.pem"
key = "a-key.pem"

[[site.route]]
path = "/"
files = {{ root = "www" }}

[[site.route]]
path = "/api"
strip-prefix = true
echo = true

[[site]]
names = ["b.localhost"]
cert = "b.pem"
key = "b-key.pem"

[[site.route]]
path = "/"
echo = true

[[site.route]]
path = "/old"
strip-prefix = true
redirect = {{ to = "https://b.localhost:{tls}/new" }}

[[site]]
names = ["c.localhost"]
cert = "a.pem"
key = "a-key.pem"

[[site.route]]
path = "/"
echo = true
"#
    );
    let file = d.join("h2wasm.toml");
    std::fs::write(&file, config).unwrap();
    let server = ServeProcess::spawn(
        &["--config".into(), file.display().to_string()],
        false,
        &[],
        &[addr(tls), addr(clear), addr(redirect)],
    );
    let resolve = |name: &str| format!("{name}:{tls}:127.0.0.1");
    let a_url = format!("https://a.localhost:{tls}");
    let a_ca = a_cert.to_str().unwrap();
    let b_ca = b_cert.to_str().unwrap();
    for http in ["--http2", "--http1.1"] {
        // Each site's own certificate, verified against it alone.
        let got = curl(&[
            http,
            "--cacert",
            a_ca,
            "--resolve",
            &resolve("a.localhost"),
            &format!("{a_url}/"),
        ]);
        assert_eq!(got, ("200".into(), "site a\n".into()), "{http}");
        let got = curl(&[
            http,
            "--cacert",
            a_ca,
            "--resolve",
            &resolve("x.a.localhost"),
            &format!("https://x.a.localhost:{tls}/"),
        ]);
        assert_eq!(got.0, "200", "{http}: a wildcard name");
        let got = curl(&[
            http,
            "--cacert",
            b_ca,
            "--resolve",
            &resolve("b.localhost"),
            &format!("https://b.localhost:{tls}/echo"),
            "-d",
            "to b",
        ]);
        assert_eq!(got, ("200".into(), "to b".into()), "{http}");
        // b's request on a's connection: 421. c's (same certificate): served.
        let got = curl(&[
            http,
            "--cacert",
            a_ca,
            "--resolve",
            &resolve("a.localhost"),
            "-H",
            "host: b.localhost",
            &format!("{a_url}/echo"),
            "-d",
            "x",
        ]);
        assert_eq!(got.0, "421", "{http}: {got:?}");
        let got = curl(&[
            http,
            "--cacert",
            a_ca,
            "--resolve",
            &resolve("a.localhost"),
            "-H",
            "host: c.localhost",
            &format!("{a_url}/echo"),
            "-d",
            "to c",
        ]);
        assert_eq!(got, ("200".into(), "to c".into()), "{http}");
        // The longest prefix, stripped; other spellings of it too.
        for path in ["/api/echo", "/%61pi/echo", "/x/../api/echo", "//api//echo"] {
            let got = curl(&[
                http,
                "--path-as-is",
                "--cacert",
                a_ca,
                "--resolve",
                &resolve("a.localhost"),
                &format!("{a_url}{path}"),
                "-d",
                "via api",
            ]);
            assert_eq!(got, ("200".into(), "via api".into()), "{http} {path}");
        }
        let got = curl(&[
            http,
            "--cacert",
            a_ca,
            "--resolve",
            &resolve("a.localhost"),
            &format!("{a_url}/apix"),
        ]);
        assert_eq!(got.0, "404", "{http}: /apix is not under /api");
        // A redirect keeps the rest of the path and the query.
        let o = run(Command::new("curl").args([
            "-sS",
            http,
            "--cacert",
            b_ca,
            "--resolve",
            &resolve("b.localhost"),
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            &format!("https://b.localhost:{tls}/old/x?y=1"),
        ]));
        assert_eq!(
            stdout(&o),
            format!("308 https://b.localhost:{tls}/new/x?y=1"),
            "{http}"
        );
    }
    // No site for the name, and no default: no handshake.
    let o = run(Command::new("curl").args([
        "-sS",
        "-k",
        "--resolve",
        &resolve("nobody.localhost"),
        &format!("https://nobody.localhost:{tls}/"),
    ]));
    assert!(!o.status.success(), "a handshake for a name no site has");
    // Cleartext: by Host; a host no site has gets unmatched-host (404).
    let got = curl(&[
        "--http2-prior-knowledge",
        "-H",
        "host: b.localhost",
        &format!("http://127.0.0.1:{clear}/echo"),
        "-d",
        "h2c",
    ]);
    assert_eq!(got, ("200".into(), "h2c".into()));
    let got = curl(&[
        "-H",
        "host: nobody.localhost",
        &format!("http://127.0.0.1:{clear}/"),
    ]);
    assert_eq!(got.0, "404");
    // The redirect listener sends everything to https.
    let o = run(Command::new("curl").args([
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        "-H",
        "host: a.localhost",
        &format!("http://127.0.0.1:{redirect}/p?q"),
    ]));
    assert_eq!(stdout(&o), format!("308 https://a.localhost:{tls}/p?q"));
    // The [server] table reached the engine's SETTINGS.
    let o = run(Command::new("nghttp").args(["-nv", &format!("http://127.0.0.1:{clear}/")]));
    assert!(
        stdout(&o).contains("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):50"),
        "{}",
        stdout(&o)
    );
    assert!(server.stop().status.success());
}

/// A `[server]` option given on the command line as well wins over the
/// file's.
#[test]
fn command_line_options_override_the_server_table() {
    let dir = temp_dir();
    let port = free_port();
    let file = dir.path().join("h2wasm.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\nmax-concurrent-streams = 7\n[[listen]]\naddress = \"127.0.0.1:{port}\"\ntls = false\n\
             [[site]]\ndefault = true\n[[site.route]]\npath = \"/\"\necho = true\n"
        ),
    )
    .unwrap();
    let settings = |extra: &[&str]| {
        let mut args = vec!["--config".to_string(), file.display().to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let server = ServeProcess::spawn(&args, false, &[], &[addr(port)]);
        let o = run(Command::new("nghttp").args(["-nv", &format!("http://127.0.0.1:{port}/")]));
        drop(server);
        stdout(&o)
    };
    let from_file = settings(&[]);
    assert!(
        from_file.contains("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):7"),
        "{from_file}"
    );
    let from_flag = settings(&["--max-concurrent-streams", "9"]);
    assert!(
        from_flag.contains("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):9"),
        "{from_flag}"
    );
    // One-site flags make no sense with a file.
    let o = run(h2wasm_bin()
        .args(["serve", "--config"])
        .arg(&file)
        .arg("--h2c"));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
}

/// docs/config.md is the reference the code renders.
#[test]
fn the_reference_in_docs_is_current() {
    let o = run(h2wasm_bin().arg("config-reference"));
    assert!(o.status.success());
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/config.md");
    let written = std::fs::read_to_string(&docs).unwrap_or_default();
    assert!(
        written == stdout(&o),
        "docs/config.md is stale: run `h2wasm config-reference > docs/config.md`"
    );
}

/// One h2load run's requests: (total, succeeded), asserting that none
/// failed, errored or got anything but 2xx.
fn h2load(args: &[String]) -> (u64, u64) {
    let o = run(Command::new("h2load").args(args));
    let out = format!("{}{}", stdout(&o), stderr(&o));
    let line = |prefix: &str| {
        out.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {out}"))
            .to_string()
    };
    let requests = line("requests:");
    let statuses = line("status codes:");
    let number = |l: &str, what: &str| -> u64 {
        l.split(',')
            .find(|p| p.trim_end().ends_with(what))
            .and_then(|p| p.split_whitespace().rev().nth(1)?.parse().ok())
            .unwrap_or_else(|| panic!("no {what:?} in {l:?}"))
    };
    assert_eq!(number(&requests, "failed"), 0, "{out}");
    assert_eq!(number(&requests, "errored"), 0, "{out}");
    for bad in ["3xx", "4xx", "5xx"] {
        assert_eq!(number(&statuses, bad), 0, "{out}");
    }
    let total = number(&requests, "total");
    (total, number(&requests, "succeeded"))
}

/// The certificate in PEM, as lines of base64.
fn pem_body(text: &str) -> String {
    text.lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect()
}

/// 20 reloads, each changing a route's directory, the certificate and
/// the app, while h2load runs over h2 and HTTP/1.1 all along: no request
/// fails, and after each reload a fresh `openssl s_client` gets the new
/// certificate and the new route and app answer. Then a file with a
/// mistake is refused with its reason, and the previous one goes on
/// serving.
#[test]
fn reloads_change_routes_certificates_and_apps_and_drop_nothing() {
    const RELOADS: usize = 20;
    let dir = temp_dir();
    let d = dir.path().to_path_buf();
    let app = example_component("config");
    let (tls, clear) = (free_port(), free_port());
    let file = d.join("h2wasm.toml");
    let write = |i: usize| -> PathBuf {
        let www = d.join(format!("www{i}"));
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(www.join("index.html"), "the same page\n").unwrap();
        std::fs::write(www.join("version.txt"), format!("{i}")).unwrap();
        let (cert, key) = certificate(&d, &format!("gen{i}"), &["localhost", "127.0.0.1"]);
        let config = format!(
            r#"
[[listen]]
address = "127.0.0.1:{tls}"

[[listen]]
address = "127.0.0.1:{clear}"
tls = false

[[site]]
names = ["localhost"]
default = true
cert = {cert:?}
key = {key:?}

[[site.route]]
path = "/"
files = {{ root = "www{i}" }}

[[site.route]]
path = "/app"
strip-prefix = true
app = {{ component = {app:?}, instances = 8, config = {{ generation = "{i}" }} }}
"#
        );
        // Written whole, then renamed: a reload never reads half a file.
        let partial = d.join("h2wasm.toml.partial");
        std::fs::write(&partial, config).unwrap();
        std::fs::rename(&partial, &file).unwrap();
        cert
    };
    write(0);
    let mut server = ServeProcess::spawn(
        &[
            "--config".into(),
            file.display().to_string(),
            "--access-log".into(),
            "off".into(),
        ],
        true,
        &[("RUST_LOG", "warn,h2wasm=info")],
        &[addr(tls), addr(clear)],
    );
    let log = Log::follow(&mut server);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = |args: Vec<String>| {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut sum = (0, 0, 0);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (total, ok) = h2load(&args);
                sum = (sum.0 + 1, sum.1 + total, sum.2 + ok);
            }
            sum
        })
    };
    let uris = |scheme: &str, port: u16| {
        vec![
            format!("{scheme}://127.0.0.1:{port}/"),
            format!("{scheme}://127.0.0.1:{port}/app/generation"),
        ]
    };
    let mut h2 = vec!["-n", "600", "-c", "4", "-m", "4"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    h2.extend(uris("https", tls));
    let mut h1 = vec!["--h1", "-n", "300", "-c", "4"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    h1.extend(uris("http", clear));
    let loads = [load(h2), load(h1)];
    let started = Instant::now();
    for i in 1..=RELOADS {
        let cert = write(i);
        server.signal(libc::SIGHUP);
        log.wait_for("reloaded", i);
        let o = run(Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &format!("127.0.0.1:{tls}"),
                "-servername",
                "localhost",
            ])
            .stdin(std::process::Stdio::null()));
        assert_eq!(
            pem_body(&stdout(&o)),
            pem_body(&std::fs::read_to_string(&cert).unwrap()),
            "reload {i}: a fresh handshake gets the new certificate"
        );
        let ca = cert.to_str().unwrap();
        let got = curl(&[
            "--cacert",
            ca,
            &format!("https://localhost:{tls}/version.txt"),
            "--resolve",
            &format!("localhost:{tls}:127.0.0.1"),
        ]);
        assert_eq!(
            got,
            ("200".into(), i.to_string()),
            "reload {i}: the new route"
        );
        let got = curl(&[
            "--http1.1",
            &format!("http://127.0.0.1:{clear}/app/generation"),
        ]);
        assert_eq!(
            got,
            ("200".into(), i.to_string()),
            "reload {i}: the new app"
        );
    }
    let reloading = started.elapsed();
    // A mistake: refused, said why and where, and the last good one serves on.
    std::fs::write(
        &file,
        "[[listen]]\naddress = \"127.0.0.1:1\"\n[[site]]\nnames = [\"x\"]\nbogus = true\n",
    )
    .unwrap();
    server.signal(libc::SIGHUP);
    let refused = log.wait_for("reload refused", 1);
    assert!(
        refused.contains("line 5") && refused.contains("unknown field `bogus`"),
        "{refused}"
    );
    let got = curl(&[&format!("http://127.0.0.1:{clear}/version.txt")]);
    assert_eq!(got, ("200".into(), RELOADS.to_string()));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let [h2, h1] = loads.map(|t| t.join().unwrap());
    eprintln!(
        "{RELOADS} reloads in {:.1} s; h2: {} h2load runs, {} requests, {} succeeded; \
         HTTP/1.1: {} runs, {} requests, {} succeeded",
        reloading.as_secs_f64(),
        h2.0,
        h2.1,
        h2.2,
        h1.0,
        h1.1,
        h1.2
    );
    assert!(h2.1 > 0 && h1.1 > 0);
    assert_eq!((h2.1, h1.1), (h2.2, h1.2), "every request succeeded");
    assert!(server.stop().status.success());
}

/// examples/h2wasm.toml, with the certificates scripts/example-certs
/// makes and the example components built, passes `check-config` (which
/// loads all of it: certificates, the directory, the app compiled).
#[test]
fn the_example_configuration_checks() {
    example_component("hello");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let o = run(&mut Command::new(root.join("scripts/example-certs")));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(h2wasm_bin()
        .arg("check-config")
        .arg(root.join("examples/h2wasm.toml")));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("site a.localhost 127.0.0.1 (default)"),
        "{out}"
    );
    assert!(out.contains("site b.localhost"), "{out}");
    assert!(
        out.contains("listen http://127.0.0.1:8080 -> https port 8443"),
        "{out}"
    );
}

/// Two TLS sites with their own certificates and a third sharing the
/// first one's, for the browser and for Node's client.
struct TwoSites {
    server: ServeProcess,
    port: u16,
    a_cert: PathBuf,
    b_cert: PathBuf,
    _dir: tempfile::TempDir,
}

fn two_sites() -> TwoSites {
    let dir = temp_dir();
    let d = dir.path();
    let (a_cert, _) = certificate(d, "a", &["a.localhost", "c.localhost"]);
    let (b_cert, _) = certificate(d, "b", &["b.localhost"]);
    let port = free_port();
    for site in ["a", "b"] {
        std::fs::create_dir(d.join(site)).unwrap();
    }
    std::fs::write(
        d.join("a/index.html"),
        format!(
            "<!doctype html><title>a</title><p id=\"b\">not loaded</p>\
             <script src=\"https://b.localhost:{port}/b.js\"></script>"
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("b/b.js"),
        "document.getElementById('b').textContent = 'loaded from b';\n",
    )
    .unwrap();
    let file = d.join("h2wasm.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[listen]]
address = "127.0.0.1:{port}"

[[site]]
names = ["a.localhost"]
cert = "a.pem"
key = "a-key.pem"
[[site.route]]
path = "/"
files = {{ root = "a" }}

[[site]]
names = ["b.localhost"]
cert = "b.pem"
key = "b-key.pem"
[[site.route]]
path = "/"
files = {{ root = "b" }}

[[site]]
names = ["c.localhost"]
cert = "a.pem"
key = "a-key.pem"
[[site.route]]
path = "/"
echo = true
"#
        ),
    )
    .unwrap();
    let server = ServeProcess::spawn(
        &["--config".into(), file.display().to_string()],
        true,
        &[],
        &[addr(port)],
    );
    TwoSites {
        server,
        port,
        a_cert,
        b_cert,
        _dir: dir,
    }
}

/// Headless Chromium loads a page from one site that runs a script from
/// the other: two names, two certificates, each handshake's chosen by
/// its SNI, both over HTTP/2.
#[test]
fn chromium_loads_a_page_from_two_sites_by_sni() {
    let sites = two_sites();
    let browser = chromium();
    let profile = tempfile::tempdir().unwrap();
    let trusted = format!("{},{}", spki_hash(&sites.a_cert), spki_hash(&sites.b_cert));
    let o = run(Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--timeout=20000",
            "--dump-dom",
        ])
        .arg(format!("--ignore-certificate-errors-spki-list={trusted}"))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("https://a.localhost:{}/", sites.port)));
    let dom = stdout(&o);
    assert!(
        dom.contains("<p id=\"b\">loaded from b</p>"),
        "{dom}\n{}",
        stderr(&o)
    );
    let log = String::from_utf8_lossy(&sites.server.stop().stderr).into_owned();
    for line in ["\"GET / HTTP/2.0\" 200", "\"GET /b.js HTTP/2.0\" 200"] {
        assert!(log.contains(line), "{line} in {log}");
    }
}

/// Node's http2 client, on a connection whose handshake was for
/// a.localhost: its ORIGIN frame (RFC 8336) names a.localhost and
/// c.localhost (same certificate) and not b.localhost; a request for
/// c.localhost is served, one for b.localhost (its own certificate) gets
/// 421. A connection for b.localhost announces b.localhost only.
#[test]
fn node_gets_421_for_a_site_its_connection_does_not_cover() {
    let sites = two_sites();
    let script = r#"
const http2 = require('http2');
const fs = require('fs');
const [port, ca] = process.argv.slice(1);
const open = (servername) => {
  const s = http2.connect(`https://127.0.0.1:${port}`, {
    servername, ca: fs.readFileSync(ca), rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
  });
  s.announced = [];
  s.on('origin', (origins) => s.announced.push(...origins));
  return s;
};
const session = open('a.localhost');
const ask = (host) => new Promise((resolve, reject) => {
  const req = session.request({ ':path': '/echo', ':method': 'POST', ':authority': `${host}:${port}` });
  let status;
  req.on('response', (h) => { status = h[':status']; });
  req.on('data', () => {});
  req.on('end', () => resolve(`${host} ${status}`));
  req.on('error', reject);
  req.end('x');
});
(async () => {
  for (const host of ['a.localhost', 'c.localhost', 'b.localhost']) console.log(await ask(host));
  console.log(`a: ${session.announced.join(' ')}`);
  session.close();
  const b = open('b.localhost');
  await new Promise((resolve, reject) => {
    const req = b.request({ ':path': '/b.js', ':authority': `b.localhost:${port}` });
    req.on('data', () => {});
    req.on('end', resolve);
    req.on('error', reject);
  });
  console.log(`b: ${b.announced.join(' ')}`);
  b.close();
})().catch((e) => { console.error(e); process.exit(1); });
"#;
    let o = run(Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(sites.port.to_string())
        .arg(&sites.a_cert));
    assert!(o.status.success(), "{}", stderr(&o));
    // a.localhost's route is files: a POST there is served, with 405.
    let port = sites.port;
    assert_eq!(
        stdout(&o),
        format!(
            "a.localhost 405\nc.localhost 200\nb.localhost 421\n\
             a: https://a.localhost:{port} https://c.localhost:{port}\n\
             b: https://b.localhost:{port}\n"
        ),
        "{}",
        stderr(&o)
    );
    drop(sites);
}

/// `--watch`: a configuration file replaced on disk is reloaded without
/// a signal; one replaced with a mistake is refused and the last good one
/// serves on.
#[test]
fn watch_reloads_a_changed_file() {
    let dir = temp_dir();
    let d = dir.path();
    let port = free_port();
    for v in ["one", "two"] {
        std::fs::create_dir(d.join(v)).unwrap();
        std::fs::write(d.join(v).join("v.txt"), v).unwrap();
    }
    let file = d.join("h2wasm.toml");
    let write = |root: &str| {
        let partial = d.join("h2wasm.toml.partial");
        std::fs::write(
            &partial,
            format!(
                "[[listen]]\naddress = \"127.0.0.1:{port}\"\ntls = false\n[[site]]\ndefault = true\n\
                 [[site.route]]\npath = \"/\"\nfiles = {{ root = \"{root}\" }}\n"
            ),
        )
        .unwrap();
        std::fs::rename(&partial, &file).unwrap();
    };
    write("one");
    let server = ServeProcess::spawn(
        &[
            "--config".into(),
            file.display().to_string(),
            "--watch".into(),
        ],
        false,
        &[],
        &[addr(port)],
    );
    let url = format!("http://127.0.0.1:{port}/v.txt");
    assert_eq!(curl(&[&url]), ("200".into(), "one".into()));
    let until = |want: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let got = curl(&[&url]);
            if got.1 == want {
                return;
            }
            assert!(Instant::now() < deadline, "still {got:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    write("two");
    until("two");
    // A mistake: refused; "two" serves on.
    std::fs::write(&file, "[[listen]]\nbogus = 1\n").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(curl(&[&url]), ("200".into(), "two".into()));
    write("one");
    until("one");
    assert!(server.stop().status.success());
}

/// A reload opens the listeners the file adds, closes those it removes
/// and changes one in place (here: HTTP/1.1 turned off), while a listener
/// the file keeps serves on; an address that cannot be listened on
/// refuses the reload with nothing changed.
#[test]
fn reloads_open_close_and_change_listeners() {
    let dir = temp_dir();
    let d = dir.path();
    std::fs::write(d.join("v.txt"), "files").unwrap();
    let (kept, added, taken) = (free_port(), free_port(), free_port());
    let file = d.join("h2wasm.toml");
    let write = |listeners: &str| {
        let partial = d.join("h2wasm.toml.partial");
        std::fs::write(
            &partial,
            format!(
                "{listeners}[[site]]\ndefault = true\n[[site.route]]\npath = \"/\"\n\
                 files = {{ root = \"{}\" }}\n",
                d.display()
            ),
        )
        .unwrap();
        std::fs::rename(&partial, &file).unwrap();
    };
    let listen = |port: u16, tls: bool, http1: bool| {
        format!("[[listen]]\naddress = \"127.0.0.1:{port}\"\ntls = {tls}\nhttp1 = {http1}\n")
    };
    write(&listen(kept, false, true));
    let mut server = ServeProcess::spawn(
        &["--config".into(), file.display().to_string()],
        true,
        &[("RUST_LOG", "warn,h2wasm=info")],
        &[addr(kept)],
    );
    let log = Log::follow(&mut server);
    let url = |scheme: &str, port: u16| format!("{scheme}://127.0.0.1:{port}/v.txt");
    let ok = ("200".to_string(), "files".to_string());
    assert_eq!(curl(&["--http1.1", &url("http", kept)]), ok);
    // Added: a TLS listener, beside the one kept.
    write(&(listen(kept, false, true) + &listen(added, true, true)));
    server.signal(libc::SIGHUP);
    log.wait_for("reloaded", 1);
    assert_eq!(curl(&["-k", &url("https", added)]), ok);
    assert_eq!(curl(&["--http1.1", &url("http", kept)]), ok);
    // Changed in place and removed: the kept address now speaks HTTP/2
    // only; the TLS one is gone.
    write(&listen(kept, false, false));
    server.signal(libc::SIGHUP);
    log.wait_for("reloaded", 2);
    assert_eq!(curl(&["--http2-prior-knowledge", &url("http", kept)]), ok);
    assert_eq!(curl(&["--http1.1", &url("http", kept)]).0, "000");
    log.wait_for(&format!("stopped listening on 127.0.0.1:{added}"), 1);
    // Closed as soon as it is told: nothing accepts there any more.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(addr(added)).is_ok() {
        assert!(Instant::now() < deadline, "{added} still accepts");
        std::thread::sleep(Duration::from_millis(20));
    }
    // An address another process holds: refused, and the server goes on
    // as it was.
    let holder = std::net::TcpListener::bind(addr(taken)).unwrap();
    write(&(listen(kept, false, true) + &listen(taken, false, true)));
    server.signal(libc::SIGHUP);
    let refused = log.wait_for("reload refused", 1);
    assert!(
        refused.contains(&format!("cannot listen on 127.0.0.1:{taken}")),
        "{refused}"
    );
    assert_eq!(curl(&["--http1.1", &url("http", kept)]).0, "000");
    assert_eq!(curl(&["--http2-prior-knowledge", &url("http", kept)]), ok);
    drop(holder);
    assert!(server.stop().status.success());
}

//! Shared helpers for host tests: one compiled runtime per test binary,
//! servers on ephemeral loopback ports (each on its own thread and tokio
//! runtime, so tests can block on external peers), and certificates.
#![allow(dead_code)]

pub(crate) mod raw;

use h2wasm::bindings::Options;
use h2wasm::serve::ConnectionConfig;
use h2wasm::serve::Server;
use h2wasm::service::body::Incoming;
use h2wasm::service::{ResponseBody, SharedService, shared};
use h2wasm::{Runtime, RuntimeConfig};
use http::{Request, Response};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::watch;

/// A loopback port free a moment ago, for a server process to listen
/// on. Taken below Linux's ephemeral range (32768-60999), from a counter
/// of this test binary's own: a port from `bind(0)` could be handed out
/// again, to another test's server or a client's source port, before the
/// process binds it (a server that then fails to bind while the other
/// accepts looks started: seen once in CI, as another server's SETTINGS).
pub(crate) fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const SPAN: u16 = 400;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Binaries run one after another; the pid spreads them anyway.
    let base = 20_000 + (std::process::id() % 30) as u16 * SPAN;
    for _ in 0..SPAN {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {base}..{}", base + SPAN);
}

pub(crate) fn runtime() -> Arc<Runtime> {
    static RT: OnceLock<Arc<Runtime>> = OnceLock::new();
    RT.get_or_init(|| {
        Arc::new(
            Runtime::embedded(&RuntimeConfig {
                max_connections: 200,
                ..Default::default()
            })
            .expect("engine component compiles"),
        )
    })
    .clone()
}

/// A self-signed certificate for localhost/127.0.0.1, written once.
pub(crate) fn certs() -> (PathBuf, PathBuf) {
    static CERTS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    CERTS
        .get_or_init(|| {
            // Under target/ (cargo's directory for integration tests'
            // files), not the system's temporary directory.
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("h2wasm-test-certs-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let c =
                rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                    .unwrap();
            let cert = dir.join("cert.pem");
            let key = dir.join("key.pem");
            std::fs::write(&cert, c.cert.pem()).unwrap();
            std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
            (cert, key)
        })
        .clone()
}

pub(crate) struct TestServer {
    pub addr: SocketAddr,
    pub tls: bool,
    /// The server, for what may change while it runs.
    pub server: Arc<Server>,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub(crate) fn start(tls: bool, service: SharedService) -> TestServer {
        Self::start_with(runtime(), tls, service)
    }

    pub(crate) fn start_with(
        runtime: Arc<Runtime>,
        tls: bool,
        service: SharedService,
    ) -> TestServer {
        Self::start_configured(runtime, tls, service, |_| {})
    }

    /// As `start_with`, with the engine options adjusted by `tweak`.
    pub(crate) fn start_configured(
        runtime: Arc<Runtime>,
        tls: bool,
        service: SharedService,
        tweak: impl FnOnce(&mut Options) + Send + 'static,
    ) -> TestServer {
        Self::start_full(runtime, tls, service, tweak, ConnectionConfig::default())
    }

    /// As `start_configured`, with how connections are run.
    pub(crate) fn start_full(
        runtime: Arc<Runtime>,
        tls: bool,
        service: SharedService,
        tweak: impl FnOnce(&mut Options) + Send + 'static,
        connection: ConnectionConfig,
    ) -> TestServer {
        // RUST_LOG=h2wasm=debug shows the servers' logs with the test's.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let (stop, stop_rx) = watch::channel(false);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let tls_config = tls.then(|| {
                    let (cert, key) = certs();
                    h2wasm::tls::server_config(&cert, &key, true).unwrap()
                });
                let mut options = runtime.default_options().await.unwrap();
                tweak(&mut options);
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let mut server = Server::builder(runtime, options, service)
                    .grace(Duration::from_secs(5))
                    .connection(connection);
                if let Some(tls) = tls_config {
                    server = server.tls(tls);
                }
                let server = server.build();
                addr_tx
                    .send((listener.local_addr().unwrap(), server.clone()))
                    .unwrap();
                server.run(listener, stop_rx).await.unwrap();
            });
        });
        let (addr, server) = addr_rx.recv().unwrap();
        TestServer {
            addr,
            tls,
            server,
            stop,
            thread: Some(thread),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        if self.tls {
            format!("https://localhost:{}{path}", self.addr.port())
        } else {
            format!("http://127.0.0.1:{}{path}", self.addr.port())
        }
    }

    /// Graceful shutdown; waits until the server has returned.
    pub(crate) fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

pub(crate) fn builtin() -> SharedService {
    shared(h2wasm::apps::builtin::Builtin)
}

/// A service from an async function of the request.
pub(crate) fn app<F, Fut>(f: F) -> SharedService
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<ResponseBody>> + Send + 'static,
{
    shared(tower::service_fn(move |req| {
        let f = f.clone();
        async move { Ok::<_, std::convert::Infallible>(f(req).await) }
    }))
}

/// A response with `status`, the given headers and a body in memory.
pub(crate) fn respond(
    status: u16,
    headers: &[(&str, &str)],
    body: impl Into<bytes::Bytes>,
) -> Response<ResponseBody> {
    let mut r = Response::new(h2wasm::service::full(body));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
    for (n, v) in headers {
        r.headers_mut().append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    r
}

/// Runs a command, returning its output; panics with context if it cannot start.
pub(crate) fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (is it installed? see scripts/setup)"))
}

pub(crate) fn h2wasm_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_h2wasm"))
}

pub(crate) fn sha256_file(path: &Path) -> String {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    format!("{:x}", h.finalize())
}

/// A file of `len` pseudo-random bytes (deterministic per `seed`).
pub(crate) fn data_file(dir: &Path, len: u64, seed: u64) -> PathBuf {
    use std::io::Write;
    let path = dir.join(format!("data-{len}-{seed}.bin"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut x = seed | 1;
    let mut left = len;
    let mut block = vec![0u8; 1 << 16];
    while left > 0 {
        for b in block.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
    path
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Starts a Node helper script that prints its port on the first line.
pub(crate) struct NodeServer {
    pub child: std::process::Child,
    pub port: u16,
}

impl NodeServer {
    pub(crate) fn start(args: &[&str]) -> NodeServer {
        Self::start_script("server.js", args)
    }

    /// As `start`, with another script under `tests/node`.
    pub(crate) fn start_script(script: &str, args: &[&str]) -> NodeServer {
        use std::io::BufRead;
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/node")
            .join(script);
        let mut child = Command::new("node")
            .arg(script)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("node is installed");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("node server prints its port");
        NodeServer { child, port }
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `h2wasm serve` run as a child process on a free loopback port. It is
/// killed if the test panics before stopping it.
pub(crate) struct ServeProcess {
    child: Option<std::process::Child>,
    pub addr: SocketAddr,
}

impl ServeProcess {
    /// Starts `h2wasm serve ARGS --listen 127.0.0.1:PORT` and waits until
    /// the port accepts. With `log`, stderr is kept for `stop`.
    pub(crate) fn start(args: &[&str], log: bool) -> ServeProcess {
        Self::start_with_env(args, log, &[])
    }

    /// As `start`, with `env` added to the server's environment.
    pub(crate) fn start_with_env(args: &[&str], log: bool, env: &[(&str, &str)]) -> ServeProcess {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(["--listen".to_string(), addr.to_string()]);
        Self::spawn(&all, log, env, &[addr])
    }

    /// Starts `h2wasm serve ARGS` and waits until each of `addrs`
    /// accepts; `addr` is the first.
    pub(crate) fn spawn(
        args: &[String],
        log: bool,
        env: &[(&str, &str)],
        addrs: &[SocketAddr],
    ) -> ServeProcess {
        let child = h2wasm_bin()
            .arg("serve")
            .args(args)
            .envs(env.iter().copied())
            .stderr(match log {
                true => std::process::Stdio::piped(),
                false => std::process::Stdio::null(),
            })
            .spawn()
            .unwrap();
        let mut served = ServeProcess {
            child: Some(child),
            addr: addrs[0],
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        for addr in addrs {
            while std::net::TcpStream::connect(addr).is_err() {
                if let Ok(Some(status)) = served.child.as_mut().unwrap().try_wait() {
                    panic!("h2wasm serve {args:?} exited: {status}");
                }
                assert!(std::time::Instant::now() < deadline, "server did not start");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        served
    }

    /// Sends the child a signal (SIGHUP: reload).
    pub(crate) fn signal(&self, signal: i32) {
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(self.child.as_ref().unwrap().id() as i32, signal);
        }
    }

    /// The child's stderr, to read as it is written (taken once; the
    /// server must have been started with `log`).
    pub(crate) fn take_stderr(&mut self) -> std::process::ChildStderr {
        self.child.as_mut().unwrap().stderr.take().unwrap()
    }

    /// The child's peak resident memory (VmHWM), in KiB.
    pub(crate) fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    /// The child's resident memory now (VmRSS), in KiB.
    pub(crate) fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// A field of the child's /proc status, in KiB.
    fn status_kib(&self, field: &str) -> u64 {
        let pid = self.child.as_ref().unwrap().id();
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// Has the child exited (and with what)?
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().unwrap().try_wait().ok().flatten()
    }

    /// SIGTERM (a graceful shutdown), then the exit and the log.
    pub(crate) fn stop(mut self) -> Output {
        let child = self.child.take().unwrap();
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        child.wait_with_output().unwrap()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An example wasi:http component from `examples/`, built for
/// wasm32-wasip2 once per test binary (its own workspace and target dir,
/// so the build does not wait on the cargo running the tests).
pub(crate) fn example_component(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let o = run(Command::new(cargo)
            .args([
                "build",
                "--locked",
                "--release",
                "--target",
                "wasm32-wasip2",
            ])
            .arg("--manifest-path")
            .arg(examples.join("Cargo.toml")));
        assert!(o.status.success(), "building examples/: {}", stderr(&o));
        examples.join("target/wasm32-wasip2/release")
    });
    let path = dir.join(format!("{name}.wasm"));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// A directory of its own under the target's temporary directory, removed
/// when dropped.
pub(crate) fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

/// `curl -sS` with `args` (20 s at most): the status code and the body.
pub(crate) fn curl_status(args: &[&str]) -> (String, String) {
    let o = run(std::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", "-w", "\n%{http_code}"])
        .args(args));
    let out = stdout(&o);
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
    (code.to_string(), body.to_string())
}

/// The SHA-256 of a certificate's public key, base64 (what Chromium's
/// --ignore-certificate-errors-spki-list takes).
pub(crate) fn spki_hash(cert: &Path) -> String {
    let o = run(Command::new("sh").arg("-c").arg(format!(
        "openssl x509 -in {} -pubkey -noout | openssl pkey -pubin -outform der \
         | openssl dgst -sha256 -binary | base64",
        cert.display()
    )));
    stdout(&o).trim().to_string()
}

/// The headless Chromium on this machine (scripts/setup installs it).
pub(crate) fn chromium() -> &'static str {
    ["chromium-headless-shell", "chromium"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok())
        .expect("headless Chromium is installed (see scripts/setup)")
}

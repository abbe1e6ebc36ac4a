//! The `h2wasm` command: serve and fetch over HTTP/2 with the engine
//! running as a WebAssembly component.

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use h2wasm::apps::wasi_http::{ComponentConfig, MAX_INSTANCES, WasiHttpApp};
use h2wasm::bindings::PaddingStrategy;
use h2wasm::client::{self, BodySource, ClientOptions, Output, Target};
use h2wasm::outgoing::{Outgoing, OutgoingConfig};
use h2wasm::service::{SharedService, shared};
use h2wasm::tls::Trust;
use h2wasm::{Runtime, RuntimeConfig};
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "h2wasm",
    version,
    about = "HTTP/2 served and fetched by an engine running as a WebAssembly component"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a directory, a wasi:http component (--app) or the built-in
    /// site over HTTP/2 (TLS by default) and HTTP/1.1.
    Serve(Box<ServeArgs>),
    /// Fetch URLs over one HTTP/2 connection, concurrently.
    Get(GetArgs),
    /// Load the engine component and print its default settings.
    Info(EngineArg),
    /// Compile the engine to native code for the given settings (what
    /// serve runs in a child process; the result is kept and reused).
    #[command(hide = true)]
    CompileEngine(CompileArgs),
}

#[derive(Args)]
struct CompileArgs {
    /// Where to write the compiled engine.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[arg(long, value_name = "N", default_value_t = 4)]
    max_connections: u32,
    #[arg(long, value_name = "N", default_value_t = 4)]
    max_live: u32,
    #[command(flatten)]
    engine: EngineArg,
}

#[derive(Args)]
struct EngineArg {
    /// Load this engine component instead of the embedded one.
    #[arg(long, value_name = "FILE.wasm")]
    engine: Option<PathBuf>,
    /// Milliseconds one call into the engine may run before its connection
    /// is ended (a stuck engine cannot hold a thread); 0 compiles the
    /// engine without these checks, about 10% faster.
    #[arg(long, value_name = "MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    max_call_time: u64,
}

#[derive(Args)]
struct ServeArgs {
    /// Directory to serve; without it, a built-in site (index page and /echo).
    #[arg(conflicts_with = "app")]
    dir: Option<PathBuf>,
    /// Serve this wasi:http component (world wasi:http/proxy, the kind
    /// `wasmtime serve` runs): every request runs in a fresh instance.
    #[arg(long, value_name = "APP.wasm")]
    app: Option<PathBuf>,
    /// Requests the --app component runs at once, each in its own
    /// instance (the instance pool); more wait for a slot.
    #[arg(long, value_name = "N", default_value_t = ComponentConfig::default().max_instances,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_INSTANCES)), requires = "app")]
    app_instances: u32,
    /// Linear memory each --app instance may grow to, e.g. 64M; growing
    /// past it fails its request.
    #[arg(long, value_name = "SIZE", value_parser = parse_app_memory, requires = "app")]
    app_memory: Option<u64>,
    /// Seconds one request's --app instance may live, wall clock, from
    /// instantiation until its response body is written, whatever it waits
    /// on (the client, the request body, outgoing requests); then it is
    /// dropped: 504, or a reset stream if the response had begun. 0: no
    /// limit.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(0..=86_400), requires = "app")]
    app_time_limit: u64,
    /// Milliseconds of execution one request's --app instance may use
    /// (its code running, not its waits), checked every 10 ms; past it
    /// the instance traps (500). 0: only --app-time-limit bounds it.
    #[arg(long, value_name = "MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(0..=86_400_000), requires = "app")]
    app_cpu_limit: u64,
    /// Seconds a request may wait for a free --app instance (all
    /// --app-instances busy); then it is answered 503.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600), requires = "app")]
    app_queue_timeout: u64,
    /// Times a request may pass through this server's --app (counted in
    /// its CDN-Loop field, RFC 8586) before it is answered 508.
    #[arg(long, value_name = "N", default_value_t = ComponentConfig::default().max_hops,
          value_parser = clap::value_parser!(u32).range(1..=64), requires = "app")]
    app_max_hops: u32,
    /// Outgoing connections the --app component's requests may hold open
    /// at once (apart from the server's own); more wait for one.
    #[arg(long, value_name = "N", default_value_t = OutgoingConfig::default().max_connections,
          value_parser = clap::value_parser!(u32).range(1..=4096), requires = "app")]
    app_max_outgoing: u32,
    /// Seconds an outgoing request of the --app component may take to
    /// connect (TCP and TLS, waiting for a free connection included).
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600), requires = "app")]
    app_connect_timeout: u64,
    /// Seconds an outgoing request of the --app component may wait for
    /// its response's head once sent.
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600), requires = "app")]
    app_first_byte_timeout: u64,
    /// Origins the --app component's outgoing requests reach in cleartext
    /// HTTP/2 (prior knowledge), e.g. --app-h2c 127.0.0.1:8080 (repeatable);
    /// other http:// origins get HTTP/1.1, https:// ones h2 when they
    /// offer it by ALPN.
    #[arg(long = "app-h2c", value_name = "HOST:PORT,...", value_parser = parse_host_ports, requires = "app")]
    app_h2c: Vec<Vec<String>>,
    /// Trust only the CA certificates in this PEM file for the --app
    /// component's outgoing https:// requests [default: the platform's roots].
    #[arg(long, value_name = "FILE", requires = "app")]
    app_cacert: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8443, or 127.0.0.1:8080 with --h2c].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Cleartext instead of TLS: HTTP/2 with prior knowledge, and
    /// HTTP/1.1 for clients that do not open with the HTTP/2 preface.
    #[arg(long)]
    h2c: bool,
    /// Serve HTTP/2 only: no HTTP/1.1 for clients that do not speak it
    /// (Node's allowHTTP1 off); they are disconnected.
    #[arg(long)]
    no_http1: bool,
    /// Certificate chain (PEM); without it a development certificate is generated.
    #[arg(long, value_name = "FILE", requires = "key", conflicts_with = "h2c")]
    cert: Option<PathBuf>,
    /// Private key (PEM) for --cert.
    #[arg(long, value_name = "FILE", requires = "cert", conflicts_with = "h2c")]
    key: Option<PathBuf>,
    /// Connections held at once; each one beyond is refused (SETTINGS,
    /// then GOAWAY REFUSED_STREAM; over TLS, closed). The instance pool is
    /// sized for the live ones (see --max-live).
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,
    /// Connections that may hold an engine instance at once (the instance
    /// pool); an idle connection hibernates and holds none. One that needs
    /// an instance while all are taken waits for one [default: 10,000, or
    /// --max-connections if that is less].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16_384))]
    max_live: Option<u32>,
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams a client may have open on
    /// one connection; beyond it they are refused with REFUSED_STREAM, and
    /// a client that keeps opening them gets GOAWAY.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_concurrent_streams: u32,
    /// Seconds a connection with no open streams is kept before it is
    /// closed with GOAWAY NO_ERROR; 0 keeps it for ever.
    #[arg(long, value_name = "SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    idle_timeout: u64,
    /// Resident memory the server may use, e.g. 512M or 4G: above it, new
    /// connections and new streams are refused (REFUSED_STREAM) until it
    /// falls again [default: half the machine's memory].
    #[arg(long, value_name = "SIZE", value_parser = parse_server_memory)]
    max_memory: Option<u64>,
    /// Milliseconds a connection with nothing in flight keeps its engine
    /// instance; then it hibernates (a few KiB) until the client sends
    /// again. 0 turns hibernation off.
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    hibernate_after: u64,
    /// Every SECS, log one line (target h2wasm::stats) with the
    /// connections open, holding an instance and hibernating, the --app
    /// instances busy, and the refusal and timeout counts; 0: never.
    #[arg(long, value_name = "SECS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    stats_interval: u64,
    /// Seconds open streams may take to finish after SIGINT/SIGTERM.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    grace: u64,
    /// Seconds a client may take to negotiate h2 (TLS and ALPN) and send
    /// the HTTP/2 preface and SETTINGS before it is disconnected (Node's
    /// unknownProtocolTimeout).
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    unknown_protocol_timeout: u64,
    /// Seconds a frame (or a header block with its CONTINUATION frames)
    /// may take to arrive whole once its first octet has; past it the
    /// connection ends with GOAWAY ENHANCE_YOUR_CALM.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    frame_timeout: u64,
    /// Seconds a request the client has not finished may stay quiet once
    /// its response is complete; then the stream is reset with
    /// RST_STREAM NO_ERROR (RFC 9113 §8.1) and holds nothing more.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    half_closed_timeout: u64,
    /// Announce this origin in an ORIGIN frame (RFC 8336) on every
    /// connection, e.g. https://example.org (repeatable).
    #[arg(long = "origin", value_name = "ORIGIN", value_parser = parse_origin)]
    origins: Vec<String>,
    /// Server push: with a GET for PAGE, push the listed files first, e.g.
    /// --push /=/style.css,/app.js (repeatable; needs DIR).
    #[arg(long = "push", value_name = "PAGE=ASSET,...", value_parser = parse_push, requires = "dir")]
    push: Vec<(String, Vec<String>)>,
    /// Advertise an alternative service (RFC 7838) in an ALTSVC frame on
    /// each connection's first request stream, e.g. 'h2=":443"; ma=3600'.
    #[arg(long, value_name = "ALT-SVC", value_parser = parse_altsvc)]
    altsvc: Option<String>,
    /// Act as a CONNECT proxy (RFC 9113 §8.5) to these targets only, e.g.
    /// --allow-connect 127.0.0.1:7000,db.internal:5432 (repeatable).
    #[arg(long = "allow-connect", value_name = "HOST:PORT,...", value_parser = parse_host_ports)]
    allow_connect: Vec<Vec<String>>,
    /// Padding for the HEADERS and DATA frames sent (Node's paddingStrategy).
    #[arg(long, value_enum, default_value_t = Padding::None)]
    padding: Padding,
    #[command(flatten)]
    engine: EngineArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Padding {
    None,
    Aligned,
    Max,
}

/// A size in bytes, with an optional K, M, G or T suffix (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let usage = || format!("expected a size such as 512M or 4G, got {s:?}");
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(usage()),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = digits.parse().map_err(|_| usage())?;
    n.checked_mul(1u64 << shift).ok_or_else(usage)
}

/// `--max-memory`: a size of at least 16M.
fn parse_server_memory(s: &str) -> Result<u64, String> {
    let bytes = parse_size(s)?;
    if bytes < 16 << 20 {
        return Err(format!("{s:?} is too small: the server needs at least 16M"));
    }
    Ok(bytes)
}

/// `--app-memory`: a size of at least 1M, whole 64 KiB wasm pages.
fn parse_app_memory(s: &str) -> Result<u64, String> {
    let bytes = parse_size(s)?;
    if bytes < 1 << 20 {
        return Err(format!("{s:?} is too small: a component needs at least 1M"));
    }
    if bytes > 4 << 30 {
        return Err(format!(
            "{s:?} is too large: a 32-bit memory holds at most 4G"
        ));
    }
    Ok(bytes)
}

fn parse_push(s: &str) -> Result<(String, Vec<String>), String> {
    let usage = "expected PAGE=ASSET[,ASSET...] with absolute paths, e.g. /=/style.css,/app.js";
    let (page, assets) = s.split_once('=').ok_or(usage)?;
    let assets: Vec<String> = assets.split(',').map(str::to_string).collect();
    if !page.starts_with('/') || assets.iter().any(|a| !a.starts_with('/')) {
        return Err(usage.into());
    }
    Ok((page.to_string(), assets))
}

fn parse_host_port(s: &str) -> Result<String, String> {
    let usage = || format!("expected HOST:PORT, got {s:?}");
    let (host, port) = s.rsplit_once(':').ok_or_else(usage)?;
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(usage());
    }
    Ok(s.to_string())
}

fn parse_host_ports(s: &str) -> Result<Vec<String>, String> {
    s.split(',').map(parse_host_port).collect()
}

fn parse_altsvc(s: &str) -> Result<String, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic() || b == b' ') || s.len() > 16_000 {
        return Err(
            "expected an Alt-Svc field value in printable ASCII, e.g. 'h2=\":443\"'".into(),
        );
    }
    Ok(s.to_string())
}

fn parse_origin(s: &str) -> Result<String, String> {
    if h2wasm_engine::connection::valid_origin(s) {
        Ok(s.to_string())
    } else {
        Err("expected scheme://host[:port] with no path, e.g. https://example.org".into())
    }
}

#[derive(Args)]
struct GetArgs {
    /// URLs on one origin (same scheme, host and port).
    #[arg(required = true, value_name = "URL")]
    urls: Vec<String>,
    /// Request method [default: GET, or POST with -d].
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    method: Option<String>,
    /// Extra request header, 'name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// Request body; @FILE reads it from a file.
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    data: Option<String>,
    /// Write the body of the corresponding URL to FILE (repeatable, in URL order).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Vec<PathBuf>,
    /// Stream weight 1-256 for the request of the corresponding URL
    /// (repeatable, in URL order), sent in its HEADERS frame; the server
    /// shares bandwidth among streams by weight.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    weight: Vec<u16>,
    /// Print the response status and headers before the body.
    #[arg(short = 'i', long = "include")]
    include: bool,
    /// Print settings, streams, resets and GOAWAY to stderr.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Open a CONNECT tunnel through the server at URL to HOST:PORT, copy
    /// stdin into it and what comes back to stdout.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port,
          conflicts_with_all = ["data", "output", "method", "save_pushed"])]
    connect: Option<String>,
    /// Save responses the server pushes under DIR (named by their paths).
    #[arg(long, value_name = "DIR")]
    save_pushed: Option<PathBuf>,
    /// Use cleartext HTTP/2 for http:// URLs without negotiation.
    #[arg(long, conflicts_with = "http1_1")]
    prior_knowledge: bool,
    /// Speak HTTP/1.1 only (over TLS, offer only http/1.1 by ALPN).
    /// Without it, HTTP/1.1 is used when a TLS server does not offer h2.
    #[arg(long = "http1.1", id = "http1_1")]
    http1_1: bool,
    /// Do not verify the server certificate.
    #[arg(short = 'k', long)]
    insecure: bool,
    /// Trust only the CA certificates in this PEM file.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    cacert: Option<PathBuf>,
    #[command(flatten)]
    engine: EngineArg,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log = init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("h2wasm: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(*args).await,
            Command::Get(args) => get(args).await,
            Command::Info(args) => info(args).await,
            Command::CompileEngine(args) => compile_engine(args),
        }
    });
    // Whatever is still running (an app's instance waiting on an origin,
    // a blocking read) gets at most this long: serve returns within
    // --grace, and the process within SHUTDOWN_MARGIN of that.
    rt.shutdown_timeout(SHUTDOWN_MARGIN);
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("h2wasm: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// How long tasks still running when a command returns may take to stop
/// before the process exits anyway.
const SHUTDOWN_MARGIN: Duration = Duration::from_secs(1);

/// Logs go through a writer thread with a buffer flushed whenever it runs
/// dry: an access-log line per request must not cost the serving thread a
/// write(2) each. The guard flushes what is left at exit.
fn init_logging() -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,h2wasm=info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        // Under a flood, wait for the writer rather than drop lines.
        .lossy(false)
        // Lines waiting for the writer; each slot is allocated up front.
        .buffered_lines_limit(1024)
        .finish(std::io::BufWriter::new(std::io::stderr()));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false)
        // Colour only for a terminal: a log file gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    guard
}

/// Connections served, and how many of them may hold an instance.
#[derive(Clone, Copy)]
struct Pool {
    max_connections: u32,
    max_live: u32,
}

/// What one-shot commands (get, info) need.
const CLIENT_POOL: Pool = Pool {
    max_connections: 4,
    max_live: 4,
};

fn runtime_config(engine: &EngineArg, pool: Pool) -> RuntimeConfig {
    RuntimeConfig {
        max_connections: pool.max_connections,
        max_live: pool.max_live,
        max_call_time: (engine.max_call_time > 0)
            .then(|| std::time::Duration::from_millis(engine.max_call_time)),
        ..RuntimeConfig::default()
    }
}

/// The engine component's bytes and their hash.
fn engine_wasm(engine: &EngineArg) -> anyhow::Result<(std::borrow::Cow<'static, [u8]>, u64)> {
    match &engine.engine {
        Some(path) => {
            let wasm = std::fs::read(path)
                .with_context(|| format!("cannot read engine {}", path.display()))?;
            let hash = h2wasm::runtime::wasm_hash(&wasm);
            Ok((wasm.into(), hash))
        }
        None => Ok((h2wasm::EMBEDDED_ENGINE.into(), h2wasm::EMBEDDED_ENGINE_HASH)),
    }
}

/// The engine, compiled to native code in a child process the first time
/// and kept under the data directory: the compiler's memory never becomes
/// the server's. Where nothing can be kept, it compiles here.
fn load_runtime(engine: &EngineArg, pool: Pool) -> anyhow::Result<Runtime> {
    let config = runtime_config(engine, pool);
    let hash = match &engine.engine {
        Some(_) => engine_wasm(engine)?.1,
        None => h2wasm::EMBEDDED_ENGINE_HASH,
    };
    let dir = h2wasm::tls::data_dir().join("engines");
    let compile = |dest: &std::path::Path| compile_in_child(engine, pool, dest);
    // SAFETY: the data directory is this user's own (see `data_dir`).
    match unsafe { Runtime::load_compiled(hash, &dir, &config, compile) } {
        Ok(runtime) => Ok(runtime),
        Err(e) => {
            tracing::debug!("compiling the engine in this process: {e:#}");
            let (wasm, _) = engine_wasm(engine)?;
            Runtime::new(&wasm, &config).map_err(|e| anyhow::anyhow!("{e:#}"))
        }
    }
}

fn compile_in_child(engine: &EngineArg, pool: Pool, dest: &std::path::Path) -> anyhow::Result<()> {
    let dir = dest
        .parent()
        .context("no directory for the compiled engine")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let partial = dest.with_extension(format!("partial-{}", std::process::id()));
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg("compile-engine")
        .arg("--out")
        .arg(&partial)
        .arg("--max-connections")
        .arg(pool.max_connections.to_string())
        .arg("--max-live")
        .arg(pool.max_live.to_string())
        .arg("--max-call-time")
        .arg(engine.max_call_time.to_string());
    if let Some(path) = &engine.engine {
        cmd.arg("--engine").arg(path);
    }
    let status = cmd.status().context("cannot start the engine compiler")?;
    if !status.success() {
        let _ = std::fs::remove_file(&partial);
        bail!("the engine compiler failed ({status})");
    }
    std::fs::rename(&partial, dest).with_context(|| format!("cannot write {}", dest.display()))?;
    Ok(())
}

fn compile_engine(args: CompileArgs) -> anyhow::Result<ExitCode> {
    let pool = Pool {
        max_connections: args.max_connections,
        max_live: args.max_live,
    };
    let config = runtime_config(&args.engine, pool);
    let (wasm, _) = engine_wasm(&args.engine)?;
    let compiled = Runtime::precompile(&wasm, &config).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    std::fs::write(&args.out, compiled)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    Ok(ExitCode::SUCCESS)
}

async fn info(args: EngineArg) -> anyhow::Result<ExitCode> {
    let runtime = load_runtime(&args, CLIENT_POOL)?;
    let options = runtime
        .default_options()
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    println!("engine component loaded");
    println!("default options: {options:#?}");
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let pool = Pool {
        max_connections: args.max_connections,
        max_live: args
            .max_live
            .unwrap_or(RuntimeConfig::default().max_live)
            .min(args.max_connections),
    };
    // Instances read no files: served files are opened by the host and
    // sent as host payload, so no directory is pre-opened for them.
    let runtime = Arc::new(load_runtime(&args.engine, pool)?);
    let mut loaded_app: Option<WasiHttpApp> = None;
    let service: SharedService = match (&args.app, &args.dir) {
        (Some(app), _) => {
            let outgoing_config = OutgoingConfig {
                h2c: args.app_h2c.iter().flatten().cloned().collect(),
                trust: match &args.app_cacert {
                    Some(ca) => Trust::CaFile(ca.clone()),
                    None => Trust::Platform,
                },
                connect_timeout: Duration::from_secs(args.app_connect_timeout),
                first_byte_timeout: Duration::from_secs(args.app_first_byte_timeout),
                max_connections: args.app_max_outgoing,
                ..OutgoingConfig::default()
            };
            // Outgoing HTTP/2 connections take engine instances from a pool
            // of their own: they never count against --max-live.
            let n = args.app_max_outgoing;
            let outgoing_runtime = Arc::new(load_runtime(
                &args.engine,
                Pool {
                    max_connections: n,
                    max_live: n,
                },
            )?);
            let outgoing = Outgoing::new(outgoing_runtime, outgoing_config)?;
            let defaults = ComponentConfig::default();
            let config = ComponentConfig {
                max_instances: args.app_instances,
                max_memory: match args.app_memory {
                    Some(bytes) => usize::try_from(bytes)
                        .map_err(|_| anyhow::anyhow!("--app-memory {bytes} is too large"))?,
                    None => defaults.max_memory,
                },
                max_time: (args.app_time_limit > 0)
                    .then(|| Duration::from_secs(args.app_time_limit)),
                max_cpu: (args.app_cpu_limit > 0)
                    .then(|| Duration::from_millis(args.app_cpu_limit)),
                queue_timeout: Duration::from_secs(args.app_queue_timeout),
                max_hops: args.app_max_hops,
                ..defaults
            };
            let app =
                WasiHttpApp::load(app, config, outgoing).map_err(|e| anyhow::anyhow!("{e:#}"))?;
            loaded_app = Some(app.clone());
            shared(app)
        }
        (None, Some(dir)) => shared(
            h2wasm::apps::files::StaticFiles::new(dir)?
                .with_push(args.push.iter().cloned().collect()),
        ),
        (None, None) => shared(h2wasm::apps::builtin::Builtin),
    };
    let allowed: Vec<String> = args.allow_connect.iter().flatten().cloned().collect();
    let service = if allowed.is_empty() {
        service
    } else {
        shared(h2wasm::apps::connect::ConnectProxy::new(allowed, service))
    };
    let tls = if args.h2c {
        None
    } else {
        let (cert, key) = match (&args.cert, &args.key) {
            (Some(c), Some(k)) => (c.clone(), k.clone()),
            _ => {
                let (c, k) = h2wasm::tls::dev_certificate()?;
                eprintln!(
                    "h2wasm: development certificate {} (trust it with --cacert)",
                    c.display()
                );
                (c, k)
            }
        };
        Some(h2wasm::tls::server_config(&cert, &key, !args.no_http1)?)
    };
    let listen = args.listen.unwrap_or_else(|| {
        let port = if args.h2c { 8080 } else { 8443 };
        SocketAddr::from(([127, 0, 0, 1], port))
    });
    let mut options = runtime
        .default_options()
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    options.origins = args.origins.clone();
    options.settings.max_concurrent_streams = Some(args.max_concurrent_streams);
    options.frame_timeout_ns = Some(Duration::from_secs(args.frame_timeout).as_nanos() as u64);
    options.half_closed_timeout_ns =
        Some(Duration::from_secs(args.half_closed_timeout).as_nanos() as u64);
    options.padding_strategy = match args.padding {
        Padding::None => PaddingStrategy::None,
        Padding::Aligned => PaddingStrategy::Aligned,
        Padding::Max => PaddingStrategy::Max,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("h2wasm: serving HTTP/2 on {scheme}://{local}/");
    let limits = h2wasm::limits::Limits::new(
        args.max_connections as usize,
        Some(
            args.max_memory
                .unwrap_or_else(h2wasm::limits::default_max_memory),
        ),
    );
    if args.stats_interval > 0 {
        let every = Duration::from_secs(args.stats_interval);
        tokio::spawn(log_stats(
            every,
            limits.clone(),
            runtime.clone(),
            loaded_app,
        ));
    }
    let idle_timeout = (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout));
    let handshake_timeout = Duration::from_secs(args.unknown_protocol_timeout);
    let server = Arc::new(h2wasm::server::Server {
        runtime,
        options,
        service,
        tls,
        grace: Duration::from_secs(args.grace),
        connection: h2wasm::pump::ConnectionConfig {
            altsvc: args.altsvc.clone(),
            handshake_timeout,
            idle_timeout,
            hibernate_after: (args.hibernate_after > 0)
                .then(|| Duration::from_millis(args.hibernate_after)),
            limits: Some(limits.clone()),
        },
        http1: (!args.no_http1).then(|| h2wasm::http1::Http1Config {
            // A kept-alive HTTP/1.1 connection waits for its next request
            // as long as an idle HTTP/2 one is kept.
            header_timeout: idle_timeout.unwrap_or(Duration::from_secs(86_400)),
            limits: Some(limits),
        }),
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        eprintln!("h2wasm: shutting down (GOAWAY sent; letting open streams finish)");
        let _ = stop_tx.send(true);
    });
    server.run(listener, stop_rx).await?;
    Ok(ExitCode::SUCCESS)
}

/// `--stats-interval`: one line at info every `every` (target
/// `h2wasm::stats`) with what the server holds.
async fn log_stats(
    every: Duration,
    limits: Arc<h2wasm::limits::Limits>,
    runtime: Arc<Runtime>,
    app: Option<WasiHttpApp>,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let s = limits.stats();
        let busy = app.as_ref().map_or(0, WasiHttpApp::busy);
        tracing::info!(
            target: "h2wasm::stats",
            "open {} live {} hibernating {} app-busy {} accepted {} refused {} \
             handshake-timeouts {} idle-closed {}",
            s.open,
            runtime.live(),
            s.hibernating,
            busy,
            s.accepted,
            s.refused_at_capacity + s.refused_for_memory,
            s.handshake_timeouts,
            s.idle_closed
        );
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn parse_header(h: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let Some((name, value)) = h.split_once(':') else {
        bail!("invalid header {h:?}: expected 'name: value'");
    };
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        bail!("invalid header name in {h:?}");
    }
    let value = value.trim();
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        bail!("invalid header value in {h:?}");
    }
    Ok((name, value.as_bytes().to_vec()))
}

async fn get(args: GetArgs) -> anyhow::Result<ExitCode> {
    let mut target: Option<Target> = None;
    let mut paths = Vec::new();
    for url in &args.urls {
        let (t, path) = Target::parse(url)?;
        if let Some(first) = &target {
            if (first.tls, &first.host, first.port) != (t.tls, &t.host, t.port) {
                bail!("all URLs must share one origin (one connection); {url} does not");
            }
        } else {
            target = Some(t);
        }
        paths.push(path);
    }
    let Some(target) = target else {
        bail!("no URL given");
    };
    if let Some(authority) = &args.connect {
        if args.urls.len() != 1 {
            bail!("--connect takes exactly one URL (the proxy)");
        }
        let opts = ClientOptions {
            trust: trust(&args),
            prior_knowledge: args.prior_knowledge,
            verbose: args.verbose,
            save_pushed: None,
            progress: false,
            http1: h2wasm::client::Http1::Fallback,
        };
        let runtime = load_runtime(&args.engine, CLIENT_POOL)?;
        h2wasm::tunnel::tunnel(
            &runtime,
            &target,
            authority,
            &opts,
            tokio::io::stdin(),
            tokio::io::stdout(),
        )
        .await?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.output.len() > args.urls.len() {
        bail!("more -o files than URLs");
    }
    if args.weight.len() > args.urls.len() {
        bail!("more --weight values than URLs");
    }
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let body = match args.data.as_deref() {
        None => None,
        Some(d) => match d.strip_prefix('@') {
            Some(file) => {
                let path = PathBuf::from(file);
                std::fs::metadata(&path).with_context(|| format!("cannot read {file}"))?;
                Some(BodySource::File(path))
            }
            None => Some(BodySource::Bytes(Bytes::copy_from_slice(d.as_bytes()))),
        },
    };
    let method = args
        .method
        .clone()
        .unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.to_string());
    if method.is_empty()
        || !method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        bail!("invalid method {method:?}");
    }
    let requests: Vec<client::Request> = paths
        .into_iter()
        .enumerate()
        .map(|(i, path)| client::Request {
            method: method.clone(),
            path,
            headers: headers.clone(),
            body: body.clone(),
            output: args
                .output
                .get(i)
                .map_or(Output::Memory, |p| Output::File(p.clone())),
            weight: args.weight.get(i).copied(),
        })
        .collect();
    let opts = ClientOptions {
        trust: trust(&args),
        prior_knowledge: args.prior_knowledge,
        verbose: args.verbose,
        save_pushed: args.save_pushed.clone(),
        // curl's habit: a meter for downloads to files, on a terminal only.
        progress: !args.output.is_empty() && std::io::stderr().is_terminal(),
        http1: match args.http1_1 {
            true => h2wasm::client::Http1::Force,
            false => h2wasm::client::Http1::Fallback,
        },
    };
    let runtime = load_runtime(&args.engine, CLIENT_POOL)?;
    let responses = client::fetch(&runtime, &target, requests, &opts).await?;
    let mut failed = false;
    let mut stdout = std::io::stdout().lock();
    for (url, r) in args.urls.iter().zip(&responses) {
        if let Some(code) = r.reset {
            eprintln!("h2wasm: {url}: stream reset ({code:#x})");
            failed = true;
        }
        if args.include {
            for info in &r.informational {
                write_headers(&mut stdout, info)?;
            }
            write_headers(&mut stdout, &r.headers)?;
        }
        stdout.write_all(&r.body)?;
        if args.include && !r.trailers.is_empty() {
            write_headers(&mut stdout, &r.trailers)?;
        }
        for p in &r.pushed {
            if args.verbose || p.saved_to.is_some() {
                let saved = p
                    .saved_to
                    .as_ref()
                    .map(|f| format!(" -> {}", f.display()))
                    .unwrap_or_default();
                let reset = p
                    .reset
                    .map(|c| format!(" (reset {c:#x})"))
                    .unwrap_or_default();
                eprintln!(
                    "h2wasm: pushed {} {} {} bytes{saved}{reset}",
                    p.path(),
                    p.status,
                    p.body_len
                );
            }
        }
    }
    stdout.flush()?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn trust(args: &GetArgs) -> Trust {
    match (&args.cacert, args.insecure) {
        (Some(ca), _) => Trust::CaFile(ca.clone()),
        (None, true) => Trust::Insecure,
        (None, false) => Trust::Platform,
    }
}

fn write_headers(out: &mut impl Write, headers: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    for (n, v) in headers {
        writeln!(out, "{n}: {}", String::from_utf8_lossy(v))?;
    }
    writeln!(out)
}

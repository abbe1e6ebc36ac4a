//! `h2wasm serve`: a directory, the built-in site or a wasi:http
//! component, over HTTP/2 (TLS or h2c) and HTTP/1.1, until SIGINT or
//! SIGTERM.

use crate::engine::{EngineArg, Pool, load_runtime};
use crate::parse::{
    parse_altsvc, parse_app_memory, parse_host_ports, parse_key_value, parse_origin,
    parse_outbound, parse_push, parse_secret, parse_server_memory, read_config_file,
};
use anyhow::Context;
use clap::Args;
use h2wasm::apps::wasi_http::{AppVariables, ComponentConfig, MAX_INSTANCES, WasiHttpApp};
use h2wasm::bindings::PaddingStrategy;
use h2wasm::fetch::outgoing::policy::{OutboundEntry, OutboundPolicy};
use h2wasm::fetch::outgoing::{Outgoing, OutgoingConfig};
use h2wasm::service::{SharedService, shared};
use h2wasm::tls::Trust;
use h2wasm::{Runtime, RuntimeConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub(crate) struct ServeArgs {
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
    /// A value the --app component reads through wasi:config/store
    /// (repeatable). It has none unless given.
    #[arg(long = "app-config", value_name = "KEY=VALUE", value_parser = parse_key_value, requires = "app")]
    app_config: Vec<(String, String)>,
    /// Values for wasi:config/store from a file of KEY=VALUE lines (#
    /// starts a comment); --app-config and --app-secret override its keys.
    #[arg(long, value_name = "FILE", requires = "app")]
    app_config_file: Option<PathBuf>,
    /// A secret for wasi:config/store: KEY gets the value of the
    /// environment variable ENV, read at startup and never logged or
    /// printed (repeatable); overrides --app-config.
    #[arg(long = "app-secret", value_name = "KEY=ENV", value_parser = parse_secret, requires = "app")]
    app_secret: Vec<(String, String)>,
    /// Where the --app component's outgoing requests may go, as
    /// SCHEME://HOST[:PORT] entries (Spin's syntax): e.g.
    /// https://api.example.com, http://127.0.0.1:8080, https://*.example.org,
    /// '*://*:*' (repeatable, or comma-separated). Nowhere by default.
    /// Loopback, private and link-local addresses and this server's own
    /// are reached only through an entry that names the host exactly.
    #[arg(long = "app-allow-outbound", value_name = "URL,...", value_parser = parse_outbound, requires = "app")]
    app_allow_outbound: Vec<Vec<OutboundEntry>>,
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

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
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
    let listen = args.listen.unwrap_or_else(|| {
        let port = if args.h2c { 8080 } else { 8443 };
        SocketAddr::from(([127, 0, 0, 1], port))
    });
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    let mut loaded_app: Option<WasiHttpApp> = None;
    let service: SharedService = match (&args.app, &args.dir) {
        (Some(app), _) => {
            let allowed = args.app_allow_outbound.iter().flatten().cloned().collect();
            let policy = OutboundPolicy::allow(allowed).with_server_addresses(vec![local]);
            for origin in args.app_h2c.iter().flatten() {
                let (host, port) = origin.rsplit_once(':').unwrap_or((origin, "80"));
                let port = port.parse().unwrap_or(80);
                if !policy.allows(false, host, port) {
                    anyhow::bail!(
                        "--app-h2c {origin}: no --app-allow-outbound entry allows it \
                         (add --app-allow-outbound http://{origin})"
                    );
                }
            }
            let outgoing_config = OutgoingConfig {
                policy,
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
                variables: app_variables(&args)?,
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
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("h2wasm: serving HTTP/2 on {scheme}://{local}/");
    let limits = h2wasm::serve::limits::Limits::new(
        args.max_connections as usize,
        Some(
            args.max_memory
                .unwrap_or_else(h2wasm::serve::limits::default_max_memory),
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
    let mut server = h2wasm::serve::Server::builder(runtime, options, service)
        .grace(Duration::from_secs(args.grace))
        .connection(h2wasm::serve::ConnectionConfig {
            altsvc: args.altsvc.clone(),
            handshake_timeout,
            idle_timeout,
            hibernate_after: (args.hibernate_after > 0)
                .then(|| Duration::from_millis(args.hibernate_after)),
            limits: None,
        })
        .http1((!args.no_http1).then(|| h2wasm::serve::http1::Http1Config {
            // A kept-alive HTTP/1.1 connection waits for its next request
            // as long as an idle HTTP/2 one is kept.
            header_timeout: idle_timeout.unwrap_or(Duration::from_secs(86_400)),
            limits: None,
        }))
        .limits(limits);
    if let Some(tls) = tls {
        server = server.tls(tls);
    }
    let server = server.build();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        eprintln!("h2wasm: shutting down (GOAWAY sent; letting open streams finish)");
        let _ = stop_tx.send(true);
    });
    server.run(listener, stop_rx).await?;
    Ok(ExitCode::SUCCESS)
}

/// What the app reads through wasi:config/store: the file's pairs, then
/// --app-config, then --app-secret (a later key wins).
fn app_variables(args: &ServeArgs) -> anyhow::Result<AppVariables> {
    let mut pairs = match &args.app_config_file {
        Some(path) => read_config_file(path)?,
        None => Vec::new(),
    };
    pairs.extend(args.app_config.iter().cloned());
    for (key, var) in &args.app_secret {
        let value = std::env::var(var).map_err(|e| {
            let why = match e {
                std::env::VarError::NotPresent => "is not set",
                std::env::VarError::NotUnicode(_) => "is not valid UTF-8",
            };
            anyhow::anyhow!("--app-secret {key}={var}: the environment variable {var} {why}")
        })?;
        pairs.push((key.clone(), value));
    }
    Ok(AppVariables::new(pairs))
}

/// `--stats-interval`: one line at info every `every` (target
/// `h2wasm::stats`) with what the server holds.
async fn log_stats(
    every: Duration,
    limits: Arc<h2wasm::serve::limits::Limits>,
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

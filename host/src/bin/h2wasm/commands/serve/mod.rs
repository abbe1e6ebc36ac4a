//! `h2wasm serve`: the sites of a configuration file, or one site (a
//! directory, the built-in site or a wasi:http component) given by flags,
//! over HTTP/2 (TLS or h2c) and HTTP/1.1, until SIGINT or SIGTERM; SIGHUP
//! reloads the configuration file.

pub(crate) mod args;
mod listeners;
mod reload;

use crate::config::{self, build};
use crate::engine::{Pool, load_runtime};
use anyhow::Context;
use arc_swap::ArcSwap;
pub(crate) use args::ServeArgs;
use args::{AccessLogFormat, Padding, ServerArgs};
use h2wasm::apps::wasi_http::WasiHttpApp;
use h2wasm::bindings::PaddingStrategy;
use h2wasm::serve::access_log::{Destination, Format};
use h2wasm::serve::{AccessLog, Metrics};
use h2wasm::service::{SharedService, shared};
use h2wasm::sites::Sites;
use h2wasm::{Runtime, RuntimeConfig};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let signals = reload::Signals::install(args.config.is_some());
    let (args, plan) = match &args.config {
        Some(path) => {
            let plan = config::load(path)?;
            let args = reload::with_file_options(&plan)?;
            (args, plan)
        }
        None => {
            let plan = config::one_site(&args.site, &args.app);
            (args, plan)
        }
    };
    let server = &args.server;
    let pool = Pool {
        max_connections: server.max_connections,
        max_live: server
            .max_live
            .unwrap_or(RuntimeConfig::default().max_live)
            .min(server.max_connections),
    };
    // Instances read no files: served files are opened by the host and
    // sent as host payload, so no directory is pre-opened for them.
    let runtime = Arc::new(load_runtime(&server.engine, pool)?);
    // Every listener is bound before any app is loaded: an app reaches
    // the server's own addresses only through an entry naming them.
    let mut bound = Vec::new();
    for listen in &plan.listeners {
        let listener = listeners::bind(listen.address).await?;
        let local = listener.local_addr()?;
        bound.push((listen.clone(), listener, local));
    }
    let metrics_listener = match server.metrics {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("--metrics: cannot listen on {address}"))?,
        ),
        None => None,
    };
    let metrics = metrics_listener.as_ref().map(|_| Metrics::new());
    let mut own_addresses: Vec<_> = bound.iter().map(|(_, _, local)| *local).collect();
    if let Some(l) = &metrics_listener {
        own_addresses.push(l.local_addr()?);
    }
    let cx = build::Context {
        engine: server.engine.clone(),
        own_addresses,
        tls: plan
            .listeners
            .iter()
            .any(|l| l.tls && l.redirect_to_https.is_none()),
        metrics: metrics.clone(),
    };
    if cx.tls && plan.sites.iter().any(|s| s.cert.is_none()) {
        let (cert, _) = h2wasm::tls::dev_certificate()?;
        eprintln!(
            "h2wasm: development certificate {} (trust it with --cacert)",
            cert.display()
        );
    }
    let built = build::build(&plan, &cx)?;
    let sites = Sites::new(built.table);
    let apps = Arc::new(ArcSwap::from_pointee(built.apps));
    // Without a file nothing is reloaded: one site with one route is
    // served directly (the certificate still comes from the table).
    let router = match (&args.config, built.only) {
        (None, Some(only)) => only,
        // Already of the server's types: boxed as it is, no adapters.
        _ => SharedService::new(sites.router()),
    };
    let allowed: Vec<String> = server.allow_connect.iter().flatten().cloned().collect();
    let router: SharedService = if allowed.is_empty() {
        router
    } else {
        shared(h2wasm::apps::connect::ConnectProxy::new(allowed, router))
    };
    let mut options = runtime
        .default_options()
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    options.origins = server.origins.clone();
    options.settings.max_concurrent_streams = Some(server.max_concurrent_streams);
    // Browsers take SETTINGS_ENABLE_CONNECT_PROTOCOL as a promise that
    // WebSockets work over HTTP/2 (RFC 8441): made only where one is served.
    if plan.serves_websockets() {
        options.settings.enable_connect_protocol = Some(true);
    }
    if server.no_rfc7540_priorities {
        options.settings.no_rfc7540_priorities = Some(true);
    }
    options.frame_timeout_ns = Some(Duration::from_secs(server.frame_timeout).as_nanos() as u64);
    options.half_closed_timeout_ns =
        Some(Duration::from_secs(server.half_closed_timeout).as_nanos() as u64);
    options.padding_strategy = match server.padding {
        Padding::None => PaddingStrategy::None,
        Padding::Aligned => PaddingStrategy::Aligned,
        Padding::Max => PaddingStrategy::Max,
    };
    let limits = h2wasm::serve::limits::Limits::new(
        server.max_connections as usize,
        Some(
            server
                .max_memory
                .unwrap_or_else(h2wasm::serve::limits::default_max_memory),
        ),
    );
    if server.stats_interval > 0 {
        let every = Duration::from_secs(server.stats_interval);
        tokio::spawn(log_stats(
            every,
            limits.clone(),
            runtime.clone(),
            apps.clone(),
        ));
    }
    let access_log = access_log(server)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let (Some(listener), Some(m)) = (metrics_listener, &metrics) {
        m.watch(Box::new(limits.clone()));
        m.watch(Box::new(runtime.clone()));
        m.watch(Box::new(apps.clone()));
        eprintln!(
            "h2wasm: metrics on http://{}/metrics",
            listener.local_addr()?
        );
        tokio::spawn(h2wasm::serve::metrics::endpoint::serve(
            listener,
            m.clone(),
            stop_rx.clone(),
        ));
    }
    let idle_timeout = (server.idle_timeout > 0).then(|| Duration::from_secs(server.idle_timeout));
    let handshake_timeout = Duration::from_secs(server.unknown_protocol_timeout);
    let mut listeners = listeners::Listeners::new(listeners::Parts {
        runtime: runtime.clone(),
        options,
        router,
        sites: sites.clone(),
        grace: Duration::from_secs(server.grace),
        connection: h2wasm::serve::ConnectionConfig {
            altsvc: server.altsvc.clone(),
            handshake_timeout,
            idle_timeout,
            hibernate_after: (server.hibernate_after > 0)
                .then(|| Duration::from_millis(server.hibernate_after)),
            limits: None,
            access_log: access_log.clone(),
            metrics: metrics.clone(),
            // Per TLS listener: the sites its certificates serve.
            origins: None,
            session_events: None,
        },
        http1: h2wasm::serve::http1::Http1Config {
            // A kept-alive HTTP/1.1 connection waits for its next
            // request as long as an idle HTTP/2 one is kept.
            header_timeout: idle_timeout.unwrap_or(Duration::from_secs(86_400)),
            limits: None,
            access_log: access_log.clone(),
            metrics: metrics.clone(),
        },
        limits: limits.clone(),
    });
    for (listen, listener, _) in bound {
        listeners.start(listen, listener)?;
    }
    let reloads = args.config.clone().map(|path| reload::Reloader {
        path,
        watch: args.watch,
        plan,
        cx,
        sites,
        apps,
    });
    let served = signals
        .handle(stop_tx, listeners, reloads, access_log.clone())
        .await;
    if let Some(log) = &access_log {
        log.flush(Duration::from_secs(2));
    }
    served?;
    Ok(ExitCode::SUCCESS)
}

/// The access log `--access-log` and `--access-log-file` ask for.
fn access_log(server: &ServerArgs) -> anyhow::Result<Option<AccessLog>> {
    let format = match server.access_log {
        AccessLogFormat::Off => return Ok(None),
        AccessLogFormat::Common => Format::Common,
        AccessLogFormat::Combined => Format::Combined,
        AccessLogFormat::Json => Format::Json,
    };
    let destination = match &server.access_log_file {
        Some(path) => Destination::File(path.clone()),
        None => Destination::Stderr,
    };
    AccessLog::start(format, destination)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("--access-log-file {e}"))
}

/// `--stats-interval`: one line at info every `every` (target
/// `h2wasm::stats`) with what the server holds.
async fn log_stats(
    every: Duration,
    limits: Arc<h2wasm::serve::limits::Limits>,
    runtime: Arc<Runtime>,
    apps: Arc<ArcSwap<Vec<WasiHttpApp>>>,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let s = limits.stats();
        let busy: usize = apps.load().iter().map(WasiHttpApp::busy).sum();
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

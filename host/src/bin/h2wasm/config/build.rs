//! A [`Plan`] made real: certificates loaded (one per file pair, so that
//! sites sharing one present the very same), directories opened, apps
//! compiled, all into a [`SiteTable`]. Nothing is served until all of it
//! has succeeded, which is what lets a reload refuse a bad file whole.

use super::{ConfigError, Plan, ProxyPlan, RouteKind};
use crate::commands::serve::args::AppArgs;
use crate::engine::{EngineArg, Pool, load_runtime};
use crate::parse::read_config_file;
use h2wasm::apps::keyvalue::Buckets;
use h2wasm::apps::proxy::ReverseProxy;
use h2wasm::apps::wasi_http::{AppVariables, ComponentConfig, WasiHttpApp};
use h2wasm::fetch::outgoing::policy::{OutboundEntry, OutboundPolicy};
use h2wasm::fetch::outgoing::{Outgoing, OutgoingConfig};
use h2wasm::serve::Metrics;
use h2wasm::service::body::Incoming;
use h2wasm::service::{SharedService, shared};
use h2wasm::sites::{SiteBuilder, SiteTable, load_certificate};
use h2wasm::tls::Trust;
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What building needs from the server.
#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) engine: EngineArg,
    /// The server's own listen addresses: apps reach them only through
    /// an outbound entry that names them.
    pub(crate) own_addresses: Vec<SocketAddr>,
    /// Whether any listener speaks TLS (then sites without a certificate
    /// get the development one).
    pub(crate) tls: bool,
    /// Where routes and apps are counted (`--metrics`).
    pub(crate) metrics: Option<Metrics>,
}

/// The table, and the apps in it (for the stats line).
pub(crate) struct Built {
    pub(crate) table: SiteTable,
    pub(crate) apps: Vec<WasiHttpApp>,
    /// The service of the only route of the only site, when that is all
    /// there is: a server that will never reload serves it directly,
    /// without the router.
    pub(crate) only: Option<SharedService>,
}

/// Loads everything `plan` names.
pub(crate) fn build(plan: &Plan, cx: &Context) -> Result<Built, ConfigError> {
    let mut certificates: HashMap<(PathBuf, PathBuf), Arc<CertifiedKey>> = HashMap::new();
    let needs_fallback = cx.tls && plan.sites.iter().any(|s| s.cert.is_none());
    let fallback = if needs_fallback {
        let (c, k) = h2wasm::tls::dev_certificate()
            .map_err(|e| plan.sites[0].at.error("cert", format!("{e:#}")))?;
        let dev = load_certificate(&c, &k, &[])
            .map_err(|e| plan.sites[0].at.error("cert", format!("{e:#}")))?;
        Some(dev)
    } else {
        None
    };
    let mut apps = Vec::new();
    let mut sites = Vec::new();
    let mut last = None;
    for site in &plan.sites {
        let mut builder = SiteBuilder::new(site.names.clone());
        if site.default {
            builder = builder.default_site();
        }
        if let Some(pair) = &site.cert {
            let loaded = match certificates.get(pair) {
                Some(c) => {
                    // Loaded for another site: check it covers these names.
                    load_certificate(&pair.0, &pair.1, &site.names)
                        .map_err(|e| site.at.error("cert", format!("{e:#}")))?;
                    c.clone()
                }
                None => {
                    let c = load_certificate(&pair.0, &pair.1, &site.names)
                        .map_err(|e| site.at.error("cert", format!("{e:#}")))?;
                    certificates.insert(pair.clone(), c.clone());
                    c
                }
            };
            builder = builder.certificate(loaded);
        }
        for route in &site.routes {
            let (path, strip) = (route.path.as_str(), route.strip);
            builder = match &route.kind {
                RouteKind::Files {
                    root,
                    push,
                    compress,
                } => add(
                    builder,
                    path,
                    strip,
                    h2wasm::apps::files::StaticFiles::new(root)
                        .map_err(|e| route.at.error("files.root", format!("{e:#}")))?
                        .with_push(push.clone())
                        .with_compression((*compress).into()),
                    &mut last,
                ),
                RouteKind::App(args) => {
                    let app =
                        load_app(args, cx).map_err(|e| route.at.error("app", format!("{e:#}")))?;
                    apps.push(app.clone());
                    add(builder, path, strip, app, &mut last)
                }
                RouteKind::Proxy(plan) => add(
                    builder,
                    path,
                    strip,
                    load_proxy(plan, cx).map_err(|e| route.at.error("proxy", format!("{e:#}")))?,
                    &mut last,
                ),
                RouteKind::Redirect(redirect, _) => {
                    add(builder, path, strip, redirect.clone(), &mut last)
                }
                RouteKind::Echo => add(
                    builder,
                    path,
                    strip,
                    h2wasm::apps::builtin::Builtin,
                    &mut last,
                ),
            };
        }
        sites.push(builder);
    }
    let table = SiteTable::new(sites, plan.unmatched, fallback).map_err(|e| match e.site {
        Some(i) => plan.sites[i].at.error("", e.message),
        None => plan.sites[0].at.error("", e.message),
    })?;
    let table = match &cx.metrics {
        Some(m) => table.measured(m),
        None => table,
    };
    // One site taking every request on one route: nothing to choose.
    let only = match &plan.sites[..] {
        [site] => match &site.routes[..] {
            [route] if route.path == "/" && !route.strip => last,
            _ => None,
        },
        _ => None,
    };
    Ok(Built { table, apps, only })
}

/// Adds a route to `builder`, keeping the service (as a
/// [`SharedService`]) in `last`.
fn add<S, B>(
    builder: SiteBuilder,
    path: &str,
    strip: bool,
    service: S,
    last: &mut Option<SharedService>,
) -> SiteBuilder
where
    S: tower::Service<http::Request<Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Error: Into<h2wasm::service::BoxError>,
    S::Future: Send + Unpin + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<h2wasm::service::BoxError>,
{
    *last = Some(shared(service.clone()));
    builder.route(path, strip, service)
}

/// A reverse proxy with its own pool of connections to its upstreams
/// (and engine instances for the HTTP/2 ones).
fn load_proxy(plan: &ProxyPlan, cx: &Context) -> anyhow::Result<ReverseProxy> {
    let entries = plan
        .origins
        .iter()
        .map(|o| OutboundEntry::parse(o).map_err(|e| anyhow::anyhow!(e)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let h2c = if plan.h2c {
        plan.origins
            .iter()
            .filter_map(|o| o.strip_prefix("http://"))
            .map(str::to_string)
            .collect()
    } else {
        Default::default()
    };
    let config = OutgoingConfig {
        // Exactly the upstreams, named: loopback and private addresses
        // are what upstreams usually are.
        policy: OutboundPolicy::allow(entries),
        h2c,
        trust: match &plan.cacert {
            Some(ca) => Trust::CaFile(ca.clone()),
            None => Trust::Platform,
        },
        connect_timeout: plan.connect_timeout,
        first_byte_timeout: plan.response_timeout,
        between_bytes_timeout: plan.read_timeout,
        max_connections: plan.max_connections,
        ..OutgoingConfig::default()
    };
    let n = plan.max_connections;
    let runtime = Arc::new(load_runtime(
        &cx.engine,
        Pool {
            max_connections: n,
            max_live: n,
        },
    )?);
    let outgoing = Outgoing::new(runtime, config)?;
    ReverseProxy::new(&plan.upstreams, outgoing, plan.fail_timeout)
}

/// A wasi:http component with its limits, grants and outgoing requests.
fn load_app(args: &AppArgs, cx: &Context) -> anyhow::Result<WasiHttpApp> {
    let Some(component) = &args.app else {
        anyhow::bail!("no component");
    };
    let metrics = cx
        .metrics
        .as_ref()
        .map(|m| m.app(&component.display().to_string()));
    let allowed = args.app_allow_outbound.iter().flatten().cloned().collect();
    let policy = OutboundPolicy::allow(allowed).with_server_addresses(cx.own_addresses.clone());
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
        metrics: metrics.clone(),
        ..OutgoingConfig::default()
    };
    // Outgoing HTTP/2 connections take engine instances from a pool of
    // their own: they never count against --max-live.
    let n = args.app_max_outgoing;
    let outgoing_runtime = Arc::new(load_runtime(
        &cx.engine,
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
        max_time: (args.app_time_limit > 0).then(|| Duration::from_secs(args.app_time_limit)),
        max_cpu: (args.app_cpu_limit > 0).then(|| Duration::from_millis(args.app_cpu_limit)),
        queue_timeout: Duration::from_secs(args.app_queue_timeout),
        max_hops: args.app_max_hops,
        variables: app_variables(args)?,
        buckets: Buckets::open(&args.app_keyvalue)
            .map_err(|e| anyhow::anyhow!("--app-keyvalue {e:#}"))?,
        metrics,
        ..defaults
    };
    WasiHttpApp::load(component, config, outgoing).map_err(|e| anyhow::anyhow!("{e:#}"))
}

/// What the app reads through wasi:config/store: the file's pairs, then
/// --app-config, then --app-secret (a later key wins).
fn app_variables(args: &AppArgs) -> anyhow::Result<AppVariables> {
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

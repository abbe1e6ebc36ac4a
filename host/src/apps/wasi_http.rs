//! A `wasi:http/proxy` component as the server's service: what
//! `h2wasm serve --app APP.wasm` runs. The same components `wasmtime serve`
//! takes (Rust std ones included: every WASI interface they import is
//! linked, with nothing granted beyond stdout and stderr), served over
//! HTTP/2 and HTTP/1.1 alike.
//!
//! Each request runs in a fresh instance taken from a pool, as in
//! `wasmtime serve`. The pool holds [`ComponentConfig::max_instances`];
//! a request that finds it full waits for a slot, for at most
//! [`ComponentConfig::queue_timeout`] (then 503). Every request has two
//! limits: [`ComponentConfig::max_time`], wall-clock time from
//! instantiation until the instance returns (its response body written),
//! waits on the client, the request body and outgoing requests included;
//! and [`ComponentConfig::max_cpu`], the time its code actually runs. A
//! spinning instance also yields its thread every
//! [`crate::engine::EPOCH_TICK`], which is when the CPU limit is checked.
//! At either limit the instance is dropped. An instance's linear memory
//! is capped at [`ComponentConfig::max_memory`].
//!
//! Failure ends only its request. A trap, a panic or the CPU limit before
//! the response began answers 500, the time limit 504; after it began,
//! the body ends in an error, which the engine turns into RST_STREAM
//! INTERNAL_ERROR and hyper into a closed HTTP/1.1 connection. Either way
//! one line is logged at warn.
//!
//! A request may not go round through this server without bound: each
//! outgoing request carries the incoming one's `CDN-Loop` entries plus
//! one of ours (RFC 8586), and a request that already carries
//! [`ComponentConfig::max_hops`] of ours is answered 508 Loop Detected
//! without running the component.
//!
//! Bodies stream both ways: the component reads the request body as it
//! arrives (flow control follows its reads) and what it writes goes out as
//! it writes it (wasmtime-wasi-http holds at most one chunk in between).
//! wasi:http trailers are body frames, so HTTP/2 trailers and HTTP/1.1
//! chunked trailers.

use crate::apps::extras::ResponseExtras;
use crate::apps::keyvalue::{Buckets, KeyValue};
use crate::engine::EpochTicker;
use crate::fetch::outgoing::{Hooks, Outgoing};
use crate::serve::limits::Warning;
use crate::serve::metrics::sources::{AppReading, Reading};
use crate::serve::metrics::{AppMetrics, Sources};
use crate::service::body::Incoming;
use crate::service::{BoxError, ConnectionInfo, ResponseBody, box_body, text};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, oneshot};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::error::Context as _;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder, UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Limits for the instances requests run in.
#[derive(Clone, Debug)]
pub struct ComponentConfig {
    /// Requests running at once, each in its own instance: the size of
    /// the instance pool. Further requests wait for a slot.
    pub max_instances: u32,
    /// Linear memory per instance, in bytes (all of its memories
    /// together). Growing past it traps.
    pub max_memory: usize,
    /// Wall-clock time one request's instance may live, from
    /// instantiation until it returns (its response body written),
    /// whatever it waits on; past it the instance is dropped: 504 if the
    /// response had not begun, a failed body if it had. `None`: no limit.
    pub max_time: Option<Duration>,
    /// Time one request's code may run (its instance's execution, not
    /// its waits), checked every epoch tick; past it the instance traps.
    /// `None`: only `max_time` bounds it.
    pub max_cpu: Option<Duration>,
    /// How long a request may wait for a free instance; then it is
    /// answered 503 (logged at warn, at most once per 10 s).
    pub queue_timeout: Duration,
    /// Times a request may already have passed through this server (our
    /// entries in its `CDN-Loop` field) and still run: one carrying this
    /// many is answered 508. At least 1.
    pub max_hops: u32,
    /// Bytes of each slot's memory (and of its tables) kept resident
    /// between requests and reset in place rather than given back: up to
    /// `max_instances × keep_resident` of resident memory, for instances
    /// that start without page faults.
    pub keep_resident: usize,
    /// What the app reads through `wasi:config/store`: nothing unless
    /// given.
    pub variables: AppVariables,
    /// The `wasi:keyvalue` buckets the app may open: none unless given.
    pub buckets: Buckets,
    /// Where its failures are counted; `None`: not counted.
    pub metrics: Option<AppMetrics>,
}

/// The keys and values an app reads through `wasi:config/store`, its
/// configuration and secrets, shared by all its instances. Debug output
/// names the keys only: a value may be a secret, and is never logged.
#[derive(Clone, Default)]
pub struct AppVariables {
    keys: Vec<String>,
    values: Arc<WasiConfigVariables>,
}

impl AppVariables {
    /// These pairs; a key given twice keeps its last value.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> AppVariables {
        let mut values = WasiConfigVariables::new();
        let mut keys = Vec::new();
        for (key, value) in pairs {
            if !keys.contains(&key) {
                keys.push(key.clone());
            }
            values.insert(key, value);
        }
        keys.sort();
        AppVariables {
            keys,
            values: Arc::new(values),
        }
    }

    /// The keys, sorted.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }
}

impl std::fmt::Debug for AppVariables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppVariables")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Default for ComponentConfig {
    fn default() -> Self {
        ComponentConfig {
            max_instances: 256,
            max_memory: 128 << 20,
            max_time: Some(Duration::from_secs(60)),
            max_cpu: Some(Duration::from_secs(30)),
            queue_timeout: Duration::from_secs(10),
            max_hops: 8,
            keep_resident: 512 << 10,
            variables: AppVariables::default(),
            buckets: Buckets::default(),
            metrics: None,
        }
    }
}

/// Our `cdn-id` in `CDN-Loop` (RFC 8586).
pub const CDN_ID: &str = "h2wasm";

/// How many of `CDN-Loop`'s entries (over all its fields) are ours.
fn hops(headers: &http::HeaderMap) -> u32 {
    let mut n = 0u32;
    for value in headers.get_all("cdn-loop") {
        let Ok(value) = value.to_str() else { continue };
        for info in value.split(',') {
            let id = info.split(';').next().unwrap_or("").trim();
            if id.eq_ignore_ascii_case(CDN_ID) {
                n = n.saturating_add(1);
            }
        }
    }
    n
}

/// The `CDN-Loop` value for a request's outgoing requests: its own
/// entries and one of ours.
fn loop_entries(headers: &http::HeaderMap) -> http::HeaderValue {
    if !headers.contains_key("cdn-loop") {
        // Most requests: no allocation.
        return http::HeaderValue::from_static(CDN_ID);
    }
    let mut value = headers
        .get_all("cdn-loop")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    if !value.is_empty() {
        value.push_str(", ");
    }
    value.push_str(CDN_ID);
    http::HeaderValue::from_str(&value).unwrap_or(http::HeaderValue::from_static(CDN_ID))
}

/// The largest pool: each instance's memories reserve address space (4 GiB
/// each, so that accesses need no bounds checks).
pub const MAX_INSTANCES: u32 = 4096;

/// Per-pool-slot resources a component may use: composed components hold
/// one core instance, memory and table or two per part.
const CORE_INSTANCES_PER_COMPONENT: u32 = 32;
const MEMORIES_PER_COMPONENT: u32 = 4;
const TABLES_PER_COMPONENT: u32 = 8;

/// A `wasi:http/proxy` component, compiled, ready to serve requests.
#[derive(Clone)]
pub struct WasiHttpApp(Arc<Inner>);

struct Inner {
    /// The file it came from, for log lines.
    name: String,
    engine: Engine,
    pre: ProxyPre<AppState>,
    outgoing: Arc<Outgoing>,
    slots: Arc<Semaphore>,
    config: ComponentConfig,
    /// Requests that found no free instance in time, for the warning.
    queue_full: Warning,
    _ticker: EpochTicker,
}

/// What one request's instance holds besides its memory.
struct AppState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Hooks,
    table: ResourceTable,
    limits: StoreLimits,
    cpu: Arc<CpuMeter>,
    variables: Arc<WasiConfigVariables>,
    buckets: Buckets,
    extras: ResponseExtras,
}

/// Time an instance's code has run: the polls of its call are timed, and
/// the epoch callback (which runs inside one) adds the one in progress.
#[derive(Default)]
struct CpuMeter {
    /// Nanoseconds spent in finished polls.
    used: AtomicU64,
    /// When the poll in progress began (nanoseconds since `base`).
    poll_began: AtomicU64,
    base: std::sync::OnceLock<Instant>,
}

impl CpuMeter {
    fn now_ns(&self) -> u64 {
        let base = self.base.get_or_init(Instant::now);
        u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn begin(&self) {
        self.poll_began.store(self.now_ns(), Ordering::Relaxed);
    }

    fn end(&self) {
        let took = self
            .now_ns()
            .saturating_sub(self.poll_began.load(Ordering::Relaxed));
        self.used.fetch_add(took, Ordering::Relaxed);
    }

    /// Run time so far, the poll in progress included.
    fn used(&self) -> Duration {
        let current = self
            .now_ns()
            .saturating_sub(self.poll_began.load(Ordering::Relaxed));
        Duration::from_nanos(self.used.load(Ordering::Relaxed).saturating_add(current))
    }
}

/// How a request's instance ended.
enum Ended {
    Returned,
    /// Trapped, panicked, or ran past its CPU limit: why, on one line.
    Failed(String),
    /// Dropped at its wall-clock limit.
    TimedOut(Duration),
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Returned => f.write_str("returned"),
            Ended::Failed(why) => f.write_str(why),
            Ended::TimedOut(limit) => write!(
                f,
                "ran past its time limit of {limit:?}; the instance was dropped"
            ),
        }
    }
}

impl WasiView for AppState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for AppState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl WasiHttpApp {
    /// Compiles the component in `path` and checks that it is a
    /// `wasi:http/proxy` one: it exports `wasi:http/incoming-handler`
    /// 0.2.x and imports nothing beyond what WASI 0.2, wasi:http,
    /// wasi:config/store, wasi:keyvalue (store, atomics, batch) and
    /// h2wasm:http2/response-extras give.
    /// Its outgoing requests go through `outgoing`.
    pub fn load(
        path: &Path,
        config: ComponentConfig,
        outgoing: Arc<Outgoing>,
    ) -> wasmtime::Result<WasiHttpApp> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {name}"))?;
        Self::new(&name, &bytes, config, outgoing)
    }

    /// As [`WasiHttpApp::load`], from the component's bytes; `name` is
    /// what errors and log lines call it.
    pub fn new(
        name: &str,
        wasm: &[u8],
        config: ComponentConfig,
        outgoing: Arc<Outgoing>,
    ) -> wasmtime::Result<WasiHttpApp> {
        if config.max_instances == 0 || config.max_instances > MAX_INSTANCES {
            wasmtime::bail!(
                "instances for {name}: between 1 and {MAX_INSTANCES}, not {}",
                config.max_instances
            );
        }
        let engine = app_engine(&config)?;
        let component = Component::new(&engine, wasm)
            .with_context(|| format!("{name} is not a WebAssembly component"))?;
        let exports: Vec<String> = component
            .component_type()
            .exports(&engine)
            .map(|(export, _)| export.to_string())
            .collect();
        if !exports
            .iter()
            .any(|e| e.starts_with("wasi:http/incoming-handler@0.2."))
        {
            let found = if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            };
            wasmtime::bail!(
                "{name} is not a wasi:http/proxy component: it does not export \
                 wasi:http/incoming-handler@0.2.x (it exports {found})"
            );
        }
        let mut linker = Linker::<AppState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        wasmtime_wasi_config::add_to_linker(&mut linker, |s: &mut AppState| {
            WasiConfig::from(&*s.variables)
        })?;
        crate::apps::keyvalue::add_to_linker(&mut linker, |s: &mut AppState| KeyValue {
            buckets: &s.buckets,
            table: &mut s.table,
        })?;
        crate::apps::extras::add_to_linker(&mut linker, |s: &mut AppState| &mut s.extras)?;
        let pre = linker.instantiate_pre(&component).with_context(|| {
            format!("{name} needs an import that a wasi:http/proxy host does not provide")
        })?;
        let pre = ProxyPre::new(pre)
            .with_context(|| format!("{name} is not a wasi:http/proxy component"))?;
        Ok(WasiHttpApp(Arc::new(Inner {
            name: name.to_string(),
            slots: Arc::new(Semaphore::new(config.max_instances as usize)),
            _ticker: EpochTicker::start(&engine)?,
            engine,
            pre,
            outgoing,
            config,
            queue_full: Warning::default(),
        })))
    }

    /// Requests running now, each in an instance of its own.
    pub fn busy(&self) -> usize {
        self.0.config.max_instances as usize - self.0.slots.available_permits()
    }

    /// What it says of itself to the metrics.
    fn reading(&self) -> AppReading {
        AppReading {
            name: self.0.name.clone(),
            busy: self.busy() as u64,
            capacity: u64::from(self.0.config.max_instances),
        }
    }

    /// Counts one failure of the kind `which` picks, if counted.
    fn count(&self, which: impl Fn(&AppMetrics) -> &prometheus::IntCounter) {
        if let Some(m) = &self.0.config.metrics {
            which(m).inc();
        }
    }

    /// Runs one request in a fresh instance.
    async fn call(self, request: Request<Incoming>) -> Response<ResponseBody> {
        let label = Label {
            method: request.method().clone(),
            uri: request.uri().clone(),
        };
        match self.run(request, &label).await {
            Ok(response) => response,
            Err(Refused::Failed(e)) => {
                self.count(|m| &m.trapped);
                tracing::warn!(app = %self.0.name, "{label}: {}", one_line(&e));
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the application failed\n",
                )
            }
            Err(Refused::Ended(ended @ Ended::TimedOut(_))) => {
                self.count(|m| &m.timed_out);
                tracing::warn!(app = %self.0.name, "{label}: {ended}");
                text(
                    StatusCode::GATEWAY_TIMEOUT,
                    "the application did not answer within its time limit\n",
                )
            }
            Err(Refused::Ended(ended)) => {
                self.count(|m| &m.trapped);
                tracing::warn!(app = %self.0.name, "{label}: {ended}");
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the application failed\n",
                )
            }
        }
    }

    async fn run(
        &self,
        request: Request<Incoming>,
        label: &Label,
    ) -> Result<Response<ResponseBody>, Refused> {
        // wasi:http gives every request an authority.
        if request.uri().authority().is_none()
            && !request.headers().contains_key(http::header::HOST)
        {
            return Ok(text(
                StatusCode::BAD_REQUEST,
                "the request names no host (:authority or Host)\n",
            ));
        }
        let inner = &self.0;
        let hops = hops(request.headers());
        if hops >= inner.config.max_hops {
            tracing::warn!(
                app = %inner.name,
                "{label}: passed through this server {hops} times already (CDN-Loop); answered 508"
            );
            return Ok(text(
                StatusCode::LOOP_DETECTED,
                "the request has looped through this server too often\n",
            ));
        }
        let slot = match tokio::time::timeout(
            inner.config.queue_timeout,
            inner.slots.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(slot)) => slot,
            Ok(Err(_)) => {
                return Err(Refused::Failed(wasmtime::format_err!(
                    "the instance pool is closed"
                )));
            }
            Err(_) => {
                self.count(|m| &m.busy);
                if let Some(count) = inner.queue_full.due() {
                    tracing::warn!(
                        app = %inner.name,
                        "all {} instances busy for {:?} (--app-instances, --app-queue-timeout); \
                         {count} requests answered 503 since the last warning",
                        inner.config.max_instances,
                        inner.config.queue_timeout
                    );
                }
                let mut r = text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the application is busy; retry later\n",
                );
                r.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static("1"),
                );
                return Ok(r);
            }
        };
        let scheme = match request.extensions().get::<ConnectionInfo>() {
            Some(info) if !info.encrypted => Scheme::Http,
            _ => Scheme::Https,
        };
        let extras = ResponseExtras::of(&request);
        let mut store = self.store(loop_entries(request.headers()), extras);
        let request = request.map(|body| {
            // A request body fails when its client resets the stream or
            // goes away.
            body.map_err(|_| wasmtime_wasi_http::Error::ConnectionTerminated)
        });
        let failed = |e: wasmtime::Error| Refused::Failed(e);
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(scheme, request)
            .map_err(failed)?;
        let (response_tx, response_rx) = oneshot::channel();
        let outparam = store
            .data_mut()
            .http()
            .new_response_outparam(response_tx)
            .map_err(failed)?;
        // The time limit runs from here: instantiation, every wait, and
        // the body until the instance returns.
        let deadline = inner
            .config
            .max_time
            .map(|t| (tokio::time::Instant::now() + t, t));
        let proxy = inner
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(failed)?;
        let cpu = store.data().cpu.clone();

        // The instance may go on writing the body after the response's
        // head went out, so it cannot depend on this call being polled to
        // the end. It runs here once, and if it has to wait (or used up an
        // epoch tick) the rest runs in a task of its own. Most handlers
        // finish in that first run: the response is then complete and the
        // instance gone before the next request is taken, with no task to
        // start and fewer instances alive at once (`bench/app`, README).
        let (outcome_tx, outcome_rx) = oneshot::channel::<Ended>();
        let mut handler = Box::pin(async move {
            let ended = {
                let call = proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, incoming, outparam);
                let mut call = std::pin::pin!(call);
                // Each poll is the instance running: timed for the CPU
                // limit.
                let metered = std::future::poll_fn(|cx| {
                    cpu.begin();
                    let polled = call.as_mut().poll(cx);
                    cpu.end();
                    polled
                });
                let finished = |result: wasmtime::Result<()>| match result {
                    Ok(()) => Ended::Returned,
                    Err(e) => Ended::Failed(one_line(&e)),
                };
                match deadline {
                    Some((at, limit)) => match tokio::time::timeout_at(at, metered).await {
                        Ok(result) => finished(result),
                        Err(_) => Ended::TimedOut(limit),
                    },
                    None => finished(metered.await),
                }
            };
            // Told before the store (and the response body's sender with
            // it) is dropped, so that the body knows how it ended.
            let _ = outcome_tx.send(ended);
            drop(store);
            drop(slot);
        });
        let first = std::future::poll_fn(|cx| Poll::Ready(handler.as_mut().poll(cx))).await;
        if first.is_pending() {
            tokio::spawn(handler);
        }

        match response_rx.await {
            Ok(Ok(response)) => Ok(response.map(|body| {
                box_body(Guarded {
                    body,
                    outcome: Some(outcome_rx),
                    app: self.clone(),
                    label: label.clone(),
                })
            })),
            Ok(Err(code)) => Err(failed(wasmtime::format_err!(
                "the component answered with an error: {code:?}"
            ))),
            Err(_) => match outcome_rx.await {
                Ok(Ended::Returned) | Err(_) => Err(failed(wasmtime::format_err!(
                    "the component returned without setting a response"
                ))),
                Ok(ended) => Err(Refused::Ended(ended)),
            },
        }
    }

    fn store(&self, loop_entries: http::HeaderValue, extras: ResponseExtras) -> Store<AppState> {
        let inner = &self.0;
        let wasi = WasiCtx::builder().inherit_stdout().inherit_stderr().build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(inner.config.max_memory)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(
            &inner.engine,
            AppState {
                wasi,
                http: WasiHttpCtx::new(),
                hooks: Hooks::new(inner.outgoing.clone(), loop_entries),
                table: ResourceTable::new(),
                limits,
                cpu: Arc::default(),
                variables: inner.config.variables.values.clone(),
                buckets: inner.config.buckets.clone(),
                extras,
            },
        );
        store.limiter(|state| &mut state.limits);
        let max_cpu = inner.config.max_cpu;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |ctx| {
            if let Some(max) = max_cpu
                && ctx.data().cpu.used() >= max
            {
                wasmtime::bail!("the request ran past its CPU limit of {max:?}");
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store
    }
}

/// Why a request got no response from its instance.
enum Refused {
    /// Before the instance ran, or with an error from it.
    Failed(wasmtime::Error),
    /// The instance ended (trapped, timed out) without a response.
    Ended(Ended),
}

/// The wasmtime engine for components: a pool of `max_instances` slots,
/// each sized for a composed component, and epoch interruption always on
/// (a component is someone else's code).
fn app_engine(config: &ComponentConfig) -> wasmtime::Result<Engine> {
    let n = config.max_instances;
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(n)
        .total_core_instances(n.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .total_memories(n.saturating_mul(MEMORIES_PER_COMPONENT))
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .total_tables(n.saturating_mul(TABLES_PER_COMPONENT))
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .total_stacks(n)
        .max_memory_size(config.max_memory);
    pool.async_stack_keep_resident(0);
    // A fresh instance's cost is mostly page faults on the memory it
    // touches and the madvise that gave the previous one's pages back.
    // Keeping the low part of each slot resident, and resetting only the
    // pages that were touched (found with Linux's PAGEMAP_SCAN, 6.7+),
    // halves it (bench/app: 75 -> 35 us per request in-process).
    pool.linear_memory_keep_resident(config.keep_resident)
        .table_keep_resident(config.keep_resident)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut wasm_config = Config::new();
    if std::env::var_os("H2WASM_PERFMAP").is_some() {
        wasm_config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    wasm_config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&wasm_config).context("creating the wasmtime engine for the application")
}

/// An error on one line: its causes, without wasmtime's wasm backtrace
/// (a panic's message went to stderr, where the component wrote it).
fn one_line(e: &wasmtime::Error) -> String {
    e.chain()
        .map(|cause| cause.to_string())
        .filter(|cause| !cause.starts_with("error while executing at wasm backtrace"))
        .map(|cause| cause.lines().next().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

impl tower::Service<Request<Incoming>> for WasiHttpApp {
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let app = self.clone();
        Box::pin(async move { Ok(app.call(request).await) })
    }
}

/// What a failure's log line names: the request's method and path,
/// formatted only if something is logged (cloning them copies no octets).
#[derive(Clone)]
struct Label {
    method: http::Method,
    uri: http::Uri,
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.uri.path())
    }
}

/// A response body that ends in an error, not in silence, when the
/// instance writing it failed: dropping the instance closes the body's
/// channel just as finishing it does.
struct Guarded {
    body: HyperOutgoingBody,
    outcome: Option<oneshot::Receiver<Ended>>,
    app: WasiHttpApp,
    label: Label,
}

impl Body for Guarded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
            Some(frame) => Poll::Ready(Some(frame.map_err(Into::into))),
            None => {
                let Some(outcome) = self.outcome.as_mut() else {
                    return Poll::Ready(None);
                };
                let ended = ready!(Pin::new(outcome).poll(cx));
                self.outcome = None;
                let ended = match ended {
                    Ok(Ended::Returned) => return Poll::Ready(None),
                    Ok(ended) => ended,
                    // The instance's task was dropped (the server is
                    // stopping): the body is cut short.
                    Err(_) => Ended::Failed("the instance was stopped".into()),
                };
                tracing::warn!(
                    app = %self.app.0.name,
                    "{}: failed after the response began: {ended}",
                    self.label
                );
                Poll::Ready(Some(Err(ended.to_string().into())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.outcome.is_none() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The apps being served (swapped whole on a reload), read by a scrape.
impl Sources for Arc<arc_swap::ArcSwap<Vec<WasiHttpApp>>> {
    fn read(&self, reading: &mut Reading) {
        reading
            .apps
            .extend(self.load().iter().map(WasiHttpApp::reading));
    }
}

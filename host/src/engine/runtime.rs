//! Compiling the engine component once and instantiating it per connection.

use crate::bindings::{
    AltsvcTarget, CommandError, ConnectionError, ConstantTable, Engine as EngineWorld, EnginePre,
    Event, FileStat, HeaderField, HeldSpan, NodeHeader, Options, PreparedResponse, Priority,
    RequestOptions, RespondOptions, Role, SessionState, Settings, StreamCredit, StreamState,
    StreamWrite,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::{Component, Linker, ResourceAny, ResourceTable};
use wasmtime::error::Context as _;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};
use wasmtime_wasi::filesystem::{Descriptor, File as WasiFile};
use wasmtime_wasi::{FsPerms, OpenMode, WasiCtx, WasiCtxView, WasiView};

/// Sizing for the instance pool.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Connections served at once. Most connections are idle most of the
    /// time, and an idle one hibernates: it holds no instance.
    pub max_connections: u32,
    /// Connections that may hold an engine instance at once: the size of
    /// the instance pool, in which every resource (instances, tables,
    /// memories, async stacks) is sized for this many. A connection that
    /// needs an instance while all are taken waits for one. At most
    /// [`MAX_LIVE`], and never more than `max_connections`.
    pub max_live: u32,
    /// Linear-memory cap per instance, in bytes.
    pub max_memory_per_connection: usize,
    /// A directory every instance may read (and nothing else), at
    /// [`GUEST_FILES`] inside the guest: what `respond-with-file` serves,
    /// and where the server finds `ServeFile` paths (over HTTP/2 and
    /// HTTP/1.1 alike).
    pub files_root: Option<std::path::PathBuf>,
    /// Longest one call into an instance may run. Past it the call traps
    /// and only that connection ends (a guest stuck in a loop, say);
    /// until then a long call yields to other connections every
    /// [`EPOCH_TICK`]. Engine calls take microseconds. `None` compiles
    /// the engine without the interruption checks: about 10% faster, but
    /// a stuck instance then holds its thread.
    pub max_call_time: Option<Duration>,
}

/// How often running instances are interrupted to yield and to check
/// their call's time budget.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Where [`RuntimeConfig::files_root`] appears inside each instance.
pub const GUEST_FILES: &str = "/files";

/// The largest instance pool: 4 GiB of address space is reserved per
/// linear memory (so the engine's memory accesses need no bounds checks),
/// and 16,384 of them fill half of what x86-64 and aarch64 give a
/// process. Every live instance also takes a few memory mappings of the
/// kernel's `vm.max_map_count` (65,530 by default).
pub const MAX_LIVE: u32 = 16_384;

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_connections: 10_000,
            max_live: 10_000,
            max_memory_per_connection: 64 << 20,
            files_root: None,
            max_call_time: Some(Duration::from_secs(2)),
        }
    }
}

/// Per-instance host state: the WASI context the guest's std needs (no
/// network, environment or arguments are granted; the filesystem is at
/// most the files root, read-only).
pub(super) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Epoch ticks the current call has run for.
    ticks_in_call: u64,
}

impl HostState {
    fn new(wasi: WasiCtx) -> Self {
        HostState {
            wasi,
            table: ResourceTable::new(),
            ticks_in_call: 0,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The compiled engine component, ready to instantiate.
pub struct Runtime {
    max_connections: u32,
    /// One permit per live instance a connection may hold.
    live: Arc<tokio::sync::Semaphore>,
    /// Permits in all.
    live_total: usize,
    /// What makes instances, and those made ahead.
    instances: Arc<Instances>,
    _ticker: Option<EpochTicker>,
}

/// Makes instances, and keeps up to [`READY`] made ahead: a new
/// connection (or a hibernated one waking) takes one instead of waiting
/// for wasmtime to make it, and another is made once that connection has
/// had its first turn.
struct Instances {
    engine: Engine,
    pre: EnginePre<HostState>,
    files_root: Option<std::path::PathBuf>,
    /// [`RuntimeConfig::max_call_time`] in epoch ticks.
    call_budget: Option<u64>,
    ready: std::sync::Mutex<Vec<(Store<HostState>, EngineWorld)>>,
    /// A task is making instances ahead (see `make_ready`).
    refilling: AtomicBool,
}

/// Instances kept made ahead. Each takes one of the pool's
/// [`SPARE_INSTANCES`] slots and the few pages instantiation touches.
const READY: usize = 2;

/// How long a new instance waits before being made ahead: the
/// connection that took the last one has its first response out first
/// (making one takes the same thread a few hundred µs).
const READY_AFTER: Duration = Duration::from_millis(2);

/// Advances the engine's epoch every [`EPOCH_TICK`] on a thread of its own,
/// until dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    /// The thread holds the engine weakly: a dropped runtime's pool (tens
    /// of TiB of reserved address space at the default size) is released
    /// at once, not a tick later, so runtimes made one after another never
    /// overlap.
    pub(crate) fn start(engine: &Engine) -> wasmtime::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let engine = engine.weak();
        std::thread::Builder::new()
            .name("h2wasm-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .context("starting the epoch thread")?;
        Ok(EpochTicker { stop })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// FNV-1a over a component's bytes: what [`Runtime::load_compiled`] names
/// its compiled copy by (the embedded engine's is computed at build time,
/// [`crate::EMBEDDED_ENGINE_HASH`]).
pub fn wasm_hash(wasm: &[u8]) -> u64 {
    wasm.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Instances beyond `max_live` for the engine's free functions (default
/// options, constants).
const SPARE_INSTANCES: u32 = 16;

impl RuntimeConfig {
    /// Live instances: `max_live`, within `max_connections`.
    fn live(&self) -> u32 {
        self.max_live.min(self.max_connections).max(1)
    }
}

impl Runtime {
    /// The wasmtime engine for `config`: a pooling allocator in which every
    /// resource an instance takes (component and core instances, tables,
    /// memories, async stacks) is sized for the live instances.
    fn wasmtime_engine(config: &RuntimeConfig) -> wasmtime::Result<Engine> {
        if config.live() > MAX_LIVE {
            wasmtime::bail!(
                "at most {MAX_LIVE} live instances (max_live), not {}",
                config.max_live
            );
        }
        let n = config.live() + SPARE_INSTANCES;
        let mut pool = PoolingAllocationConfig::default();
        // The engine component is three core instances (its module and
        // the two wit-component shims), two tables and one memory; every
        // async call runs on a fiber stack, which a live store keeps
        // between calls. Each slot costs some memory up front, so the
        // pool has no more than that.
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(3))
            .total_tables(n.saturating_mul(2))
            .total_memories(n)
            .total_stacks(n)
            .max_memory_size(config.max_memory_per_connection);
        // A store keeps the fiber stack of its last call, and a freed stack
        // stays resident unless it is reset: hibernated and closed
        // connections give the pages back.
        pool.async_stack_keep_resident(0);
        let mut wasm_config = Config::new();
        wasm_config.async_stack_zeroing(true);
        // `H2WASM_PERFMAP=1` names JIT code for `perf report`.
        if std::env::var_os("H2WASM_PERFMAP").is_some() {
            wasm_config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        wasm_config
            .wasm_component_model(true)
            .epoch_interruption(config.max_call_time.is_some())
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        Engine::new(&wasm_config).with_context(|| {
            format!(
                "creating the wasmtime engine: its pool reserves 4 GiB of address space \
                 for each of {n} instances (max_live {} + {SPARE_INSTANCES}); lower \
                 max_live if the process has no room for it",
                config.live()
            )
        })
    }

    /// Compiles `wasm` (a component exporting `h2wasm:http2/session`).
    pub fn new(wasm: &[u8], config: &RuntimeConfig) -> wasmtime::Result<Runtime> {
        let engine = Self::wasmtime_engine(config)?;
        let component = Component::new(&engine, wasm).context("compiling the engine component")?;
        Self::with_component(engine, component, config)
    }

    /// Compiles `wasm` for `config` to native code that
    /// [`Runtime::load_compiled`] loads without compiling. The CLI does
    /// this in a child process and keeps the result, so that the serving
    /// process never holds the compiler's memory.
    pub fn precompile(wasm: &[u8], config: &RuntimeConfig) -> wasmtime::Result<Vec<u8>> {
        Self::wasmtime_engine(config)?
            .precompile_component(wasm)
            .context("compiling the engine component")
    }

    /// The engine `wasm_hash` names (see [`wasm_hash`]), compiled for
    /// `config` and kept in `dir`: loaded from there, or first written
    /// there by `compile(path)` (which should call
    /// [`Runtime::precompile`]; the CLI runs it in a child process, so
    /// the compiler's memory never becomes the server's). Files are named
    /// by the component and by everything about the compiler and its
    /// settings that the code depends on.
    ///
    /// # Safety
    /// `dir` must be writable only by this user: wasmtime checks a
    /// compiled file's format and version but trusts the code in it.
    pub unsafe fn load_compiled(
        wasm_hash: u64,
        dir: &std::path::Path,
        config: &RuntimeConfig,
        compile: impl FnOnce(&std::path::Path) -> anyhow::Result<()>,
    ) -> anyhow::Result<Runtime> {
        use std::hash::{Hash, Hasher};
        let engine = Self::wasmtime_engine(config).map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let path = dir.join(format!("{wasm_hash:016x}-{:016x}.cwasm", h.finish()));
        if !path.exists() {
            compile(&path)?;
        }
        // SAFETY: the caller vouches for the directory (see above).
        let component = unsafe { Component::deserialize_file(&engine, &path) }.map_err(|e| {
            // Damaged, or from another build: compile afresh next time.
            let _ = std::fs::remove_file(&path);
            anyhow::anyhow!("loading the compiled engine {}: {e:#}", path.display())
        })?;
        Self::with_component(engine, component, config).map_err(|e| anyhow::anyhow!("{e:#}"))
    }

    fn with_component(
        engine: Engine,
        component: Component,
        config: &RuntimeConfig,
    ) -> wasmtime::Result<Runtime> {
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).context("linking WASI")?;
        let pre = EnginePre::new(
            linker
                .instantiate_pre(&component)
                .context("the component does not fit the engine world")?,
        )
        .context("the component does not export h2wasm:http2/session")?;
        // Kept canonical: a file opened on the host is checked against it
        // (`ServeFile::open_host`) without resolving it again per request.
        let files_root = match &config.files_root {
            Some(root) if !root.is_dir() => {
                wasmtime::bail!("files root {} is not a directory", root.display())
            }
            Some(root) => Some(
                root.canonicalize()
                    .with_context(|| format!("files root {}", root.display()))?,
            ),
            None => None,
        };
        let call_budget = config.max_call_time.map(|max| {
            u64::try_from(max.as_nanos().div_ceil(EPOCH_TICK.as_nanos()))
                .unwrap_or(u64::MAX)
                .max(1)
        });
        Ok(Runtime {
            max_connections: config.max_connections,
            live: Arc::new(tokio::sync::Semaphore::new(config.live() as usize)),
            live_total: config.live() as usize,
            _ticker: match call_budget {
                Some(_) => Some(EpochTicker::start(&engine)?),
                None => None,
            },
            instances: Arc::new(Instances {
                engine,
                pre,
                files_root,
                call_budget,
                ready: std::sync::Mutex::new(Vec::new()),
                refilling: AtomicBool::new(false),
            }),
        })
    }

    /// Compiles the engine embedded in this binary.
    pub fn embedded(config: &RuntimeConfig) -> wasmtime::Result<Runtime> {
        Runtime::new(crate::EMBEDDED_ENGINE, config)
    }

    /// Live connections the instance pool is sized for.
    /// [`RuntimeConfig::files_root`]: where [`GUEST_FILES`] is on the host
    /// (canonical: symlinks resolved).
    pub fn files_root(&self) -> Option<&std::path::Path> {
        self.instances.files_root.as_deref()
    }

    /// Instances made ahead, waiting for the next connections.
    pub fn ready(&self) -> usize {
        self.instances
            .ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Connections holding an instance now.
    pub fn live(&self) -> usize {
        self.live_total - self.live.available_permits()
    }

    /// The cap on connections holding an instance at once.
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    /// The wasmtime engine instances are made with.
    pub fn engine(&self) -> &Engine {
        &self.instances.engine
    }

    /// A fresh instance holding one HTTP/2 connection.
    pub async fn connect(
        &self,
        role: Role,
        options: &Options,
        now: u64,
    ) -> wasmtime::Result<EngineConnection> {
        let permit = self.live_permit().await;
        let (mut store, bindings) = self.instance().await?;
        let created = bindings
            .h2wasm_http2_session()
            .connection()
            .call_create(&mut store, role, options, now)
            .await?;
        let conn = created.map_err(|e| wasmtime::format_err!("invalid options: {}", e.reason))?;
        Ok(EngineConnection {
            store,
            bindings,
            conn,
            _permit: permit,
            calls: 0,
        })
    }

    /// A fresh instance holding the connection `snapshot` describes (see
    /// [`EngineConnection::hibernate`]); `options` are those it was created
    /// with. The inner error is a snapshot the engine refused.
    pub async fn resume(
        &self,
        options: &Options,
        snapshot: &[u8],
        now: u64,
    ) -> wasmtime::Result<Result<EngineConnection, CommandError>> {
        let permit = self.live_permit().await;
        let (mut store, bindings) = self.instance().await?;
        let resumed = bindings
            .h2wasm_http2_session()
            .connection()
            .call_resume(&mut store, options, snapshot, now)
            .await?;
        Ok(resumed.map(|conn| EngineConnection {
            store,
            bindings,
            conn,
            _permit: permit,
            calls: 0,
        }))
    }

    /// Waits until a connection may hold an instance (see
    /// [`RuntimeConfig::max_live`]).
    async fn live_permit(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.live
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }

    /// An instance for a connection: one made ahead if there is one
    /// (and another is then made), else one made now. Its call budget
    /// starts with its first call.
    async fn instance(&self) -> wasmtime::Result<(Store<HostState>, EngineWorld)> {
        let ready = self.instances.take_ready();
        self.instances.clone().make_ready();
        let (mut store, bindings) = match ready {
            Some(made) => made,
            None => self.instances.connection_instance().await?,
        };
        store.data_mut().ticks_in_call = 0;
        store.set_epoch_deadline(1);
        Ok((store, bindings))
    }

    /// Node's default options, as the engine reports them.
    pub async fn default_options(&self) -> wasmtime::Result<Options> {
        let (mut store, bindings) = self.instances.utility_instance().await?;
        bindings
            .h2wasm_http2_session()
            .call_default_options(&mut store)
            .await
    }

    /// A runtime for two connections and its default options: what a unit
    /// test that builds a connection or a server needs.
    #[cfg(test)]
    pub(crate) async fn for_tests() -> (Arc<Runtime>, Options) {
        let config = RuntimeConfig {
            max_connections: 2,
            ..Default::default()
        };
        let runtime = Arc::new(Runtime::embedded(&config).expect("the embedded engine loads"));
        let options = runtime.default_options().await.expect("default options");
        (runtime, options)
    }

    /// Node's `http2.constants`, from the engine.
    pub async fn constants(&self) -> wasmtime::Result<ConstantTable> {
        let (mut store, bindings) = self.instances.utility_instance().await?;
        bindings
            .h2wasm_http2_session()
            .call_constants(&mut store)
            .await
    }

    /// Node's incoming header object for received fields.
    pub async fn node_headers(&self, headers: &[HeaderField]) -> wasmtime::Result<Vec<NodeHeader>> {
        let (mut store, bindings) = self.instances.utility_instance().await?;
        bindings
            .h2wasm_http2_session()
            .call_node_headers(&mut store, headers)
            .await
    }
}

impl Instances {
    async fn connection_instance(&self) -> wasmtime::Result<(Store<HostState>, EngineWorld)> {
        let mut wasi = WasiCtx::builder();
        // File reads come from the page cache and are short: doing them on
        // this thread beats a hop through tokio's blocking pool per read.
        wasi.allow_blocking_current_thread(true);
        if let Some(root) = &self.files_root {
            wasi.preopened_dir(root, GUEST_FILES, FsPerms::ReadOnly)
                .with_context(|| format!("cannot open {}", root.display()))?;
        }
        let mut store = self.store(HostState::new(wasi.build()));
        let bindings = self.pre.instantiate_async(&mut store).await?;
        Ok((store, bindings))
    }

    /// A store whose calls yield every epoch tick and trap once they have
    /// run for the call budget (`EngineConnection` restarts the count per
    /// call).
    fn store(&self, state: HostState) -> Store<HostState> {
        let mut store = Store::new(&self.engine, state);
        let Some(budget) = self.call_budget else {
            return store;
        };
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            let state = ctx.data_mut();
            state.ticks_in_call += 1;
            if state.ticks_in_call >= budget {
                wasmtime::bail!("a call into the engine ran past its time budget");
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store
    }

    /// A short-lived instance for the engine's free functions.
    async fn utility_instance(&self) -> wasmtime::Result<(Store<HostState>, EngineWorld)> {
        let mut store = self.store(HostState::new(WasiCtx::builder().build()));
        let bindings = self.pre.instantiate_async(&mut store).await?;
        Ok((store, bindings))
    }

    /// An instance made ahead of the connection that will take it, its
    /// first pages touched: a first call (the engine's default options:
    /// no state, a few allocations) faults in the stack it runs on and
    /// the allocator's first pages, which that connection's calls would
    /// otherwise fault in on its first response.
    async fn warm_instance(&self) -> wasmtime::Result<(Store<HostState>, EngineWorld)> {
        let (mut store, bindings) = self.connection_instance().await?;
        let session = bindings.h2wasm_http2_session();
        let options = session.call_default_options(&mut store).await?;
        // A server connection's first turn (a client's preface, SETTINGS
        // and a GET), thrown away with the connection: the allocator's
        // pages, the memory it grows into and the stack a turn runs on are
        // then the instance's before a connection takes it, not faulted in
        // on that connection's first response.
        let connection = session.connection();
        if let Ok(conn) = connection
            .call_create(&mut store, Role::Server, &options, 0)
            .await?
        {
            let input = crate::engine::io::warm_up_request();
            connection
                .call_drive(
                    &mut store,
                    conn,
                    0,
                    None,
                    None,
                    None,
                    None,
                    None,
                    Some(&input),
                    None,
                    u32::MAX,
                )
                .await?;
            conn.resource_drop_async(&mut store).await?;
        }
        Ok((store, bindings))
    }

    /// An instance made ahead, if one is ready.
    fn take_ready(&self) -> Option<(Store<HostState>, EngineWorld)> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    /// Makes instances ahead, after [`READY_AFTER`], until [`READY`] are
    /// (if a tokio runtime is there to do it on). One task at a time does
    /// it: a burst of new connections starts one, not one each (whose
    /// instances would be made only to be thrown away).
    fn make_ready(self: Arc<Self>) {
        if self.ready.lock().unwrap_or_else(|p| p.into_inner()).len() >= READY {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        handle.spawn(async move {
            tokio::time::sleep(READY_AFTER).await;
            while self.ready.lock().unwrap_or_else(|p| p.into_inner()).len() < READY {
                match self.warm_instance().await {
                    Ok(made) => self
                        .ready
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(made),
                    // The pool is full (every slot live): the next
                    // connection makes its own, or waits for a slot, as
                    // without this.
                    Err(e) => {
                        tracing::debug!("no instance made ahead: {e:#}");
                        break;
                    }
                }
            }
            self.refilling.store(false, Ordering::Release);
        });
    }
}

/// One connection inside its own instance. Every method is one call into
/// the guest; an `Err` is a trap, after which the instance is unusable and
/// must be dropped (other connections are unaffected).
///
/// The engine is sans-IO: a driver hands it input (`receive`,
/// `handle_timeout`), polls what to write (`poll_transmit`), when to wake
/// it (`poll_timeout`) and what happened (`poll_events`), and issues
/// commands between; `drive` is all of one turn in one call, what the
/// server's driver uses. The engine never reads a clock or a socket.
pub struct EngineConnection {
    store: Store<HostState>,
    bindings: EngineWorld,
    conn: ResourceAny,
    _permit: tokio::sync::OwnedSemaphorePermit,
    /// Calls made into the instance (see `calls`).
    calls: u64,
}

macro_rules! guest_call {
    ($self:ident, $method:ident $(, $arg:expr)*) => {{
        $self.start_call();
        $self
            .bindings
            .h2wasm_http2_session()
            .connection()
            .$method(&mut $self.store, $self.conn $(, $arg)*)
            .await
    }};
}

/// What one `drive` hands the engine, in the order it is applied: whole
/// responses with prepared headers (`responses`, naming `headers` by
/// index, their bodies back to back in `bodies`), credit for received
/// data, body chunks, then octets read (`input`, with `held` the DATA
/// payloads left out of it). Empty by default.
#[derive(Clone, Copy, Default)]
pub struct DriveInput<'a> {
    /// Prepared header lists the `responses` name by index.
    pub headers: &'a [ResourceAny],
    /// Whole responses (`respond-prepared` each).
    pub responses: &'a [PreparedResponse],
    /// The `responses`' bodies, back to back.
    pub bodies: &'a [u8],
    /// Received data the application processed (`consume` each).
    pub credits: &'a [StreamCredit],
    /// Body chunks (`write` or `write-payload` each).
    pub writes: &'a [StreamWrite],
    /// Octets read from the transport.
    pub input: &'a [u8],
    /// DATA payloads left out of `input`.
    pub held: &'a [HeldSpan],
}

impl EngineConnection {
    /// Calls made into the instance so far. Only calls change the
    /// engine: one that had nothing more to say after call `n` still has
    /// nothing while this is `n` (until time passes: see `poll_timeout`).
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Each call gets the whole time budget.
    fn start_call(&mut self) {
        self.calls += 1;
        self.store.data_mut().ticks_in_call = 0;
        self.store.set_epoch_deadline(1);
    }

    /// Writes out a connection with nothing in flight; the instance can
    /// then be dropped and the connection rebuilt with [`Runtime::resume`].
    /// The inner error says what is still in flight.
    pub async fn hibernate(&mut self) -> wasmtime::Result<Result<Vec<u8>, CommandError>> {
        guest_call!(self, call_hibernate)
    }

    /// Feeds received octets (`receive`); a connection error ends the connection.
    pub async fn receive(
        &mut self,
        now: u64,
        data: &[u8],
    ) -> wasmtime::Result<Result<(), ConnectionError>> {
        guest_call!(self, call_receive, now, data)
    }

    /// Passes the clock in; fires the timeouts that are due (`handle-timeout`).
    pub async fn handle_timeout(&mut self, now: u64) -> wasmtime::Result<()> {
        guest_call!(self, call_handle_timeout, now)
    }

    /// Up to `max` octets to send (`poll-transmit`).
    pub async fn poll_transmit(&mut self, max: u32) -> wasmtime::Result<crate::bindings::Transmit> {
        guest_call!(self, call_poll_transmit, max)
    }

    /// When to call `handle_timeout` next (`poll-timeout`).
    pub async fn poll_timeout(&mut self) -> wasmtime::Result<Option<u64>> {
        guest_call!(self, call_poll_timeout)
    }

    /// The events queued since the last call (`poll-events`).
    pub async fn poll_events(&mut self) -> wasmtime::Result<Vec<Event>> {
        guest_call!(self, call_poll_events)
    }

    /// One turn: `given` in, about `max` octets of output and every
    /// event out (see `drive` in the WIT).
    pub async fn drive(
        &mut self,
        now: u64,
        given: &DriveInput<'_>,
        max: u32,
    ) -> wasmtime::Result<crate::bindings::DriveResult> {
        let DriveInput {
            headers,
            responses,
            bodies,
            credits,
            writes,
            input,
            held,
        } = *given;
        // Each list given costs an allocation in the engine, even an empty
        // one (wasmtime asks the guest for room for every list it lowers):
        // an empty list goes as `none`, which costs nothing.
        fn some<T>(list: &[T]) -> Option<&[T]> {
            (!list.is_empty()).then_some(list)
        }
        guest_call!(
            self,
            call_drive,
            now,
            some(headers),
            some(responses),
            some(bodies),
            some(credits),
            some(writes),
            some(input),
            some(held),
            max
        )
    }

    /// A whole response: headers, `body`, and the end of the stream.
    pub async fn respond_with_body(
        &mut self,
        stream_id: u32,
        headers: &[HeaderField],
        body: &[u8],
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_respond_with_body, stream_id, headers, body)
    }

    /// A handle to `headers` checked once in the engine, for
    /// `respond_prepared` (see `prepared-headers` in the WIT). Release it
    /// with `drop_prepared`, or it lives as long as this connection.
    pub async fn prepare_headers(
        &mut self,
        headers: &[HeaderField],
    ) -> wasmtime::Result<Result<ResourceAny, CommandError>> {
        guest_call!(self, call_prepare_headers, headers)
    }

    /// A whole response with headers from `prepare_headers`.
    pub async fn respond_prepared(
        &mut self,
        stream_id: u32,
        headers: ResourceAny,
        body: &[u8],
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_respond_prepared, stream_id, headers, body)
    }

    /// `respond-with-fd` (Node's `respondWithFD`): the engine reads the
    /// response body from `file` — any file the host opened, inside a
    /// pre-opened directory or not — through a read-only wasi:filesystem
    /// descriptor it owns until the body is sent. Clone the `File` (e.g.
    /// `try_clone`) to keep using it.
    pub async fn respond_with_fd(
        &mut self,
        stream_id: u32,
        file: std::fs::File,
        headers: &[HeaderField],
        offset: u64,
        length: Option<u64>,
    ) -> wasmtime::Result<Result<FileStat, CommandError>> {
        let descriptor =
            Descriptor::File(WasiFile::new(file, FsPerms::ReadOnly, OpenMode::READ, true));
        let fd = self.store.data_mut().table.push(descriptor)?;
        guest_call!(
            self,
            call_respond_with_fd,
            stream_id,
            fd,
            headers,
            offset,
            length
        )
    }

    /// `write-payload`: `length` octets the host holds as `body`, queued
    /// after what was written; false above the high-water mark.
    pub async fn write_payload(
        &mut self,
        stream_id: u32,
        body: u64,
        length: u64,
    ) -> wasmtime::Result<Result<bool, CommandError>> {
        guest_call!(self, call_write_payload, stream_id, body, length)
    }

    /// `respond-with-payload`: `length` octets of the host's body `body`
    /// go out as payload references in transmits, until one lists it in
    /// `released`.
    pub async fn respond_with_payload(
        &mut self,
        stream_id: u32,
        headers: &[HeaderField],
        body: u64,
        length: u64,
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(
            self,
            call_respond_with_payload,
            stream_id,
            headers,
            body,
            length
        )
    }

    /// Releases a handle from `prepare_headers`.
    pub async fn drop_prepared(&mut self, headers: ResourceAny) -> wasmtime::Result<()> {
        self.start_call();
        headers.resource_drop_async(&mut self.store).await
    }

    /// Client: opens a stream with a request; returns its id.
    pub async fn request(
        &mut self,
        headers: &[HeaderField],
        options: RequestOptions,
    ) -> wasmtime::Result<Result<u32, CommandError>> {
        guest_call!(self, call_request, headers, options)
    }

    /// Server: the final response headers on `stream_id`.
    pub async fn respond(
        &mut self,
        stream_id: u32,
        headers: &[HeaderField],
        options: RespondOptions,
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_respond, stream_id, headers, options)
    }

    /// Server: a 1xx informational response (Node's `additionalHeaders`).
    pub async fn additional_headers(
        &mut self,
        stream_id: u32,
        headers: &[HeaderField],
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_additional_headers, stream_id, headers)
    }

    /// Hands `n` octets of received data back to flow control.
    pub async fn consume(
        &mut self,
        stream_id: u32,
        n: u32,
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_consume, stream_id, n)
    }

    /// Sends GOAWAY with `code` (Node's `session.goaway`).
    pub async fn goaway(
        &mut self,
        code: u32,
        last_stream_id: Option<u32>,
        opaque_data: &[u8],
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_goaway, code, last_stream_id, opaque_data)
    }

    /// Sets the connection's receive window (Node's `setLocalWindowSize`).
    pub async fn set_local_window_size(
        &mut self,
        size: u32,
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_set_local_window_size, size)
    }

    /// Node's session performance entry.
    pub async fn metrics(&mut self) -> wasmtime::Result<crate::bindings::Metrics> {
        guest_call!(self, call_metrics)
    }

    /// Queues body data; `false` when the stream's queue is past its high-water mark.
    pub async fn write(
        &mut self,
        stream_id: u32,
        data: &[u8],
    ) -> wasmtime::Result<Result<bool, CommandError>> {
        guest_call!(self, call_write, stream_id, data)
    }

    /// Ends the stream's outgoing side after the queued data.
    pub async fn end(&mut self, stream_id: u32) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_end, stream_id)
    }

    /// Sends trailers, ending the stream (after `WantTrailers`).
    pub async fn send_trailers(
        &mut self,
        stream_id: u32,
        headers: &[HeaderField],
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_send_trailers, stream_id, headers)
    }

    /// Resets the stream with `code` (Node's `stream.close`).
    pub async fn close_stream(
        &mut self,
        stream_id: u32,
        code: u32,
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_close_stream, stream_id, code)
    }

    /// Counts `octets` the host holds for the stream toward the
    /// session's `max-session-memory` while it lives (refused when there
    /// is no room).
    pub async fn reserve_memory(
        &mut self,
        stream_id: u32,
        octets: u32,
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_reserve_memory, stream_id, octets)
    }

    /// Node's `stream.setTimeout`: `stream-timeout` after `timeout_ns`
    /// without a frame on the stream (`None`: never).
    pub async fn set_stream_timeout(
        &mut self,
        stream_id: u32,
        now: u64,
        timeout_ns: Option<u64>,
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_set_stream_timeout, stream_id, now, timeout_ns)
    }

    /// Sends a PING; returns its payload (Node's `session.ping`).
    pub async fn ping(
        &mut self,
        now: u64,
        payload: Option<u64>,
    ) -> wasmtime::Result<Result<u64, CommandError>> {
        guest_call!(self, call_ping, now, payload)
    }

    /// Sends new SETTINGS; they apply when acknowledged.
    pub async fn settings(
        &mut self,
        settings: &Settings,
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_settings, settings)
    }

    /// Refuse (or stop refusing) new peer streams with REFUSED_STREAM.
    pub async fn set_refusing_streams(&mut self, refusing: bool) -> wasmtime::Result<()> {
        guest_call!(self, call_set_refusing_streams, refusing)
    }

    /// Closes gracefully: GOAWAY, then the end once streams finish.
    pub async fn close(&mut self) -> wasmtime::Result<()> {
        guest_call!(self, call_close)
    }

    /// Ends the connection at once with `code` (Node's `destroy`).
    pub async fn destroy(&mut self, code: u32) -> wasmtime::Result<()> {
        guest_call!(self, call_destroy, code)
    }

    /// Node's `session.state`.
    pub async fn state(&mut self) -> wasmtime::Result<SessionState> {
        guest_call!(self, call_state)
    }

    /// Node's `stream.state`, or `None` for a stream it no longer knows.
    pub async fn stream_state(&mut self, stream_id: u32) -> wasmtime::Result<Option<StreamState>> {
        guest_call!(self, call_stream_state, stream_id)
    }

    /// The peer's SETTINGS in force.
    pub async fn remote_settings(&mut self) -> wasmtime::Result<Settings> {
        guest_call!(self, call_remote_settings)
    }

    /// Whether the connection has ended.
    pub async fn is_closed(&mut self) -> wasmtime::Result<bool> {
        guest_call!(self, call_is_closed)
    }

    /// Server: a response whose body the engine reads from `path` (Node's `respondWithFile`).
    pub async fn respond_with_file(
        &mut self,
        stream_id: u32,
        headers: &[HeaderField],
        path: &str,
        offset: u64,
        length: Option<u64>,
    ) -> wasmtime::Result<Result<FileStat, CommandError>> {
        guest_call!(
            self,
            call_respond_with_file,
            stream_id,
            headers,
            path,
            offset,
            length
        )
    }

    /// Node's `stream.priority`: moves the stream in the priority tree
    /// and, unless `silent`, sends a PRIORITY frame.
    pub async fn set_priority(
        &mut self,
        stream_id: u32,
        priority: Priority,
        silent: bool,
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_priority, stream_id, priority, silent)
    }

    /// Whether the client accepts pushed streams.
    pub async fn push_allowed(&mut self) -> wasmtime::Result<bool> {
        guest_call!(self, call_push_allowed)
    }

    /// Server: promises a pushed request on `parent`; returns its stream id.
    pub async fn push_stream(
        &mut self,
        parent: u32,
        headers: &[HeaderField],
    ) -> wasmtime::Result<Result<u32, CommandError>> {
        guest_call!(self, call_push_stream, parent, headers)
    }

    /// Server: sends ALTSVC (Node's `session.altsvc`).
    pub async fn altsvc(
        &mut self,
        value: &str,
        target: &AltsvcTarget,
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_altsvc, value, target)
    }

    /// Server: sends ORIGIN (Node's `session.origin`).
    pub async fn origin(
        &mut self,
        origins: &[String],
    ) -> wasmtime::Result<Result<(), CommandError>> {
        guest_call!(self, call_origin, origins)
    }

    /// Client: Node's `originSet`.
    pub async fn origin_set(&mut self) -> wasmtime::Result<Vec<String>> {
        guest_call!(self, call_origin_set)
    }

    /// What counts against Node's `maxSessionMemory`, in octets.
    pub async fn session_memory(&mut self) -> wasmtime::Result<u64> {
        guest_call!(self, call_session_memory)
    }
}

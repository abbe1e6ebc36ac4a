//! The server side of one connection: moves bytes between a transport and
//! the engine instance, hands request streams to the application, and feeds
//! response bodies back as flow control allows.

use crate::app::{
    Body, BodyItem, Command, FileSource, Header, Request, Responder, Response, ResponseBody,
    ResponseHeaders, SharedApp, SharedHeaders,
};
use crate::bindings::{
    AltsvcTarget, CommandError, Event, Options, PreparedResponse, RespondOptions, Role,
};
use crate::clock::{instant_at, now_ns};
use crate::convert::{code_name, find, from_fields, into_fields, status_of, to_fields};
pub use crate::io::Trap;
use crate::io::trap;
use crate::limits::Limits;
use crate::runtime::{EngineConnection, Runtime};
use bytes::Bytes;
use futures_util::FutureExt;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt, StreamMap};
use wasmtime::component::ResourceAny;

/// A response body as the pump sees it: chunks, then `None` at the end.
type BodyStream = Pin<Box<dyn Stream<Item = Option<Bytes>> + Send>>;

/// What the server knows about one stream (for the handler and the log).
struct StreamIo {
    body_tx: Option<mpsc::UnboundedSender<BodyItem>>,
    method: String,
    path: String,
    status: u16,
    bytes_out: u64,
    started: Instant,
    /// Trailers the handler sent before the engine asked for them.
    trailers: Option<Vec<crate::app::Header>>,
}

impl StreamIo {
    /// For a stream opened by `headers`; `prefix` marks the log's method
    /// (pushed streams show as "PUSH GET"). `:method` defaults to GET.
    fn new(
        headers: &[Header],
        prefix: &str,
        body_tx: Option<mpsc::UnboundedSender<BodyItem>>,
    ) -> Self {
        let text = |n: &str| find(headers, n).map(|v| String::from_utf8_lossy(v).into_owned());
        StreamIo {
            body_tx,
            method: format!(
                "{prefix}{}",
                text(":method").unwrap_or_else(|| "GET".into())
            ),
            path: text(":path").unwrap_or_default(),
            status: 0,
            bytes_out: 0,
            started: Instant::now(),
            trailers: None,
        }
    }
}

/// Everything the pump tracks besides the engine itself, while the
/// connection has an instance.
#[derive(Default)]
struct PumpState {
    streams: HashMap<u32, StreamIo>,
    /// Response bodies the pump pulls from.
    bodies: StreamMap<u32, BodyStream>,
    /// Bodies of congested streams, waiting for `Drain`.
    parked: HashMap<u32, BodyStream>,
    /// The engine reported `closed`: flush and stop.
    closed: bool,
    /// Shared response headers this connection's engine has prepared, by
    /// [`SharedHeaders::id`].
    prepared: HashMap<u64, ResourceAny>,
    /// Whole responses with prepared headers, sent in one call before the
    /// next `drive` (see `flush_batch`), and their statuses for the log.
    batch: Vec<PreparedResponse>,
    batch_status: Vec<u16>,
}

/// Prepared header lists kept per connection; past this the handles are
/// released and prepared again as needed (a site's hot files fit easily).
const PREPARED_PER_CONNECTION: usize = 256;

impl PumpState {
    fn body_pending(&self, id: u32) -> bool {
        self.bodies.contains_key(&id) || self.parked.contains_key(&id)
    }
}

/// Summary of a finished connection.
#[derive(Debug, Default)]
pub struct ConnectionSummary {
    pub streams: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Times the connection gave its instance back while idle.
    pub hibernations: u32,
}

/// How each connection is run, beyond answering requests.
#[derive(Clone)]
pub struct ConnectionConfig {
    /// An Alt-Svc value (RFC 7838, e.g. `h2=":8443"; ma=3600`) advertised
    /// in an ALTSVC frame on the first request stream of each connection.
    pub altsvc: Option<String>,
    /// The client preface and SETTINGS must arrive within this, or the
    /// connection is closed (nothing has been said in HTTP/2 yet).
    pub handshake_timeout: Duration,
    /// A connection with no open streams for this long is closed with
    /// GOAWAY NO_ERROR. `None` (Node's default): never.
    pub idle_timeout: Option<Duration>,
    /// A connection with nothing in flight for this long hibernates: the
    /// engine writes it out (a few KiB), its instance goes back to the
    /// pool, and the peer's next octet resumes it in a fresh one. `None`:
    /// never.
    pub hibernate_after: Option<Duration>,
    /// Process-wide limits and counters: while the memory budget is spent,
    /// new streams are refused with REFUSED_STREAM.
    pub limits: Option<Arc<Limits>>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            altsvc: None,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: None,
            hibernate_after: Some(Duration::from_secs(1)),
            limits: None,
        }
    }
}

impl std::fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("altsvc", &self.altsvc)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("hibernate_after", &self.hibernate_after)
            .finish_non_exhaustive()
    }
}

/// Output taken from the engine at a time: it starts at `FIRST_BATCH`,
/// doubles up to `MAX_BATCH` while the peer keeps up, and falls to
/// `SLOW_BATCH` when a write has to wait. The engine holds at most one
/// batch, and so do we.
const FIRST_BATCH: usize = 16 * 1024;
const MAX_BATCH: usize = 32 * 1024;
const SLOW_BATCH: usize = 16 * 1024;

/// Input read per wake-up: it bounds how long one connection's turn takes
/// (a flood of small frames is processed in slices), so others are served.
const READ_CHUNK: usize = 16 * 1024;

/// Octets the engine may hold ready to send while the peer is not reading
/// before we stop reading from it. Larger than the engine's bound on
/// unread acknowledgements, so PING and SETTINGS floods end the connection
/// (ENHANCE_YOUR_CALM) rather than stall it.
const READ_GATE: u32 = 256 * 1024;

/// Once the engine has closed, how long what is left may take to send.
const CLOSE_FLUSH: Duration = Duration::from_secs(2);

/// Work one connection does before it lets other tasks run.
const FAIR_SLICE: Duration = Duration::from_micros(200);

/// Serves one HTTP/2 connection on `io` until it closes. `shutdown` turns
/// true for a graceful close (GOAWAY, open streams finish). An `Err` means
/// the transport failed or the instance trapped; either way only this
/// connection is affected.
pub async fn serve_connection<IO>(
    runtime: &Runtime,
    options: &Options,
    io: IO,
    app: SharedApp,
    peer: &str,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<ConnectionSummary>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin,
{
    let config = ConnectionConfig::default();
    serve_connection_with(runtime, options, &config, io, app, peer, shutdown).await
}

/// As [`serve_connection`], with per-connection settings.
///
/// The connection takes an instance only when the peer has something to
/// say: none while it waits for the first octet, and none while it
/// hibernates (see [`ConnectionConfig::hibernate_after`]).
pub async fn serve_connection_with<IO>(
    runtime: &Runtime,
    options: &Options,
    config: &ConnectionConfig,
    io: IO,
    app: SharedApp,
    peer: &str,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<ConnectionSummary>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin,
{
    let mut options = options.clone();
    options.manual_consume = true;
    let (rd, wr) = tokio::io::split(io);
    let now = Instant::now();
    let shutting_down = *shutdown.borrow();
    let mut s = Session {
        runtime,
        options,
        config,
        app,
        peer,
        rd,
        wr,
        shutting_down,
        shutdown,
        summary: ConnectionSummary::default(),
        altsvc_pending: config.altsvc.clone(),
        opened: now,
        handshaken: false,
        idle_since: Some(now),
        idle_closing: false,
    };
    let mut snapshot: Option<Vec<u8>> = None;
    loop {
        let start = match s.wait().await {
            Wake::Input(octet) => Start::Input(octet),
            Wake::Close if snapshot.is_some() => Start::Close,
            Wake::Close | Wake::Gone => break,
        };
        // An instance, waiting for one if all are taken (max_live), but
        // not for longer than a handshake may take.
        let saved = snapshot.take();
        let resuming = saved.is_some();
        let take = async {
            match &saved {
                None => trap(s.runtime.connect(Role::Server, &s.options, now_ns()).await),
                Some(saved) => trap(s.runtime.resume(&s.options, saved, now_ns()).await)?
                    .map_err(|e| anyhow::anyhow!("resuming a hibernated connection: {e:?}")),
            }
        };
        let conn = match tokio::time::timeout(s.config.handshake_timeout, take).await {
            Ok(Ok(c)) => c,
            failed => {
                let e = match failed {
                    Ok(Err(e)) => e,
                    _ => anyhow::anyhow!("no engine instance free"),
                };
                // No instance to be had: say so in HTTP/2 and close.
                tracing::warn!(peer = %s.peer, "cannot serve the connection: {e:#}");
                let _ =
                    s.wr.write_all(&crate::io::refusal("no engine instance free"))
                        .await;
                let _ = s.wr.shutdown().await;
                return Err(e);
            }
        };
        if resuming && let Some(limits) = &s.config.limits {
            limits.count_resumed();
        }
        // The active phase is boxed: a hibernated connection's task keeps
        // only `Session` and a one-octet read.
        let outcome = Box::pin(s.active(conn, start)).await;
        crate::trim::freed();
        match outcome? {
            Outcome::Ended => break,
            Outcome::Hibernated(saved) => {
                s.summary.hibernations += 1;
                if let Some(limits) = &s.config.limits {
                    limits.count_hibernated();
                }
                tracing::debug!(peer = %s.peer, bytes = saved.len(), "hibernated");
                snapshot = Some(saved);
            }
        }
    }
    let _ = s.wr.shutdown().await;
    Ok(s.summary)
}

/// What woke a connection that holds no instance.
enum Wake {
    /// The peer sent this octet (more may follow).
    Input(u8),
    /// Close gracefully: idle too long, or the server is shutting down.
    Close,
    /// Nothing more to do: the peer left, or never said hello in time.
    Gone,
}

/// How an instance's turn starts.
enum Start {
    Input(u8),
    Close,
}

enum Outcome {
    Ended,
    Hibernated(Vec<u8>),
}

/// One connection's state that outlives its instances.
struct Session<'a, IO> {
    runtime: &'a Runtime,
    options: Options,
    config: &'a ConnectionConfig,
    app: SharedApp,
    peer: &'a str,
    rd: ReadHalf<IO>,
    wr: WriteHalf<IO>,
    shutdown: watch::Receiver<bool>,
    shutting_down: bool,
    summary: ConnectionSummary,
    altsvc_pending: Option<String>,
    opened: Instant,
    /// The peer's SETTINGS arrived (with the preface before them).
    handshaken: bool,
    /// Since when nothing has been open or in flight.
    idle_since: Option<Instant>,
    /// The idle timeout passed and GOAWAY went out.
    idle_closing: bool,
}

impl<IO> Session<'_, IO>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin,
{
    /// Waits, with no instance, for the peer's next octet.
    async fn wait(&mut self) -> Wake {
        let deadline = if !self.handshaken {
            Some(self.opened + self.config.handshake_timeout)
        } else {
            self.config
                .idle_timeout
                .zip(self.idle_since)
                .map(|(t, since)| since + t)
        };
        let mut octet = [0u8; 1];
        tokio::select! {
            read = self.rd.read(&mut octet) => match read {
                Ok(1) => {
                    self.summary.bytes_read += 1;
                    Wake::Input(octet[0])
                }
                _ => Wake::Gone,
            },
            _ = sleep_until_opt(deadline) => {
                if self.handshaken {
                    self.count_idle_close();
                    Wake::Close
                } else {
                    self.handshake_timed_out();
                    Wake::Gone
                }
            }
            _ = self.shutdown.changed(), if !self.shutting_down => {
                self.shutting_down = true;
                Wake::Close
            }
        }
    }

    fn handshake_timed_out(&self) {
        tracing::debug!(peer = %self.peer, "no HTTP/2 preface and SETTINGS in time; closing");
        if let Some(limits) = &self.config.limits {
            limits.count_handshake_timeout();
        }
    }

    fn count_idle_close(&self) {
        tracing::debug!(peer = %self.peer, "idle timeout; closing with GOAWAY");
        if let Some(limits) = &self.config.limits {
            limits.count_idle_closed();
        }
    }

    /// Runs the connection in `conn` until it ends, or until it has had
    /// nothing in flight for `hibernate_after` and writes itself out.
    async fn active(
        &mut self,
        mut conn: EngineConnection,
        start: Start,
    ) -> anyhow::Result<Outcome> {
        let (cmd_tx, mut cmd_rx) = mpsc::channel::<Command>(1024);
        let mut st = PumpState::default();
        // Filled only as far as reads go (a read of 100 octets touches one
        // page, not READ_CHUNK).
        let mut buf = bytes::BytesMut::with_capacity(READ_CHUNK);
        match start {
            Start::Input(octet) => buf.extend_from_slice(&[octet]),
            Start::Close => {
                self.idle_closing = true;
                trap(conn.close().await)?;
            }
        }
        if self.shutting_down {
            trap(conn.close().await)?;
        }
        // Output taken from the engine, not yet written; and how much to
        // take at a time: more while the peer keeps up, little once it
        // does not (what a slow reader makes us hold stays small).
        let mut out: Vec<u8> = Vec::new();
        let mut out_pos = 0usize;
        let mut batch = FIRST_BATCH;
        let mut stalled = false;
        let mut queued;
        let mut open_streams;
        let mut deadline;
        let mut refusing = false;
        let mut closed_at: Option<Instant> = None;
        let mut last_yield = Instant::now();
        loop {
            let over_budget = self
                .config
                .limits
                .as_ref()
                .is_some_and(|l| l.memory_exhausted());
            if over_budget != refusing {
                trap(conn.set_refusing_streams(over_budget).await)?;
                refusing = over_budget;
            }
            // One `drive` feeds input, takes output and events. Handling
            // events can queue more output, and sending can raise events
            // (want-trailers, drain): go round until a call brings nothing
            // new. Output is taken only when the last batch is written.
            let mut input = &buf[..];
            loop {
                flush_batch(&mut conn, &mut st).await?;
                let max = if out.is_empty() { batch } else { 0 };
                let r = trap(conn.drive(now_ns(), input, max as u32).await)?;
                input = &[];
                if let Some(e) = r.error {
                    tracing::debug!(peer = %self.peer, "connection error {}: {}", code_name(e.code), e.reason);
                }
                deadline = r.timeout;
                queued = r.queued;
                open_streams = r.open_streams;
                let full = r.output.len() >= max && max > 0;
                if !r.output.is_empty() {
                    self.summary.bytes_written += r.output.len() as u64;
                    out = r.output;
                    out_pos = 0;
                }
                let quiet = r.events.is_empty() && !full;
                for event in r.events {
                    match &event {
                        Event::RemoteSettings(_) => self.handshaken = true,
                        Event::Request(h) => {
                            if let Some(value) = self.altsvc_pending.take() {
                                let target = AltsvcTarget::Stream(h.stream_id);
                                if let Err(e) = trap(conn.altsvc(&value, &target).await)? {
                                    tracing::debug!(peer = %self.peer, "ALTSVC refused: {e:?}");
                                }
                            }
                        }
                        _ => {}
                    }
                    on_event(event, &mut conn, &mut st, &self.app, &cmd_tx, self.peer).await?;
                }
                if quiet {
                    break;
                }
            }
            buf.clear();
            let now = Instant::now();
            if st.closed {
                if out.is_empty() && queued == 0 {
                    break;
                }
                let since = *closed_at.get_or_insert(now);
                if now >= since + CLOSE_FLUSH {
                    tracing::debug!(peer = %self.peer, "peer not reading; closing without flushing");
                    break;
                }
            }
            // Idle: nothing open in the engine, nothing in flight here.
            let idle = !st.closed
                && open_streams == 0
                && st.bodies.is_empty()
                && st.parked.is_empty()
                && st.batch.is_empty()
                && cmd_rx.is_empty()
                && cmd_rx.sender_strong_count() == 1
                && out.is_empty()
                && queued == 0;
            if !idle {
                self.idle_since = None;
            } else if self.idle_since.is_none() {
                self.idle_since = Some(now);
            }
            let idle_close_at = self
                .config
                .idle_timeout
                .zip(self.idle_since)
                .filter(|_| !self.idle_closing && !st.closed)
                .map(|(t, since)| since + t);
            let hibernate_at = self
                .config
                .hibernate_after
                .zip(self.idle_since)
                .filter(|_| self.handshaken && !self.idle_closing && !self.shutting_down)
                .map(|(t, since)| since + t);
            let handshake_at =
                (!self.handshaken).then_some(self.opened + self.config.handshake_timeout);
            let flush_at = closed_at.map(|t| t + CLOSE_FLUSH);
            let engine_at = deadline.map(instant_at);
            if handshake_at.is_some_and(|t| now >= t) {
                self.handshake_timed_out();
                break;
            }
            if idle_close_at.is_some_and(|t| now >= t) {
                self.count_idle_close();
                self.idle_closing = true;
                trap(conn.close().await)?;
                continue;
            }
            if hibernate_at.is_some_and(|t| now >= t) {
                match trap(conn.hibernate().await)? {
                    Ok(saved) => return Ok(Outcome::Hibernated(saved)),
                    // Something is still in flight in the engine (a PING
                    // or SETTINGS awaiting acknowledgement): try later.
                    Err(e) => {
                        tracing::trace!(peer = %self.peer, "not hibernating yet: {e:?}");
                        self.idle_since = Some(now);
                    }
                }
            }
            if engine_at.is_some_and(|t| now >= t) {
                trap(conn.handle_timeout(now_ns()).await)?;
                continue;
            }
            let wake_at = [
                idle_close_at,
                hibernate_at,
                handshake_at,
                flush_at,
                engine_at,
            ]
            .into_iter()
            .flatten()
            .min();
            let reading = !st.closed && queued < READ_GATE;
            let waited_from = Instant::now();
            tokio::select! {
                biased;
                written = write_out(&mut self.wr, &out, &mut out_pos, &mut stalled), if !out.is_empty() => {
                    written?;
                    out = Vec::new();
                    batch = if std::mem::take(&mut stalled) {
                        SLOW_BATCH
                    } else {
                        (batch * 2).min(MAX_BATCH)
                    };
                }
                Some(cmd) = cmd_rx.recv() => {
                    apply(cmd, &mut conn, &mut st).await?;
                }
                Some((id, item)) = st.bodies.next(), if !st.bodies.is_empty() => {
                    write_body(id, item, &mut conn, &mut st).await?;
                }
                read = self.rd.read_buf(&mut buf), if reading => {
                    let n = match read {
                        Ok(n) => n,
                        // TLS peers that close without close_notify: an ordinary end.
                        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                        Err(e) => return Err(e.into()),
                    };
                    if n == 0 {
                        // The peer closed its side: nothing more can arrive.
                        trap(conn.destroy(0).await)?;
                    } else {
                        self.summary.bytes_read += n as u64;
                    }
                }
                _ = sleep_until_opt(wake_at), if wake_at.is_some() => {}
                _ = self.shutdown.changed(), if !self.shutting_down => {
                    self.shutting_down = true;
                    trap(conn.close().await)?;
                }
            }
            if waited_from.elapsed() >= FAIR_SLICE {
                // Parked in select: others had their turn.
                last_yield = Instant::now();
            }
            // Take whatever else is ready now, so one flush (one syscall)
            // carries the output of many commands and body chunks.
            loop {
                if let Ok(cmd) = cmd_rx.try_recv() {
                    apply(cmd, &mut conn, &mut st).await?;
                    continue;
                }
                if st.bodies.is_empty() {
                    break;
                }
                match st.bodies.next().now_or_never() {
                    Some(Some((id, item))) => write_body(id, item, &mut conn, &mut st).await?,
                    _ => break,
                }
            }
            if last_yield.elapsed() >= FAIR_SLICE {
                tokio::task::yield_now().await;
                last_yield = Instant::now();
            }
        }
        self.summary.streams = trap(conn.state().await)?
            .last_proc_stream_id
            .div_ceil(2)
            .into();
        if tracing::enabled!(target: "h2wasm::session", tracing::Level::INFO) {
            trap(conn.handle_timeout(now_ns()).await)?;
            let m = trap(conn.metrics().await)?;
            tracing::info!(target: "h2wasm::session", "{} {}", self.peer, crate::report::session_summary(&m));
        }
        Ok(Outcome::Ended)
    }
}

/// Writes `out[*pos..]` and flushes. Progress is kept in `pos`, so the
/// future can be dropped (another branch of a `select!` won) and made
/// again without losing or repeating a byte. `stalled` is set when the
/// transport could not take everything at once.
async fn write_out<W: AsyncWrite + Unpin>(
    wr: &mut W,
    out: &[u8],
    pos: &mut usize,
    stalled: &mut bool,
) -> std::io::Result<()> {
    std::future::poll_fn(|cx| {
        while *pos < out.len() {
            match Pin::new(&mut *wr).poll_write(cx, &out[*pos..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => *pos += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    *stalled = true;
                    return Poll::Pending;
                }
            }
        }
        let flushed = Pin::new(&mut *wr).poll_flush(cx);
        if flushed.is_pending() {
            *stalled = true;
        }
        flushed
    })
    .await
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

async fn on_event(
    event: Event,
    conn: &mut EngineConnection,
    st: &mut PumpState,
    app: &SharedApp,
    cmd_tx: &mpsc::Sender<Command>,
    peer: &str,
) -> anyhow::Result<()> {
    tracing::trace!("event {event:?}");
    match event {
        Event::Request(h) => {
            let sensitive = h
                .headers
                .iter()
                .filter(|f| f.sensitive)
                .map(|f| f.name.clone())
                .collect();
            let headers = from_fields(h.headers);
            let log = tracing::enabled!(target: "h2wasm::access", tracing::Level::INFO);
            let io = |body_tx| StreamIo::new(&headers, "", body_tx);
            if h.end_stream
                && let Some(response) = app.respond_now(&headers)
            {
                if log {
                    st.streams.insert(h.stream_id, io(None));
                }
                return send_whole(conn, st, h.stream_id, response).await;
            }
            // A channel only for a body that will come.
            let (body_tx, body_rx) = match h.end_stream {
                true => (None, None),
                false => {
                    let (tx, rx) = mpsc::unbounded_channel();
                    (Some(tx), Some(rx))
                }
            };
            st.streams.insert(h.stream_id, io(body_tx));
            let request = Request {
                headers,
                sensitive,
                body: Body {
                    stream_id: h.stream_id,
                    rx: body_rx,
                    commands: cmd_tx.clone(),
                },
                responder: Responder {
                    stream_id: h.stream_id,
                    commands: cmd_tx.clone(),
                },
            };
            tokio::spawn(app.handle(request));
        }
        Event::Data(d) => {
            let len = u32::try_from(d.data.len()).unwrap_or(u32::MAX);
            let mut unread = len > 0;
            if let Some(s) = st.streams.get_mut(&d.stream_id) {
                if let Some(tx) = &s.body_tx
                    && len > 0
                {
                    // Delivered: the handler consumes it as it reads.
                    unread = tx.send(BodyItem::Data(Bytes::from(d.data))).is_err();
                }
                if d.end_stream {
                    s.body_tx = None;
                }
            }
            if unread {
                // Nobody will read it (the handler dropped the body, or
                // answered without one): hand the credit back at once so
                // the upload runs to its end instead of stalling.
                let _ = trap(conn.consume(d.stream_id, len).await)?;
            }
        }
        Event::Trailers(t) => {
            if let Some(s) = st.streams.get_mut(&t.stream_id)
                && let Some(tx) = s.body_tx.take()
            {
                let _ = tx.send(BodyItem::Trailers(from_fields(t.headers)));
            }
        }
        Event::WantTrailers(id) => {
            if let Some(trailers) = st.streams.get_mut(&id).and_then(|s| s.trailers.take()) {
                let _ = trap(conn.send_trailers(id, &to_fields(&trailers)).await)?;
            }
        }
        Event::Drain(id) => {
            if let Some(body) = st.parked.remove(&id) {
                st.bodies.insert(id, body);
            }
        }
        Event::StreamClosed(c) => {
            st.bodies.remove(&c.stream_id);
            st.parked.remove(&c.stream_id);
            if let Some(s) = st.streams.remove(&c.stream_id) {
                let outcome = if c.code == 0 {
                    String::new()
                } else {
                    format!(" reset={}", code_name(c.code))
                };
                tracing::info!(
                    target: "h2wasm::access",
                    "{peer} \"{} {}\" {} {}B {:.1}ms{outcome}",
                    s.method,
                    s.path,
                    s.status,
                    s.bytes_out,
                    s.started.elapsed().as_secs_f64() * 1000.0
                );
            }
        }
        Event::Goaway(g) => {
            tracing::debug!(%peer, "GOAWAY {:?} code {} last {}", g.origin, code_name(g.code), g.last_stream_id);
        }
        Event::Closed(_) => st.closed = true,
        Event::ConnectionError(e) => {
            tracing::warn!(%peer, "connection error {}: {}", code_name(e.code), e.reason);
        }
        _ => {}
    }
    Ok(())
}

async fn apply(
    cmd: Command,
    conn: &mut EngineConnection,
    st: &mut PumpState,
) -> anyhow::Result<()> {
    tracing::trace!("command {cmd:?}");
    match cmd {
        Command::Respond {
            stream_id,
            headers,
            body,
            whole,
            trailers,
        } => {
            if body.is_none() && !trailers {
                let body = whole.unwrap_or_default();
                return send_whole(
                    conn,
                    st,
                    stream_id,
                    Response {
                        headers: headers.into(),
                        body: body.into(),
                    },
                )
                .await;
            }
            // A body follows, or trailers do.
            let fields = to_fields(&headers);
            let opts = RespondOptions {
                end_stream: false,
                wait_for_trailers: trailers,
            };
            match trap(conn.respond(stream_id, &fields, opts).await)? {
                Ok(()) => {
                    if let Some(s) = st.streams.get_mut(&stream_id) {
                        s.status = status_of(&headers);
                    }
                    if let Some(data) = whole {
                        if let Some(s) = st.streams.get_mut(&stream_id) {
                            s.bytes_out += data.len() as u64;
                        }
                        let _ = trap(conn.write(stream_id, &data).await)?;
                        let _ = trap(conn.end(stream_id).await)?;
                    }
                    match body {
                        Some(rx) => {
                            let stream: BodyStream = Box::pin(
                                ReceiverStream::new(rx)
                                    .map(Some)
                                    .chain(tokio_stream::once(None)),
                            );
                            st.bodies.insert(stream_id, stream);
                        }
                        None if trailers => {
                            let _ = trap(conn.end(stream_id).await)?;
                        }
                        None => {}
                    }
                }
                Err(e) => {
                    tracing::debug!(stream_id, "respond refused: {e:?}");
                }
            }
        }
        Command::Informational { stream_id, headers } => {
            let fields = to_fields(&headers);
            let _ = trap(conn.additional_headers(stream_id, &fields).await)?;
        }
        Command::Trailers { stream_id, headers } => {
            // Trailers go after the whole body: while the pump still holds
            // body chunks, keep them until the engine asks (WantTrailers).
            if st.body_pending(stream_id) {
                if let Some(s) = st.streams.get_mut(&stream_id) {
                    s.trailers = Some(headers);
                }
            } else {
                let fields = to_fields(&headers);
                let _ = trap(conn.send_trailers(stream_id, &fields).await)?;
            }
        }
        Command::Reset { stream_id, code } => {
            st.bodies.remove(&stream_id);
            let _ = trap(conn.close_stream(stream_id, code).await)?;
        }
        Command::Consumed { stream_id, n } => {
            let _ = trap(conn.consume(stream_id, n).await)?;
        }
        Command::RespondWithFile {
            stream_id,
            headers,
            file,
            offset,
            length,
        } => {
            respond_with_file(conn, st, stream_id, &headers, file, offset, length).await?;
        }
        Command::Push {
            stream_id,
            headers,
            reply,
        } => {
            let promised = match trap(conn.push_stream(stream_id, &to_fields(&headers)).await)? {
                Ok(id) => {
                    st.streams
                        .insert(id, StreamIo::new(&headers, "PUSH ", None));
                    Some(id)
                }
                Err(e) => {
                    tracing::debug!(stream_id, "push refused: {e:?}");
                    None
                }
            };
            let _ = reply.send(promised);
        }
    }
    Ok(())
}

/// Headers, the whole body and the end of the stream, in one call (a
/// file body: as the engine reads it).
async fn send_whole(
    conn: &mut EngineConnection,
    st: &mut PumpState,
    stream_id: u32,
    response: Response,
) -> anyhow::Result<()> {
    let body = match response.body {
        ResponseBody::Bytes(b) => b,
        ResponseBody::File {
            path,
            offset,
            length,
        } => {
            let headers = response.headers.into_vec();
            let file = FileSource::Path(path);
            return respond_with_file(conn, st, stream_id, &headers, file, offset, Some(length))
                .await;
        }
    };
    let status = status_of(response.headers.as_slice());
    let result = match response.headers {
        // Queued: every such answer of this pass goes in one call.
        ResponseHeaders::Shared(shared) => match prepared(conn, st, &shared).await? {
            Ok(headers) => {
                let response = PreparedResponse {
                    stream_id,
                    headers,
                    body: body.to_vec(),
                };
                st.batch.push(response);
                st.batch_status.push(status);
                return Ok(());
            }
            Err(e) => Err(e),
        },
        ResponseHeaders::Owned(headers) => {
            let fields = into_fields(headers);
            if body.is_empty() {
                let opts = RespondOptions {
                    end_stream: true,
                    wait_for_trailers: false,
                };
                trap(conn.respond(stream_id, &fields, opts).await)?
            } else {
                trap(conn.respond_with_body(stream_id, &fields, &body).await)?
            }
        }
    };
    match result {
        Ok(()) => responded(st, stream_id, status, body.len()),
        Err(e) => tracing::debug!(stream_id, "respond refused: {e:?}"),
    }
    Ok(())
}

/// `respond-with-file` or `respond-with-fd`; a file the engine cannot
/// take resets the stream (INTERNAL_ERROR).
async fn respond_with_file(
    conn: &mut EngineConnection,
    st: &mut PumpState,
    stream_id: u32,
    headers: &[Header],
    file: FileSource,
    offset: u64,
    length: Option<u64>,
) -> anyhow::Result<()> {
    let fields = to_fields(headers);
    let result = match file {
        FileSource::Path(path) => {
            conn.respond_with_file(stream_id, &fields, &path, offset, length)
                .await
        }
        FileSource::Open(file) => {
            conn.respond_with_fd(stream_id, file, &fields, offset, length)
                .await
        }
    };
    match trap(result)? {
        Ok(stat) => {
            if let Some(s) = st.streams.get_mut(&stream_id) {
                s.status = status_of(headers);
                let available = stat.size.saturating_sub(offset);
                s.bytes_out += length.map_or(available, |l| l.min(available));
            }
        }
        Err(e) => {
            tracing::debug!(stream_id, "respond-with-file refused: {e:?}");
            let _ = trap(conn.close_stream(stream_id, 2).await)?;
        }
    }
    Ok(())
}

/// Sends the queued whole responses in one call.
async fn flush_batch(conn: &mut EngineConnection, st: &mut PumpState) -> anyhow::Result<()> {
    if st.batch.is_empty() {
        return Ok(());
    }
    let refused = trap(conn.respond_prepared_batch(&st.batch).await)?;
    let batch = std::mem::take(&mut st.batch);
    let statuses = std::mem::take(&mut st.batch_status);
    for (response, status) in batch.iter().zip(statuses) {
        match refused.iter().find(|(id, _)| *id == response.stream_id) {
            None => responded(st, response.stream_id, status, response.body.len()),
            Some((id, e)) => tracing::debug!(stream_id = id, "respond refused: {e:?}"),
        }
    }
    Ok(())
}

/// Notes a sent response for the access log.
fn responded(st: &mut PumpState, stream_id: u32, status: u16, body_len: usize) {
    if let Some(s) = st.streams.get_mut(&stream_id) {
        s.status = status;
        s.bytes_out += body_len as u64;
    }
}

/// This connection's handle for `shared`, prepared on first use.
async fn prepared(
    conn: &mut EngineConnection,
    st: &mut PumpState,
    shared: &SharedHeaders,
) -> anyhow::Result<Result<ResourceAny, CommandError>> {
    if let Some(&handle) = st.prepared.get(&shared.id()) {
        return Ok(Ok(handle));
    }
    if st.prepared.len() >= PREPARED_PER_CONNECTION {
        // Queued answers borrow these handles: send them first.
        flush_batch(conn, st).await?;
        for (_, handle) in st.prepared.drain() {
            trap(conn.drop_prepared(handle).await)?;
        }
    }
    let fields = to_fields(shared.headers());
    let handle = trap(conn.prepare_headers(&fields).await)?;
    if let Ok(h) = handle {
        st.prepared.insert(shared.id(), h);
    }
    Ok(handle)
}

async fn write_body(
    id: u32,
    item: Option<Bytes>,
    conn: &mut EngineConnection,
    st: &mut PumpState,
) -> anyhow::Result<()> {
    tracing::trace!(
        stream_id = id,
        "body item {:?}",
        item.as_ref().map(|b| b.len())
    );
    match item {
        Some(chunk) => {
            let len = chunk.len() as u64;
            let result = trap(conn.write(id, &chunk).await)?;
            tracing::trace!(stream_id = id, "write {len} -> {result:?}");
            match result {
                Ok(true) => {}
                Ok(false) => {
                    // Congested: stop pulling until the engine says Drain.
                    if let Some(body) = st.bodies.remove(&id) {
                        st.parked.insert(id, body);
                    }
                }
                Err(e) => {
                    tracing::debug!(stream_id = id, "write refused: {e:?}");
                    st.bodies.remove(&id);
                }
            }
            if let Some(s) = st.streams.get_mut(&id) {
                s.bytes_out += len;
            }
        }
        None => {
            if let Err(e) = trap(conn.end(id).await)? {
                tracing::debug!(stream_id = id, "end refused: {e:?}");
            }
        }
    }
    Ok(())
}

//! The server side of one HTTP/2 connection: moves bytes between a
//! transport and the engine instance (taking one only while the
//! connection has something to do), hands request streams to the service
//! and feeds responses back as flow control allows (see `streams`).

mod context;
mod control;
mod held;
mod output;
mod payload;
mod received;
mod request;
mod streams;

pub(crate) use control::StreamCommand;

use crate::bindings::{AltsvcTarget, Event, HeaderKind, Options, Role};
use crate::engine::clock::{instant_at, now_ns};
use crate::engine::convert::code_name;
pub use crate::engine::io::Trap;
use crate::engine::io::trap;
use crate::engine::{EngineConnection, Runtime};
use crate::serve::limits::Limits;
use crate::service::{ConnectionInfo, SharedService};
use bytes::BufMut;
use context::StreamContext;
use control::StreamSink;
use futures_util::FutureExt;
use output::{Outgoing, write_out};
use received::Received;
use std::sync::Arc;
use std::time::{Duration, Instant};
use streams::PumpState;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;

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
/// batch, and so do we. Large batches are what bulk data needs: each costs
/// a `drive` and a write (bench/run's 1 MiB rows, README; tried by hand,
/// throughput rose up to 512 KiB and not beyond), while a peer that stops
/// reading holds at most one of them.
/// Past half the memory budget batches stay at `TIGHT_MAX_BATCH`.
const FIRST_BATCH: usize = 16 * 1024;
/// The most octets one write hands a cleartext socket. A write larger
/// than a TCP segment can hold (65,483 octets over loopback) ends in a
/// small segment of its own, and the reader is woken for that one too.
/// Writing batches 48 KiB at a time, as nghttpd writes, took `bench/run`'s
/// 1 MiB h2c row from 3,380 to 4,320 MB/s (64 KiB and 128 KiB at a time
/// were slower than 512 KiB, by hand). Over TLS the same cap took 1 MiB
/// from 2,730 to 1,730 MB/s: rustls writes its records as it sees fit, so
/// TLS output is handed over whole.
const WRITE_CHUNK: usize = 48 * 1024;
const MAX_BATCH: usize = 512 * 1024;
const TIGHT_MAX_BATCH: usize = 32 * 1024;
const SLOW_BATCH: usize = 16 * 1024;

/// Input read per wake-up: it bounds how long one connection's turn takes
/// (a flood of small frames is processed in slices), so others are served.
/// Reads grow up to `MAX_READ` while the peer has more to send and the
/// engine gets through each read quickly, as it does bulk DATA (uploads:
/// a read of 16 KiB cost a `drive` and a write per DATA frame).
const READ_CHUNK: usize = 16 * 1024;
const MAX_READ: usize = 256 * 1024;

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
    service: SharedService,
    peer: &str,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<ConnectionSummary>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin,
{
    let config = ConnectionConfig::default();
    let info = ConnectionInfo {
        peer: peer.into(),
        encrypted: false,
        alpn: None,
    };
    serve_connection_with(runtime, options, &config, io, service, &info, shutdown).await
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
    service: SharedService,
    info: &ConnectionInfo,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<ConnectionSummary>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin,
{
    let mut options = options.clone();
    options.manual_consume = true;
    options.header_blocks = true;
    options.input_data = true;
    let (rd, wr) = tokio::io::split(io);
    let now = Instant::now();
    let shutting_down = *shutdown.borrow();
    let mut s = Session {
        runtime,
        options,
        config,
        service,
        info,
        peer: &info.peer,
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
        scanner: held::Scanner::server(),
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
                if resuming && let Some(limits) = &s.config.limits {
                    limits.count_hibernated_closed();
                }
                let _ =
                    s.wr.write_all(&crate::engine::io::refusal("no engine instance free"))
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
        crate::engine::trim::freed();
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
    if snapshot.is_some()
        && let Some(limits) = &s.config.limits
    {
        // The peer left while the connection hibernated.
        limits.count_hibernated_closed();
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
    service: SharedService,
    info: &'a ConnectionInfo,
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
    /// Frame boundaries in what the peer sends, for the upload payloads
    /// kept out of the engine; it follows the byte stream across
    /// hibernation, as the engine's state does.
    scanner: held::Scanner,
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
        let (cmd_tx, mut cmd_rx) = mpsc::channel::<StreamCommand>(1024);
        let (consumed_tx, mut consumed_rx) = mpsc::unbounded_channel::<(u32, u32)>();
        let mut st = PumpState::default();
        let push_allowed = trap(conn.push_allowed().await)?;
        let service = std::sync::Mutex::new(self.service.clone());
        let info = self.info;
        let write_chunk = match info.encrypted {
            true => usize::MAX,
            false => WRITE_CHUNK,
        };
        let sink = Arc::new(StreamSink {
            commands: cmd_tx.clone(),
            push_allowed,
        });
        let cx = StreamContext {
            service: &service,
            commands: &cmd_tx,
            sink: &sink,
            consumed: &consumed_tx,
            info,
            files_root: self.runtime.files_root(),
        };
        // Filled only as far as reads go (a read of 100 octets touches one
        // page, not READ_CHUNK).
        let mut buf = bytes::BytesMut::with_capacity(READ_CHUNK);
        // What of a read goes to the engine when payloads are held.
        let (mut passed_buf, mut held) = (Vec::new(), Vec::new());
        let mut read_size = READ_CHUNK;
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
        let mut out = Outgoing::default();
        let mut batch = FIRST_BATCH;
        let mut stalled = false;
        // As of the last drive (the first turn always drives).
        let mut queued = 0;
        let mut open_streams = 0;
        let mut deadline = None;
        let mut refusing = false;
        let mut closed_at: Option<Instant> = None;
        let mut last_yield = Instant::now();
        // `conn.calls()` when a drive last gave all it had (it took every
        // event, and output with room to spare): until another call or
        // input, driving again would bring nothing.
        let mut settled: Option<u64> = None;
        // A refused hibernation is tried again `hibernate_after` later,
        // while the connection stays idle.
        let mut hibernate_retry: Option<Instant> = None;
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
            // new, or nothing was asked of the engine since one that gave
            // all it had (at one stream per connection, that halves the
            // calls per request). Output is taken only when the last batch
            // is written.
            let mut input = &buf[..];
            let turn = Instant::now();
            loop {
                streams::flush_batch(&mut conn, &mut st).await?;
                let asked = !st.credits.is_empty() || !st.writes.is_empty();
                if input.is_empty() && !asked && settled == Some(conn.calls()) {
                    break;
                }
                let max = if out.is_empty() { batch } else { 0 };
                let given = input;
                // Upload payloads stay here: the engine gets the rest.
                self.scanner.split(given, &mut passed_buf, &mut held);
                let passed = match held.is_empty() {
                    true => given,
                    false => &passed_buf[..],
                };
                // Credit the service handed back and body chunks go with
                // the drive: no call of their own per stream.
                let r = conn
                    .drive(now_ns(), &st.credits, &st.writes, passed, &held, max as u32)
                    .await;
                if passed_buf.capacity() > READ_CHUNK {
                    // A read of many small frames: not kept for the quiet
                    // that follows.
                    passed_buf = Vec::new();
                }
                st.credits.clear();
                let mut r = trap(r)?;
                st.written(std::mem::take(&mut r.written));
                input = &[];
                if let Some(e) = r.error {
                    tracing::debug!(peer = %self.peer, "connection error {}: {}", code_name(e.code), e.reason);
                }
                deadline = r.timeout;
                queued = r.queued;
                open_streams = r.open_streams;
                let produced = r.output.octets.len()
                    + r.output
                        .payload
                        .iter()
                        .map(|p| p.length as usize)
                        .sum::<usize>();
                let full = produced >= max && max > 0;
                settled = (max > 0 && !full).then_some(conn.calls());
                // File payload is read in before the events are handled:
                // a stream's close may release its file.
                let output = st.host_bodies.assemble(r.output).map_err(|e| {
                    tracing::warn!(peer = %self.peer, "a file being sent failed: {e}; closing the connection");
                    e
                })?;
                if !output.is_empty() {
                    self.summary.bytes_written += output.len() as u64;
                    out = output;
                }
                let quiet = r.events.is_empty() && !full;
                for event in Received::new(r.events.into_iter(), given) {
                    let event = event?;
                    match &event {
                        Event::RemoteSettings(_) => self.handshaken = true,
                        Event::HeaderBlock(h) if h.kind == HeaderKind::Request => {
                            if let Some(value) = self.altsvc_pending.take() {
                                let target = AltsvcTarget::Stream(h.stream_id);
                                if let Err(e) = trap(conn.altsvc(&value, &target).await)? {
                                    tracing::debug!(peer = %self.peer, "ALTSVC refused: {e:?}");
                                }
                            }
                        }
                        _ => {}
                    }
                    if let Some(rest) = streams::on_event(event, &mut st, &cx) {
                        streams::finish(rest, &mut conn, &mut st).await?;
                    }
                }
                if quiet {
                    break;
                }
            }
            if !buf.is_empty() {
                let next = next_read_size(read_size, buf.len(), turn.elapsed());
                if next < read_size {
                    // A slow turn: back to a small buffer as well.
                    buf = bytes::BytesMut::with_capacity(READ_CHUNK);
                }
                read_size = next;
            }
            buf.clear();
            buf.reserve(read_size);
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
                && st.writes.is_empty()
                && cmd_rx.is_empty()
                // Nobody else holds a way to send commands: not a
                // request's handles, not a call still running.
                && cmd_rx.sender_strong_count() == 2
                && Arc::strong_count(&sink) == 1
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
            if self.idle_since.is_none() {
                hibernate_retry = None;
            }
            let hibernate_at = self
                .config
                .hibernate_after
                .zip(self.idle_since)
                .filter(|_| self.handshaken && !self.idle_closing && !self.shutting_down)
                .map(|(t, since)| hibernate_retry.unwrap_or(since + t));
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
                    // Something is still in the engine (a frame half
                    // received, which the frame timeout bounds): try again
                    // a while later. The idle clock goes on: the idle
                    // timeout comes whether or not hibernation does.
                    Err(e) => {
                        tracing::trace!(peer = %self.peer, "not hibernating yet: {e:?}");
                        hibernate_retry = self.config.hibernate_after.map(|after| now + after);
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
            let mut room = (&mut buf).limit(read_size);
            tokio::select! {
                biased;
                written = write_out(&mut self.wr, &mut out, &mut stalled, write_chunk), if !out.is_empty() => {
                    written?;
                    out = Outgoing::default();
                    let tight = self.config.limits.as_ref().is_some_and(|l| l.memory_tight());
                    let most = if tight { TIGHT_MAX_BATCH } else { MAX_BATCH };
                    batch = if std::mem::take(&mut stalled) {
                        SLOW_BATCH
                    } else {
                        (batch * 2).min(most)
                    };
                }
                Some(cmd) = cmd_rx.recv() => {
                    streams::apply(cmd, &mut conn, &mut st, &cx).await?;
                }
                Some((id, n)) = consumed_rx.recv() => {
                    st.credit(id, n);
                }
                Some((id, item)) = st.bodies.next(), if !st.bodies.is_empty() => {
                    streams::write_body(id, item, &mut conn, &mut st).await?;
                }
                read = self.rd.read_buf(&mut room), if reading => {
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
                    streams::apply(cmd, &mut conn, &mut st, &cx).await?;
                    continue;
                }
                if let Ok((id, n)) = consumed_rx.try_recv() {
                    st.credit(id, n);
                    continue;
                }
                if st.bodies.is_empty() {
                    break;
                }
                match st.bodies.next().now_or_never() {
                    Some(Some((id, item))) => {
                        streams::write_body(id, item, &mut conn, &mut st).await?
                    }
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
            tracing::info!(target: "h2wasm::session", "{} {}", self.peer, crate::fetch::report::session_summary(&m));
        }
        Ok(Outcome::Ended)
    }
}

/// How much to read next, after a read of `read` octets (`size` asked
/// for) took the engine `took`: twice as much when the read filled its
/// buffer and the turn was short (bulk data), `READ_CHUNK` after a long
/// turn (a flood of small frames gets one large read at most, then small
/// ones again), else the same.
fn next_read_size(size: usize, read: usize, took: Duration) -> usize {
    if took >= FAIR_SLICE {
        READ_CHUNK
    } else if read >= size && took < FAIR_SLICE / 2 {
        (size * 2).min(MAX_READ)
    } else {
        size
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_grow_for_bulk_input_and_shrink_after_a_long_turn() {
        let quick = FAIR_SLICE / 4;
        let mut size = READ_CHUNK;
        for _ in 0..10 {
            size = next_read_size(size, size, quick);
        }
        assert_eq!(
            size, MAX_READ,
            "full reads processed quickly grow to the cap"
        );
        assert_eq!(
            next_read_size(MAX_READ, 100, quick),
            MAX_READ,
            "a short read keeps the size"
        );
        assert_eq!(next_read_size(MAX_READ, MAX_READ, FAIR_SLICE), READ_CHUNK);
        assert_eq!(
            next_read_size(READ_CHUNK, READ_CHUNK, FAIR_SLICE * 3 / 4),
            READ_CHUNK,
            "a full read that took a while does not grow"
        );
    }
}

//! One HTTP/2 connection, either role, sans-IO: bytes go in through
//! [`Connection::receive`], bytes come out of [`Connection::poll_transmit`],
//! and what happened comes out of [`Connection::poll_event`]. Time is passed
//! in; nothing here reads a clock or touches I/O, so every run is
//! deterministic and testable in memory.

mod closed;
mod commands;
mod extensions;
mod files;
mod held;
mod hibernate;
mod prepared;
mod push;
mod recv;
mod send;
mod state;
mod timers;

pub use commands::{RequestOptions, RespondOptions};
pub use extensions::{AltSvcTarget, valid_origin};
pub use files::{FileStat, body_length, stat_file};
pub use held::HeldSpan;
pub use prepared::PreparedHeaders;
pub use state::{SessionState, StreamStateInfo};

use crate::error::{ConnectionError, ErrorCode};
use crate::events::{Event, Origin};
use crate::flow::{RecvWindow, SendWindow};
use crate::frame::{GoAway, RstStream, SettingsFrame};
use crate::headers::{HeaderList, MessageInfo};
use crate::hpack::{HeaderDecoder, HeaderEncoder};
use crate::id_map::IdMap;
use crate::options::{Options, Role};
use crate::priority::PriorityTree;
use crate::rate_limit::TokenBucket;
use crate::settings::{Settings, SettingsValues};
use crate::stream::{Cause, State, Stream, StreamMetrics};
use bytes::{Bytes, BytesMut};
use closed::ClosedStreams;
use std::collections::VecDeque;

/// Streams (live, closed or idle) the priority tree may name.
const PRIORITY_NODES: usize = 1024;

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Server: this many octets of the client magic have matched so far.
    AwaitMagic(usize),
    /// The peer's first frame must be SETTINGS.
    AwaitSettings,
    Open,
    /// Nothing more is read; only already-queued output remains.
    Closed,
}

/// A header block being assembled from HEADERS/PUSH_PROMISE + CONTINUATION.
struct PartialBlock {
    stream_id: u32,
    kind: BlockStart,
    fragment: BytesMut,
    continuations: u32,
    /// When its first frame arrived: the whole block counts against the
    /// frame timeout.
    started_at: u64,
}

#[derive(Clone, Copy)]
enum BlockStart {
    Headers {
        end_stream: bool,
        priority: Option<crate::frame::PrioritySpec>,
    },
    PushPromise {
        promised_id: u32,
    },
}

/// Counters behind Node's session performance entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub frames_received: u64,
    pub frames_sent: u64,
    pub stream_count: u64,
    pub max_concurrent_streams: u32,
    /// Round trip of the last acknowledged PING (Node's `pingRTT`).
    pub ping_rtt_ns: Option<u64>,
    /// Mean lifetime of the streams closed so far (Node's
    /// `streamAverageDuration`).
    pub stream_average_duration_ns: u64,
    /// Since the session was created (the entry's `duration`).
    pub duration_ns: u64,
    closed_streams: u64,
    closed_duration_total: u64,
}

impl Metrics {
    fn record_stream_duration(&mut self, ns: u64) {
        self.closed_streams += 1;
        self.closed_duration_total = self.closed_duration_total.saturating_add(ns);
        self.stream_average_duration_ns = self.closed_duration_total / self.closed_streams;
    }
}

/// What `session_memory` counts for each stream besides its buffers.
const STREAM_COST: usize = std::mem::size_of::<Stream>() + 64;

pub struct Connection {
    role: Role,
    opts: Options,
    phase: Phase,
    now: u64,

    inbuf: BytesMut,
    out: BytesMut,
    /// References to host bodies within `out`.
    payload: crate::transmit::PayloadQueue,
    events: VecDeque<Event>,

    /// Our settings the peer acknowledged, and those still awaiting ACK.
    local: SettingsValues,
    pending_local: VecDeque<Settings>,
    remote: SettingsValues,
    remote_settings_seen: bool,

    encoder: HeaderEncoder,
    decoder: HeaderDecoder,
    /// The last request list found valid, whether extended CONNECT was
    /// enabled, and what the check found. A repeated block (the same
    /// list, from the decoder) is not checked again.
    request_checked: Option<(HeaderList, bool, MessageInfo)>,
    /// The address range of the input `receive_owned` last parsed in
    /// place (see `input_offset`); cleared by every `receive`.
    adopted: Option<(usize, usize)>,
    /// Octets received so far (as passed in, held payloads not counted):
    /// `inbuf` holds the last of them, and held spans are placed by it.
    input_end: u64,
    held: held::HeldInput,
    hpack_buf: Vec<u8>,
    block: Option<PartialBlock>,
    /// When the partial frame in `inbuf` began to arrive, while there is
    /// one (see `Options::frame_timeout_ns`).
    frame_started_at: Option<u64>,
    /// `session_memory` as counted in this `receive` call (see
    /// `session_memory_exceeded`).
    memory_in_turn: Option<usize>,

    /// Boxed: a `Stream` is a few hundred octets, and in wasm every move
    /// of one that size (into the map when the stream opens, out of it
    /// when it closes) is a `memory.copy`, which wasmtime runs as a call
    /// out to the host. Boxed, a small response costs three such calls
    /// fewer (`bench/cpu` small: 2.00 -> 1.85 µs per request, nghttpd
    /// 1.49 in the same run).
    streams: IdMap<Box<Stream>>,
    closed: ClosedStreams,
    /// Streams with output the scheduler should look at, in round-robin order.
    ready: VecDeque<u32>,
    next_local_id: u32,
    /// Highest stream id the peer initiated (Node's `lastProcStreamID`).
    max_peer_id: u32,
    local_active: u32,
    remote_active: u32,

    send_window: SendWindow,
    recv_window: RecvWindow,

    /// Our outstanding PINGs: payload and send time.
    pings: VecDeque<([u8; 8], u64)>,
    ping_seq: u64,

    goaway_sent: Option<u32>,
    goaway_received: Option<u32>,
    /// `close()` was called (or GOAWAY received): end when streams finish.
    closing: bool,

    idle_timeout_ns: Option<u64>,
    last_activity: u64,

    invalid_frames: u32,
    rejected_streams: u32,
    /// The host asked us to refuse new peer streams (it is short of memory).
    refusing_streams: bool,
    /// Server: RST_STREAM frames the client may still send (rapid reset).
    reset_bucket: TokenBucket,
    /// Client: Node's `originSet`.
    origin_set: Vec<String>,
    /// When the session was created (its performance entry's start).
    created_at: u64,
    /// The dependency tree (RFC 7540 §5.3) that orders outgoing DATA.
    priority: PriorityTree,
    /// The scheduler's virtual time: the pass of the last stream served.
    vtime: u64,
    /// Client: requests waiting for the peer's concurrency limit, in order.
    pending_requests: VecDeque<u32>,
    /// Streams with a per-stream timeout set (so timers skip the walk
    /// when there are none).
    stream_timeouts: usize,
    /// Server streams whose response is complete while the client's side
    /// is open, on the half-closed clock (`Options::half_closed_timeout_ns`).
    half_closed_clocks: usize,
    metrics: Metrics,
}

impl Connection {
    /// Creates a connection and queues its preface (client magic and/or our
    /// SETTINGS). `now` is the host's monotonic clock in nanoseconds.
    pub fn new(role: Role, opts: Options, now: u64) -> Result<Connection, ConnectionError> {
        let mut settings = opts.settings.clone();
        if role == Role::Server && settings.enable_push == Some(true) {
            // §6.5.2: a server MUST NOT send ENABLE_PUSH = 1.
            settings.enable_push = None;
        }
        settings.validate()?;
        if settings.custom.len() > crate::settings::MAX_CUSTOM_SETTINGS {
            return Err(ConnectionError::protocol("more than 10 custom settings"));
        }
        let conn_window = opts
            .connection_window_size
            .max(crate::settings::DEFAULT_WINDOW_SIZE);
        let mut conn = Connection::blank(role, opts, now);
        if role == Role::Client {
            conn.out.extend_from_slice(PREFACE);
        }
        conn.send_settings_frame(settings);
        if role == Role::Server && !conn.opts.origins.is_empty() {
            extensions::check_origins(&conn.opts.origins).map_err(|_| {
                ConnectionError::new(ErrorCode::INTERNAL_ERROR, "invalid origins option")
            })?;
            let origins = conn.opts.origins.clone();
            conn.write_origin(&origins);
        }
        if role == Role::Client && !conn.opts.authority.is_empty() {
            let origin = format!("{}://{}", conn.opts.scheme, conn.opts.authority);
            conn.origin_set.push(origin);
        }
        if let Some(inc) = conn.recv_window.set_target(conn_window) {
            conn.write_window_update(0, inc);
        }
        Ok(conn)
    }

    /// A connection in its first state, with nothing queued: what `new`
    /// starts from, and what `resume` fills from a snapshot.
    fn blank(role: Role, opts: Options, now: u64) -> Connection {
        let remote = SettingsValues {
            max_concurrent_streams: opts.peer_max_concurrent_streams,
            ..SettingsValues::default()
        };
        Connection {
            role,
            phase: match role {
                Role::Server => Phase::AwaitMagic(0),
                Role::Client => Phase::AwaitSettings,
            },
            now,
            inbuf: BytesMut::new(),
            out: BytesMut::with_capacity(16 * 1024),
            payload: Default::default(),
            events: VecDeque::new(),
            local: SettingsValues::default(),
            pending_local: VecDeque::new(),
            remote,
            remote_settings_seen: false,
            encoder: HeaderEncoder::new(opts.max_deflate_dynamic_table_size),
            decoder: HeaderDecoder::new(4096),
            request_checked: None,
            adopted: None,
            input_end: 0,
            held: held::HeldInput::default(),
            hpack_buf: Vec::new(),
            block: None,
            frame_started_at: None,
            memory_in_turn: None,
            streams: IdMap::default(),
            closed: ClosedStreams::new(opts.max_closed_streams as usize),
            ready: VecDeque::new(),
            next_local_id: match role {
                Role::Client => 1,
                Role::Server => 2,
            },
            max_peer_id: 0,
            local_active: 0,
            remote_active: 0,
            send_window: SendWindow::new(crate::settings::DEFAULT_WINDOW_SIZE),
            recv_window: RecvWindow::new(crate::settings::DEFAULT_WINDOW_SIZE),
            pings: VecDeque::new(),
            ping_seq: 0,
            goaway_sent: None,
            goaway_received: None,
            closing: false,
            idle_timeout_ns: None,
            last_activity: now,
            invalid_frames: 0,
            rejected_streams: 0,
            refusing_streams: false,
            reset_bucket: TokenBucket::new(opts.stream_reset_burst, opts.stream_reset_rate, now),
            origin_set: Vec::new(),
            stream_timeouts: 0,
            half_closed_clocks: 0,
            priority: PriorityTree::new(PRIORITY_NODES),
            vtime: 0,
            pending_requests: VecDeque::new(),
            created_at: now,
            metrics: Metrics::default(),
            opts,
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// True once the connection has ended: no more input is read, and once
    /// `poll_transmit` returns nothing the transport can be closed.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The peer's SETTINGS in force (Node's `remoteSettings`).
    pub fn remote_settings(&self) -> Settings {
        self.remote.to_settings()
    }

    /// Our acknowledged SETTINGS (Node's `localSettings`).
    pub fn local_settings(&self) -> Settings {
        self.local.to_settings()
    }

    /// SETTINGS frames sent and not yet acknowledged (Node's
    /// `pendingSettingsAck` is `pending_settings_acks() > 0`).
    pub fn pending_settings_acks(&self) -> usize {
        self.pending_local.len()
    }

    /// Node's session performance entry, as of the last time passed in.
    pub fn metrics(&self) -> Metrics {
        Metrics {
            duration_ns: self.now.saturating_sub(self.created_at),
            ..self.metrics
        }
    }

    // ---- shared helpers -------------------------------------------------

    fn is_peer_initiated(&self, id: u32) -> bool {
        match self.role {
            Role::Server => id % 2 == 1,
            Role::Client => id.is_multiple_of(2),
        }
    }

    /// A stream in the `idle` state: never opened by either side.
    fn is_idle(&self, id: u32) -> bool {
        if self.is_peer_initiated(id) {
            id > self.max_peer_id
        } else {
            id >= self.next_local_id
        }
    }

    fn new_stream(&self, id: u32) -> Stream {
        let mut s = Stream::new(
            id,
            self.remote.initial_window_size,
            self.local.initial_window_size,
        );
        s.timing.opened_at = self.now;
        s.last_activity = self.now;
        s
    }

    fn send_settings_frame(&mut self, settings: Settings) {
        SettingsFrame {
            ack: false,
            params: settings.to_params(),
        }
        .encode(&mut self.out);
        self.metrics.frames_sent += 1;
        self.pending_local.push_back(settings);
    }

    fn write_window_update(&mut self, stream_id: u32, increment: u32) {
        crate::frame::WindowUpdate {
            stream_id,
            increment,
        }
        .encode(&mut self.out);
        self.metrics.frames_sent += 1;
    }

    fn write_rst(&mut self, stream_id: u32, code: ErrorCode) {
        RstStream { stream_id, code }.encode(&mut self.out);
        self.metrics.frames_sent += 1;
    }

    fn write_goaway(&mut self, code: ErrorCode, last_stream_id: u32, debug: Bytes) {
        // §6.8: the last stream id never grows from one GOAWAY to the next.
        let last_stream_id = self
            .goaway_sent
            .map_or(last_stream_id, |l| l.min(last_stream_id));
        GoAway {
            last_stream_id,
            code,
            debug_data: debug.clone(),
        }
        .encode(&mut self.out);
        self.metrics.frames_sent += 1;
        self.goaway_sent = Some(
            self.goaway_sent
                .map_or(last_stream_id, |l| l.min(last_stream_id)),
        );
        self.events.push_back(Event::GoAway {
            code,
            last_stream_id,
            debug_data: debug,
            origin: Origin::Local,
        });
    }

    /// Adds a stream to the scheduler if it has output to send.
    fn schedule(&mut self, id: u32) {
        if let Some(s) = self.streams.get_mut(&id)
            && !s.scheduled
            && s.has_pending_output()
        {
            s.scheduled = true;
            // A stream returning from idle competes from now, not from
            // where it stopped (no burst of saved-up credit).
            s.pass = s.pass.max(self.vtime);
            self.ready.push_back(id);
        }
    }

    /// After a window grew for everyone (connection WINDOW_UPDATE, SETTINGS).
    fn schedule_all(&mut self) {
        let ids: Vec<u32> = self
            .streams
            .values()
            .filter(|s| !s.scheduled && s.has_pending_output())
            .map(|s| s.id)
            .collect();
        for id in ids {
            self.schedule(id);
        }
    }

    /// Applies a state transition for something we do; returns false (and
    /// changes nothing) when the state does not allow it.
    fn apply_local(&mut self, id: u32, event: crate::stream::state::Event) -> bool {
        let Some(s) = self.streams.get_mut(&id) else {
            return false;
        };
        match s.state.transition(event) {
            Ok(next) => {
                let was_active = s.state.is_active();
                s.state = next;
                self.after_transition(id, was_active);
                true
            }
            Err(_) => false,
        }
    }

    /// Bookkeeping after a stream changed state: activity counters and, once
    /// closed, removal.
    fn after_transition(&mut self, id: u32, was_active: bool) {
        let Some(s) = self.streams.get(&id) else {
            return;
        };
        let state = s.state;
        if !was_active && state.is_active() {
            self.count_active(id, 1);
        }
        if state == State::HalfClosedLocal {
            self.start_half_closed_clock(id);
        }
        if let State::Closed(cause) = state {
            if was_active {
                self.count_active(id, -1);
            }
            self.finish_stream(id, cause);
            if was_active && !self.is_peer_initiated(id) {
                self.start_pending_requests();
            }
        }
    }

    fn count_active(&mut self, id: u32, delta: i32) {
        let counter = if self.is_peer_initiated(id) {
            &mut self.remote_active
        } else {
            &mut self.local_active
        };
        *counter = counter.saturating_add_signed(delta);
        if delta > 0 {
            self.metrics.stream_count += 1;
            let total = self.local_active.saturating_add(self.remote_active);
            self.metrics.max_concurrent_streams = self.metrics.max_concurrent_streams.max(total);
        }
    }

    /// Removes a closed stream, remembers how it closed, and reports it.
    fn finish_stream(&mut self, id: u32, cause: Cause) {
        self.priority.remove(id);
        let mut metrics = StreamMetrics::default();
        if let Some(mut s) = self.streams.remove(&id) {
            s.send.clear(&mut self.payload);
            metrics = s.timing.metrics(self.now);
            self.metrics.record_stream_duration(metrics.duration_ns);
            if s.timeout_ns.is_some() {
                self.stream_timeouts = self.stream_timeouts.saturating_sub(1);
            }
            if s.half_closed_clock {
                self.half_closed_clocks = self.half_closed_clocks.saturating_sub(1);
            }
            // Data the peer sent that nobody consumed still occupies the
            // connection window; give it back so other streams keep flowing.
            // Consumed octets went back to the connection as they were
            // consumed (`consume_stream`), so only the rest is owed.
            let owed = s.recv_window.take_unconsumed();
            if owed > 0 {
                self.consume_connection(owed);
            }
        }
        self.closed.insert(id, cause);
        let code = match cause {
            Cause::EndStream { .. } => ErrorCode::NO_ERROR,
            Cause::LocalReset(c) | Cause::RemoteReset(c) => c,
        };
        self.events.push_back(Event::StreamClosed {
            stream_id: id,
            code,
            metrics,
        });
        self.maybe_finish_closing();
    }

    /// Resets a stream from our side: RST_STREAM, events, removal.
    fn reset_stream(&mut self, id: u32, code: ErrorCode) {
        if let Some(s) = self.streams.get_mut(&id) {
            s.send.clear(&mut self.payload);
            let was_active = s.state.is_active();
            if let Ok(next) = s
                .state
                .transition(crate::stream::state::Event::SendReset(code))
            {
                s.state = next;
            }
            self.write_rst(id, code);
            self.events.push_back(Event::StreamReset {
                stream_id: id,
                code,
                origin: Origin::Local,
            });
            self.after_transition(id, was_active);
        } else {
            self.write_rst(id, code);
            if !self.closed.contains(id) {
                self.closed.insert(id, Cause::LocalReset(code));
            }
        }
    }

    /// What counts against `maxSessionMemory`: what Node counts (streams,
    /// both HPACK tables, data queued to send, unacknowledged PINGs and
    /// SETTINGS), plus file read-ahead, the output buffer at its capacity,
    /// and received data not yet consumed. Walks the streams (at most
    /// MAX_CONCURRENT_STREAMS of them), so it is computed only when a
    /// stream opens.
    pub fn session_memory(&self) -> usize {
        const PING_COST: usize = 64;
        const SETTINGS_COST: usize = 256;
        // Per stream: data queued to send, file read-ahead, and data
        // received and delivered but not yet consumed — with `consume`
        // (the host's way) that is what waits in the application's
        // buffers, outside the engine.
        let queued: usize = self
            .streams
            .values()
            .map(|s| s.send.held() + s.send.read_ahead() + s.recv_window.unconsumed() as usize)
            .sum();
        self.streams.len() * STREAM_COST
            + self.encoder.table_fill() as usize
            // The decoding table is held twice: by the `hpack` crate and
            // by our copy of it (see `HeaderDecoder`).
            + 2 * self.decoder.table_fill()
            + self.out.capacity()
            + self.inbuf.len()
            + self.block.as_ref().map_or(0, |b| b.fragment.len())
            + queued
            + self.pings.len() * PING_COST
            + self.pending_local.len() * SETTINGS_COST
    }

    /// Whether `session_memory` is past `maxSessionMemory`, counted once
    /// per `receive` call: the count walks every stream, and a read full
    /// of requests would otherwise walk them once per request. The count
    /// includes the input not yet processed, so what that input becomes
    /// later in the call (DATA held unconsumed, header blocks) is already
    /// in it; streams opened are added as they open; what the call frees
    /// shows at the next count. The count errs high, never low.
    fn session_memory_exceeded(&mut self) -> bool {
        let limit = (self.opts.max_session_memory.max(1) as usize).saturating_mul(1 << 20);
        let used = match self.memory_in_turn {
            Some(used) => used,
            None => *self.memory_in_turn.insert(self.session_memory()),
        };
        used > limit
    }

    fn opened_in_turn(&mut self) {
        if let Some(used) = &mut self.memory_in_turn {
            *used = used.saturating_add(STREAM_COST);
        }
    }

    /// Hands consumed octets back to the connection window.
    fn consume_connection(&mut self, n: u32) {
        if let Some(inc) = self.recv_window.consume(n) {
            self.write_window_update(0, inc);
        }
    }

    /// Ends the connection with a connection error: GOAWAY with the code
    /// (§5.4.1), then nothing more is read.
    fn fail(&mut self, err: &ConnectionError) {
        if self.phase == Phase::Closed {
            return;
        }
        self.events.push_back(Event::ConnectionError {
            code: err.code,
            reason: err.reason.to_string(),
        });
        self.write_goaway(
            err.code,
            self.max_peer_id,
            Bytes::from_static(err.reason.as_bytes()),
        );
        self.terminate(err.code);
    }

    /// Closes every stream with `code` and marks the connection closed.
    fn terminate(&mut self, code: ErrorCode) {
        let mut ids: Vec<u32> = self.streams.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(s) = self.streams.remove(&id) {
                if s.state.is_active() {
                    self.count_active(id, -1);
                }
                let metrics = s.timing.metrics(self.now);
                self.metrics.record_stream_duration(metrics.duration_ns);
                self.events.push_back(Event::StreamClosed {
                    stream_id: id,
                    code,
                    metrics,
                });
            }
        }
        self.ready.clear();
        self.block = None;
        self.inbuf.clear();
        self.frame_started_at = None;
        self.stream_timeouts = 0;
        self.half_closed_clocks = 0;
        self.phase = Phase::Closed;
        self.events.push_back(Event::Closed { code });
    }

    /// During a graceful close, ends the connection once no stream is left.
    fn maybe_finish_closing(&mut self) {
        if self.closing && self.phase != Phase::Closed && self.streams.is_empty() {
            if self.goaway_sent.is_none() {
                self.write_goaway(ErrorCode::NO_ERROR, self.max_peer_id, Bytes::new());
            }
            self.terminate(ErrorCode::NO_ERROR);
        }
    }
}

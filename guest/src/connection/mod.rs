//! One HTTP/2 connection, either role, sans-IO: bytes go in through
//! [`Connection::receive`], bytes come out of [`Connection::poll_transmit`],
//! and what happened comes out of [`Connection::poll_event`]. Time is passed
//! in; nothing here reads a clock or touches I/O, so every run is
//! deterministic and testable in memory.

mod closed;
mod commands;
mod counts;
mod extensions;
mod files;
mod header_codec;
mod held;
mod hibernate;
mod input;
mod ping;
mod prepared;
mod protections;
mod push;
mod recv;
mod scheduler;
mod send;
mod settings;
mod shutdown;
mod state;
mod store;
mod timers;
mod windows;

pub use commands::{RequestOptions, RespondOptions};
pub use extensions::{AltSvcTarget, valid_origin};
pub use files::{FileStat, body_length, stat_file};
pub use held::HeldSpan;
pub use prepared::{BatchedResponse, PreparedHeaders};
pub use state::{SessionState, StreamStateInfo};

use crate::error::{ConnectionError, ErrorCode};
use crate::events::{Event, Origin};
use crate::frame::{GoAway, RstStream, SettingsFrame};
use crate::options::{Options, Role};
use crate::settings::Settings;
use crate::stream::{Cause, State, Stream, StreamMetrics};
use bytes::{Bytes, BytesMut};
use counts::Counts;
use header_codec::HeaderCodec;
use input::Input;
use ping::Pings;
use protections::Protections;
use scheduler::Scheduler;
use settings::SettingsState;
use shutdown::Shutdown;
use std::collections::VecDeque;
use store::StreamStore;
use timers::Clocks;
use windows::ConnectionWindows;

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

/// Counters behind Node's session performance entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Octets received.
    pub bytes_read: u64,
    /// Octets handed out to send.
    pub bytes_written: u64,
    /// Frames received.
    pub frames_received: u64,
    /// Frames sent.
    pub frames_sent: u64,
    /// Streams opened by either side.
    pub stream_count: u64,
    /// The most streams open at once.
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

/// One HTTP/2 connection, built from parts that each own one concern's
/// state (as hyperium/h2's `proto` and quinn-proto's `Connection` are):
/// what the connection-level methods in this module's files coordinate.
pub struct Connection {
    role: Role,
    opts: Options,
    phase: Phase,
    now: u64,
    /// When the session was created (its performance entry's start).
    created_at: u64,

    /// Octets received and not yet parsed, and the header block being
    /// assembled.
    input: Input,
    /// Octets to send.
    out: BytesMut,
    /// References to host bodies within `out`.
    payload: crate::transmit::PayloadQueue,
    events: VecDeque<Event>,

    settings: SettingsState,
    hpack: HeaderCodec,
    streams: StreamStore,
    counts: Counts,
    /// Which stream's output goes next.
    scheduler: Scheduler,
    flow: ConnectionWindows,
    ping: Pings,
    shutdown: Shutdown,
    protections: Protections,
    clocks: Clocks,
    /// Client: Node's `originSet`.
    origin_set: Vec<String>,
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
        if opts.remote_custom_settings.len() > crate::settings::MAX_CUSTOM_SETTINGS {
            return Err(ConnectionError::protocol(
                "more than 10 remote custom settings",
            ));
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
        if let Some(inc) = conn.flow.recv.set_target(conn_window) {
            conn.write_window_update(0, inc);
        }
        Ok(conn)
    }

    /// A connection in its first state, with nothing queued: what `new`
    /// starts from, and what `resume` fills from a snapshot.
    fn blank(role: Role, opts: Options, now: u64) -> Connection {
        Connection {
            role,
            phase: match role {
                Role::Server => Phase::AwaitMagic(0),
                Role::Client => Phase::AwaitSettings,
            },
            now,
            created_at: now,
            input: Input::default(),
            out: BytesMut::with_capacity(16 * 1024),
            payload: Default::default(),
            events: VecDeque::new(),
            settings: SettingsState::new(opts.peer_max_concurrent_streams),
            hpack: HeaderCodec::new(opts.max_deflate_dynamic_table_size),
            streams: StreamStore::new(opts.max_closed_streams as usize),
            counts: Counts::new(role),
            scheduler: Scheduler::default(),
            flow: ConnectionWindows::default(),
            ping: Pings::default(),
            shutdown: Shutdown::default(),
            protections: Protections::new(&opts, now),
            clocks: Clocks::new(now),
            origin_set: Vec::new(),
            metrics: Metrics::default(),
            opts,
        }
    }

    /// Whether this end is the client or the server.
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
        self.settings.remote.to_settings()
    }

    /// Our acknowledged SETTINGS (Node's `localSettings`).
    pub fn local_settings(&self) -> Settings {
        self.settings.local.to_settings()
    }

    /// SETTINGS frames sent and not yet acknowledged (Node's
    /// `pendingSettingsAck` is `pending_settings_acks() > 0`).
    pub fn pending_settings_acks(&self) -> usize {
        self.settings.pending.len()
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
        self.counts.is_peer_initiated(id)
    }

    /// A stream in the `idle` state: never opened by either side.
    fn is_idle(&self, id: u32) -> bool {
        self.counts.is_idle(id)
    }

    fn new_stream(&self, id: u32) -> Stream {
        let mut s = Stream::new(
            id,
            self.settings.remote.initial_window_size,
            self.settings.local.initial_window_size,
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
        self.settings.pending.push_back(settings);
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
        let last_stream_id = self.shutdown.send_goaway(last_stream_id);
        GoAway {
            last_stream_id,
            code,
            debug_data: debug.clone(),
        }
        .encode(&mut self.out);
        self.metrics.frames_sent += 1;
        self.events.push_back(Event::GoAway {
            code,
            last_stream_id,
            debug_data: debug,
            origin: Origin::Local,
        });
    }

    /// Adds a stream to the scheduler if it has output to send.
    fn schedule(&mut self, id: u32) {
        if let Some(s) = self.streams.live.get_mut(&id)
            && !s.scheduled
            && s.has_pending_output()
        {
            s.scheduled = true;
            // A stream returning from idle competes from now, not from
            // where it stopped (no burst of saved-up credit).
            s.pass = s.pass.max(self.scheduler.vtime);
            self.scheduler.ready.push_back(id);
        }
    }

    /// After a window grew for everyone (connection WINDOW_UPDATE, SETTINGS).
    fn schedule_all(&mut self) {
        let ids: Vec<u32> = self
            .streams
            .live
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
        let Some(s) = self.streams.live.get_mut(&id) else {
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
        let Some(s) = self.streams.live.get(&id) else {
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
        let total = self.counts.count_active(id, delta);
        if delta > 0 {
            self.metrics.stream_count += 1;
            self.metrics.max_concurrent_streams = self.metrics.max_concurrent_streams.max(total);
        }
    }

    /// Removes a closed stream, remembers how it closed, and reports it.
    fn finish_stream(&mut self, id: u32, cause: Cause) {
        self.scheduler.tree.remove(id);
        let mut metrics = StreamMetrics::default();
        if let Some(mut s) = self.streams.live.remove(&id) {
            s.send.clear(&mut self.payload);
            metrics = s.timing.metrics(self.now);
            self.metrics.record_stream_duration(metrics.duration_ns);
            if s.timeout_ns.is_some() {
                self.clocks.stream_timeouts = self.clocks.stream_timeouts.saturating_sub(1);
            }
            if s.half_closed_clock {
                self.clocks.half_closed = self.clocks.half_closed.saturating_sub(1);
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
        self.streams.closed.insert(id, cause);
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
        if let Some(s) = self.streams.live.get_mut(&id) {
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
            if !self.streams.closed.contains(id) {
                self.streams.closed.insert(id, Cause::LocalReset(code));
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
            .live
            .values()
            .map(|s| {
                s.send.held()
                    + s.send.read_ahead()
                    + s.recv_window.unconsumed() as usize
                    + s.host_held as usize
            })
            .sum();
        self.streams.live.len() * STREAM_COST
            + self.hpack.memory()
            + self.out.capacity()
            + self.input.memory()
            + queued
            + self.ping.outstanding() * PING_COST
            + self.settings.pending.len() * SETTINGS_COST
    }

    /// Whether `session_memory` is past `maxSessionMemory`, counted once
    /// per `receive` call: the count walks every stream, and a read full
    /// of requests would otherwise walk them once per request. The count
    /// includes the input not yet processed, so what that input becomes
    /// later in the call (DATA held unconsumed, header blocks) is already
    /// in it; streams opened are added as they open; what the call frees
    /// shows at the next count. The count errs high, never low.
    fn session_memory_exceeded(&mut self) -> bool {
        let limit = self.session_memory_limit();
        let used = match self.protections.memory_in_turn {
            Some(used) => used,
            None => *self
                .protections
                .memory_in_turn
                .insert(self.session_memory()),
        };
        used > limit
    }

    /// `maxSessionMemory` in octets.
    pub(super) fn session_memory_limit(&self) -> usize {
        (self.opts.max_session_memory.max(1) as usize).saturating_mul(1 << 20)
    }

    fn opened_in_turn(&mut self) {
        if let Some(used) = &mut self.protections.memory_in_turn {
            *used = used.saturating_add(STREAM_COST);
        }
    }

    /// Hands consumed octets back to the connection window.
    fn consume_connection(&mut self, n: u32) {
        if let Some(inc) = self.flow.recv.consume(n) {
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
            self.counts.max_peer_id,
            Bytes::from_static(err.reason.as_bytes()),
        );
        self.terminate(err.code);
    }

    /// Closes every stream with `code` and marks the connection closed.
    fn terminate(&mut self, code: ErrorCode) {
        let mut ids: Vec<u32> = self.streams.live.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(s) = self.streams.live.remove(&id) {
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
        self.scheduler.ready.clear();
        self.input.clear();
        self.clocks.stop_streams();
        self.phase = Phase::Closed;
        self.events.push_back(Event::Closed { code });
    }

    /// During a graceful close, ends the connection once no stream is left.
    fn maybe_finish_closing(&mut self) {
        if self.shutdown.is_closing() && self.phase != Phase::Closed && self.streams.live.is_empty()
        {
            if !self.shutdown.goaway_sent() {
                self.write_goaway(ErrorCode::NO_ERROR, self.counts.max_peer_id, Bytes::new());
            }
            self.terminate(ErrorCode::NO_ERROR);
        }
    }
}

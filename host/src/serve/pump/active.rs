//! A connection while it holds an engine instance, turn after turn, as
//! hyper's h1 dispatcher drives a connection: feed the engine what was
//! read and take what it gives ([`Active::exchange`]), look at the clocks
//! ([`Active::clocks`]), then wait for the next thing to do
//! ([`Active::wait`]) and take whatever else is ready with it
//! ([`Active::take_ready`]), until the connection ends or hibernates.
//! What outlives the instance is the [`Session`]'s.

use super::context::StreamContext;
use super::control::{StreamCommand, StreamSink};
use super::output::{Outgoing, write_out};
use super::received::Received;
use super::streams::{self, PumpState};
use super::{
    CLOSE_FLUSH, FAIR_SLICE, FIRST_BATCH, MAX_BATCH, Outcome, READ_CHUNK, READ_GATE, SLOW_BATCH,
    Session, Start, TIGHT_MAX_BATCH, WRITE_CHUNK, next_read_size, sleep_until_opt,
};
use crate::bindings::{AltsvcTarget, Event, HeaderKind};
use crate::engine::clock::{instant_at, now_ns};
use crate::engine::convert::code_name;
use crate::engine::io::trap;
use crate::engine::{DriveInput, EngineConnection};
use crate::service::body::BodyNote;
use crate::service::{ConnectionInfo, SharedService};
use bytes::BufMut;
use futures_util::FutureExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;

/// What the connection's requests share with it: the service, and the
/// channels their handles and bodies answer on.
struct Shared {
    /// Locked only to call it, never across an await.
    service: std::sync::Mutex<SharedService>,
    commands: mpsc::Sender<StreamCommand>,
    sink: Arc<StreamSink>,
    consumed: mpsc::UnboundedSender<BodyNote>,
}

impl Shared {
    fn context<'a>(
        &'a self,
        info: &'a ConnectionInfo,
        files_root: Option<&'a Path>,
    ) -> StreamContext<'a> {
        StreamContext {
            service: &self.service,
            commands: &self.commands,
            sink: &self.sink,
            consumed: &self.consumed,
            info,
            files_root,
        }
    }
}

/// What is read from the peer and handed to the engine.
struct Input {
    /// The last read, filled only as far as reads go (a read of 100
    /// octets touches one page, not `READ_CHUNK`).
    buf: bytes::BytesMut,
    /// How much the next read asks for (see [`next_read_size`]).
    read_size: usize,
    /// What of a read goes to the engine when upload payloads are held,
    /// and the payloads held.
    passed: Vec<u8>,
    held: Vec<crate::bindings::HeldSpan>,
}

/// What the engine gave that is not written yet, and how much to take at a
/// time: more while the peer keeps up, little once it does not (what a
/// slow reader makes us hold stays small).
struct Output {
    out: Outgoing,
    batch: usize,
    /// The last write had to wait.
    stalled: bool,
    /// The most one write hands the transport.
    write_chunk: usize,
}

/// The engine as of the last `drive`.
#[derive(Default)]
struct EngineView {
    /// Octets it holds ready to send.
    queued: u32,
    open_streams: u32,
    /// When it wants `handle_timeout`.
    deadline: Option<u64>,
    /// New streams are being refused (the memory budget is spent).
    refusing: bool,
    /// `conn.calls()` when a drive last gave all it had (every event, and
    /// output with room to spare): until another call or input, driving
    /// again would bring nothing.
    settled: Option<u64>,
}

/// What the clocks say to do after a turn.
enum Clocks {
    /// Wait for something to happen, until this time at the latest.
    Wait(Option<Instant>),
    /// Something changed in the engine: take another turn at once.
    Again,
    Hibernate(Vec<u8>),
    End,
}

pub(super) struct Active<'s, IO> {
    session: &'s mut Session<IO>,
    conn: EngineConnection,
    st: PumpState,
    shared: Shared,
    /// Commands from the requests' handles, and credit for request body
    /// octets the service has read.
    commands: mpsc::Receiver<StreamCommand>,
    consumed: mpsc::UnboundedReceiver<BodyNote>,
    input: Input,
    output: Output,
    engine: EngineView,
    /// When the engine closed: what is left may take `CLOSE_FLUSH` to go.
    closed_at: Option<Instant>,
    /// When the connection last let other tasks run.
    last_yield: Instant,
    /// A refused hibernation is tried again `hibernate_after` later, while
    /// the connection stays idle.
    hibernate_retry: Option<Instant>,
}

impl<'s, IO> Active<'s, IO>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin,
{
    /// Takes `conn` for `session`, starting with what woke it.
    pub(super) async fn start(
        session: &'s mut Session<IO>,
        mut conn: EngineConnection,
        start: Start,
    ) -> anyhow::Result<Self> {
        let (commands_tx, commands) = mpsc::channel::<StreamCommand>(1024);
        let (consumed_tx, consumed) = mpsc::unbounded_channel::<BodyNote>();
        let push_allowed = trap(conn.push_allowed().await)?;
        let write_chunk = match session.info.encrypted {
            true => usize::MAX,
            false => WRITE_CHUNK,
        };
        let mut input = Input {
            buf: bytes::BytesMut::with_capacity(READ_CHUNK),
            read_size: READ_CHUNK,
            passed: Vec::new(),
            held: Vec::new(),
        };
        match start {
            Start::Input(octet) => {
                input.buf.extend_from_slice(&[octet]);
                // What came with the octet that woke the connection (a
                // client's preface, SETTINGS and first request arrive
                // together; so does a resumed connection's request) goes
                // in with it: one drive, and one write of what it gives.
                let mut room = (&mut input.buf).limit(READ_CHUNK - 1);
                if let Some(Ok(n)) = session.rd.read_buf(&mut room).now_or_never() {
                    session.summary.bytes_read += n as u64;
                }
            }
            Start::Close => {
                session.idle_closing = true;
                trap(conn.close().await)?;
            }
        }
        if session.shutting_down {
            trap(conn.close().await)?;
        }
        Ok(Active {
            shared: Shared {
                service: std::sync::Mutex::new(session.service.clone()),
                sink: Arc::new(StreamSink {
                    commands: commands_tx.clone(),
                    push_allowed,
                }),
                commands: commands_tx,
                consumed: consumed_tx,
            },
            st: PumpState::observed_by(
                session.config.access_log.clone(),
                session.config.metrics.clone(),
                session.config.session_events.clone(),
                &session.info.peer,
            ),
            session,
            conn,
            commands,
            consumed,
            input,
            output: Output {
                out: Outgoing::default(),
                batch: FIRST_BATCH,
                stalled: false,
                write_chunk,
            },
            engine: EngineView::default(),
            closed_at: None,
            last_yield: Instant::now(),
            hibernate_retry: None,
        })
    }

    /// Turns until the connection ends or hibernates.
    pub(super) async fn run(mut self) -> anyhow::Result<Outcome> {
        loop {
            self.follow_memory_budget().await?;
            let turn = Instant::now();
            self.st.tick(turn);
            self.exchange().await?;
            self.size_next_read(turn);
            let clocks = self.clocks().await?;
            if !matches!(clocks, Clocks::Again) {
                self.st.flush_observed();
                self.session.report_octets();
            }
            let wake_at = match clocks {
                Clocks::Wait(at) => at,
                Clocks::Again => continue,
                Clocks::Hibernate(saved) => return Ok(Outcome::Hibernated(saved)),
                Clocks::End => break,
            };
            self.wait(wake_at).await?;
            let woke = Instant::now();
            self.st.tick(woke);
            self.take_ready().await?;
            // The wake-up's time stands for the turn's end: one clock read
            // fewer per turn.
            if woke.saturating_duration_since(self.last_yield) >= FAIR_SLICE {
                tokio::task::yield_now().await;
                self.last_yield = Instant::now();
            }
        }
        self.finish().await
    }

    /// New streams are refused while the process is over its memory
    /// budget, and taken again below it.
    async fn follow_memory_budget(&mut self) -> anyhow::Result<()> {
        let over = self
            .session
            .config
            .limits
            .as_ref()
            .is_some_and(|l| l.memory_exhausted());
        if over != self.engine.refusing {
            trap(self.conn.set_refusing_streams(over).await)?;
            self.engine.refusing = over;
        }
        Ok(())
    }

    /// One `drive` feeds input, takes output and events. Handling events
    /// can queue more output, and sending can raise events (want-trailers,
    /// drain): go round until a call brings nothing new, or nothing was
    /// asked of the engine since one that gave all it had (at one stream
    /// per connection, that halves the calls per request). Output is taken
    /// once the last turn's is written, up to a batch, and the turn's
    /// calls add to it: what they give goes out in one write.
    async fn exchange(&mut self) -> anyhow::Result<()> {
        let Active {
            session,
            conn,
            st,
            shared,
            input,
            output,
            engine,
            ..
        } = self;
        let cx = shared.context(&session.info, session.runtime.files_root());
        let mut fresh = &input.buf[..];
        // Output still being written from an earlier turn: none is taken
        // until it is (the engine holds what the peer is not reading).
        let pending = !output.out.is_empty();
        loop {
            let asked = !st.credits.is_empty() || !st.writes.is_empty() || !st.batch.is_empty();
            if fresh.is_empty() && !asked && engine.settled == Some(conn.calls()) {
                return Ok(());
            }
            let max = match pending {
                true => 0,
                false => output.batch.saturating_sub(output.out.unwritten()),
            };
            let given = fresh;
            // Upload payloads stay here: the engine gets the rest.
            session
                .scanner
                .split(given, &mut input.passed, &mut input.held);
            let passed = match input.held.is_empty() {
                true => given,
                false => &input.passed[..],
            };
            // Whole responses, credit the service handed back and body
            // chunks go with the drive: no call of their own per stream.
            let mut feed = DriveInput {
                credits: &st.credits,
                writes: &st.writes,
                input: passed,
                held: &input.held,
                ..DriveInput::default()
            };
            st.batch.lend(&mut feed);
            let r = conn.drive(now_ns(), &feed, max as u32).await;
            if input.passed.capacity() > READ_CHUNK {
                // A read of many small frames: not kept for the quiet that
                // follows.
                input.passed = Vec::new();
            }
            st.credits.clear();
            let mut r = trap(r)?;
            streams::batch_taken(st, &r.refused);
            st.written(std::mem::take(&mut r.written));
            fresh = &[];
            if let Some(e) = r.error {
                tracing::debug!(peer = %session.info.peer, "connection error {}: {}", code_name(e.code), e.reason);
            }
            engine.deadline = r.timeout;
            engine.queued = r.queued;
            engine.open_streams = r.open_streams;
            let produced = r.output.octets.len()
                + r.output
                    .payload
                    .iter()
                    .map(|p| p.length as usize)
                    .sum::<usize>();
            let full = produced >= max && max > 0;
            engine.settled = (max > 0 && !full).then_some(conn.calls());
            // File payload is read in before the events are handled: a
            // stream's close may release its file.
            let assembled = st.host_bodies.assemble(r.output).map_err(|e| {
                tracing::warn!(peer = %session.info.peer, "a file being sent failed: {e}; closing the connection");
                e
            })?;
            if !assembled.is_empty() {
                session.summary.bytes_written += assembled.len() as u64;
                output.out.append(assembled);
            }
            let quiet = r.events.is_empty() && !full;
            for event in Received::new(r.events.into_iter(), given) {
                let event = event?;
                match &event {
                    Event::RemoteSettings(_) => session.handshaken = true,
                    Event::HeaderBlock(h) if h.kind == HeaderKind::Request => {
                        if std::mem::take(&mut session.altsvc_pending)
                            && let Some(value) = &session.config.altsvc
                        {
                            let target = AltsvcTarget::Stream(h.stream_id);
                            if let Err(e) = trap(conn.altsvc(value, &target).await)? {
                                tracing::debug!(peer = %session.info.peer, "ALTSVC refused: {e:?}");
                            }
                        }
                    }
                    _ => {}
                }
                if let Some(rest) = streams::on_event(event, st, &cx) {
                    streams::finish(rest, conn, st).await?;
                }
            }
            if quiet {
                return Ok(());
            }
        }
    }

    /// After a turn that read input: a slow turn goes back to small reads
    /// (and a small buffer), bulk input that went through quickly grows
    /// them; the buffer is emptied for the next read.
    fn size_next_read(&mut self, turn: Instant) {
        let input = &mut self.input;
        if !input.buf.is_empty() {
            let next = next_read_size(input.read_size, input.buf.len(), turn.elapsed());
            if next < input.read_size {
                input.buf = bytes::BytesMut::with_capacity(READ_CHUNK);
            }
            input.read_size = next;
        }
        input.buf.clear();
        input.buf.reserve(input.read_size);
    }

    /// Whether nothing is open in the engine and nothing in flight here:
    /// no stream, no body being sent, no command or handle outstanding
    /// (nobody else holds a way to send commands: not a request's
    /// handles, not a call still running), no output.
    fn idle(&self) -> bool {
        let st = &self.st;
        !st.closed
            && self.engine.open_streams == 0
            && st.bodies.is_empty()
            && st.parked.is_empty()
            && st.batch.is_empty()
            && st.writes.is_empty()
            && self.commands.is_empty()
            && self.commands.sender_strong_count() == 2
            && Arc::strong_count(&self.shared.sink) == 1
            && self.output.out.is_empty()
            && self.engine.queued == 0
    }

    /// What the clocks say after a turn: the close's flush, the idle
    /// timeout, hibernation, the handshake timeout and the engine's own
    /// timers, each acted on when due; otherwise when to look again.
    async fn clocks(&mut self) -> anyhow::Result<Clocks> {
        let now = Instant::now();
        if self.st.closed {
            if self.output.out.is_empty() && self.engine.queued == 0 {
                return Ok(Clocks::End);
            }
            let since = *self.closed_at.get_or_insert(now);
            if now >= since + CLOSE_FLUSH {
                tracing::debug!(peer = %self.session.info.peer, "peer not reading; closing without flushing");
                return Ok(Clocks::End);
            }
        }
        let idle = self.idle();
        let s = &mut *self.session;
        if !idle {
            s.idle_since = None;
            self.hibernate_retry = None;
        } else if s.idle_since.is_none() {
            s.idle_since = Some(now);
        }
        let idle_close_at = s
            .config
            .idle_timeout
            .zip(s.idle_since)
            .filter(|_| !s.idle_closing && !self.st.closed)
            .map(|(t, since)| since + t);
        let hibernate_at = s
            .config
            .hibernate_after
            .zip(s.idle_since)
            .filter(|_| s.handshaken && !s.idle_closing && !s.shutting_down)
            .map(|(t, since)| self.hibernate_retry.unwrap_or(since + t));
        let handshake_at = (!s.handshaken).then_some(s.opened + s.config.handshake_timeout);
        let flush_at = self.closed_at.map(|t| t + CLOSE_FLUSH);
        let engine_at = self.engine.deadline.map(instant_at);
        if handshake_at.is_some_and(|t| now >= t) {
            s.handshake_timed_out();
            return Ok(Clocks::End);
        }
        if idle_close_at.is_some_and(|t| now >= t) {
            s.count_idle_close();
            s.idle_closing = true;
            trap(self.conn.close().await)?;
            return Ok(Clocks::Again);
        }
        if hibernate_at.is_some_and(|t| now >= t) {
            match trap(self.conn.hibernate().await)? {
                Ok(saved) => return Ok(Clocks::Hibernate(saved)),
                // Something is still in the engine (a frame half received,
                // which the frame timeout bounds): try again a while later.
                // The idle clock goes on: the idle timeout comes whether or
                // not hibernation does.
                Err(e) => {
                    tracing::trace!(peer = %s.info.peer, "not hibernating yet: {e:?}");
                    self.hibernate_retry = s.config.hibernate_after.map(|after| now + after);
                }
            }
        }
        if engine_at.is_some_and(|t| now >= t) {
            trap(self.conn.handle_timeout(now_ns()).await)?;
            return Ok(Clocks::Again);
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
        Ok(Clocks::Wait(wake_at))
    }

    /// Waits for the next thing to do: the output written, a command, a
    /// credit, a body chunk, input (unless the peer is not reading what
    /// the engine holds), a clock, or the server shutting down.
    async fn wait(&mut self, wake_at: Option<Instant>) -> anyhow::Result<()> {
        let reading = !self.st.closed && self.engine.queued < READ_GATE;
        let waited_from = Instant::now();
        let Active {
            session,
            conn,
            st,
            shared,
            commands,
            consumed,
            input,
            output,
            ..
        } = self;
        let cx = shared.context(&session.info, session.runtime.files_root());
        let mut room = (&mut input.buf).limit(input.read_size);
        tokio::select! {
            biased;
            written = write_out(&mut session.wr, &mut output.out, &mut output.stalled, output.write_chunk), if !output.out.is_empty() => {
                written?;
                output.out = Outgoing::default();
                let tight = session.config.limits.as_ref().is_some_and(|l| l.memory_tight());
                let most = if tight { TIGHT_MAX_BATCH } else { MAX_BATCH };
                output.batch = if std::mem::take(&mut output.stalled) {
                    SLOW_BATCH
                } else {
                    (output.batch * 2).min(most)
                };
            }
            Some(cmd) = commands.recv() => {
                streams::apply(cmd, conn, st, &cx).await?;
            }
            Some(note) = consumed.recv() => {
                streams::body_read(note, conn, st).await?;
            }
            Some((id, item)) = st.bodies.next(), if !st.bodies.is_empty() => {
                streams::write_body(id, item, conn, st).await?;
            }
            read = session.rd.read_buf(&mut room), if reading => {
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
                    session.summary.bytes_read += n as u64;
                }
            }
            _ = sleep_until_opt(wake_at), if wake_at.is_some() => {}
            _ = session.signal.requested(), if !session.shutting_down => {
                session.shutting_down = true;
                trap(conn.close().await)?;
            }
        }
        if waited_from.elapsed() >= FAIR_SLICE {
            // Parked in select: others had their turn.
            self.last_yield = Instant::now();
        }
        Ok(())
    }

    /// Takes whatever else is ready now, so that one flush (one syscall)
    /// carries the output of many commands and body chunks.
    async fn take_ready(&mut self) -> anyhow::Result<()> {
        let Active {
            session,
            conn,
            st,
            shared,
            commands,
            consumed,
            ..
        } = self;
        let cx = shared.context(&session.info, session.runtime.files_root());
        loop {
            if let Ok(cmd) = commands.try_recv() {
                streams::apply(cmd, conn, st, &cx).await?;
                continue;
            }
            if let Ok(note) = consumed.try_recv() {
                streams::body_read(note, conn, st).await?;
                continue;
            }
            if st.bodies.is_empty() {
                return Ok(());
            }
            match st.bodies.next().now_or_never() {
                Some(Some((id, item))) => streams::write_body(id, item, conn, st).await?,
                _ => return Ok(()),
            }
        }
    }

    /// The connection ended: its summary, and the session's log line.
    async fn finish(mut self) -> anyhow::Result<Outcome> {
        self.session.summary.streams = trap(self.conn.state().await)?
            .last_proc_stream_id
            .div_ceil(2)
            .into();
        if tracing::enabled!(target: "h2wasm::session", tracing::Level::INFO) {
            trap(self.conn.handle_timeout(now_ns()).await)?;
            let m = trap(self.conn.metrics().await)?;
            tracing::info!(target: "h2wasm::session", "{} {}", self.session.info.peer, crate::fetch::report::session_summary(&m));
        }
        Ok(Outcome::Ended)
    }
}

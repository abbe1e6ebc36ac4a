//! The server side of one HTTP/2 connection: moves bytes between a
//! transport and the engine instance (taking one only while the
//! connection has something to do), hands request streams to the service
//! and feeds responses back as flow control allows (see `streams`).

mod active;
mod batch;
mod connection;
mod context;
mod control;
mod held;
mod output;
mod payload;
mod received;
mod request;
mod signal;
mod streams;

use crate::bindings::{Options, Role};
use crate::engine::Runtime;
use crate::engine::clock::now_ns;
pub use crate::engine::io::Trap;
use crate::engine::io::trap;
use crate::serve::access_log::AccessLog;
use crate::serve::limits::Limits;
use crate::serve::metrics::Metrics;
use crate::service::{ConnectionInfo, SharedService};
use active::Active;
pub use connection::{Builder, Connection, Error};
pub(crate) use signal::ConnectionSet;
use signal::Signal;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

/// Summary of a finished connection.
#[derive(Debug, Default)]
pub struct ConnectionSummary {
    /// Streams it carried.
    pub streams: u64,
    /// Octets received.
    pub bytes_read: u64,
    /// Octets sent.
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
    /// Where each request's line goes when its stream closes; `None`: no
    /// access log.
    pub access_log: Option<AccessLog>,
    /// Where requests, streams, frames and octets are counted; `None`: no
    /// metrics.
    pub metrics: Option<Metrics>,
    /// The origins each TLS connection announces in its ORIGIN frame
    /// (RFC 8336), after the engine options' own: by the connection's
    /// handshake (see [`ConnectionOrigins`]). `None`: the options' only.
    pub origins: Option<Arc<dyn ConnectionOrigins>>,
    /// Where each connection's session events go (Node's server
    /// `session`, `remoteSettings`, `ping`, `goaway`, ...); `None`: nowhere.
    pub session_events: Option<Arc<dyn crate::serve::SessionEvents>>,
}

/// What a TLS connection is authoritative for, by its handshake: a server
/// of many sites announces the ones its certificate serves, so that
/// clients send their requests for them on the connection they have
/// (RFC 8336 §2.4) instead of opening one per name.
pub trait ConnectionOrigins: Send + Sync {
    /// The origins (`https://host[:port]`) a TLS connection described by
    /// `info` announces, as many as fit in `room` octets of an ORIGIN
    /// frame (an origin takes its length and two).
    fn origins(&self, info: &ConnectionInfo, room: usize) -> Vec<String>;
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            altsvc: None,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: None,
            hibernate_after: Some(Duration::from_secs(1)),
            limits: None,
            access_log: None,
            metrics: None,
            origins: None,
            session_events: None,
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
            .field("access_log", &self.access_log.is_some())
            .field("metrics", &self.metrics.is_some())
            .field("origins", &self.origins.is_some())
            .field("session_events", &self.session_events.is_some())
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

/// Octets of origins an ORIGIN frame holds (each with its two-octet
/// length): what fits a frame of the default maximum size, the engine's
/// limit.
const ORIGIN_ROOM: usize = 16_382;

/// Work one connection does before it lets other tasks run.
const FAIR_SLICE: Duration = Duration::from_micros(200);

/// What a connection is served with and by, as [`serve`] takes it.
struct Serving<IO> {
    runtime: Arc<Runtime>,
    options: Arc<Options>,
    config: Arc<ConnectionConfig>,
    service: SharedService,
    info: ConnectionInfo,
    io: IO,
    signal: Arc<Signal>,
}

impl<IO> Session<IO>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin,
{
    /// The session of a connection about to be served.
    fn new(serving: Serving<IO>) -> Session<IO> {
        let Serving {
            runtime,
            options,
            config,
            service,
            info,
            io,
            signal,
        } = serving;
        let options = connection_options(options, &config, &info);
        let (rd, wr) = tokio::io::split(io);
        let now = Instant::now();
        Session {
            runtime,
            options,
            altsvc_pending: config.altsvc.is_some(),
            config,
            service,
            info,
            rd,
            wr,
            shutting_down: signal.is_requested(),
            signal,
            summary: ConnectionSummary::default(),
            reported: (0, 0),
            opened: now,
            handshaken: false,
            idle_since: Some(now),
            idle_closing: false,
            said_session: false,
            scanner: held::Scanner::server(),
        }
    }
}

/// Serves one connection until it closes (see [`Builder::serve_connection`]).
/// Not an `async fn`: one keeps its arguments apart from the locals they
/// move into, and the session (232 octets) would be in every open
/// connection's future twice; an `async` block uses what it captures in
/// place.
#[allow(clippy::manual_async_fn)]
fn serve<IO>(mut s: Session<IO>) -> impl Future<Output = anyhow::Result<ConnectionSummary>>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin,
{
    async move {
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
            // The connection comes boxed (1.5 KiB): held unboxed by the match
            // below, whose failure arm waits on the socket, it took that room
            // in every connection's task, hibernating or not.
            let take = async {
                match &saved {
                    None => trap(s.runtime.connect(Role::Server, &s.options, now_ns()).await)
                        .map(Box::new),
                    Some(saved) => trap(s.runtime.resume(&s.options, saved, now_ns()).await)?
                        .map(Box::new)
                        .map_err(|e| anyhow::anyhow!("resuming a hibernated connection: {e:?}")),
                }
            };
            // Boxed with its timer, as the active phase below: neither
            // instantiation's state nor the timer should be part of every
            // hibernated connection's task.
            let take = Box::pin(tokio::time::timeout(s.config.handshake_timeout, take));
            let conn = match take.await {
                Ok(Ok(c)) => c,
                failed => {
                    let e = match failed {
                        Ok(Err(e)) => e,
                        _ => anyhow::Error::new(Error::NoInstance),
                    };
                    // No instance to be had: say so in HTTP/2 and close.
                    tracing::warn!(peer = %s.info.peer, "cannot serve the connection: {e:#}");
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
            if !s.said_session
                && let Some(events) = &s.config.session_events
            {
                events.session(&s.info);
                s.said_session = true;
            }
            // The active phase is boxed: a hibernated connection's task keeps
            // only `Session` and a one-octet read.
            let outcome =
                Box::pin(async { Active::start(&mut s, *conn, start).await?.run().await }).await;
            crate::engine::trim::freed();
            match outcome? {
                Outcome::Ended => break,
                Outcome::Hibernated(saved) => {
                    s.summary.hibernations += 1;
                    if let Some(limits) = &s.config.limits {
                        limits.count_hibernated();
                    }
                    tracing::debug!(peer = %s.info.peer, bytes = saved.len(), "hibernated");
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
        s.report_octets();
        Ok(std::mem::take(&mut s.summary))
    }
}

/// `close` follows `session` for the session's observer, however serving
/// ends.
impl<IO> Drop for Session<IO> {
    fn drop(&mut self) {
        if self.said_session
            && let Some(events) = &self.config.session_events
        {
            events.close(&self.info);
        }
    }
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

/// The engine options as a server connection runs them: the pump's own
/// flags set (see [`for_serving`]) and, over TLS, the origins its
/// certificate covers added. Shared with every other connection when
/// nothing is added (the common case: each connection held its own copy,
/// 272 octets of every idle one).
fn connection_options(
    shared: Arc<Options>,
    config: &ConnectionConfig,
    info: &ConnectionInfo,
) -> Arc<Options> {
    let origins = match &config.origins {
        Some(origins) if info.encrypted => Some(origins),
        _ => None,
    };
    if origins.is_none() && is_for_serving(&shared) {
        return shared;
    }
    let mut options = for_serving(Options::clone(&shared));
    if let Some(origins) = origins {
        let used: usize = options.origins.iter().map(|o| o.len() + 2).sum();
        let room = ORIGIN_ROOM.saturating_sub(used);
        for origin in origins.origins(info, room) {
            if !options.origins.contains(&origin) {
                options.origins.push(origin);
            }
        }
    }
    Arc::new(options)
}

/// `options` with what the pump needs of the engine: it consumes flow
/// control credit itself, takes header blocks and data as they come, and
/// sends 100 Continue when the service reads the body (see
/// `streams::body_read`), not as the request arrives.
pub(crate) fn for_serving(mut options: Options) -> Options {
    options.manual_consume = true;
    options.auto_continue = false;
    options.header_blocks = true;
    options.input_data = true;
    options
}

fn is_for_serving(o: &Options) -> bool {
    o.manual_consume && !o.auto_continue && o.header_blocks && o.input_data
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

/// One connection's state that outlives its instances: what a
/// hibernating connection's task holds, besides its snapshot.
struct Session<IO> {
    runtime: Arc<Runtime>,
    options: Arc<Options>,
    config: Arc<ConnectionConfig>,
    service: SharedService,
    info: ConnectionInfo,
    rd: ReadHalf<IO>,
    wr: WriteHalf<IO>,
    signal: Arc<Signal>,
    shutting_down: bool,
    summary: ConnectionSummary,
    /// Octets read and written that the metrics have counted.
    reported: (u64, u64),
    /// The config's Alt-Svc is still to be announced.
    altsvc_pending: bool,
    opened: Instant,
    /// The peer's SETTINGS arrived (with the preface before them).
    handshaken: bool,
    /// Since when nothing has been open or in flight.
    idle_since: Option<Instant>,
    /// The idle timeout passed and GOAWAY went out.
    idle_closing: bool,
    /// The session's observer has been told of it.
    said_session: bool,
    /// Frame boundaries in what the peer sends, for the upload payloads
    /// kept out of the engine; it follows the byte stream across
    /// hibernation, as the engine's state does.
    scanner: held::Scanner,
}

impl<IO> Session<IO>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin,
{
    /// Counts the octets moved since the last report in the metrics (at
    /// the end of a turn that did something, and at the end).
    fn report_octets(&mut self) {
        if let Some(m) = &self.config.metrics {
            let (read, written) = (self.summary.bytes_read, self.summary.bytes_written);
            m.octets(
                crate::serve::access_log::Protocol::Http2,
                read - self.reported.0,
                written - self.reported.1,
            );
            self.reported = (read, written);
        }
    }

    /// Waits, with no instance, for the peer's next octet. The deadline
    /// and a close asked for come through the connection's signal: the
    /// wait holds no timer of its own.
    async fn wait(&mut self) -> Wake {
        let deadline = if !self.handshaken {
            Some(self.opened + self.config.handshake_timeout)
        } else {
            self.config
                .idle_timeout
                .zip(self.idle_since)
                .map(|(t, since)| since + t)
        };
        self.signal.wake_at(deadline);
        let mut octet = [0u8; 1];
        let signal = &self.signal;
        let watching = !self.shutting_down;
        let woken = std::future::poll_fn(|cx| {
            if watching && signal.poll_requested(cx).is_ready() {
                return Poll::Ready(Wake::Close);
            }
            match signal.poll_deadline(deadline, cx) {
                Poll::Ready(()) => Poll::Ready(Wake::Gone),
                Poll::Pending => Poll::Pending,
            }
        });
        let wake = tokio::select! {
            read = self.rd.read(&mut octet) => match read {
                Ok(1) => {
                    self.summary.bytes_read += 1;
                    Wake::Input(octet[0])
                }
                _ => Wake::Gone,
            },
            woken = woken => match woken {
                Wake::Close => {
                    self.shutting_down = true;
                    Wake::Close
                }
                _ if self.handshaken => {
                    self.count_idle_close();
                    Wake::Close
                }
                _ => {
                    self.handshake_timed_out();
                    Wake::Gone
                }
            },
        };
        self.signal.wake_at(None);
        wake
    }

    fn handshake_timed_out(&self) {
        tracing::debug!(peer = %self.info.peer, "no HTTP/2 preface and SETTINGS in time; closing");
        if let Some(limits) = &self.config.limits {
            limits.count_handshake_timeout();
        }
    }

    fn count_idle_close(&self) {
        tracing::debug!(peer = %self.info.peer, "idle timeout; closing with GOAWAY");
        if let Some(limits) = &self.config.limits {
            limits.count_idle_closed();
        }
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

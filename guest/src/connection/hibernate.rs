//! Hibernation: a connection with nothing in flight is written out as a
//! few KiB (settings, both HPACK tables, stream ids, windows, counters) so
//! that the host can drop its instance, and rebuilt in a fresh instance
//! when the peer sends again. An edge server holds tens of thousands of
//! mostly idle connections; this is what keeps one cheap.
//!
//! SETTINGS and PINGs we sent that await the peer's acknowledgement are
//! kept too: a peer that never acknowledges our SETTINGS (or is slow to)
//! costs what any idle connection costs, and its acknowledgement, when it
//! comes, applies them in the new instance.
//!
//! What is not kept: the priority tree (advisory, RFC 9113 §5.3 deprecates
//! it), RFC 9218 priority state (a connection hibernates with no stream,
//! and the next signal turns urgency ordering on again) and prepared-header handles (resources of the old instance; the
//! host prepares them again).

use super::counts::Counts;
use super::header_codec::HeaderCodec;
use super::ping::Pings;
use super::protections::Protections;
use super::settings::SettingsState;
use super::shutdown::Shutdown;
use super::timers::Clocks;
use super::windows::ConnectionWindows;
use super::{Connection, Metrics, Phase};
use crate::error::{CommandError, ErrorCode};
use crate::options::{Options, Role};
use crate::snapshot::{Corrupt, Reader, Writer};
use crate::stream::Cause;

/// Closed streams whose fate a snapshot keeps, for late frames (§5.1);
/// older ones are treated as closed for an unknown reason.
const KEPT_CLOSED: usize = 16;

impl Connection {
    /// Why this connection cannot hibernate now, if it cannot: only a
    /// connection with no streams, no half-read input, and nothing queued
    /// to send or report can.
    pub fn hibernation_blocker(&self) -> Option<&'static str> {
        if self.phase != Phase::Open {
            Some("the connection is not open")
        } else if !self.streams.is_empty() {
            Some("streams are open")
        } else if !self.input.is_empty() {
            Some("input is partly read")
        } else if !self.out.is_empty() || !self.payload.is_empty() || !self.events.is_empty() {
            Some("output or events are waiting")
        } else if self.shutdown.is_closing() || self.shutdown.goaway_sent() {
            Some("the connection is closing")
        } else {
            None
        }
    }

    /// Writes the connection out for [`Connection::resume`]. Refused with
    /// `InvalidState` while [`Connection::hibernation_blocker`] says why.
    pub fn hibernate(&self) -> Result<Vec<u8>, CommandError> {
        if let Some(why) = self.hibernation_blocker() {
            return Err(CommandError::InvalidState(why));
        }
        let mut w = Writer::new();
        w.u8(match self.role {
            Role::Client => 0,
            Role::Server => 1,
        });
        w.u64(self.now);
        w.u64(self.created_at);
        self.clocks.write(&mut w);
        self.settings.write(&mut w);
        self.hpack.write(&mut w);
        self.counts.write(&mut w);
        self.flow.write(&mut w);
        self.ping.write(&mut w);
        self.shutdown.write(&mut w);
        self.protections.write(&mut w);
        w.len(self.origin_set.len());
        for o in &self.origin_set {
            w.bytes(o.as_bytes());
        }
        write_metrics(&self.metrics, &mut w);
        let closed: Vec<(u32, Cause)> = self.streams.closed.iter().collect();
        let recent = &closed[closed.len().saturating_sub(KEPT_CLOSED)..];
        w.len(recent.len());
        for &(id, cause) in recent {
            w.u32(id);
            write_cause(cause, &mut w);
        }
        Ok(w.finish())
    }

    /// Rebuilds a connection from [`Connection::hibernate`]'s output.
    /// `opts` must be the options it was created with; `now` is the
    /// host's clock. A snapshot that does not read back whole is refused
    /// with `InvalidArgument`, never half-applied.
    pub fn resume(opts: Options, snapshot: &[u8], now: u64) -> Result<Connection, CommandError> {
        read_snapshot(opts, snapshot, now)
            .map_err(|Corrupt| CommandError::InvalidArgument("not a snapshot of this engine"))
    }
}

fn read_snapshot(opts: Options, snapshot: &[u8], now: u64) -> Result<Connection, Corrupt> {
    let mut r = Reader::new(snapshot)?;
    let role = match r.u8()? {
        0 => Role::Client,
        1 => Role::Server,
        _ => return Err(Corrupt),
    };
    let mut c = Connection::blank(role, opts, now);
    c.phase = Phase::Open;
    c.now = r.u64()?.max(now);
    c.created_at = r.u64()?;
    c.clocks = Clocks::read(&mut r)?;
    c.settings = SettingsState::read(&mut r)?;
    c.hpack = HeaderCodec::read(&mut r)?;
    c.counts = Counts::read(&mut r, role)?;
    c.flow = ConnectionWindows::read(&mut r)?;
    c.ping = Pings::read(&mut r)?;
    c.shutdown = Shutdown::read(&mut r)?;
    c.protections = Protections::read(&mut r, &c.opts)?;
    for _ in 0..r.len(4)? {
        let origin = std::str::from_utf8(r.bytes()?).map_err(|_| Corrupt)?;
        c.origin_set.push(origin.to_string());
    }
    c.metrics = read_metrics(&mut r)?;
    for _ in 0..r.len(5)? {
        let id = r.u32()?;
        let cause = read_cause(&mut r)?;
        c.streams.closed.insert(id, cause);
    }
    r.finish()?;
    Ok(c)
}

fn write_cause(cause: Cause, w: &mut Writer) {
    match cause {
        Cause::EndStream { remote_last } => w.u8(u8::from(remote_last)),
        Cause::LocalReset(code) => {
            w.u8(2);
            w.u32(code.0);
        }
        Cause::RemoteReset(code) => {
            w.u8(3);
            w.u32(code.0);
        }
    }
}

fn read_cause(r: &mut Reader<'_>) -> Result<Cause, Corrupt> {
    Ok(match r.u8()? {
        0 => Cause::EndStream { remote_last: false },
        1 => Cause::EndStream { remote_last: true },
        2 => Cause::LocalReset(ErrorCode(r.u32()?)),
        3 => Cause::RemoteReset(ErrorCode(r.u32()?)),
        _ => return Err(Corrupt),
    })
}

fn write_metrics(m: &Metrics, w: &mut Writer) {
    w.u64(m.bytes_read);
    w.u64(m.bytes_written);
    w.u64(m.frames_received);
    w.u64(m.frames_sent);
    w.u64(m.stream_count);
    w.u32(m.max_concurrent_streams);
    w.opt_u64(m.ping_rtt_ns);
    w.u64(m.closed_streams);
    w.u64(m.closed_duration_total);
}

fn read_metrics(r: &mut Reader<'_>) -> Result<Metrics, Corrupt> {
    let mut m = Metrics {
        bytes_read: r.u64()?,
        bytes_written: r.u64()?,
        frames_received: r.u64()?,
        frames_sent: r.u64()?,
        stream_count: r.u64()?,
        max_concurrent_streams: r.u32()?,
        ping_rtt_ns: r.opt_u64()?,
        ..Metrics::default()
    };
    m.closed_streams = r.u64()?;
    m.closed_duration_total = r.u64()?;
    m.stream_average_duration_ns = m
        .closed_duration_total
        .checked_div(m.closed_streams)
        .unwrap_or(0);
    Ok(m)
}

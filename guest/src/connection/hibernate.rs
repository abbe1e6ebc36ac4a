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
//! it) and prepared-header handles (resources of the old instance; the
//! host prepares them again).

use super::{Connection, Metrics, Phase};
use crate::error::{CommandError, ErrorCode};
use crate::flow::{RecvWindow, SendWindow};
use crate::hpack::{HeaderDecoder, HeaderEncoder};
use crate::options::{Options, Role};
use crate::rate_limit::TokenBucket;
use crate::settings::{Settings, SettingsValues};
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
        } else if !self.streams.is_empty() || !self.pending_requests.is_empty() {
            Some("streams are open")
        } else if self.block.is_some() || !self.inbuf.is_empty() {
            Some("input is partly read")
        } else if !self.out.is_empty() || !self.payload.is_empty() || !self.events.is_empty() {
            Some("output or events are waiting")
        } else if self.closing || self.goaway_sent.is_some() {
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
        w.u64(self.last_activity);
        w.opt_u64(self.idle_timeout_ns);
        self.local.write(&mut w);
        self.remote.write(&mut w);
        w.bool(self.remote_settings_seen);
        self.encoder.write(&mut w);
        self.decoder.write(&mut w);
        w.u32(self.next_local_id);
        w.u32(self.max_peer_id);
        self.send_window.write(&mut w);
        self.recv_window.write(&mut w);
        w.u64(self.ping_seq);
        w.opt_u32(self.goaway_received);
        w.u32(self.invalid_frames);
        w.u32(self.rejected_streams);
        self.reset_bucket.write(&mut w);
        w.len(self.origin_set.len());
        for o in &self.origin_set {
            w.bytes(o.as_bytes());
        }
        write_metrics(&self.metrics, &mut w);
        w.len(self.pending_local.len());
        for settings in &self.pending_local {
            let params = settings.to_params();
            w.len(params.len());
            for (id, value) in params {
                w.u16(id);
                w.u32(value);
            }
        }
        w.len(self.pings.len());
        for (payload, sent_at) in &self.pings {
            w.bytes(payload);
            w.u64(*sent_at);
        }
        let closed: Vec<(u32, Cause)> = self.closed.iter().collect();
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
    let (burst, rate) = (opts.stream_reset_burst, opts.stream_reset_rate);
    let mut c = Connection::blank(role, opts, now);
    c.phase = Phase::Open;
    c.now = r.u64()?.max(now);
    c.created_at = r.u64()?;
    c.last_activity = r.u64()?;
    c.idle_timeout_ns = r.opt_u64()?;
    c.local = SettingsValues::read(&mut r)?;
    c.remote = SettingsValues::read(&mut r)?;
    c.remote_settings_seen = r.bool()?;
    c.encoder = HeaderEncoder::read(&mut r)?;
    c.decoder = HeaderDecoder::read(&mut r)?;
    c.next_local_id = r.u32()?;
    c.max_peer_id = r.u32()?;
    c.send_window = SendWindow::read(&mut r)?;
    c.recv_window = RecvWindow::read(&mut r)?;
    c.ping_seq = r.u64()?;
    c.goaway_received = r.opt_u32()?;
    c.invalid_frames = r.u32()?;
    c.rejected_streams = r.u32()?;
    c.reset_bucket = TokenBucket::read(&mut r, burst, rate)?;
    for _ in 0..r.len(4)? {
        let origin = std::str::from_utf8(r.bytes()?).map_err(|_| Corrupt)?;
        c.origin_set.push(origin.to_string());
    }
    c.metrics = read_metrics(&mut r)?;
    for _ in 0..r.len(4)? {
        let mut params = Vec::new();
        for _ in 0..r.len(6)? {
            params.push((r.u16()?, r.u32()?));
        }
        let settings = Settings::from_params(&params).map_err(|_| Corrupt)?;
        c.pending_local.push_back(settings);
    }
    for _ in 0..r.len(20)? {
        let payload: [u8; 8] = r.bytes()?.try_into().map_err(|_| Corrupt)?;
        c.pings.push_back((payload, r.u64()?));
    }
    for _ in 0..r.len(5)? {
        let id = r.u32()?;
        let cause = read_cause(&mut r)?;
        c.closed.insert(id, cause);
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

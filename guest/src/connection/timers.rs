//! Time: the session idle timeout (Node's `session.setTimeout`),
//! per-stream timeouts (`stream.setTimeout`), and the two deadlines that
//! keep a stuck peer from holding a connection for ever: a frame that
//! never completes (`Options::frame_timeout_ns`) and a request the client
//! never ends after its response is complete
//! (`Options::half_closed_timeout_ns`). The host passes the clock in and
//! asks when to call back; nothing here reads a clock.

use super::{Connection, Phase};
use crate::error::{CommandError, ConnectionError, ErrorCode};
use crate::events::Event;
use crate::options::Role;
use crate::snapshot::{Corrupt, Reader, Writer};

/// The session's idle clock, and how many streams have a clock running
/// (so that timers skip the walk over streams when none has).
pub(super) struct Clocks {
    /// Node's `session.setTimeout`.
    pub(super) idle_timeout_ns: Option<u64>,
    pub(super) last_activity: u64,
    /// Streams with a per-stream timeout set.
    pub(super) stream_timeouts: usize,
    /// Server streams whose response is complete while the client's side
    /// is open, on the half-closed clock (`Options::half_closed_timeout_ns`).
    pub(super) half_closed: usize,
}

impl Clocks {
    pub(super) fn new(now: u64) -> Self {
        Clocks {
            idle_timeout_ns: None,
            last_activity: now,
            stream_timeouts: 0,
            half_closed: 0,
        }
    }

    /// No stream has a clock running: the connection has ended.
    pub(super) fn stop_streams(&mut self) {
        self.stream_timeouts = 0;
        self.half_closed = 0;
    }

    /// The session's clock only: a hibernating connection has no streams.
    pub(super) fn write(&self, w: &mut Writer) {
        w.u64(self.last_activity);
        w.opt_u64(self.idle_timeout_ns);
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let last_activity = r.u64()?;
        Ok(Clocks {
            idle_timeout_ns: r.opt_u64()?,
            ..Clocks::new(last_activity)
        })
    }
}

impl Connection {
    /// Earliest time `handle_timeout` should be called, if any.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.phase == Phase::Closed {
            return None;
        }
        let session = self
            .clocks
            .idle_timeout_ns
            .map(|t| self.clocks.last_activity.saturating_add(t));
        let half_closed = self.opts.half_closed_timeout_ns;
        let streams = (self.clocks.stream_timeouts > 0 || self.clocks.half_closed > 0)
            .then(|| {
                self.streams
                    .live
                    .values()
                    .flat_map(|s| {
                        let own = s.timeout_ns.map(|t| s.last_activity.saturating_add(t));
                        let quiet = half_closed
                            .filter(|_| s.half_closed_clock)
                            .map(|t| s.last_activity.saturating_add(t));
                        own.into_iter().chain(quiet)
                    })
                    .min()
            })
            .flatten();
        [session, streams, self.frame_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// When the frame (or header block) partly received must be whole.
    fn frame_deadline(&self) -> Option<u64> {
        let timeout = self.opts.frame_timeout_ns?;
        Some(self.input.partial_since()?.saturating_add(timeout))
    }

    /// Advances time; fires the timeouts that are due. Node's idle
    /// timeouts fire once per quiet period, as Node's do, and close
    /// nothing; an incomplete frame past its time ends the connection,
    /// and a half-closed stream past its time is reset.
    pub fn handle_timeout(&mut self, now: u64) {
        self.now = self.now.max(now);
        if self.phase == Phase::Closed {
            return;
        }
        if self.frame_deadline().is_some_and(|t| self.now >= t) {
            self.fail(&ConnectionError::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "a frame was not completed within the frame timeout",
            ));
            return;
        }
        if let Some(t) = self.clocks.idle_timeout_ns
            && self.now >= self.clocks.last_activity.saturating_add(t)
        {
            self.clocks.last_activity = self.now;
            self.events.push_back(Event::Timeout);
        }
        if self.clocks.half_closed > 0 {
            self.reset_quiet_half_closed();
        }
        if self.clocks.stream_timeouts == 0 {
            return;
        }
        let mut due: Vec<u32> = Vec::new();
        for s in self.streams.live.values_mut() {
            if let Some(t) = s.timeout_ns
                && self.now >= s.last_activity.saturating_add(t)
            {
                s.last_activity = self.now;
                due.push(s.id);
            }
        }
        due.sort_unstable();
        self.events.extend(
            due.into_iter()
                .map(|stream_id| Event::StreamTimeout { stream_id }),
        );
    }

    /// Server: a stream just became half-closed (local), its response
    /// complete while the client's side is open: from now on, a client
    /// quiet for the half-closed timeout gets RST_STREAM NO_ERROR.
    pub(super) fn start_half_closed_clock(&mut self, id: u32) {
        if self.role != Role::Server || self.opts.half_closed_timeout_ns.is_none() {
            return;
        }
        let now = self.now;
        if let Some(s) = self.streams.live.get_mut(&id)
            && !s.half_closed_clock
        {
            s.half_closed_clock = true;
            s.last_activity = now;
            self.clocks.half_closed += 1;
        }
    }

    /// Resets (NO_ERROR, RFC 9113 §8.1) the half-closed streams whose
    /// client has been quiet for the half-closed timeout.
    fn reset_quiet_half_closed(&mut self) {
        let Some(t) = self.opts.half_closed_timeout_ns else {
            return;
        };
        let now = self.now;
        let mut due: Vec<u32> = self
            .streams
            .live
            .values()
            .filter(|s| s.half_closed_clock && now >= s.last_activity.saturating_add(t))
            .map(|s| s.id)
            .collect();
        due.sort_unstable();
        for id in due {
            self.reset_stream(id, ErrorCode::NO_ERROR);
        }
    }

    /// Node's `session.setTimeout(msecs)`: `Timeout` after this long without
    /// input; `None` or 0 disables it.
    pub fn set_timeout(&mut self, now: u64, timeout_ns: Option<u64>) {
        self.now = self.now.max(now);
        self.clocks.last_activity = self.now;
        self.clocks.idle_timeout_ns = timeout_ns.filter(|&t| t > 0);
    }

    /// Node's `stream.setTimeout(msecs)`: `StreamTimeout` after this long
    /// without frames sent or received on the stream; `None` or 0 disables
    /// it.
    pub fn set_stream_timeout(
        &mut self,
        stream_id: u32,
        now: u64,
        timeout_ns: Option<u64>,
    ) -> Result<(), CommandError> {
        self.now = self.now.max(now);
        let s = self
            .streams
            .live
            .get_mut(&stream_id)
            .ok_or(CommandError::UnknownStream)?;
        let had = s.timeout_ns.is_some();
        s.timeout_ns = timeout_ns.filter(|&t| t > 0);
        s.last_activity = self.now;
        match (had, s.timeout_ns.is_some()) {
            (false, true) => self.clocks.stream_timeouts += 1,
            (true, false) => {
                self.clocks.stream_timeouts = self.clocks.stream_timeouts.saturating_sub(1)
            }
            _ => {}
        }
        Ok(())
    }
}

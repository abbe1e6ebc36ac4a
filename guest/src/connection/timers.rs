//! Time: the session idle timeout (Node's `session.setTimeout`) and
//! per-stream timeouts (`stream.setTimeout`). The host passes the clock in
//! and asks when to call back; nothing here reads a clock.

use super::{Connection, Phase};
use crate::error::CommandError;
use crate::events::Event;

impl Connection {
    /// Earliest time `handle_timeout` should be called, if any.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.phase == Phase::Closed {
            return None;
        }
        let session = self
            .idle_timeout_ns
            .map(|t| self.last_activity.saturating_add(t));
        let streams = (self.stream_timeouts > 0)
            .then(|| {
                self.streams
                    .values()
                    .filter_map(|s| Some(s.last_activity.saturating_add(s.timeout_ns?)))
                    .min()
            })
            .flatten();
        match (session, streams) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Advances time; fires the idle timeouts that are due. Each fires once
    /// per quiet period, as Node's do; nothing is closed.
    pub fn handle_timeout(&mut self, now: u64) {
        self.now = self.now.max(now);
        if self.phase == Phase::Closed {
            return;
        }
        if let Some(t) = self.idle_timeout_ns
            && self.now >= self.last_activity.saturating_add(t)
        {
            self.last_activity = self.now;
            self.events.push_back(Event::Timeout);
        }
        if self.stream_timeouts == 0 {
            return;
        }
        let mut due: Vec<u32> = Vec::new();
        for s in self.streams.values_mut() {
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

    /// Node's `session.setTimeout(msecs)`: `Timeout` after this long without
    /// input; `None` or 0 disables it.
    pub fn set_timeout(&mut self, now: u64, timeout_ns: Option<u64>) {
        self.now = self.now.max(now);
        self.last_activity = self.now;
        self.idle_timeout_ns = timeout_ns.filter(|&t| t > 0);
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
            .get_mut(&stream_id)
            .ok_or(CommandError::UnknownStream)?;
        let had = s.timeout_ns.is_some();
        s.timeout_ns = timeout_ns.filter(|&t| t > 0);
        s.last_activity = self.now;
        match (had, s.timeout_ns.is_some()) {
            (false, true) => self.stream_timeouts += 1,
            (true, false) => self.stream_timeouts = self.stream_timeouts.saturating_sub(1),
            _ => {}
        }
        Ok(())
    }
}

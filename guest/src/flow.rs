//! Flow-control windows (RFC 9113 §5.2, §6.9). Windows are signed: a
//! SETTINGS_INITIAL_WINDOW_SIZE change can leave a send window negative
//! (§6.9.2), and every change is checked against the 2^31−1 ceiling.

use crate::settings::MAX_WINDOW_SIZE;
use crate::snapshot::{Corrupt, Reader, Writer};

/// Our permission to send: decreased as we send DATA, increased by the peer's
/// WINDOW_UPDATE frames and SETTINGS changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SendWindow(i64);

/// A window would exceed 2^31−1: FLOW_CONTROL_ERROR (§6.9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WindowOverflow;

impl SendWindow {
    pub(crate) fn new(size: u32) -> Self {
        SendWindow(i64::from(size))
    }

    /// Octets that may be sent now (0 while the window is negative).
    pub(crate) fn available(&self) -> usize {
        usize::try_from(self.0.max(0)).unwrap_or(0)
    }

    pub(crate) fn value(&self) -> i64 {
        self.0
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.i64(self.0);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let v = r.i64()?;
        if v > i64::from(MAX_WINDOW_SIZE) || v < -i64::from(MAX_WINDOW_SIZE) {
            return Err(Corrupt);
        }
        Ok(SendWindow(v))
    }

    /// Records `n` octets sent. Callers never send more than `available()`.
    pub(crate) fn consume(&mut self, n: usize) {
        self.0 -= i64::try_from(n).unwrap_or(i64::MAX);
    }

    /// A WINDOW_UPDATE increment (1..=2^31−1) or a SETTINGS delta (may be
    /// negative).
    pub(crate) fn adjust(&mut self, delta: i64) -> Result<(), WindowOverflow> {
        let next = self.0.checked_add(delta).ok_or(WindowOverflow)?;
        if next > i64::from(MAX_WINDOW_SIZE) {
            return Err(WindowOverflow);
        }
        self.0 = next;
        Ok(())
    }
}

/// The peer's permission to send to us, and what we owe it in WINDOW_UPDATEs.
///
/// Every octet the peer sends moves through three counters: `unconsumed`
/// (received, the application has not processed it), `unannounced`
/// (processed, not yet handed back in a WINDOW_UPDATE) and back into
/// `window`. The sum `window + unconsumed + unannounced` is the credit the
/// peer has been given, so nothing is returned twice or lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecvWindow {
    /// Octets the peer may still send before it must wait.
    window: i64,
    /// Octets received that the application has not consumed yet.
    unconsumed: u32,
    /// Octets the application has consumed but we have not yet announced.
    unannounced: u32,
    /// How much the target shrank while the peer still held the credit:
    /// withheld from future updates instead of taken back (§6.9: credit
    /// already granted cannot be revoked; nghttp2's recv_reduction).
    reduction: u32,
    /// The window size we aim to keep open.
    target: u32,
}

/// The peer sent more than the window allowed: FLOW_CONTROL_ERROR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WindowExceeded;

impl RecvWindow {
    pub(crate) fn new(size: u32) -> Self {
        RecvWindow {
            window: i64::from(size),
            unconsumed: 0,
            unannounced: 0,
            reduction: 0,
            target: size,
        }
    }

    pub(crate) fn window(&self) -> i64 {
        self.window
    }

    pub(crate) fn target(&self) -> u32 {
        self.target
    }

    /// Octets received since the last WINDOW_UPDATE covering them, consumed
    /// or not (Node's `effectiveRecvDataLength`).
    pub(crate) fn received_unannounced(&self) -> u32 {
        self.unconsumed.saturating_add(self.unannounced)
    }

    /// Octets received that the application has not consumed.
    pub(crate) fn unconsumed(&self) -> u32 {
        self.unconsumed
    }

    /// For a hibernated connection's snapshot.
    pub(crate) fn write(&self, w: &mut Writer) {
        w.i64(self.window);
        w.u32(self.unconsumed);
        w.u32(self.unannounced);
        w.u32(self.reduction);
        w.u32(self.target);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let w = RecvWindow {
            window: r.i64()?,
            unconsumed: r.u32()?,
            unannounced: r.u32()?,
            reduction: r.u32()?,
            target: r.u32()?,
        };
        if w.window > i64::from(MAX_WINDOW_SIZE) || w.window < -i64::from(MAX_WINDOW_SIZE) {
            return Err(Corrupt);
        }
        Ok(w)
    }

    /// A DATA frame of `n` octets (padding included) arrived.
    pub(crate) fn receive(&mut self, n: u32) -> Result<(), WindowExceeded> {
        if i64::from(n) > self.window {
            return Err(WindowExceeded);
        }
        self.window -= i64::from(n);
        self.unconsumed = self.unconsumed.saturating_add(n);
        Ok(())
    }

    /// The application consumed `n` octets (at most what was received and
    /// not consumed: more is ignored). Returns the WINDOW_UPDATE increment
    /// to send now, if any: updates are batched until half the target
    /// window is owed, so a stream of small frames costs few updates.
    pub(crate) fn consume(&mut self, n: u32) -> Option<u32> {
        let n = n.min(self.unconsumed);
        self.unconsumed -= n;
        self.unannounced = self.unannounced.saturating_add(n);
        self.take_update(false)
    }

    /// Everything received and not consumed, now given up (its stream
    /// closed): the caller returns it to the connection window.
    pub(crate) fn take_unconsumed(&mut self) -> u32 {
        std::mem::take(&mut self.unconsumed)
    }

    /// Changes the target window (Node's `setLocalWindowSize`, or a new
    /// SETTINGS_INITIAL_WINDOW_SIZE that the peer acknowledged). Returns an
    /// increment to send when the window grows.
    pub(crate) fn set_target(&mut self, target: u32) -> Option<u32> {
        let delta = i64::from(target) - i64::from(self.target);
        self.target = target;
        let delta_abs = u32::try_from(delta.unsigned_abs()).unwrap_or(u32::MAX);
        if delta < 0 {
            // The peer keeps the credit it holds; what it sends from now on
            // is not handed back until the shrink is absorbed.
            self.reduction = self.reduction.saturating_add(delta_abs);
            return None;
        }
        let cancelled = delta_abs.min(self.reduction);
        self.reduction -= cancelled;
        self.unannounced = self.unannounced.saturating_add(delta_abs - cancelled);
        self.take_update(true)
    }

    /// Applies a SETTINGS_INITIAL_WINDOW_SIZE change for a stream window: the
    /// peer adjusts its view by the delta itself (§6.9.2), so we only mirror it.
    pub(crate) fn apply_initial_delta(&mut self, delta: i64) {
        self.window += delta;
        self.target = u32::try_from(i64::from(self.target) + delta).unwrap_or(self.target);
    }

    fn take_update(&mut self, force: bool) -> Option<u32> {
        let absorbed = self.unannounced.min(self.reduction);
        self.unannounced -= absorbed;
        self.reduction -= absorbed;
        if self.unannounced == 0 {
            return None;
        }
        let threshold = (self.target / 2).max(1);
        if !force && self.unannounced < threshold {
            return None;
        }
        // Never open the window past 2^31−1.
        let room = i64::from(MAX_WINDOW_SIZE) - self.window;
        let inc = i64::from(self.unannounced).min(room);
        let inc = u32::try_from(inc.max(0)).unwrap_or(0);
        self.unannounced = 0;
        if inc == 0 {
            return None;
        }
        self.window += i64::from(inc);
        Some(inc)
    }
}

#[cfg(test)]
mod tests;

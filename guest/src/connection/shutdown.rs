//! Ending the connection gracefully (RFC 9113 §6.8): the GOAWAYs sent and
//! received, and whether we are closing once the streams finish.

use crate::error::ConnectionError;
use crate::snapshot::{Corrupt, Reader, Writer};

#[derive(Default)]
pub(super) struct Shutdown {
    /// The last stream id of the GOAWAYs we sent (the lowest).
    goaway_sent: Option<u32>,
    /// The last stream id of the peer's latest GOAWAY.
    goaway_received: Option<u32>,
    /// `close()` was called (or GOAWAY received): end when streams finish.
    closing: bool,
}

impl Shutdown {
    /// Whether a GOAWAY went out.
    pub(super) fn goaway_sent(&self) -> bool {
        self.goaway_sent.is_some()
    }

    /// Records a GOAWAY we send naming `last`, and returns the last stream
    /// id it must carry: never more than an earlier one's (§6.8).
    pub(super) fn send_goaway(&mut self, last: u32) -> u32 {
        let last = self.goaway_sent.map_or(last, |l| l.min(last));
        self.goaway_sent = Some(last);
        last
    }

    /// A stream the peer opens above our GOAWAY's last id is ignored.
    pub(super) fn ignores_peer_stream(&self, id: u32) -> bool {
        self.goaway_sent.is_some_and(|last| id > last)
    }

    /// Records the peer's GOAWAY; one whose last stream id grows is a
    /// connection error (§6.8).
    pub(super) fn receive_goaway(&mut self, last: u32) -> Result<(), ConnectionError> {
        if self.goaway_received.is_some_and(|prev| last > prev) {
            return Err(ConnectionError::protocol("GOAWAY last stream id increased"));
        }
        self.goaway_received = Some(last);
        Ok(())
    }

    /// Ends the connection once its streams finish.
    pub(super) fn close(&mut self) {
        self.closing = true;
    }

    /// Whether the connection ends once its streams finish (we closed or
    /// the peer said goodbye).
    pub(super) fn is_closing(&self) -> bool {
        self.closing
    }

    /// Whether we may still open streams: not closing, and the peer has
    /// not said goodbye.
    pub(super) fn may_open_streams(&self) -> bool {
        !self.closing && self.goaway_received.is_none()
    }

    /// Only what a hibernating connection can have: the peer's GOAWAY (a
    /// closing connection does not hibernate).
    pub(super) fn write(&self, w: &mut Writer) {
        w.opt_u32(self.goaway_received);
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Corrupt> {
        Ok(Shutdown {
            goaway_received: r.opt_u32()?,
            ..Shutdown::default()
        })
    }
}

//! Our PINGs awaiting the peer's ACK (RFC 9113 §6.7), for Node's
//! `session.ping` and its round-trip time.

use crate::error::CommandError;
use crate::snapshot::{Corrupt, Reader, Writer};
use std::collections::VecDeque;

#[derive(Default)]
pub(super) struct Pings {
    /// Payload and send time of each PING not yet acknowledged.
    outstanding: VecDeque<([u8; 8], u64)>,
    /// Payloads we choose are this counter, so that they differ.
    seq: u64,
}

impl Pings {
    /// Records a PING sent at `now` with `payload`, or one of our own
    /// choosing; refused past `max` outstanding or for a payload already
    /// outstanding (its ACK could not be told apart).
    pub(super) fn start(
        &mut self,
        payload: Option<[u8; 8]>,
        now: u64,
        max: usize,
    ) -> Result<[u8; 8], CommandError> {
        if self.outstanding.len() >= max {
            return Err(CommandError::InvalidState("too many outstanding pings"));
        }
        let payload = payload.unwrap_or_else(|| {
            self.seq = self.seq.wrapping_add(1);
            self.seq.to_be_bytes()
        });
        if self.outstanding.iter().any(|(p, _)| *p == payload) {
            return Err(CommandError::InvalidArgument(
                "a ping with this payload is outstanding",
            ));
        }
        self.outstanding.push_back((payload, now));
        Ok(payload)
    }

    /// The round trip of ours that `payload` acknowledges, if it is one.
    pub(super) fn acked(&mut self, payload: [u8; 8], now: u64) -> Option<u64> {
        let pos = self.outstanding.iter().position(|(p, _)| *p == payload)?;
        let (_, sent) = self.outstanding.remove(pos)?;
        Some(now.saturating_sub(sent))
    }

    /// How many await their ACK.
    pub(super) fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    pub(super) fn write(&self, w: &mut Writer) {
        w.u64(self.seq);
        w.len(self.outstanding.len());
        for (payload, sent_at) in &self.outstanding {
            w.bytes(payload);
            w.u64(*sent_at);
        }
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let seq = r.u64()?;
        let mut outstanding = VecDeque::new();
        for _ in 0..r.len(20)? {
            let payload: [u8; 8] = r.bytes()?.try_into().map_err(|_| Corrupt)?;
            outstanding.push_back((payload, r.u64()?));
        }
        Ok(Pings { outstanding, seq })
    }
}

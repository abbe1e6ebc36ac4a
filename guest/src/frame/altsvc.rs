//! ALTSVC frames (RFC 7838 §4): an alternative service for an origin, named
//! in the frame on stream 0 or implied by the stream otherwise.

use super::{FrameHeader, kind};
use bytes::{BufMut, Bytes};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AltSvc {
    pub stream_id: u32,
    /// Empty on a stream (the stream's origin applies).
    pub origin: Bytes,
    /// The Alt-Svc field value (RFC 7838 §3).
    pub value: Bytes,
}

impl AltSvc {
    /// `None` for a frame to ignore: malformed, or breaking §4's rule that
    /// an origin is named on stream 0 and only there.
    pub(crate) fn decode(head: &FrameHeader, mut payload: Bytes) -> Option<AltSvc> {
        let len = usize::from(u16::from_be_bytes(payload.get(..2)?.try_into().ok()?));
        if payload.len() < 2 + len {
            return None;
        }
        let mut origin = payload.split_to(2 + len);
        let origin = origin.split_off(2);
        if (head.stream_id == 0) == origin.is_empty() {
            return None;
        }
        Some(AltSvc {
            stream_id: head.stream_id,
            origin,
            value: payload,
        })
    }

    pub(crate) fn encode<B: BufMut>(&self, buf: &mut B) {
        let len = 2 + self.origin.len() + self.value.len();
        FrameHeader::new(kind::ALTSVC, 0, self.stream_id, len).encode(buf);
        // Callers bound the origin to 16382 octets (Node's limit).
        buf.put_u16(self.origin.len() as u16);
        buf.put_slice(&self.origin);
        buf.put_slice(&self.value);
    }
}

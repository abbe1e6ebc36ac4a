//! ORIGIN frames (RFC 8336 §2): the origins a server is authoritative for.

use super::{FrameHeader, kind};
use bytes::{BufMut, Bytes};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OriginFrame {
    pub origins: Vec<Bytes>,
}

impl OriginFrame {
    /// `None` for a frame to ignore: on a stream (§2.1) or malformed.
    pub(crate) fn decode(head: &FrameHeader, mut payload: Bytes) -> Option<OriginFrame> {
        if head.stream_id != 0 {
            return None;
        }
        let mut origins = Vec::new();
        while !payload.is_empty() {
            let len = usize::from(u16::from_be_bytes(payload.get(..2)?.try_into().ok()?));
            if payload.len() < 2 + len {
                return None;
            }
            let mut entry = payload.split_to(2 + len);
            origins.push(entry.split_off(2));
        }
        Some(OriginFrame { origins })
    }

    pub(crate) fn encode<B: BufMut>(&self, buf: &mut B) {
        let len = self.origins.iter().map(|o| 2 + o.len()).sum();
        FrameHeader::new(kind::ORIGIN, 0, 0, len).encode(buf);
        for o in &self.origins {
            // Callers bound each origin (Node: 16382 octets in all).
            buf.put_u16(o.len() as u16);
            buf.put_slice(o);
        }
    }
}

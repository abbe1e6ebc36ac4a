//! PRIORITY_UPDATE frames (RFC 9218 §7.1): a client's new priority for a
//! stream, as a Priority field value, sent on stream 0.

use super::{FrameHeader, kind, read_u32};
use crate::error::{ConnectionError, ProtocolError};
use bytes::{BufMut, Bytes};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PriorityUpdate {
    /// The stream the priority is for.
    pub prioritized: u32,
    /// The Priority field value (ASCII, `u=2, i`).
    pub value: Bytes,
}

impl PriorityUpdate {
    pub(crate) fn decode(head: &FrameHeader, payload: Bytes) -> Result<Self, ProtocolError> {
        // §7.1: on any stream but 0, and for stream 0, PROTOCOL_ERROR.
        if head.stream_id != 0 {
            return Err(ConnectionError::protocol("PRIORITY_UPDATE on a stream").into());
        }
        let Some(word) = read_u32(&payload) else {
            return Err(
                ConnectionError::frame_size("PRIORITY_UPDATE shorter than 4 octets").into(),
            );
        };
        let prioritized = word & super::MAX_STREAM_ID;
        if prioritized == 0 {
            return Err(ConnectionError::protocol("PRIORITY_UPDATE for stream 0").into());
        }
        Ok(PriorityUpdate {
            prioritized,
            value: payload.slice(4..),
        })
    }

    pub(crate) fn encode<B: BufMut>(&self, buf: &mut B) {
        FrameHeader::new(kind::PRIORITY_UPDATE, 0, 0, 4 + self.value.len()).encode(buf);
        buf.put_u32(self.prioritized & super::MAX_STREAM_ID);
        buf.put_slice(&self.value);
    }
}

//! PRIORITY frames (RFC 9113 §6.3) and the priority block that HEADERS may carry.

use super::{FrameHeader, kind, read_u32, require_stream};
use crate::error::{ConnectionError, ErrorCode, ProtocolError, StreamError};
use bytes::BufMut;

/// A stream dependency (RFC 7540 §5.3, kept by RFC 9113 as a frame format).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrioritySpec {
    /// The stream this one depends on (0: the root).
    pub dependency: u32,
    /// Whether it becomes the sole dependency of its parent.
    pub exclusive: bool,
    /// Weight 1..=256 (the wire carries weight − 1).
    pub weight: u16,
}

impl Default for PrioritySpec {
    fn default() -> Self {
        PrioritySpec {
            dependency: 0,
            exclusive: false,
            weight: 16,
        }
    }
}

impl PrioritySpec {
    /// Octets on the wire.
    pub(crate) const LEN: usize = 5;

    pub(super) fn parse(bytes: &[u8]) -> Option<PrioritySpec> {
        let word = read_u32(bytes)?;
        let weight = *bytes.get(4)?;
        Some(PrioritySpec {
            dependency: word & super::MAX_STREAM_ID,
            exclusive: word & 0x8000_0000 != 0,
            weight: u16::from(weight) + 1,
        })
    }

    /// Appends the 5 octets (as PRIORITY and HEADERS carry them) to `buf`.
    pub fn encode<B: BufMut>(&self, buf: &mut B) {
        let excl = if self.exclusive { 0x8000_0000 } else { 0 };
        buf.put_u32((self.dependency & super::MAX_STREAM_ID) | excl);
        buf.put_u8(u8::try_from(self.weight.clamp(1, 256) - 1).unwrap_or(u8::MAX));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Priority {
    pub stream_id: u32,
    pub spec: PrioritySpec,
}

impl Priority {
    pub(crate) fn decode(head: &FrameHeader, payload: &[u8]) -> Result<Priority, ProtocolError> {
        require_stream(head, "PRIORITY on stream 0")?;
        // "A PRIORITY frame with a length other than 5 octets MUST be treated
        // as a stream error (Section 5.4.2) of type FRAME_SIZE_ERROR."
        let spec = match (payload.len(), PrioritySpec::parse(payload)) {
            (PrioritySpec::LEN, Some(spec)) => spec,
            _ => {
                return Err(StreamError {
                    stream_id: head.stream_id,
                    code: ErrorCode::FRAME_SIZE_ERROR,
                    reason: "PRIORITY frame length is not 5",
                }
                .into());
            }
        };
        if spec.dependency == head.stream_id {
            // §5.3.1 (RFC 7540): a stream cannot depend on itself.
            return Err(StreamError {
                stream_id: head.stream_id,
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "stream depends on itself",
            }
            .into());
        }
        Ok(Priority {
            stream_id: head.stream_id,
            spec,
        })
    }

    pub(crate) fn encode<B: BufMut>(&self, buf: &mut B) {
        FrameHeader::new(kind::PRIORITY, 0, self.stream_id, PrioritySpec::LEN).encode(buf);
        self.spec.encode(buf);
    }
}

pub(super) fn truncated() -> ProtocolError {
    ConnectionError::frame_size("frame too short for its priority block").into()
}

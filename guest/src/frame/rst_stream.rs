//! RST_STREAM frames (RFC 9113 §6.4).

use super::{FrameHeader, kind, read_u32, require_stream};
use crate::error::{ConnectionError, ErrorCode, ProtocolError};
use bytes::BufMut;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RstStream {
    pub stream_id: u32,
    pub code: ErrorCode,
}

impl RstStream {
    pub(crate) fn decode(head: &FrameHeader, payload: &[u8]) -> Result<RstStream, ProtocolError> {
        require_stream(head, "RST_STREAM on stream 0")?;
        match (payload.len(), read_u32(payload)) {
            (4, Some(code)) => Ok(RstStream {
                stream_id: head.stream_id,
                code: ErrorCode(code),
            }),
            _ => Err(ConnectionError::frame_size("RST_STREAM length is not 4").into()),
        }
    }

    pub(crate) fn encode<B: BufMut>(&self, buf: &mut B) {
        FrameHeader::new(kind::RST_STREAM, 0, self.stream_id, 4).encode(buf);
        buf.put_u32(self.code.0);
    }
}

//! GOAWAY frames (RFC 9113 §6.8).

use super::{FrameHeader, kind, read_u32, require_connection_stream};
use crate::error::{ConnectionError, ErrorCode, ProtocolError};
use bytes::{BufMut, Bytes};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GoAway {
    pub last_stream_id: u32,
    pub code: ErrorCode,
    pub debug_data: Bytes,
}

impl GoAway {
    pub(crate) fn decode(head: &FrameHeader, mut payload: Bytes) -> Result<GoAway, ProtocolError> {
        require_connection_stream(head, "GOAWAY on a stream")?;
        let (Some(last), Some(code)) = (read_u32(&payload), payload.get(4..).and_then(read_u32))
        else {
            return Err(ConnectionError::frame_size("GOAWAY shorter than 8 octets").into());
        };
        let debug_data = payload.split_off(8);
        Ok(GoAway {
            last_stream_id: last & super::MAX_STREAM_ID,
            code: ErrorCode(code),
            debug_data,
        })
    }

    pub(crate) fn encode<B: BufMut>(&self, buf: &mut B) {
        FrameHeader::new(kind::GOAWAY, 0, 0, 8 + self.debug_data.len()).encode(buf);
        buf.put_u32(self.last_stream_id & super::MAX_STREAM_ID);
        buf.put_u32(self.code.0);
        buf.put_slice(&self.debug_data);
    }
}

//! WINDOW_UPDATE frames (RFC 9113 §6.9). A zero increment is a protocol
//! error whose scope (stream or connection) the connection decides.

use super::{FrameHeader, kind, read_u32};
use crate::error::{ConnectionError, ProtocolError};
use bytes::BufMut;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WindowUpdate {
    pub stream_id: u32,
    pub increment: u32,
}

impl WindowUpdate {
    pub(crate) fn decode(
        head: &FrameHeader,
        payload: &[u8],
    ) -> Result<WindowUpdate, ProtocolError> {
        match (payload.len(), read_u32(payload)) {
            (4, Some(word)) => Ok(WindowUpdate {
                stream_id: head.stream_id,
                increment: word & super::MAX_STREAM_ID,
            }),
            _ => Err(ConnectionError::frame_size("WINDOW_UPDATE length is not 4").into()),
        }
    }

    pub(crate) fn encode<B: BufMut>(&self, buf: &mut B) {
        FrameHeader::new(kind::WINDOW_UPDATE, 0, self.stream_id, 4).encode(buf);
        buf.put_u32(self.increment & super::MAX_STREAM_ID);
    }
}

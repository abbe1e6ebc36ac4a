//! PING frames (RFC 9113 §6.7).

use super::{FrameHeader, flag, kind, require_connection_stream};
use crate::error::{ConnectionError, ProtocolError};
use bytes::BufMut;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ping {
    pub ack: bool,
    pub payload: [u8; 8],
}

impl Ping {
    pub(crate) fn decode(head: &FrameHeader, payload: &[u8]) -> Result<Ping, ProtocolError> {
        require_connection_stream(head, "PING on a stream")?;
        let payload: [u8; 8] = payload
            .try_into()
            .map_err(|_| ConnectionError::frame_size("PING length is not 8"))?;
        Ok(Ping {
            ack: head.has(flag::ACK),
            payload,
        })
    }

    pub(crate) fn encode<B: BufMut>(&self, buf: &mut B) {
        let flags = if self.ack { flag::ACK } else { 0 };
        FrameHeader::new(kind::PING, flags, 0, 8).encode(buf);
        buf.put_slice(&self.payload);
    }
}

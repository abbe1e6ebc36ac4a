//! SETTINGS frames (RFC 9113 §6.5): wire format only. What each parameter
//! means and which values are legal lives in `crate::settings`.

use super::{FrameHeader, flag, kind, require_connection_stream};
use crate::error::{ConnectionError, ProtocolError};
use bytes::BufMut;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SettingsFrame {
    pub ack: bool,
    /// Parameters in wire order; later entries override earlier ones (§6.5.3).
    pub params: Vec<(u16, u32)>,
}

impl SettingsFrame {
    pub(crate) fn decode(
        head: &FrameHeader,
        payload: &[u8],
    ) -> Result<SettingsFrame, ProtocolError> {
        require_connection_stream(head, "SETTINGS on a stream")?;
        let ack = head.has(flag::ACK);
        if ack && !payload.is_empty() {
            return Err(ConnectionError::frame_size("SETTINGS ACK with a payload").into());
        }
        if !payload.len().is_multiple_of(6) {
            return Err(ConnectionError::frame_size("SETTINGS length not a multiple of 6").into());
        }
        let params = payload
            .chunks_exact(6)
            .map(|c| {
                (
                    u16::from_be_bytes([c[0], c[1]]),
                    u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
                )
            })
            .collect();
        Ok(SettingsFrame { ack, params })
    }

    pub(crate) fn encode<B: BufMut>(&self, buf: &mut B) {
        let flags = if self.ack { flag::ACK } else { 0 };
        FrameHeader::new(kind::SETTINGS, flags, 0, self.params.len() * 6).encode(buf);
        for &(id, value) in &self.params {
            buf.put_u16(id);
            buf.put_u32(value);
        }
    }
}

pub(crate) fn encode_settings_ack<B: BufMut>(buf: &mut B) {
    FrameHeader::new(kind::SETTINGS, flag::ACK, 0, 0).encode(buf);
}

//! PUSH_PROMISE frames (RFC 9113 §6.6).

use super::{FrameHeader, flag, kind, padding, read_u32, require_stream};
use crate::error::{ConnectionError, ProtocolError};
use bytes::{BufMut, Bytes};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PushPromise {
    pub stream_id: u32,
    pub promised_id: u32,
    pub fragment: Bytes,
    pub end_headers: bool,
}

impl PushPromise {
    pub(crate) fn decode(head: &FrameHeader, payload: Bytes) -> Result<PushPromise, ProtocolError> {
        require_stream(head, "PUSH_PROMISE on stream 0")?;
        let mut rest = if head.has(flag::PADDED) {
            padding::strip_after(payload, 4)?.0
        } else {
            payload
        };
        let promised_id = read_u32(&rest)
            .ok_or_else(|| ConnectionError::frame_size("PUSH_PROMISE too short"))?
            & super::MAX_STREAM_ID;
        let _ = rest.split_to(4);
        Ok(PushPromise {
            stream_id: head.stream_id,
            promised_id,
            fragment: rest,
            end_headers: head.has(flag::END_HEADERS),
        })
    }

    pub(crate) fn encode_header<B: BufMut>(
        stream_id: u32,
        promised_id: u32,
        fragment_len: usize,
        end_headers: bool,
        buf: &mut B,
    ) {
        let flags = if end_headers { flag::END_HEADERS } else { 0 };
        FrameHeader::new(kind::PUSH_PROMISE, flags, stream_id, fragment_len + 4).encode(buf);
        buf.put_u32(promised_id & super::MAX_STREAM_ID);
    }
}

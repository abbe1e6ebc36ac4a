//! CONTINUATION frames (RFC 9113 §6.10).

use super::{FrameHeader, flag, kind, require_stream};
use crate::error::ProtocolError;
use bytes::{BufMut, Bytes};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Continuation {
    pub stream_id: u32,
    pub fragment: Bytes,
    pub end_headers: bool,
}

impl Continuation {
    pub(crate) fn decode(
        head: &FrameHeader,
        payload: Bytes,
    ) -> Result<Continuation, ProtocolError> {
        require_stream(head, "CONTINUATION on stream 0")?;
        Ok(Continuation {
            stream_id: head.stream_id,
            fragment: payload,
            end_headers: head.has(flag::END_HEADERS),
        })
    }

    pub(crate) fn encode_header<B: BufMut>(
        stream_id: u32,
        len: usize,
        end_headers: bool,
        buf: &mut B,
    ) {
        let flags = if end_headers { flag::END_HEADERS } else { 0 };
        FrameHeader::new(kind::CONTINUATION, flags, stream_id, len).encode(buf);
    }
}

//! HEADERS frames (RFC 9113 §6.2). The field block fragment is kept encoded;
//! the connection assembles CONTINUATIONs and decodes the whole block.

use super::priority::truncated;
use super::{FrameHeader, PrioritySpec, flag, kind, padding, require_stream};
use crate::error::ProtocolError;
use bytes::{BufMut, Bytes};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Headers {
    pub stream_id: u32,
    pub priority: Option<PrioritySpec>,
    pub fragment: Bytes,
    pub end_stream: bool,
    pub end_headers: bool,
}

impl Headers {
    pub(crate) fn decode(head: &FrameHeader, payload: Bytes) -> Result<Headers, ProtocolError> {
        require_stream(head, "HEADERS on stream 0")?;
        let fixed = if head.has(flag::PRIORITY) {
            PrioritySpec::LEN
        } else {
            0
        };
        let mut rest = if head.has(flag::PADDED) {
            padding::strip_after(payload, fixed)?.0
        } else {
            payload
        };
        let priority = if head.has(flag::PRIORITY) {
            // A self-dependency is a stream error, checked by the connection
            // after the field block is decoded so HPACK state stays in sync.
            let spec = PrioritySpec::parse(&rest).ok_or_else(truncated)?;
            let _ = rest.split_to(PrioritySpec::LEN);
            Some(spec)
        } else {
            None
        };
        Ok(Headers {
            stream_id: head.stream_id,
            priority,
            fragment: rest,
            end_stream: head.has(flag::END_STREAM),
            end_headers: head.has(flag::END_HEADERS),
        })
    }

    /// Writes the HEADERS frame header and optional priority block for a
    /// fragment of `fragment_len` octets that the caller appends.
    #[cfg(test)]
    pub(crate) fn encode_header<B: BufMut>(
        stream_id: u32,
        priority: Option<PrioritySpec>,
        fragment_len: usize,
        end_stream: bool,
        end_headers: bool,
        buf: &mut B,
    ) {
        let start = HeadersStart {
            priority,
            pad: None,
            end_stream,
            end_headers,
        };
        start.encode(stream_id, fragment_len, buf);
    }
}

/// Everything of a HEADERS frame we send but its fragment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeadersStart {
    pub priority: Option<PrioritySpec>,
    /// Pad Length: the caller appends that many zero octets after the
    /// fragment.
    pub pad: Option<u8>,
    pub end_stream: bool,
    pub end_headers: bool,
}

impl HeadersStart {
    /// Writes the frame header, Pad Length and priority fields.
    pub(crate) fn encode<B: BufMut>(&self, stream_id: u32, fragment_len: usize, buf: &mut B) {
        let mut flags = 0;
        if self.end_stream {
            flags |= flag::END_STREAM;
        }
        if self.end_headers {
            flags |= flag::END_HEADERS;
        }
        let mut len = fragment_len;
        if let Some(p) = self.pad {
            flags |= flag::PADDED;
            len += 1 + usize::from(p);
        }
        if self.priority.is_some() {
            flags |= flag::PRIORITY;
            len += PrioritySpec::LEN;
        }
        FrameHeader::new(kind::HEADERS, flags, stream_id, len).encode(buf);
        if let Some(p) = self.pad {
            buf.put_u8(p);
        }
        if let Some(p) = self.priority {
            p.encode(buf);
        }
    }
}

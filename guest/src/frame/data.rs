//! DATA frames (RFC 9113 §6.1).

use super::{FrameHeader, flag, kind, padding, require_stream};
use crate::error::ProtocolError;
use bytes::{BufMut, Bytes};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Data {
    pub stream_id: u32,
    pub payload: Bytes,
    pub end_stream: bool,
    /// Octets the whole frame payload took, padding included: this is what
    /// counts against flow-control windows (§6.9.1).
    pub flow_len: u32,
    /// The payload stayed with the host (`receive_held`): `payload` is
    /// empty, and this is where the payload sits in the host's read.
    pub held: Option<u32>,
}

impl Data {
    pub(crate) fn decode(head: &FrameHeader, payload: Bytes) -> Result<Data, ProtocolError> {
        require_stream(head, "DATA on stream 0")?;
        let flow_len = head.length;
        let payload = if head.has(flag::PADDED) {
            padding::strip(payload)?.0
        } else {
            payload
        };
        Ok(Data {
            stream_id: head.stream_id,
            payload,
            end_stream: head.has(flag::END_STREAM),
            flow_len,
            held: None,
        })
    }

    /// An unpadded DATA frame whose payload the host kept, at `at` in its
    /// read.
    pub(crate) fn held(head: &FrameHeader, at: u32) -> Result<Data, ProtocolError> {
        require_stream(head, "DATA on stream 0")?;
        Ok(Data {
            stream_id: head.stream_id,
            payload: Bytes::new(),
            end_stream: head.has(flag::END_STREAM),
            flow_len: head.length,
            held: Some(at),
        })
    }

    /// Octets of data the frame carries, padding excluded.
    pub(crate) fn len(&self) -> usize {
        match self.held {
            Some(_) => self.flow_len as usize,
            None => self.payload.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes a DATA frame header for `len` payload octets; the caller appends
    /// the payload itself (so large bodies are copied once, into the output).
    pub(crate) fn encode_header<B: BufMut>(
        stream_id: u32,
        len: usize,
        end_stream: bool,
        buf: &mut B,
    ) {
        Self::encode_padded_header(stream_id, len, None, end_stream, buf);
    }

    /// As `encode_header`, with `pad` octets of padding: writes the frame
    /// header and the Pad Length octet; the caller appends the payload and
    /// then `pad` zero octets.
    pub(crate) fn encode_padded_header<B: BufMut>(
        stream_id: u32,
        len: usize,
        pad: Option<u8>,
        end_stream: bool,
        buf: &mut B,
    ) {
        let mut flags = if end_stream { flag::END_STREAM } else { 0 };
        let mut total = len;
        if let Some(p) = pad {
            flags |= flag::PADDED;
            total += 1 + usize::from(p);
        }
        FrameHeader::new(kind::DATA, flags, stream_id, total).encode(buf);
        if let Some(p) = pad {
            buf.put_u8(p);
        }
    }
}

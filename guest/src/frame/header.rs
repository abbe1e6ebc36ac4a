//! The 9-octet frame header (RFC 9113 §4.1).

use bytes::BufMut;

/// Every frame starts with 9 octets of header.
pub const FRAME_HEADER_LEN: usize = 9;

/// A frame's header: what it is, how long, and on which stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length (24 bits).
    pub length: u32,
    /// The frame type (see [`kind`](super::kind)).
    pub kind: u8,
    /// The flags (see [`flag`](super::flag)).
    pub flags: u8,
    /// Stream identifier with the reserved bit cleared (§4.1: "MUST be ignored").
    pub stream_id: u32,
}

impl FrameHeader {
    /// A header for a payload of `length` octets (kept to 24 bits).
    pub fn new(kind: u8, flags: u8, stream_id: u32, length: usize) -> Self {
        FrameHeader {
            length: u32::try_from(length).unwrap_or(u32::MAX) & 0x00ff_ffff,
            kind,
            flags,
            stream_id: stream_id & super::MAX_STREAM_ID,
        }
    }

    /// Parses a header from the start of `buf`; `None` if fewer than 9 bytes.
    pub fn parse(buf: &[u8]) -> Option<FrameHeader> {
        let b: &[u8; FRAME_HEADER_LEN] = buf.get(..FRAME_HEADER_LEN)?.try_into().ok()?;
        Some(FrameHeader {
            length: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream_id: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & super::MAX_STREAM_ID,
        })
    }

    /// Whether `flag` is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Appends the 9 octets to `buf`.
    pub fn encode<B: BufMut>(&self, buf: &mut B) {
        let len = self.length.to_be_bytes();
        buf.put_slice(&len[1..]);
        buf.put_u8(self.kind);
        buf.put_u8(self.flags);
        buf.put_u32(self.stream_id & super::MAX_STREAM_ID);
    }
}

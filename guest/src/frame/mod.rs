//! The HTTP/2 frame layer (RFC 9113 §4 and §6): one file per frame type, each
//! with its decoder (all length, flag and stream-identifier rules) and encoder.
//!
//! Decoding never panics: every length is checked before it is used, and a
//! malformed frame becomes the exact [`ProtocolError`] the RFC names.

mod altsvc;
mod continuation;
mod data;
mod goaway;
mod header;
mod headers;
mod origin;
pub(crate) mod padding;
mod ping;
mod priority;
mod priority_update;
mod push_promise;
mod rst_stream;
mod settings;
mod window_update;

pub(crate) use altsvc::AltSvc;
pub(crate) use continuation::Continuation;
pub(crate) use data::Data;
pub(crate) use goaway::GoAway;
pub use header::{FRAME_HEADER_LEN, FrameHeader};
pub(crate) use headers::{Headers, HeadersStart};
pub(crate) use origin::OriginFrame;
pub(crate) use ping::Ping;
pub(crate) use priority::Priority;
pub use priority::PrioritySpec;
pub(crate) use priority_update::PriorityUpdate;
pub(crate) use push_promise::PushPromise;
pub(crate) use rst_stream::RstStream;
pub(crate) use settings::{SettingsFrame, encode_settings_ack};
pub(crate) use window_update::WindowUpdate;

use crate::error::{ConnectionError, ProtocolError};
use bytes::Bytes;

/// Frame type codes (RFC 9113 §6, RFC 7838, RFC 8336, RFC 9218).
pub mod kind {
    /// DATA (§6.1).
    pub const DATA: u8 = 0x0;
    /// HEADERS (§6.2).
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY (§6.3).
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM (§6.4).
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS (§6.5).
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE (§6.6).
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING (§6.7).
    pub const PING: u8 = 0x6;
    /// GOAWAY (§6.8).
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE (§6.9).
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION (§6.10).
    pub const CONTINUATION: u8 = 0x9;
    /// ALTSVC (RFC 7838 §4).
    pub const ALTSVC: u8 = 0xa;
    /// ORIGIN (RFC 8336).
    pub const ORIGIN: u8 = 0xc;
    /// PRIORITY_UPDATE (RFC 9218 §7.1).
    pub const PRIORITY_UPDATE: u8 = 0x10;
}

/// Frame flags (RFC 9113 §6). END_STREAM and ACK share a bit.
pub mod flag {
    /// END_STREAM: the last frame of the stream (DATA, HEADERS).
    pub const END_STREAM: u8 = 0x1;
    /// ACK: an acknowledgement (SETTINGS, PING).
    pub const ACK: u8 = 0x1;
    /// END_HEADERS: the header block is whole.
    pub const END_HEADERS: u8 = 0x4;
    /// PADDED: the payload is padded.
    pub const PADDED: u8 = 0x8;
    /// PRIORITY: HEADERS carries a priority block.
    pub const PRIORITY: u8 = 0x20;
}

/// Largest value a 31-bit stream identifier or window increment can take.
pub(crate) const MAX_STREAM_ID: u32 = (1 << 31) - 1;

/// A decoded frame. Payloads are slices of the input buffer (no copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    Data(Data),
    Headers(Headers),
    Priority(Priority),
    RstStream(RstStream),
    Settings(SettingsFrame),
    PushPromise(PushPromise),
    Ping(Ping),
    GoAway(GoAway),
    WindowUpdate(WindowUpdate),
    Continuation(Continuation),
    AltSvc(AltSvc),
    Origin(OriginFrame),
    PriorityUpdate(PriorityUpdate),
    /// A frame type this implementation does not know: ignored (§5.5).
    Unknown {
        kind: u8,
        stream_id: u32,
    },
}

impl Frame {
    /// Decodes the payload of a frame whose header has already been read and
    /// whose length has been checked against our SETTINGS_MAX_FRAME_SIZE.
    pub(crate) fn decode(head: &FrameHeader, payload: Bytes) -> Result<Frame, ProtocolError> {
        debug_assert_eq!(payload.len(), head.length as usize);
        Ok(match head.kind {
            kind::DATA => Frame::Data(Data::decode(head, payload)?),
            kind::HEADERS => Frame::Headers(Headers::decode(head, payload)?),
            kind::PRIORITY => Frame::Priority(Priority::decode(head, &payload)?),
            kind::RST_STREAM => Frame::RstStream(RstStream::decode(head, &payload)?),
            kind::SETTINGS => Frame::Settings(SettingsFrame::decode(head, &payload)?),
            kind::PUSH_PROMISE => Frame::PushPromise(PushPromise::decode(head, payload)?),
            kind::PING => Frame::Ping(Ping::decode(head, &payload)?),
            kind::GOAWAY => Frame::GoAway(GoAway::decode(head, payload)?),
            kind::WINDOW_UPDATE => Frame::WindowUpdate(WindowUpdate::decode(head, &payload)?),
            kind::CONTINUATION => Frame::Continuation(Continuation::decode(head, payload)?),
            // Extension frames that break their rules are ignored, like
            // frames of unknown type.
            kind::ALTSVC => match AltSvc::decode(head, payload) {
                Some(f) => Frame::AltSvc(f),
                None => Frame::Unknown {
                    kind: head.kind,
                    stream_id: head.stream_id,
                },
            },
            kind::ORIGIN => match OriginFrame::decode(head, payload) {
                Some(f) => Frame::Origin(f),
                None => Frame::Unknown {
                    kind: head.kind,
                    stream_id: head.stream_id,
                },
            },
            kind::PRIORITY_UPDATE => Frame::PriorityUpdate(PriorityUpdate::decode(head, payload)?),
            other => Frame::Unknown {
                kind: other,
                stream_id: head.stream_id,
            },
        })
    }
}

/// Reads a big-endian u32 from the first four bytes, or `None` if too short.
pub(crate) fn read_u32(bytes: &[u8]) -> Option<u32> {
    let b: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// Frames that must be on stream 0 (SETTINGS, PING, GOAWAY).
pub(crate) fn require_connection_stream(
    head: &FrameHeader,
    reason: &'static str,
) -> Result<(), ConnectionError> {
    if head.stream_id == 0 {
        Ok(())
    } else {
        Err(ConnectionError::protocol(reason))
    }
}

/// Frames that must be on a stream (everything that is not connection-level).
pub(crate) fn require_stream(
    head: &FrameHeader,
    reason: &'static str,
) -> Result<(), ConnectionError> {
    if head.stream_id != 0 {
        Ok(())
    } else {
        Err(ConnectionError::protocol(reason))
    }
}

#[cfg(test)]
mod tests;

//! What a host reading or writing HTTP/2 octets itself needs, and nothing
//! more: the client preface, frame headers, frame types and flags, error
//! codes, and the octets a server sends to a connection it turns away
//! without an engine. Everything else about the protocol is the engine's,
//! spoken in commands and events.

pub use crate::connection::PREFACE;
pub use crate::error::ErrorCode;
pub use crate::frame::{FRAME_HEADER_LEN, FrameHeader, flag, kind};

use crate::frame::{GoAway, SettingsFrame};
use bytes::Bytes;

/// What a server sends, with no engine, to a connection it cannot serve:
/// its preface (an empty SETTINGS), then GOAWAY with last stream 0 and
/// `code`, `debug` as debug data. With REFUSED_STREAM, nothing was
/// processed, so every request may be retried (RFC 9113 §6.8, §8.7).
pub fn refusal(code: ErrorCode, debug: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * FRAME_HEADER_LEN + 8 + debug.len());
    SettingsFrame {
        ack: false,
        params: Vec::new(),
    }
    .encode(&mut out);
    GoAway {
        last_stream_id: 0,
        code,
        debug_data: Bytes::copy_from_slice(debug.as_bytes()),
    }
    .encode(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_settings_then_goaway_from_stream_zero() {
        let out = refusal(ErrorCode::REFUSED_STREAM, "busy");
        let settings = FrameHeader::parse(&out).unwrap();
        assert_eq!(
            (settings.kind, settings.length, settings.stream_id),
            (kind::SETTINGS, 0, 0)
        );
        let goaway = FrameHeader::parse(&out[FRAME_HEADER_LEN..]).unwrap();
        assert_eq!((goaway.kind, goaway.length), (kind::GOAWAY, 12));
        let payload = &out[2 * FRAME_HEADER_LEN..];
        assert_eq!(&payload[..4], &[0, 0, 0, 0]);
        assert_eq!(&payload[4..8], &ErrorCode::REFUSED_STREAM.0.to_be_bytes());
        assert_eq!(&payload[8..], b"busy");
    }
}

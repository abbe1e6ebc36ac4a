//! Padding (RFC 9113 §6.1, §6.2, §6.6): the Pad Length octet and trailing pad.

use crate::error::ConnectionError;
use crate::options::PaddingStrategy;
use bytes::Bytes;

/// The padding to add to a frame we send with `payload_len` octets, given
/// `room` octets it may still grow by (frame size, and for DATA flow
/// control). Returns the Pad Length value: the frame grows by that plus the
/// Pad Length octet itself. Node's strategies: `Aligned` makes the frame,
/// 9-octet header included, a multiple of 8 when room allows; `Max` adds
/// all it can, up to 255 pad octets.
pub(crate) fn choose(strategy: PaddingStrategy, payload_len: usize, room: usize) -> Option<u8> {
    let extra = match strategy {
        PaddingStrategy::None => 0,
        PaddingStrategy::Aligned => (8 - (9 + payload_len) % 8) % 8,
        PaddingStrategy::Max => 256,
    }
    .min(room);
    // `extra` is at most 256, so the Pad Length fits its octet.
    (extra > 0).then(|| (extra - 1) as u8)
}

/// Strips padding from a PADDED frame's payload. `payload` starts at the Pad
/// Length octet. Returns the unpadded remainder and the number of octets that
/// padding took (Pad Length field plus pad bytes).
pub(super) fn strip(payload: Bytes) -> Result<(Bytes, usize), ConnectionError> {
    strip_after(payload, 0)
}

/// [`strip`] for a frame with `fixed` octets of fields after the Pad Length
/// (HEADERS' priority, PUSH_PROMISE's promised id): too short for them is a
/// FRAME_SIZE_ERROR (§4.2), padding that reaches into them a PROTOCOL_ERROR
/// (§6.2, §6.6: it exceeds "the size remaining for the field block").
pub(super) fn strip_after(
    mut payload: Bytes,
    fixed: usize,
) -> Result<(Bytes, usize), ConnectionError> {
    let Some(&pad_len) = payload.first() else {
        return Err(ConnectionError::frame_size(
            "padded frame has no pad length",
        ));
    };
    if payload.len() < 1 + fixed {
        return Err(ConnectionError::frame_size("padded frame too short"));
    }
    let pad_len = usize::from(pad_len);
    // "If the length of the padding is the length of the frame payload or
    // greater, the recipient MUST treat this as a connection error of type
    // PROTOCOL_ERROR."
    if pad_len >= payload.len() || pad_len + 1 + fixed > payload.len() {
        return Err(ConnectionError::protocol("padding exceeds frame payload"));
    }
    let body_end = payload.len() - pad_len;
    payload.truncate(body_end);
    let body = payload.split_off(1);
    Ok((body, pad_len + 1))
}

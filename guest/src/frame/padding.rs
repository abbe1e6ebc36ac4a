//! Padding (RFC 9113 §6.1, §6.2, §6.6): the Pad Length octet and trailing pad.

use crate::error::ConnectionError;
use bytes::Bytes;

/// Strips padding from a PADDED frame's payload. `payload` starts at the Pad
/// Length octet. Returns the unpadded remainder and the number of octets that
/// padding took (Pad Length field plus pad bytes).
pub(super) fn strip(mut payload: Bytes) -> Result<(Bytes, usize), ConnectionError> {
    let Some(&pad_len) = payload.first() else {
        return Err(ConnectionError::frame_size(
            "padded frame has no pad length",
        ));
    };
    let pad_len = usize::from(pad_len);
    // "If the length of the padding is the length of the frame payload or
    // greater, the recipient MUST treat this as a connection error of type
    // PROTOCOL_ERROR."
    if pad_len >= payload.len() {
        return Err(ConnectionError::protocol("padding exceeds frame payload"));
    }
    let body_end = payload.len() - pad_len;
    payload.truncate(body_end);
    let body = payload.split_off(1);
    Ok((body, pad_len + 1))
}

//! Conversions between host header pairs and WIT header fields.

use crate::app::Header;
use crate::bindings::HeaderField;

pub fn to_fields(headers: &[Header]) -> Vec<HeaderField> {
    headers
        .iter()
        .map(|(n, v)| HeaderField {
            name: n.clone(),
            value: v.clone(),
            sensitive: false,
        })
        .collect()
}

pub fn from_fields(fields: Vec<HeaderField>) -> Vec<Header> {
    fields.into_iter().map(|f| (f.name, f.value)).collect()
}

pub fn find<'a>(headers: &'a [Header], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
}

/// Formats an error code with its RFC name where it has one.
pub fn code_name(code: u32) -> String {
    const NAMES: [&str; 14] = [
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("{code:#x}"), |n| n.to_string())
}

//! Conversions between host header pairs and WIT header fields.

/// A header as the client handles it: lower-case name, raw value.
pub type Header = (String, Vec<u8>);

/// Builds a header list from `(":method", "GET")` style pairs.
pub fn headers<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<Header> {
    pairs
        .into_iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect()
}
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
    let code = h2wasm_engine::ErrorCode(code);
    code.name()
        .map_or_else(|| format!("{:#x}", code.0), str::to_string)
}

/// The numeric `:status` of a header list (0 if absent or malformed).
pub fn status_of(headers: &[Header]) -> u16 {
    find(headers, ":status")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

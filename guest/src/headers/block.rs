//! A header list laid out as one buffer and a span per field: how the
//! component hands received headers to a host that asks for it
//! (`options.header-blocks`). Lifting two lists across the component
//! boundary costs far less than lifting a string and a list per field,
//! and the host can keep the buffer and slice its values out of it.

use super::HeaderField;

/// Where one field sits in a block's buffer: its name, then its value,
/// right after the previous field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpan {
    pub name_len: u32,
    pub value_len: u32,
    pub sensitive: bool,
}

/// `fields` back to back in one buffer, with their spans.
pub fn flatten(fields: &[HeaderField]) -> (Vec<u8>, Vec<FieldSpan>) {
    let total = fields.iter().map(|f| f.name.len() + f.value.len()).sum();
    let mut octets = Vec::with_capacity(total);
    let spans = fields
        .iter()
        .map(|f| {
            octets.extend_from_slice(&f.name);
            octets.extend_from_slice(&f.value);
            FieldSpan {
                // A received block is bounded by the header list size
                // (far below 4 GiB), so these never saturate.
                name_len: u32::try_from(f.name.len()).unwrap_or(u32::MAX),
                value_len: u32::try_from(f.value.len()).unwrap_or(u32::MAX),
                sensitive: f.sensitive,
            }
        })
        .collect();
    (octets, spans)
}

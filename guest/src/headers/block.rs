//! A header list laid out as one buffer and a span per field: how the
//! component hands received headers to a host that asks for it
//! (`options.header-blocks`). Lifting two lists across the component
//! boundary costs far less than lifting a string and a list per field,
//! and the host can keep the buffer and slice its values out of it.

use super::{HeaderField, HeaderList};

/// Where one field sits in a block's buffer: its name, then its value,
/// right after the previous field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FieldSpan {
    pub name_len: u32,
    pub value_len: u32,
    pub sensitive: bool,
}

/// `fields` back to back in one buffer, with their spans.
pub(crate) fn flatten(fields: &[HeaderField]) -> (Vec<u8>, Vec<FieldSpan>) {
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

/// A request's fields as a `header-block` event carries them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RequestBlock {
    /// The same fields, in the same order, as the previous request's.
    Repeated,
    Fresh(Vec<u8>, Vec<FieldSpan>),
}

/// Flattens request lists, and tells a list that repeats the previous
/// one apart without flattening it: clients that send the same request
/// again and again (load generators, polling and RPC clients) then cost
/// the host no lifting or parsing of their headers.
#[derive(Debug, Default)]
pub(crate) struct RequestMemory {
    /// The previous request's list, if it was small enough to keep.
    last: HeaderList,
}

/// Lists with more octets than this are not kept (nor compared): the
/// bound on what a connection holds for this, with the HPACK decoder's
/// own cache of repeated blocks (which is as large).
pub(super) const REMEMBERED_OCTETS_MAX: usize = 512;

impl RequestMemory {
    pub(crate) fn block(&mut self, fields: HeaderList) -> RequestBlock {
        if !self.last.is_empty() && (self.last.same(&fields) || self.last == fields) {
            // Kept instead of the equal list before it: the next repeat
            // is likelier to be this very list (the decoder's).
            self.last = fields;
            return RequestBlock::Repeated;
        }
        let (octets, spans) = flatten(&fields);
        self.last = if octets.len() <= REMEMBERED_OCTETS_MAX {
            fields
        } else {
            HeaderList::default()
        };
        RequestBlock::Fresh(octets, spans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &'static str) -> Vec<HeaderField> {
        vec![
            HeaderField::new(":method", "GET"),
            HeaderField::new(":scheme", "http"),
            HeaderField::new(":path", path),
            HeaderField::new("accept", "*/*"),
        ]
    }

    fn fresh(fields: &[HeaderField]) -> RequestBlock {
        let (octets, spans) = flatten(fields);
        RequestBlock::Fresh(octets, spans)
    }

    #[test]
    fn a_list_equal_to_the_previous_one_is_repeated() {
        let mut m = RequestMemory::default();
        assert_eq!(m.block(request("/a").into()), fresh(&request("/a")));
        assert_eq!(m.block(request("/a").into()), RequestBlock::Repeated);
        assert_eq!(m.block(request("/a").into()), RequestBlock::Repeated);
        // Compared with the previous list only, not with any earlier one.
        assert_eq!(m.block(request("/b").into()), fresh(&request("/b")));
        assert_eq!(m.block(request("/a").into()), fresh(&request("/a")));
    }

    #[test]
    fn order_and_never_indexed_count() {
        let mut m = RequestMemory::default();
        let list = request("/");
        m.block(list.clone().into());
        let mut reordered = list.clone();
        reordered.swap(2, 3);
        assert_eq!(m.block(reordered.clone().into()), fresh(&reordered));
        let mut sensitive = reordered.clone();
        sensitive[3].sensitive = true;
        assert_eq!(m.block(sensitive.clone().into()), fresh(&sensitive));
        let mut shorter = sensitive.clone();
        shorter.pop();
        assert_eq!(m.block(shorter.clone().into()), fresh(&shorter));
    }

    #[test]
    fn a_large_list_is_not_kept() {
        let mut m = RequestMemory::default();
        let mut big = request("/");
        big.push(HeaderField::new(
            "cookie",
            "x".repeat(REMEMBERED_OCTETS_MAX),
        ));
        assert_eq!(m.block(big.clone().into()), fresh(&big));
        assert_eq!(m.block(big.clone().into()), fresh(&big));
        // A list of exactly the bound is kept.
        let mut at_bound = request("/");
        let used: usize = at_bound.iter().map(|f| f.name.len() + f.value.len()).sum();
        at_bound.push(HeaderField::new(
            "x",
            "y".repeat(REMEMBERED_OCTETS_MAX - used - 1),
        ));
        m.block(at_bound.clone().into());
        assert_eq!(m.block(at_bound.into()), RequestBlock::Repeated);
    }
}

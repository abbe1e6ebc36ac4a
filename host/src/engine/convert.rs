//! Conversions between the host's headers (`http::HeaderMap`s and the
//! client's pairs) and WIT header fields, and the reading of received
//! header blocks: what every driver of a connection uses.

use crate::bindings::{FieldSpan, HeaderBlock, HeaderField};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

/// A header as the client handles it: lower-case name, raw value.
pub type Header = (String, Vec<u8>);

pub(crate) fn from_fields(fields: Vec<HeaderField>) -> Vec<Header> {
    fields.into_iter().map(|f| (f.name, f.value)).collect()
}

/// The fields of a received header block, in order: name, value and
/// whether it was sent never-indexed. Names and values are slices of the
/// block's one buffer (no copy each). A span past the buffer (the engine
/// never sends one) ends the list.
pub(crate) fn block_fields(block: HeaderBlock) -> impl Iterator<Item = (Bytes, Bytes, bool)> {
    let octets = Bytes::from(block.octets);
    let mut at = 0usize;
    block
        .fields
        .into_iter()
        .map_while(move |span| field_at(&octets, &mut at, &span))
}

/// As [`block_fields`], for a block kept as shared octets and its spans.
pub(crate) fn shared_block_fields<'a>(
    octets: &'a Bytes,
    spans: &'a [FieldSpan],
) -> impl Iterator<Item = (Bytes, Bytes, bool)> + 'a {
    let mut at = 0usize;
    spans
        .iter()
        .map_while(move |span| field_at(octets, &mut at, span))
}

/// The field `span` describes, starting at `at` (moved past it).
fn field_at(octets: &Bytes, at: &mut usize, span: &FieldSpan) -> Option<(Bytes, Bytes, bool)> {
    let name_end = at.checked_add(span.name_len as usize)?;
    let end = name_end.checked_add(span.value_len as usize)?;
    if end > octets.len() {
        return None;
    }
    let field = (
        octets.slice(*at..name_end),
        octets.slice(name_end..end),
        span.sensitive,
    );
    *at = end;
    Some(field)
}

pub(crate) fn find<'a>(headers: &'a [Header], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
}

/// RFC 9113 error codes as the WIT functions take them (the engine's
/// [`h2wasm_engine::ErrorCode`]s, as numbers).
pub(crate) mod codes {
    use h2wasm_engine::ErrorCode;
    pub(crate) const PROTOCOL_ERROR: u32 = ErrorCode::PROTOCOL_ERROR.0;
    pub(crate) const INTERNAL_ERROR: u32 = ErrorCode::INTERNAL_ERROR.0;
    pub(crate) const REFUSED_STREAM: u32 = ErrorCode::REFUSED_STREAM.0;
    pub(crate) const CANCEL: u32 = ErrorCode::CANCEL.0;
}

/// Formats an error code with its RFC name where it has one.
pub(crate) fn code_name(code: u32) -> String {
    let code = h2wasm_engine::ErrorCode(code);
    code.name()
        .map_or_else(|| format!("{:#x}", code.0), str::to_string)
}

/// One WIT header field.
pub(crate) fn field(name: &str, value: &[u8], sensitive: bool) -> HeaderField {
    HeaderField {
        name: name.to_string(),
        value: value.to_vec(),
        sensitive,
    }
}

/// Header fields, with `HeaderValue::is_sensitive` as never-indexed.
pub(crate) fn header_fields(headers: &HeaderMap) -> Vec<HeaderField> {
    headers
        .iter()
        .map(|(n, v)| field(n.as_str(), v.as_bytes(), v.is_sensitive()))
        .collect()
}

/// `:status` and the headers of a response.
pub(crate) fn response_fields<B>(response: &Response<B>) -> Vec<HeaderField> {
    status_and_fields(response.status(), response.headers())
}

/// `response_fields` for a response taken apart.
pub(crate) fn parts_fields(parts: &http::response::Parts) -> Vec<HeaderField> {
    status_and_fields(parts.status, &parts.headers)
}

/// A response's `:status` and fields, without HTTP/1.1's connection-specific
/// ones, which HTTP/2 forbids (RFC 9113 §8.2.2: the engine would refuse
/// the whole response) and a service written for HTTP/1.1 may well set:
/// they are left out, as hyper's HTTP/2 server does, and said once at warn.
fn status_and_fields(status: http::StatusCode, headers: &HeaderMap) -> Vec<HeaderField> {
    let mut fields = Vec::with_capacity(headers.len() + 1);
    fields.push(field(":status", status.as_str().as_bytes(), false));
    for (n, v) in headers {
        if is_connection_specific(n) {
            static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(
                    "a response carried `{n}`, which HTTP/2 forbids (RFC 9113 §8.2.2): left out \
                     (said once; later ones at debug)"
                );
            } else {
                tracing::debug!("left out `{n}` from an HTTP/2 response");
            }
            continue;
        }
        fields.push(field(n.as_str(), v.as_bytes(), v.is_sensitive()));
    }
    fields
}

/// HTTP/1.1's connection-specific fields (and `te`, which a response has
/// no use for).
fn is_connection_specific(name: &http::HeaderName) -> bool {
    use http::header::{CONNECTION, TE, TRANSFER_ENCODING, UPGRADE};
    name == CONNECTION
        || name == TRANSFER_ENCODING
        || name == UPGRADE
        || name == TE
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

/// A received header block as a map (sensitive fields marked so), without
/// its pseudo-header fields.
pub(crate) fn header_map(block: HeaderBlock) -> HeaderMap {
    response_head(block).1
}

/// A received response's `:status` (if valid) and its other fields as a
/// map, as [`header_map`].
pub(crate) fn response_head(block: HeaderBlock) -> (Option<StatusCode>, HeaderMap) {
    let mut map = HeaderMap::with_capacity(block.fields.len());
    let mut status = None;
    for (name, value, sensitive) in block_fields(block) {
        if &name[..] == b":status" {
            status = StatusCode::from_bytes(&value).ok();
        } else if let (Ok(name), Ok(mut value)) = (
            HeaderName::from_bytes(&name),
            HeaderValue::from_maybe_shared(value),
        ) {
            value.set_sensitive(sensitive);
            map.append(name, value);
        }
    }
    (status, map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::FieldSpan;

    fn span(name_len: u32, value_len: u32, sensitive: bool) -> FieldSpan {
        FieldSpan {
            name_len,
            value_len,
            sensitive,
        }
    }

    #[test]
    fn a_block_reads_back_as_its_fields() {
        let block = HeaderBlock {
            octets: b":status200x-emptycookiea=b".to_vec(),
            fields: vec![span(7, 3, false), span(7, 0, false), span(6, 3, true)],
        };
        let fields: Vec<_> = block_fields(block).collect();
        assert_eq!(
            fields,
            [
                (Bytes::from(":status"), Bytes::from("200"), false),
                (Bytes::from("x-empty"), Bytes::new(), false),
                (Bytes::from("cookie"), Bytes::from("a=b"), true),
            ]
        );
    }

    #[test]
    fn spans_past_the_buffer_end_the_list_without_a_panic() {
        let block = HeaderBlock {
            octets: b"ab".to_vec(),
            fields: vec![
                span(1, 1, false),
                span(1, 0, false),
                span(u32::MAX, u32::MAX, false),
            ],
        };
        assert_eq!(block_fields(block).count(), 1);
    }
}

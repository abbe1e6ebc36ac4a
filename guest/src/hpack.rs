//! HPACK (RFC 7541): decoding through the `hpack` crate, with our own
//! Huffman pass in front and header-list limits enforced while decoding;
//! encoding with our own table (see `encoder`); dynamic-table sizes bound
//! by SETTINGS, the size-update signal, and never-indexed fields.

mod encoder;
mod huffman;
mod static_table;

use crate::headers::HeaderField;
use bytes::{Bytes, BytesMut};
use encoder::DynamicEncoder;

/// Encodes our header blocks. Its dynamic table follows the peer's
/// SETTINGS_HEADER_TABLE_SIZE, capped by `maxDeflateDynamicTableSize`.
pub struct HeaderEncoder {
    table: DynamicEncoder,
    cap: u32,
    table_size: u32,
    /// Size updates owed at the start of the next block (§4.2): the smallest
    /// size the table passed through, then the final size.
    pending_update: Option<(u32, u32)>,
}

impl HeaderEncoder {
    pub fn new(max_deflate_table_size: u32) -> Self {
        let mut enc = HeaderEncoder {
            table: DynamicEncoder::new(4096),
            cap: max_deflate_table_size,
            table_size: 4096,
            pending_update: None,
        };
        // The peer's decoder starts at 4096; announce anything smaller.
        enc.set_peer_table_size(4096);
        enc
    }

    /// The maximum size of our dynamic table.
    pub fn table_size(&self) -> u32 {
        self.table_size
    }

    /// Octets our dynamic table holds now.
    pub fn table_fill(&self) -> u32 {
        u32::try_from(self.table.size()).unwrap_or(u32::MAX)
    }

    /// Called when the peer's SETTINGS_HEADER_TABLE_SIZE takes effect.
    pub fn set_peer_table_size(&mut self, peer: u32) {
        let size = peer.min(self.cap);
        if size == self.table_size && self.pending_update.is_none() {
            return;
        }
        let min = self.pending_update.map_or(size, |(m, _)| m.min(size));
        self.pending_update = Some((min.min(self.table_size), size));
        self.table_size = size;
        self.table.set_max_size(size as usize);
    }

    /// Appends the encoded block for `fields` to `out`.
    pub fn encode(&mut self, fields: &[HeaderField], out: &mut Vec<u8>) {
        if let Some((min, last)) = self.pending_update.take() {
            if min != last {
                encoder::integer(min as usize, 5, 0x20, out);
            }
            encoder::integer(last as usize, 5, 0x20, out);
        }
        for f in fields {
            self.table.encode_field(&f.name, &f.value, f.sensitive, out);
        }
    }
}

/// Limits applied while decoding one block.
#[derive(Clone, Copy, Debug)]
pub struct DecodeLimits {
    /// SETTINGS_MAX_HEADER_LIST_SIZE we advertised (RFC 9113 §6.5.2 units).
    pub max_list_size: usize,
    /// Node's `maxHeaderListPairs`.
    pub max_pairs: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The block is not valid HPACK: COMPRESSION_ERROR for the connection.
    Compression,
    /// The block decoded, but exceeds our limits: the stream is refused; the
    /// decoder state stays in sync so the connection goes on.
    TooLarge,
}

/// Decodes peer header blocks with a dynamic table bound by our own
/// SETTINGS_HEADER_TABLE_SIZE.
pub struct HeaderDecoder {
    inner: hpack::Decoder<'static>,
    scratch: BytesMut,
    /// The block with its Huffman strings decoded (see `dehuffman`).
    plain: Vec<u8>,
    /// One decoded string on its way into `plain`.
    string: Vec<u8>,
}

impl HeaderDecoder {
    pub fn new(max_table_size: u32) -> Self {
        let mut inner = hpack::Decoder::new();
        inner.set_max_allowed_table_size(max_table_size as usize);
        HeaderDecoder {
            inner,
            scratch: BytesMut::new(),
            plain: Vec::new(),
            string: Vec::new(),
        }
    }

    /// The largest dynamic-table size update the peer may signal.
    pub fn set_max_allowed_table_size(&mut self, size: u32) {
        self.inner.set_max_allowed_table_size(size as usize);
    }

    /// Decodes a complete block. All names and values share one buffer, so a
    /// block costs two allocations however many fields it has.
    pub fn decode(
        &mut self,
        block: &[u8],
        limits: DecodeLimits,
    ) -> Result<Vec<HeaderField>, DecodeError> {
        let mut plain = std::mem::take(&mut self.plain);
        plain.clear();
        let rewritten = match dehuffman(block, &mut plain, &mut self.string) {
            Some(true) => true,
            Some(false) => false,
            None => return Err(DecodeError::Compression),
        };
        let result = self.decode_plain(if rewritten { &plain } else { block }, limits);
        self.plain = plain;
        result
    }

    fn decode_plain(
        &mut self,
        block: &[u8],
        limits: DecodeLimits,
    ) -> Result<Vec<HeaderField>, DecodeError> {
        let mut spans: Vec<(usize, usize, usize)> = Vec::new();
        let mut list_size = 0usize;
        let mut too_large = false;
        let scratch = &mut self.scratch;
        scratch.clear();
        let result = self.inner.decode_with_cb(block, |name, value| {
            // Keep decoding past a limit (the table must stay in sync) but
            // stop storing: a small block can expand enormously (HPACK bomb).
            list_size = list_size.saturating_add(name.len() + value.len() + 32);
            if too_large || list_size > limits.max_list_size || spans.len() >= limits.max_pairs {
                too_large = true;
                return;
            }
            let start = scratch.len();
            scratch.extend_from_slice(&name);
            scratch.extend_from_slice(&value);
            spans.push((start, name.len(), value.len()));
        });
        if result.is_err() {
            return Err(DecodeError::Compression);
        }
        if too_large {
            return Err(DecodeError::TooLarge);
        }
        let all: Bytes = scratch.split().freeze();
        let mut never_indexed = never_indexed_flags(block).into_iter().flatten();
        Ok(spans
            .into_iter()
            .map(|(start, n, v)| HeaderField {
                name: all.slice(start..start + n),
                value: all.slice(start + n..start + n + v),
                sensitive: never_indexed.next().unwrap_or(false),
            })
            .collect())
    }
}

/// Which fields of a (valid) block use the never-indexed representation
/// (RFC 7541 §6.2.3), in field order. The `hpack` crate does not report it,
/// so the block's representations are walked here: integers and string
/// lengths only, nothing is decoded. `None` if the walk fails.
fn never_indexed_flags(block: &[u8]) -> Option<Vec<bool>> {
    let mut flags = Vec::new();
    let mut pos = 0;
    while let Some(&first) = block.get(pos) {
        if first & 0x80 != 0 {
            // Indexed field.
            pos = skip_integer(block, pos, 7)?;
            flags.push(false);
        } else if first & 0xe0 == 0x20 {
            // Dynamic table size update: not a field.
            pos = skip_integer(block, pos, 5)?;
        } else {
            let (prefix, never) = if first & 0x40 != 0 {
                (6, false)
            } else {
                (4, first & 0xf0 == 0x10)
            };
            let name_index_zero = first & ((1u8 << prefix) - 1) == 0;
            pos = skip_integer(block, pos, prefix)?;
            if name_index_zero {
                pos = skip_string(block, pos)?;
            }
            pos = skip_string(block, pos)?;
            flags.push(never);
        }
    }
    Some(flags)
}

/// Rewrites `block` into `out` with every Huffman-coded string replaced by
/// its raw literal, representations otherwise unchanged: the `hpack`
/// crate's own Huffman decoder rebuilds hash tables for every string and
/// walks them bit by bit. Returns
/// `Some(false)` (and leaves `out` unused) when the block has no Huffman
/// strings, `None` when it is malformed.
fn dehuffman(block: &[u8], out: &mut Vec<u8>, scratch: &mut Vec<u8>) -> Option<bool> {
    let mut pos = 0;
    let mut any = false;
    while let Some(&first) = block.get(pos) {
        let (prefix, has_strings) = if first & 0x80 != 0 {
            (7, false)
        } else if first & 0xe0 == 0x20 {
            (5, false)
        } else if first & 0x40 != 0 {
            (6, true)
        } else {
            (4, true)
        };
        let next = skip_integer(block, pos, prefix)?;
        out.extend_from_slice(block.get(pos..next)?);
        pos = next;
        if !has_strings {
            continue;
        }
        let name_index_zero = first & ((1u8 << prefix) - 1) == 0;
        for _ in 0..(1 + usize::from(name_index_zero)) {
            let h = block.get(pos)? & 0x80 != 0;
            let (len, start) = read_integer(block, pos, 7)?;
            let end = start.checked_add(len)?;
            let data = block.get(start..end)?;
            if h {
                any = true;
                scratch.clear();
                huffman::decode(data, scratch)?;
                encoder::integer(scratch.len(), 7, 0, out);
                out.extend_from_slice(scratch);
            } else {
                out.extend_from_slice(block.get(pos..end)?);
            }
            pos = end;
        }
    }
    Some(any)
}

/// Reads an HPACK integer with an N-bit prefix starting at `pos`.
fn read_integer(block: &[u8], pos: usize, prefix: u8) -> Option<(usize, usize)> {
    let mask = (1u16 << prefix) - 1;
    let first = u16::from(*block.get(pos)?) & mask;
    if first < mask {
        return Some((usize::from(first), pos + 1));
    }
    let mut value = usize::from(first);
    let mut shift = 0u32;
    let mut i = pos + 1;
    loop {
        let b = *block.get(i)?;
        i += 1;
        value = value.checked_add(usize::from(b & 0x7f).checked_shl(shift)?)?;
        if b & 0x80 == 0 {
            return Some((value, i));
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
}

fn skip_integer(block: &[u8], pos: usize, prefix: u8) -> Option<usize> {
    read_integer(block, pos, prefix).map(|(_, next)| next)
}

fn skip_string(block: &[u8], pos: usize) -> Option<usize> {
    let (len, start) = read_integer(block, pos, 7)?;
    let end = start.checked_add(len)?;
    (end <= block.len()).then_some(end)
}

#[cfg(test)]
mod tests;

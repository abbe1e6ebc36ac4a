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
use std::collections::HashMap;

/// Encodes our header blocks. Its dynamic table follows the peer's
/// SETTINGS_HEADER_TABLE_SIZE, capped by `maxDeflateDynamicTableSize`.
pub struct HeaderEncoder {
    table: DynamicEncoder,
    cap: u32,
    table_size: u32,
    /// Size updates owed at the start of the next block (§4.2): the smallest
    /// size the table passed through, then the final size.
    pending_update: Option<(u32, u32)>,
    /// Encoded blocks of prepared header lists by id, all encoded at table
    /// generation `cached_at`: valid until the table changes.
    cached: HashMap<u64, Vec<u8>>,
    cached_at: (u64, u64),
}

/// Bounds on the prepared-block cache: a few dozen hot responses, each a
/// small block, so it stays a few KiB per connection.
const CACHED_BLOCKS: usize = 64;
const CACHED_BLOCK_MAX: usize = 1024;

impl HeaderEncoder {
    pub fn new(max_deflate_table_size: u32) -> Self {
        let mut enc = HeaderEncoder {
            table: DynamicEncoder::new(4096),
            cap: max_deflate_table_size,
            table_size: 4096,
            pending_update: None,
            cached: HashMap::new(),
            cached_at: (0, 0),
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

    /// `encode` for a prepared list known by `key` (unique per list): while
    /// the dynamic table is unchanged since it was last encoded — the usual
    /// case once a repeated response is fully indexed — its octets are
    /// copied instead of encoded again.
    pub fn encode_prepared(&mut self, key: u64, fields: &[HeaderField], out: &mut Vec<u8>) {
        let generation = self.table.generation();
        let settled = self.pending_update.is_none();
        if settled {
            if self.cached_at != generation {
                self.cached.clear();
                self.cached_at = generation;
            }
            if let Some(block) = self.cached.get(&key) {
                out.extend_from_slice(block);
                return;
            }
        }
        let start = out.len();
        self.encode(fields, out);
        let unchanged = settled && self.table.generation() == generation;
        if let Some(block) = out.get(start..)
            && unchanged
            && block.len() <= CACHED_BLOCK_MAX
            && self.cached.len() < CACHED_BLOCKS
        {
            self.cached.insert(key, block.to_vec());
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
    /// Per field: never-indexed (reused across blocks).
    flags: Vec<bool>,
    /// Per field: offsets into the shared buffer (reused across blocks).
    spans: Vec<(usize, usize, usize)>,
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
            flags: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// The largest dynamic-table size update the peer may signal.
    pub fn set_max_allowed_table_size(&mut self, size: u32) {
        self.inner.set_max_allowed_table_size(size as usize);
    }

    /// Decodes a complete block. Names and values of many blocks share one
    /// buffer, so a block usually costs one allocation (its field list).
    pub fn decode(
        &mut self,
        block: &[u8],
        limits: DecodeLimits,
    ) -> Result<Vec<HeaderField>, DecodeError> {
        let mut plain = std::mem::take(&mut self.plain);
        let mut flags = std::mem::take(&mut self.flags);
        plain.clear();
        flags.clear();
        let result = match prepare(block, &mut plain, &mut self.string, &mut flags) {
            None => Err(DecodeError::Compression),
            Some(p) => {
                let input = if p.huffman { &plain[..] } else { block };
                let never = p.never_indexed.then_some(&flags[..]);
                self.decode_plain(input, limits, never)
            }
        };
        self.plain = plain;
        self.flags = flags;
        result
    }

    fn decode_plain(
        &mut self,
        block: &[u8],
        limits: DecodeLimits,
        never_indexed: Option<&[bool]>,
    ) -> Result<Vec<HeaderField>, DecodeError> {
        let mut spans = std::mem::take(&mut self.spans);
        spans.clear();
        let mut list_size = 0usize;
        let mut too_large = false;
        let scratch = &mut self.scratch;
        // Blocks are carved from one shared allocation (`split` below keeps
        // the spare capacity), refilled when it runs low.
        if scratch.capacity() < block.len().saturating_mul(2).max(1024) {
            scratch.reserve(SHARED_BUFFER.max(block.len() * 4));
        }
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
        let fields = if result.is_err() {
            scratch.clear();
            Err(DecodeError::Compression)
        } else if too_large {
            scratch.clear();
            Err(DecodeError::TooLarge)
        } else {
            let all: Bytes = scratch.split().freeze();
            Ok(spans
                .iter()
                .enumerate()
                .map(|(i, &(start, n, v))| HeaderField {
                    name: all.slice(start..start + n),
                    value: all.slice(start + n..start + n + v),
                    sensitive: never_indexed
                        .and_then(|f| f.get(i).copied())
                        .unwrap_or(false),
                })
                .collect())
        };
        self.spans = spans;
        fields
    }
}

/// Shared decode buffer size: room for the fields of many typical blocks.
const SHARED_BUFFER: usize = 16 * 1024;

/// What a walk over a block found.
struct Prepared {
    /// Some string was Huffman-coded: decode the rewritten block.
    huffman: bool,
    /// Some field used the never-indexed representation.
    never_indexed: bool,
}

/// One walk over a block's representations (integers and string lengths)
/// that (1) rewrites it into `out` with Huffman strings decoded, since the
/// `hpack` crate's own Huffman decoder rebuilds hash tables for every
/// string and walks them bit by bit, and (2) records which fields use the
/// never-indexed representation (RFC 7541 §6.2.3), which the crate does
/// not report. `None` when the block is malformed.
fn prepare(
    block: &[u8],
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    never: &mut Vec<bool>,
) -> Option<Prepared> {
    let mut found = Prepared {
        huffman: false,
        never_indexed: false,
    };
    let mut pos = 0;
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
        // Size updates are not fields; every other representation is one.
        if first & 0xe0 != 0x20 {
            let is_never = first & 0xf0 == 0x10;
            found.never_indexed |= is_never;
            never.push(is_never);
        }
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
                found.huffman = true;
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
    Some(found)
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

#[cfg(test)]
mod tests;

//! HPACK (RFC 7541): decoding through the `hpack` crate, with our own
//! Huffman pass in front and header-list limits enforced while decoding;
//! encoding with our own table (see `encoder`); dynamic-table sizes bound
//! by SETTINGS, the size-update signal, and never-indexed fields.

mod encoder;
mod huffman;
mod static_table;

use crate::headers::{HeaderField, HeaderList};
use crate::id_map::IdHasher;
use crate::snapshot::{Corrupt, Reader, Writer};
use bytes::{Bytes, BytesMut};
use encoder::DynamicEncoder;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

/// Prepared blocks by the engine's own list ids (a process counter, not
/// the peer's choice): a multiplicative hash is enough, and SipHash is slow
/// in wasm.
type IdMap64<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Encodes our header blocks. Its dynamic table follows the peer's
/// SETTINGS_HEADER_TABLE_SIZE, capped by `maxDeflateDynamicTableSize`.
pub(crate) struct HeaderEncoder {
    table: DynamicEncoder,
    cap: u32,
    table_size: u32,
    /// Size updates owed at the start of the next block (§4.2): the smallest
    /// size the table passed through, then the final size.
    pending_update: Option<(u32, u32)>,
    /// Encoded blocks of prepared header lists by id, all encoded at table
    /// generation `cached_at`: valid until the table changes.
    cached: IdMap64<Vec<u8>>,
    cached_at: (u64, u64),
}

/// Bounds on the prepared-block cache: a few dozen hot responses, each a
/// small block, so it stays a few KiB per connection.
const CACHED_BLOCKS: usize = 64;
const CACHED_BLOCK_MAX: usize = 1024;

impl HeaderEncoder {
    pub(crate) fn new(max_deflate_table_size: u32) -> Self {
        let mut enc = HeaderEncoder {
            table: DynamicEncoder::new(4096),
            cap: max_deflate_table_size,
            table_size: 4096,
            pending_update: None,
            cached: IdMap64::default(),
            cached_at: (0, 0),
        };
        // The peer's decoder starts at 4096; announce anything smaller.
        enc.set_peer_table_size(4096);
        enc
    }

    /// The maximum size of our dynamic table.
    #[cfg(test)]
    pub(crate) fn table_size(&self) -> u32 {
        self.table_size
    }

    /// Octets our dynamic table holds now.
    pub(crate) fn table_fill(&self) -> u32 {
        u32::try_from(self.table.size()).unwrap_or(u32::MAX)
    }

    /// Called when the peer's SETTINGS_HEADER_TABLE_SIZE takes effect.
    pub(crate) fn set_peer_table_size(&mut self, peer: u32) {
        let size = peer.min(self.cap);
        if size == self.table_size && self.pending_update.is_none() {
            return;
        }
        // The smallest size set since the last block, if below the final
        // one, is signalled first (§4.2); the size in force before the
        // changes is not one of them.
        let min = self.pending_update.map_or(size, |(m, _)| m.min(size));
        self.pending_update = Some((min, size));
        self.table_size = size;
        self.table.set_max_size(size as usize);
    }

    /// Appends the encoded block for `fields` to `out`.
    pub(crate) fn encode(&mut self, fields: &[HeaderField], out: &mut Vec<u8>) {
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

    /// The encoded block for a prepared list known by `key` (unique per
    /// list): while the dynamic table is unchanged since it was last
    /// encoded — the usual case once a repeated response is fully indexed
    /// — the cached octets themselves, else encoded into `scratch` (and
    /// cached when they can be).
    pub(crate) fn encode_prepared<'a>(
        &'a mut self,
        key: u64,
        fields: &[HeaderField],
        scratch: &'a mut Vec<u8>,
    ) -> &'a [u8] {
        let generation = self.table.generation();
        let settled = self.pending_update.is_none();
        if settled {
            if self.cached_at != generation {
                self.cached.clear();
                self.cached_at = generation;
            }
            if self.cached.contains_key(&key) {
                return &self.cached[&key];
            }
        }
        self.encode(fields, scratch);
        let unchanged = settled && self.table.generation() == generation;
        if unchanged && scratch.len() <= CACHED_BLOCK_MAX && self.cached.len() < CACHED_BLOCKS {
            self.cached.insert(key, scratch.clone());
        }
        scratch
    }
}

impl HeaderEncoder {
    /// The state a hibernated connection needs: sizes, the update owed and
    /// the table (the prepared-block cache is not kept).
    pub(crate) fn write(&self, w: &mut Writer) {
        w.u32(self.cap);
        w.u32(self.table_size);
        w.bool(self.pending_update.is_some());
        let (min, last) = self.pending_update.unwrap_or((0, 0));
        w.u32(min);
        w.u32(last);
        let entries: Vec<(&[u8], &[u8])> = self.table.entries_oldest_first().collect();
        w.len(entries.len());
        for (name, value) in entries {
            w.bytes(name);
            w.bytes(value);
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let cap = r.u32()?;
        let table_size = r.u32()?;
        let pending = r.bool()?;
        let (min, last) = (r.u32()?, r.u32()?);
        if table_size > cap.max(4096) {
            return Err(Corrupt);
        }
        let mut enc = HeaderEncoder {
            table: DynamicEncoder::new(table_size as usize),
            cap,
            table_size,
            pending_update: pending.then_some((min, last)),
            cached: IdMap64::default(),
            cached_at: (0, 0),
        };
        for _ in 0..r.len(8)? {
            let (name, value) = (r.bytes()?, r.bytes()?);
            enc.table.restore(name, value);
        }
        Ok(enc)
    }
}

/// Limits applied while decoding one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DecodeLimits {
    /// SETTINGS_MAX_HEADER_LIST_SIZE we advertised (RFC 9113 §6.5.2 units).
    pub max_list_size: usize,
    /// Node's `maxHeaderListPairs`.
    pub max_pairs: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// The block is not valid HPACK: COMPRESSION_ERROR for the connection.
    Compression,
    /// The block decoded, but exceeds our limits: the stream is refused; the
    /// decoder state stays in sync so the connection goes on.
    TooLarge,
}

/// Decodes peer header blocks with a dynamic table bound by our own
/// SETTINGS_HEADER_TABLE_SIZE. Size updates are handled here, not by the
/// `hpack` crate: where they may appear (RFC 7541 §4.2: only at the start
/// of a block, and first after we lowered our setting) and blocks that
/// hold nothing else.
pub(crate) struct HeaderDecoder {
    inner: hpack::Decoder<'static>,
    /// What the crate's dynamic table holds, kept in step with it (it does
    /// not expose its table): a hibernated connection rebuilds from this.
    table: DecoderTable,
    /// Our acknowledged SETTINGS_HEADER_TABLE_SIZE: the largest size the
    /// peer may signal.
    allowed: u32,
    /// Set when `allowed` fell below the table's size: the next block must
    /// start with a size update no larger than this (RFC 7541 §4.2).
    update_required: Option<u32>,
    scratch: BytesMut,
    /// The block with its Huffman strings decoded (see `prepare`).
    plain: Vec<u8>,
    /// One decoded string on its way into `plain`.
    string: Vec<u8>,
    /// Per field: how it was represented (reused across blocks).
    kinds: Vec<FieldKind>,
    /// Size updates at the start of the block (reused across blocks).
    updates: Vec<u32>,
    /// Per field: offsets into the shared buffer (reused across blocks).
    spans: Vec<(usize, usize, usize)>,
    /// The last block that left the table as it found it, and its fields.
    repeat: Repeat,
}

/// Clients repeat header blocks: a block made only of indexed fields and
/// literals that are not indexed (nghttp2 never indexes `:path`) decodes
/// to the same list for as long as the dynamic table is unchanged, and it
/// changes nothing itself. Such a block, if it comes next, is answered
/// from here: one comparison instead of a decode, and the same
/// [`HeaderList`] as before (so a caller that checked that list need not
/// check it again). It holds at most
/// `REPEAT_BLOCK_MAX` encoded octets, and its fields keep the shared
/// decode buffer they point into alive: at most one `SHARED_BUFFER`
/// (16 KiB; kept blocks are far smaller than a quarter of it) beyond the
/// one the decoder is filling.
#[derive(Default)]
struct Repeat {
    block: Vec<u8>,
    /// The limits it was decoded under; `None` when nothing is kept.
    limits: Option<DecodeLimits>,
    fields: HeaderList,
}

/// `a == b`, eight octets at a time: the byte-at-a-time `memcmp` of
/// wasm32's libc made comparing a repeated block cost more than needed.
fn octets_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (a8.remainder(), b8.remainder());
    a8.zip(b8).all(|(x, y)| {
        u64::from_ne_bytes(x.try_into().unwrap_or_default())
            == u64::from_ne_bytes(y.try_into().unwrap_or_default())
    }) && ra == rb
}

/// Larger blocks are decoded every time (they are rarely repeated, and
/// the comparison would cost more than it saves).
const REPEAT_BLOCK_MAX: usize = 512;

/// A field representation's effect on the table and on intermediaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldKind {
    Indexed,
    /// Literal with incremental indexing: enters the dynamic table.
    Inserted,
    WithoutIndexing,
    NeverIndexed,
}

/// The decoder's dynamic table as RFC 7541 §4 defines it, newest first.
#[derive(Default)]
struct DecoderTable {
    entries: VecDeque<(Bytes, Bytes)>,
    size: usize,
    max_size: usize,
}

impl DecoderTable {
    fn insert(&mut self, name: &[u8], value: &[u8]) {
        self.size += name.len() + value.len() + 32;
        self.entries
            .push_front((Bytes::copy_from_slice(name), Bytes::copy_from_slice(value)));
        self.evict();
    }

    fn set_max_size(&mut self, max: usize) {
        self.max_size = max;
        self.evict();
    }

    /// §4.4: oldest first until the table fits (a new entry larger than
    /// the table leaves it empty).
    fn evict(&mut self) {
        while self.size > self.max_size {
            let Some((n, v)) = self.entries.pop_back() else {
                self.size = 0;
                break;
            };
            self.size -= n.len() + v.len() + 32;
        }
    }
}

impl HeaderDecoder {
    pub(crate) fn new(max_table_size: u32) -> Self {
        let mut inner = hpack::Decoder::new();
        inner.set_max_allowed_table_size(max_table_size as usize);
        inner.set_max_table_size(max_table_size as usize);
        HeaderDecoder {
            inner,
            table: DecoderTable {
                max_size: max_table_size as usize,
                ..DecoderTable::default()
            },
            allowed: max_table_size,
            update_required: None,
            scratch: BytesMut::new(),
            plain: Vec::new(),
            string: Vec::new(),
            kinds: Vec::new(),
            updates: Vec::new(),
            spans: Vec::new(),
            repeat: Repeat::default(),
        }
    }

    /// Our SETTINGS_HEADER_TABLE_SIZE took effect (the peer acknowledged
    /// it): the largest dynamic-table size update the peer may signal. A
    /// size below the table's current one must be signalled by the peer
    /// before it uses the table again.
    pub(crate) fn set_max_allowed_table_size(&mut self, size: u32) {
        self.allowed = size;
        self.inner.set_max_allowed_table_size(size as usize);
        if (size as usize) < self.table.max_size {
            let limit = self.update_required.map_or(size, |r| r.min(size));
            self.update_required = Some(limit);
        }
    }

    /// Octets the dynamic table holds now (§4.1 accounting).
    pub(crate) fn table_fill(&self) -> usize {
        self.table.size
    }

    /// Decodes a complete block. Names and values of many blocks share one
    /// buffer, so a block usually costs one allocation (its field list);
    /// a repeated block costs a comparison, and is answered with the list
    /// decoded before (the same [`HeaderList`]).
    pub(crate) fn decode(
        &mut self,
        block: &[u8],
        limits: DecodeLimits,
    ) -> Result<HeaderList, DecodeError> {
        let r = &self.repeat;
        // The table only changes in a fresh decode, which replaces what is
        // kept here: a kept block was decoded against the table as it is.
        if r.limits == Some(limits)
            && self.update_required.is_none()
            && octets_equal(&r.block, block)
        {
            return Ok(r.fields.clone());
        }
        let result = self.decode_fresh(block, limits).map(HeaderList::from);
        self.remember(block, limits, &result);
        result
    }

    /// Keeps `block` for `decode` if it may be answered again: it decoded,
    /// is small, and neither resized nor added to the table.
    fn remember(
        &mut self,
        block: &[u8],
        limits: DecodeLimits,
        result: &Result<HeaderList, DecodeError>,
    ) {
        let r = &mut self.repeat;
        r.limits = None;
        r.fields = HeaderList::default();
        let Ok(fields) = result else { return };
        if block.len() > REPEAT_BLOCK_MAX
            || !self.updates.is_empty()
            || self.kinds.contains(&FieldKind::Inserted)
        {
            return;
        }
        r.block.clear();
        r.block.extend_from_slice(block);
        r.fields = fields.clone();
        r.limits = Some(limits);
    }

    fn decode_fresh(
        &mut self,
        block: &[u8],
        limits: DecodeLimits,
    ) -> Result<Vec<HeaderField>, DecodeError> {
        let mut plain = std::mem::take(&mut self.plain);
        let mut kinds = std::mem::take(&mut self.kinds);
        let mut updates = std::mem::take(&mut self.updates);
        plain.clear();
        kinds.clear();
        updates.clear();
        let result = match prepare(
            block,
            &mut plain,
            &mut self.string,
            &mut kinds,
            &mut updates,
        ) {
            None => Err(DecodeError::Compression),
            Some(p) => match self.apply_size_updates(&updates) {
                Err(e) => Err(e),
                Ok(()) => {
                    let input = if p.huffman {
                        &plain[..]
                    } else {
                        &block[p.fields_start..]
                    };
                    self.decode_plain(input, limits, &kinds)
                }
            },
        };
        self.plain = plain;
        self.kinds = kinds;
        self.updates = updates;
        result
    }

    /// The size updates a block starts with (§4.2, §6.3): each within our
    /// setting, and the first no larger than the smallest setting since
    /// the last block when we lowered it.
    fn apply_size_updates(&mut self, updates: &[u32]) -> Result<(), DecodeError> {
        if let Some(limit) = self.update_required {
            match updates.first() {
                Some(&first) if first <= limit => self.update_required = None,
                _ => return Err(DecodeError::Compression),
            }
        }
        for &size in updates {
            if size > self.allowed {
                return Err(DecodeError::Compression);
            }
            self.inner.set_max_table_size(size as usize);
            self.table.set_max_size(size as usize);
        }
        Ok(())
    }

    fn decode_plain(
        &mut self,
        block: &[u8],
        limits: DecodeLimits,
        kinds: &[FieldKind],
    ) -> Result<Vec<HeaderField>, DecodeError> {
        let mut spans = std::mem::take(&mut self.spans);
        spans.clear();
        let mut list_size = 0usize;
        let mut too_large = false;
        let mut index = 0usize;
        let scratch = &mut self.scratch;
        let table = &mut self.table;
        // Blocks are carved from one shared allocation (`split` below keeps
        // the spare capacity), refilled when it runs low.
        if scratch.capacity() < block.len().saturating_mul(2).max(1024) {
            scratch.reserve(SHARED_BUFFER.max(block.len() * 4));
        }
        let result = self.inner.decode_with_cb(block, |name, value| {
            if kinds.get(index) == Some(&FieldKind::Inserted) {
                table.insert(&name, &value);
            }
            index += 1;
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
                .zip(kinds)
                .map(|(&(start, n, v), kind)| HeaderField {
                    name: all.slice(start..start + n),
                    value: all.slice(start + n..start + n + v),
                    sensitive: *kind == FieldKind::NeverIndexed,
                })
                .collect())
        };
        self.spans = spans;
        fields
    }

    /// The state a hibernated connection needs: settings and the table.
    pub(crate) fn write(&self, w: &mut Writer) {
        w.u32(self.allowed);
        w.opt_u32(self.update_required);
        w.u32(u32::try_from(self.table.max_size).unwrap_or(u32::MAX));
        w.len(self.table.entries.len());
        // Oldest first: the order they are inserted again.
        for (name, value) in self.table.entries.iter().rev() {
            w.bytes(name);
            w.bytes(value);
        }
    }

    /// Rebuilds a decoder from [`HeaderDecoder::write`]: the crate's table
    /// is refilled by decoding the entries as literals with incremental
    /// indexing, as the peer once sent them.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let allowed = r.u32()?;
        let update_required = r.opt_u32()?;
        let max_size = r.u32()?;
        // Above our setting only while the peer owes the update (§4.2).
        if max_size > allowed && update_required.is_none() {
            return Err(Corrupt);
        }
        let mut dec = HeaderDecoder::new(allowed.max(max_size));
        dec.inner.set_max_table_size(max_size as usize);
        dec.table.set_max_size(max_size as usize);
        let n = r.len(8)?;
        let mut block = Vec::new();
        for _ in 0..n {
            let (name, value) = (r.bytes()?, r.bytes()?);
            block.push(0x40);
            encoder::integer(name.len(), 7, 0, &mut block);
            block.extend_from_slice(name);
            encoder::integer(value.len(), 7, 0, &mut block);
            block.extend_from_slice(value);
            dec.table.insert(name, value);
        }
        dec.inner
            .decode_with_cb(&block, |_, _| {})
            .map_err(|_| Corrupt)?;
        dec.allowed = allowed;
        dec.inner.set_max_allowed_table_size(allowed as usize);
        dec.update_required = update_required;
        Ok(dec)
    }
}

/// Shared decode buffer size: room for the fields of many typical blocks.
const SHARED_BUFFER: usize = 16 * 1024;

/// What a walk over a block found.
struct Prepared {
    /// Some string was Huffman-coded: decode the rewritten block.
    huffman: bool,
    /// Where the fields start, after the size updates.
    fields_start: usize,
}

/// One walk over a block's representations (integers and string lengths)
/// that (1) rewrites its fields into `out` with Huffman strings decoded,
/// since the `hpack` crate's own Huffman decoder rebuilds hash tables for
/// every string and walks them bit by bit, (2) records each field's
/// representation in `kinds` (never-indexed, RFC 7541 §6.2.3, which the
/// crate does not report; and what enters the table), and (3) takes the
/// dynamic table size updates into `updates`: they may only open a block
/// (§4.2), and are left out of `out`. `None` when the block is malformed.
fn prepare(
    block: &[u8],
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    kinds: &mut Vec<FieldKind>,
    updates: &mut Vec<u32>,
) -> Option<Prepared> {
    let mut found = Prepared {
        huffman: false,
        fields_start: 0,
    };
    let mut pos = 0;
    while let Some(&first) = block.get(pos) {
        let (prefix, has_strings, kind) = if first & 0x80 != 0 {
            (7, false, FieldKind::Indexed)
        } else if first & 0xe0 == 0x20 {
            // A size update after a field is a decoding error (§4.2).
            if !kinds.is_empty() {
                return None;
            }
            let (size, next) = read_integer(block, pos, 5)?;
            updates.push(u32::try_from(size).ok()?);
            pos = next;
            found.fields_start = pos;
            continue;
        } else if first & 0x40 != 0 {
            (6, true, FieldKind::Inserted)
        } else if first & 0xf0 == 0x10 {
            (4, true, FieldKind::NeverIndexed)
        } else {
            (4, true, FieldKind::WithoutIndexing)
        };
        kinds.push(kind);
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

//! The header-block encoder (RFC 7541 §6) with its dynamic table (§4).
//!
//! Ours rather than the `hpack` crate's: that one scans both tables
//! linearly for every field, never indexes a field whose name is in the
//! static table (so `content-type: text/html` is sent in full on every
//! response) and never Huffman-codes. Decisions here follow nghttp2: index
//! what repeats, not what varies per message or is sensitive.

use super::huffman;
use super::static_table::{self, StaticMatch};
use crate::id_map::IdHasher;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// Entries reference-counted by insertion number: the newest has number
/// `inserted - 1` and HPACK index 62.
type Lookup = HashMap<u64, u64, BuildHasherDefault<IdHasher>>;

struct Entry {
    name: Bytes,
    value: Bytes,
    field_hash: u64,
    name_hash: u64,
}

impl Entry {
    /// §4.1: octets of name and value plus 32.
    fn size(&self) -> usize {
        self.name.len() + self.value.len() + 32
    }
}

pub(super) struct DynamicEncoder {
    /// Newest first.
    entries: VecDeque<Entry>,
    size: usize,
    max_size: usize,
    inserted: u64,
    /// Changes of the maximum size; with `inserted`, the table's generation.
    resized: u64,
    /// Hash of (name, value) or of name → the newest entry with it. A hit is
    /// checked against the entry, so a collision is only a miss.
    by_field: Lookup,
    by_name: Lookup,
}

impl DynamicEncoder {
    pub(super) fn new(max_size: usize) -> Self {
        DynamicEncoder {
            entries: VecDeque::new(),
            size: 0,
            max_size,
            inserted: 0,
            resized: 0,
            by_field: Lookup::default(),
            by_name: Lookup::default(),
        }
    }

    /// Changes whenever the table does (an insertion, a new maximum size):
    /// equal generations encode the same fields to the same octets.
    pub(super) fn generation(&self) -> (u64, u64) {
        (self.inserted, self.resized)
    }

    /// Octets the table holds now (§4.1 accounting).
    pub(super) fn size(&self) -> usize {
        self.size
    }

    /// Takes a new maximum size, evicting as needed (§4.3). The caller
    /// signals the change in the next block.
    pub(super) fn set_max_size(&mut self, max: usize) {
        self.resized += 1;
        self.max_size = max;
        self.evict_to(max);
    }

    /// The entries, oldest first: inserted again in this order (with
    /// [`DynamicEncoder::restore`]) they rebuild the same table.
    pub(super) fn entries_oldest_first(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries
            .iter()
            .rev()
            .map(|e| (&e.name[..], &e.value[..]))
    }

    /// Inserts an entry as encoding it once did.
    pub(super) fn restore(&mut self, name: &[u8], value: &[u8]) {
        self.insert(name, value, hash(name, Some(value)), hash(name, None));
    }

    /// Appends one field's representation to `out`.
    pub(super) fn encode_field(
        &mut self,
        name: &[u8],
        value: &[u8],
        sensitive: bool,
        out: &mut Vec<u8>,
    ) {
        let found = static_table::find(name, value);
        if let Some(StaticMatch::Field(index)) = found
            && !sensitive
        {
            return integer(index, 7, 0x80, out);
        }
        // Only fields we would index can be in the dynamic table, and only
        // names outside the static table need looking up there: the rest
        // skip hashing.
        let indexable = !sensitive && should_index(name, value, self.max_size);
        let name_hash = (found.is_none() || indexable).then(|| hash(name, None));
        let field_hash = indexable.then(|| hash(name, Some(value)));
        if let Some(key) = field_hash
            && let Some(index) =
                self.find(&self.by_field, key, |e| e.name == name && e.value == value)
        {
            return integer(index, 7, 0x80, out);
        }
        let name_index = match found {
            Some(StaticMatch::Field(i) | StaticMatch::Name(i)) => Some(i),
            None => name_hash.and_then(|key| self.find(&self.by_name, key, |e| e.name == name)),
        };
        let (flags, prefix) = if sensitive {
            // §6.2.3: never indexed, here or by any intermediary.
            (0x10, 4)
        } else if indexable {
            (0x40, 6)
        } else {
            (0x00, 4)
        };
        match name_index {
            Some(i) => integer(i, prefix, flags, out),
            None => {
                out.push(flags);
                string(name, out);
            }
        }
        string(value, out);
        if let (Some(field_hash), Some(name_hash)) = (field_hash, name_hash) {
            self.insert(name, value, field_hash, name_hash);
        }
    }

    fn find(&self, lookup: &Lookup, key: u64, matches: impl Fn(&Entry) -> bool) -> Option<usize> {
        let number = *lookup.get(&key)?;
        let age = self.inserted.checked_sub(number)?.checked_sub(1)?;
        let entry = self.entries.get(usize::try_from(age).ok()?)?;
        matches(entry).then(|| 62 + age as usize)
    }

    fn insert(&mut self, name: &[u8], value: &[u8], field_hash: u64, name_hash: u64) {
        let entry = Entry {
            name: Bytes::copy_from_slice(name),
            value: Bytes::copy_from_slice(value),
            field_hash,
            name_hash,
        };
        let size = entry.size();
        if size > self.max_size {
            // §4.4: an entry larger than the table empties it.
            self.evict_to(0);
            return;
        }
        self.evict_to(self.max_size - size);
        self.size += size;
        self.entries.push_front(entry);
        self.by_field.insert(field_hash, self.inserted);
        self.by_name.insert(name_hash, self.inserted);
        self.inserted += 1;
    }

    fn evict_to(&mut self, max: usize) {
        while self.size > max {
            let Some(old) = self.entries.pop_back() else {
                break;
            };
            self.size -= old.size();
            let number = self.inserted - 1 - self.entries.len() as u64;
            // Forget the lookups only if they still point at this entry.
            for (lookup, key) in [
                (&mut self.by_field, old.field_hash),
                (&mut self.by_name, old.name_hash),
            ] {
                if lookup.get(&key) == Some(&number) {
                    lookup.remove(&key);
                }
            }
        }
    }
}

/// nghttp2's choice: fields that differ on nearly every message, or that
/// would crowd out the table, are not worth an entry.
fn should_index(name: &[u8], value: &[u8], max_size: usize) -> bool {
    const VARYING: [&[u8]; 8] = [
        b":path",
        b"content-length",
        b"set-cookie",
        b"etag",
        b"if-modified-since",
        b"if-none-match",
        b"location",
        b"age",
    ];
    name.len() + value.len() + 32 <= max_size * 3 / 4 && !VARYING.contains(&name)
}

fn hash(name: &[u8], value: Option<&[u8]>) -> u64 {
    let mut h = IdHasher::default();
    let mut feed = |bytes: &[u8]| {
        // Eight octets per step; the tail zero-padded, its length mixed in.
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            h.write_u64(u64::from_le_bytes(word));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        h.write_u64(u64::from_le_bytes(tail) ^ (bytes.len() as u64) << 56);
    };
    feed(name);
    if let Some(v) = value {
        feed(v);
    }
    h.finish()
}

pub(super) fn integer(value: usize, prefix: u8, flags: u8, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = hpack::encoder::encode_integer_into(value, prefix, flags, out);
}

/// A string literal (§5.2), Huffman-coded when that is shorter.
pub(super) fn string(s: &[u8], out: &mut Vec<u8>) {
    let coded = huffman::encoded_len(s);
    if coded < s.len() {
        integer(coded, 7, 0x80, out);
        huffman::encode(s, out);
    } else {
        integer(s.len(), 7, 0, out);
        out.extend_from_slice(s);
    }
}

#[cfg(test)]
mod tests;

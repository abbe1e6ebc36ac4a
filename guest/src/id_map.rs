//! Maps keyed by stream id. SipHash (std's default) is slow, worst of all in
//! wasm; stream ids are small, peer-chosen but strictly increasing and
//! bounded in number by our limits, so a folded multiplicative hash is
//! enough.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(29) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_u32(&mut self, id: u32) {
        // Fibonacci hashing spreads consecutive odd ids over the high bits;
        // folding them down makes the low bits (the table's bucket) depend
        // on every bit of the id, so ids a peer picks 2^16 apart do not
        // share buckets.
        let h = u64::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 32);
    }
}

pub(crate) type IdMap<V> = HashMap<u32, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    /// Ids a peer picks 2^16 apart must not share a table's buckets.
    #[test]
    fn ids_far_apart_spread_over_buckets() {
        let build = BuildHasherDefault::<IdHasher>::default();
        let mask = 1023u64;
        let buckets: std::collections::HashSet<u64> = (0..1000u32)
            .map(|k| build.hash_one(1 + (k << 16)) & mask)
            .collect();
        assert!(buckets.len() > 500, "{} buckets", buckets.len());
    }
}

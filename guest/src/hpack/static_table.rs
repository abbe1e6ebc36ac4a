//! The HPACK static table (RFC 7541 Appendix A) with a lookup fast enough
//! for every field we send: most response fields name a static entry, and
//! the `hpack` crate's encoder scans both tables linearly for each one.

/// Entries 1..=61 (index 0 here is entry 1).
pub(super) const STATIC: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// Longest static name ("access-control-allow-origin").
const MAX_NAME: usize = 27;
/// At most this many distinct static names share a length.
const PER_LEN: usize = 8;

/// First entry (1-based) of each distinct name, bucketed by name length;
/// 0 ends a bucket.
static BY_LEN: [[u8; PER_LEN]; MAX_NAME + 1] = by_len();

const fn by_len() -> [[u8; PER_LEN]; MAX_NAME + 1] {
    let mut buckets = [[0u8; PER_LEN]; MAX_NAME + 1];
    let mut i = 0;
    while i < STATIC.len() {
        let name = STATIC[i].0;
        if i == 0 || !same(name, STATIC[i - 1].0) {
            let bucket = &mut buckets[name.len()];
            let mut slot = 0;
            while bucket[slot] != 0 {
                slot += 1;
            }
            bucket[slot] = (i + 1) as u8;
        }
        i += 1;
    }
    buckets
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Where a field stands in the static table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StaticMatch {
    /// Name and value match this entry.
    Field(usize),
    /// Only the name matches; this is its first entry.
    Name(usize),
}

pub(super) fn find(name: &[u8], value: &[u8]) -> Option<StaticMatch> {
    let bucket = BY_LEN.get(name.len())?;
    let first = bucket
        .iter()
        .take_while(|&&i| i != 0)
        .map(|&i| usize::from(i))
        .find(|&i| STATIC[i - 1].0 == name)?;
    let same_name = STATIC[first - 1..].iter().take_while(|(n, _)| *n == name);
    match same_name.zip(first..).find(|((_, v), _)| *v == value) {
        Some((_, index)) => Some(StaticMatch::Field(index)),
        None => Some(StaticMatch::Name(first)),
    }
}

#[cfg(test)]
mod tests;

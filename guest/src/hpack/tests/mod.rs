use super::*;

const LIMITS: DecodeLimits = DecodeLimits {
    max_list_size: 65_536,
    max_pairs: 128,
};

fn fields(pairs: &[(&'static str, &'static str)]) -> Vec<HeaderField> {
    pairs.iter().map(|&(n, v)| HeaderField::new(n, v)).collect()
}

#[test]
fn round_trip_across_blocks_keeps_tables_in_sync() {
    let mut enc = HeaderEncoder::new(4096);
    let mut dec = HeaderDecoder::new(4096);
    let a = fields(&[(":method", "GET"), ("x-custom", "one"), ("accept", "*/*")]);
    for _ in 0..3 {
        let mut buf = Vec::new();
        enc.encode(&a, &mut buf);
        assert_eq!(dec.decode(&buf, LIMITS).unwrap(), a);
    }
}

#[test]
fn sensitive_fields_use_never_indexed_literals() {
    let mut enc = HeaderEncoder::new(4096);
    let mut buf = Vec::new();
    enc.encode(
        &[HeaderField::sensitive("authorization", "secret")],
        &mut buf,
    );
    // RFC 7541 §6.2.3: 0001xxxx; the name is static entry 23 (15 + 8).
    assert_eq!(buf[..2], [0x1f, 0x08]);
    // Encoding again still sends the literal: nothing entered the table.
    let mut again = Vec::new();
    enc.encode(
        &[HeaderField::sensitive("authorization", "secret")],
        &mut again,
    );
    assert_eq!(buf, again);
    let mut dec = HeaderDecoder::new(4096);
    let got = dec.decode(&buf, LIMITS).unwrap();
    assert_eq!(got[0].value, "secret");
    assert!(got[0].sensitive, "never-indexed is reported on receipt");
}

#[test]
fn received_sensitivity_follows_each_representation() {
    let mut enc = HeaderEncoder::new(4096);
    enc.set_peer_table_size(100);
    let fields = vec![
        HeaderField::new(":method", "GET"),
        HeaderField::sensitive("cookie", "a=b"),
        HeaderField::new("x-long", "v".repeat(300)),
        HeaderField::new(":method", "GET"),
        HeaderField::sensitive("x-secret", "s".repeat(200)),
    ];
    let mut buf = Vec::new();
    enc.encode(&fields, &mut buf);
    let mut dec = HeaderDecoder::new(4096);
    let got = dec.decode(&buf, LIMITS).unwrap();
    let flags: Vec<bool> = got.iter().map(|f| f.sensitive).collect();
    assert_eq!(flags, [false, true, false, false, true]);
    assert_eq!(got, fields);
}

#[test]
fn peer_table_size_change_emits_size_update_first() {
    let mut enc = HeaderEncoder::new(4096);
    enc.set_peer_table_size(0);
    let mut buf = Vec::new();
    enc.encode(&fields(&[("x", "y")]), &mut buf);
    assert_eq!(buf[0], 0x20, "size update to 0 leads the block");
    let mut dec = HeaderDecoder::new(4096);
    assert!(dec.decode(&buf, LIMITS).is_ok());
}

#[test]
fn table_size_is_capped_by_max_deflate_size() {
    let mut enc = HeaderEncoder::new(4096);
    enc.set_peer_table_size(1 << 20);
    assert_eq!(enc.table_size(), 4096);
}

#[test]
fn invalid_input_is_compression_error() {
    let mut dec = HeaderDecoder::new(4096);
    // Indexed field 70 does not exist in an empty dynamic table.
    assert_eq!(
        dec.decode(&[0x80 | 70], LIMITS),
        Err(DecodeError::Compression)
    );
    // Truncated integer.
    assert_eq!(dec.decode(&[0x7f], LIMITS), Err(DecodeError::Compression));
    // Size update above our SETTINGS_HEADER_TABLE_SIZE.
    let mut small = HeaderDecoder::new(100);
    assert_eq!(
        small.decode(&[0x3f, 0xe1, 0x1f, 0x82], LIMITS),
        Err(DecodeError::Compression)
    );
}

#[test]
fn hpack_bomb_is_bounded_by_list_size() {
    let mut enc = HeaderEncoder::new(4096);
    // Fits the encoder's rule for indexing (at most 3/4 of the table).
    let big = "v".repeat(3000);
    let mut buf = Vec::new();
    enc.encode(&[HeaderField::new("bomb", big.clone())], &mut buf);
    // 1000 one-byte references to the 3 KB entry: ~3 MB if expanded.
    let idx = buf.len();
    enc.encode(&vec![HeaderField::new("bomb", big); 1000], &mut buf);
    assert!(buf.len() - idx < 2000);
    let mut dec = HeaderDecoder::new(4096);
    assert_eq!(dec.decode(&buf, LIMITS), Err(DecodeError::TooLarge));
}

#[test]
fn pair_limit() {
    let mut enc = HeaderEncoder::new(4096);
    let mut buf = Vec::new();
    enc.encode(&vec![HeaderField::new("a", "b"); 5], &mut buf);
    let mut dec = HeaderDecoder::new(4096);
    let limits = DecodeLimits {
        max_pairs: 4,
        ..LIMITS
    };
    assert_eq!(dec.decode(&buf, limits), Err(DecodeError::TooLarge));
}

#[test]
fn huffman_coded_strings_decode() {
    // RFC 7541 C.4.1: a request with Huffman-coded :authority.
    let block = [
        0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90,
        0xf4, 0xff,
    ];
    let mut dec = HeaderDecoder::new(4096);
    let got = dec.decode(&block, LIMITS).unwrap();
    assert_eq!(got[3].name, ":authority");
    assert_eq!(got[3].value, "www.example.com");
    // C.4.2: the next request refers to the entry the first one added, and
    // adds a Huffman-coded cache-control.
    let block2 = [
        0x82, 0x86, 0x84, 0xbe, 0x58, 0x86, 0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf,
    ];
    let got = dec.decode(&block2, LIMITS).unwrap();
    assert_eq!(got[3].value, "www.example.com");
    assert_eq!(got[4].name, "cache-control");
    assert_eq!(got[4].value, "no-cache");
}

#[test]
fn bad_huffman_is_compression_error() {
    let mut dec = HeaderDecoder::new(4096);
    // Literal without indexing, new name "a", value Huffman-coded with an
    // all-ones 5-octet string (EOS inside / over-long padding).
    let block = [0x00, 0x01, b'a', 0x85, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(dec.decode(&block, LIMITS), Err(DecodeError::Compression));
}

#[test]
fn static_fields_are_indexed_and_static_names_leave_the_table_alone() {
    let mut enc = HeaderEncoder::new(4096);
    let mut out = Vec::new();
    enc.encode(
        &fields(&[(":status", "200"), ("content-length", "1234")]),
        &mut out,
    );
    // 0x88: indexed entry 8. 0x0f 0x0d: literal without indexing, name
    // entry 28 (4-bit prefix 15 + 13). "1234" Huffman-codes to 3 octets.
    assert_eq!(&out[..3], &[0x88, 0x0f, 0x0d]);
    assert_eq!(out[3], 0x83);
    assert_eq!(out.len(), 7);
    // A new name is indexed: the second block refers to dynamic entry 62.
    let mut first = Vec::new();
    enc.encode(&fields(&[("x-new", "v")]), &mut first);
    let mut second = Vec::new();
    enc.encode(&fields(&[("x-new", "v")]), &mut second);
    assert_eq!(second, [0x80 | 62]);
    let mut dec = HeaderDecoder::new(4096);
    let all = [out, first, second].concat();
    let got = dec.decode(&all, LIMITS).unwrap();
    let pairs: Vec<(&[u8], &[u8])> = got.iter().map(|f| (&f.name[..], &f.value[..])).collect();
    assert_eq!(
        pairs,
        [
            (&b":status"[..], &b"200"[..]),
            (b"content-length", b"1234"),
            (b"x-new", b"v"),
            (b"x-new", b"v"),
        ]
    );
}

#[test]
fn random_blocks_round_trip_through_table_size_changes() {
    // A seeded mix of static, repeated, varying and sensitive fields, with
    // the peer shrinking and growing the table in between blocks.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let names = [
        ":status",
        "content-type",
        "x-a",
        "x-b",
        "etag",
        "cookie",
        "server",
    ];
    let mut enc = HeaderEncoder::new(4096);
    let mut dec = HeaderDecoder::new(4096);
    for round in 0..2000 {
        if round % 97 == 0 {
            let size = [0, 64, 256, 4096][next(4) as usize];
            enc.set_peer_table_size(size);
        }
        let n = 1 + next(8) as usize;
        let block: Vec<HeaderField> = (0..n)
            .map(|_| {
                let name = names[next(names.len() as u64) as usize];
                let value = format!("{}", next(20)).repeat(1 + next(30) as usize);
                let mut f = HeaderField::new(name, value);
                f.sensitive = next(10) == 0;
                f
            })
            .collect();
        let mut buf = Vec::new();
        enc.encode(&block, &mut buf);
        assert_eq!(dec.decode(&buf, LIMITS).unwrap(), block, "round {round}");
        assert!(enc.table_fill() <= enc.table_size());
    }
}

/// RFC 7541 §4.2: a dynamic table size update after a field is a decoding
/// error (nghttp2 and Python's hpack reject both blocks).
#[test]
fn size_update_after_a_field_is_compression_error() {
    for block in [
        &[0x82, 0x87, 0x20, 0x84, 0x41, 0x01, 0x61][..],
        &[0x82, 0x3f, 0xe1, 0x1f, 0x82],
    ] {
        let mut dec = HeaderDecoder::new(4096);
        assert_eq!(dec.decode(block, LIMITS), Err(DecodeError::Compression));
    }
}

/// RFC 7541 §4.2: a block may hold nothing but size updates (what an
/// encoder sends for an empty list right after a table-size change).
#[test]
fn blocks_of_only_size_updates_decode_to_nothing() {
    for block in [&[0x3f, 0xe1, 0x1f][..], &[0x20, 0x3f, 0xe1, 0x1f], &[0x20]] {
        let mut dec = HeaderDecoder::new(4096);
        assert_eq!(
            dec.decode(block, LIMITS).map(HeaderList::into_vec),
            Ok(Vec::new())
        );
    }
    // Our own encoder makes one after the peer lowered its table size.
    let mut enc = HeaderEncoder::new(4096);
    enc.set_peer_table_size(1000);
    let mut buf = Vec::new();
    enc.encode(&[], &mut buf);
    assert_eq!(buf, [0x3f, 0xc9, 0x07]);
    let mut dec = HeaderDecoder::new(4096);
    assert_eq!(
        dec.decode(&buf, LIMITS).map(HeaderList::into_vec),
        Ok(Vec::new())
    );
}

/// RFC 7541 §4.2: once our smaller SETTINGS_HEADER_TABLE_SIZE is
/// acknowledged, the peer must open its next block with a size update no
/// larger than it before using the table.
#[test]
fn lowering_our_table_size_requires_an_update_before_the_table_is_used() {
    let mut enc = HeaderEncoder::new(4096);
    let mut dec = HeaderDecoder::new(4096);
    let fields = [HeaderField::new("x-kept", "in-the-table")];
    let mut buf = Vec::new();
    enc.encode(&fields, &mut buf);
    assert_eq!(dec.decode(&buf, LIMITS).unwrap(), fields);
    dec.set_max_allowed_table_size(0);
    // A reference to the old entry without the update first.
    assert_eq!(
        dec.decode(&[0x80 | 62], LIMITS),
        Err(DecodeError::Compression)
    );
    let mut dec2 = HeaderDecoder::new(4096);
    dec2.decode(&buf, LIMITS).unwrap();
    dec2.set_max_allowed_table_size(0);
    // An update that is still too large is refused as well.
    assert_eq!(
        dec2.decode(&[0x3f, 0x01, 0x82], LIMITS),
        Err(DecodeError::Compression)
    );
    let mut dec3 = HeaderDecoder::new(4096);
    dec3.decode(&buf, LIMITS).unwrap();
    dec3.set_max_allowed_table_size(0);
    // With the update the block decodes, and the old entry is gone.
    assert_eq!(
        dec3.decode(&[0x20, 0x82], LIMITS).unwrap(),
        [HeaderField::new(":method", "GET")]
    );
    assert_eq!(dec3.table_fill(), 0);
    assert_eq!(
        dec3.decode(&[0x80 | 62], LIMITS),
        Err(DecodeError::Compression)
    );
    // Later blocks need no further update.
    assert!(dec3.decode(&[0x82], LIMITS).is_ok());
}

/// RFC 7541 §4.2: only sizes set since the last block are signalled; when
/// the allowed size grows there is one update, to the new size (not one
/// to the current size first: `3f b6 0a` before `3f 8b 15` wasted 3 octets).
#[test]
fn a_growing_table_is_signalled_once() {
    let mut enc = HeaderEncoder::new(65_536);
    let mut buf = Vec::new();
    enc.set_peer_table_size(2741);
    enc.encode(&[], &mut buf);
    assert_eq!(buf, [0x3f, 0x96, 0x15]);
    buf.clear();
    enc.set_peer_table_size(8192);
    enc.encode(&[], &mut buf);
    assert_eq!(buf, [0x3f, 0xe1, 0x3f], "one update, to 8192");
    // Down then up between blocks: the smallest, then the final size.
    buf.clear();
    enc.set_peer_table_size(100);
    enc.set_peer_table_size(4096);
    enc.encode(&[], &mut buf);
    assert_eq!(buf, [0x3f, 0x45, 0x3f, 0xe1, 0x1f]);
}

#[test]
fn tables_written_out_and_read_back_encode_and_decode_alike() {
    let mut enc = HeaderEncoder::new(4096);
    let mut dec = HeaderDecoder::new(4096);
    let mut buf = Vec::new();
    let fields = [
        HeaderField::new("x-a", "1"),
        HeaderField::new("x-b", "two"),
        HeaderField::new("content-type", "text/plain"),
    ];
    enc.encode(&fields, &mut buf);
    dec.decode(&buf, LIMITS).unwrap();
    let mut w = crate::snapshot::Writer::new();
    enc.write(&mut w);
    dec.write(&mut w);
    let bytes = w.finish();
    let mut r = crate::snapshot::Reader::new(&bytes).unwrap();
    let mut enc2 = HeaderEncoder::read(&mut r).unwrap();
    let mut dec2 = HeaderDecoder::read(&mut r).unwrap();
    r.finish().unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    enc.encode(&fields, &mut a);
    enc2.encode(&fields, &mut b);
    assert_eq!(a, b, "the same table encodes the same octets");
    assert!(a.len() <= 3, "every field indexed: {a:02x?}");
    assert_eq!(dec2.decode(&b, LIMITS).unwrap(), fields);
    assert_eq!(dec2.table_fill(), dec.table_fill());
}

/// A literal with incremental indexing (new name): the entry becomes
/// dynamic index 62.
fn insert_block(name: &str, value: &str) -> Vec<u8> {
    let mut b = vec![0x40, name.len() as u8];
    b.extend_from_slice(name.as_bytes());
    b.push(value.len() as u8);
    b.extend_from_slice(value.as_bytes());
    b
}

/// `:method: GET` (static 2) and dynamic index 62: a block that changes
/// nothing, so it is answered from the repeat cache while the table stands.
const REPEATED: [u8; 2] = [0x82, 0xbe];

#[test]
fn a_repeated_block_decodes_as_the_table_says_now() {
    let mut dec = HeaderDecoder::new(4096);
    dec.decode(&insert_block("x-a", "1"), LIMITS).unwrap();
    let first = dec.decode(&REPEATED, LIMITS).unwrap();
    assert_eq!(first, fields(&[(":method", "GET"), ("x-a", "1")]));
    let again = dec.decode(&REPEATED, LIMITS).unwrap();
    assert!(again.same(&first), "answered with the same list");
    // A new entry takes index 62: the same octets now mean something else.
    dec.decode(&insert_block("x-b", "2"), LIMITS).unwrap();
    let after = dec.decode(&REPEATED, LIMITS).unwrap();
    assert_eq!(after, fields(&[(":method", "GET"), ("x-b", "2")]));
    assert!(!after.same(&first));
}

#[test]
fn a_repeated_block_fails_once_its_entry_is_evicted() {
    let mut dec = HeaderDecoder::new(4096);
    dec.decode(&insert_block("x-a", "1"), LIMITS).unwrap();
    dec.decode(&REPEATED, LIMITS).unwrap();
    // A size update to 0 empties the table (then back to 4096).
    dec.decode(&[0x20, 0x3f, 0xe1, 0x1f, 0x82], LIMITS).unwrap();
    assert_eq!(dec.decode(&REPEATED, LIMITS), Err(DecodeError::Compression));
}

#[test]
fn a_repeated_block_meets_the_limits_in_force() {
    let mut dec = HeaderDecoder::new(4096);
    dec.decode(&insert_block("x-a", "1"), LIMITS).unwrap();
    dec.decode(&REPEATED, LIMITS).unwrap();
    let one_pair = DecodeLimits {
        max_pairs: 1,
        ..LIMITS
    };
    assert_eq!(dec.decode(&REPEATED, one_pair), Err(DecodeError::TooLarge));
    assert!(dec.decode(&REPEATED, LIMITS).is_ok());
}

#[test]
fn a_repeated_block_still_owes_a_required_size_update() {
    let mut dec = HeaderDecoder::new(4096);
    dec.decode(&insert_block("x-a", "1"), LIMITS).unwrap();
    dec.decode(&REPEATED, LIMITS).unwrap();
    // We lowered our setting: the next block must open with an update.
    dec.set_max_allowed_table_size(1024);
    assert_eq!(dec.decode(&REPEATED, LIMITS), Err(DecodeError::Compression));
}

#[test]
fn blocks_that_add_to_the_table_are_decoded_each_time() {
    let mut dec = HeaderDecoder::new(4096);
    let block = insert_block("x-a", "1");
    let first = dec.decode(&block, LIMITS).unwrap();
    let second = dec.decode(&block, LIMITS).unwrap();
    assert!(!second.same(&first));
    assert_eq!(
        dec.table_fill(),
        2 * (3 + 1 + 32),
        "each inserted its entry"
    );
}

#[test]
fn octets_equal_finds_a_difference_anywhere() {
    for len in 0..40usize {
        let a: Vec<u8> = (0..len as u8).collect();
        assert!(super::octets_equal(&a, &a.clone()));
        for at in 0..len {
            let mut b = a.clone();
            b[at] ^= 0x80;
            assert!(!super::octets_equal(&a, &b), "len {len}, at {at}");
        }
        let mut longer = a.clone();
        longer.push(0);
        assert!(!super::octets_equal(&a, &longer));
    }
}

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

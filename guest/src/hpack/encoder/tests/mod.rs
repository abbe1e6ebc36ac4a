use super::DynamicEncoder;

/// Decodes with the `hpack` crate: an independent decoder checks ours.
fn decode(dec: &mut hpack::Decoder<'static>, block: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    dec.decode_with_cb(block, |n, v| out.push((n.to_vec(), v.to_vec())))
        .unwrap();
    out
}

fn block(enc: &mut DynamicEncoder, fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in fields {
        enc.encode_field(n.as_bytes(), v.as_bytes(), false, &mut out);
    }
    out
}

fn owned(fields: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    fields
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

#[test]
fn rfc7541_c4_requests_with_huffman() {
    // C.4.1–C.4.3: our choices match the RFC's example encoder exactly.
    let mut enc = DynamicEncoder::new(4096);
    let first = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ];
    let b = block(&mut enc, &first);
    assert_eq!(
        b,
        [
            0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab,
            0x90, 0xf4, 0xff
        ]
    );
    assert_eq!(enc.size(), 57);
    let second = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
        ("cache-control", "no-cache"),
    ];
    let b = block(&mut enc, &second);
    assert_eq!(
        b,
        [
            0x82, 0x86, 0x84, 0xbe, 0x58, 0x86, 0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf
        ]
    );
    assert_eq!(enc.size(), 110);
}

#[test]
fn repeated_response_fields_become_one_octet() {
    let mut enc = DynamicEncoder::new(4096);
    let mut dec = hpack::Decoder::new();
    let fields = [
        (":status", "200"),
        ("content-type", "text/html; charset=utf-8"),
        ("content-length", "231"),
        ("etag", "\"e7-18b\""),
        ("last-modified", "Wed, 25 Nov 2026 21:05:31 GMT"),
        ("x-custom", "one"),
    ];
    let first = block(&mut enc, &fields);
    assert_eq!(decode(&mut dec, &first), owned(&fields));
    let second = block(&mut enc, &fields);
    assert_eq!(decode(&mut dec, &second), owned(&fields));
    // :status, content-type, last-modified and x-custom are one octet each;
    // content-length and etag vary per message and stay literal.
    assert!(second.len() < first.len() / 3, "{second:?}");
    assert_eq!(second[0], 0x88);
}

#[test]
fn eviction_keeps_both_sides_in_step() {
    // A 200-octet table holds four 50-octet entries at most.
    let mut enc = DynamicEncoder::new(200);
    let mut dec = hpack::Decoder::new();
    dec.set_max_allowed_table_size(200);
    for round in 0..3 {
        for i in 0..10 {
            let name = format!("x-h{i}");
            let value = format!("v{:08}", i * 7 + round);
            let f = [(name.as_str(), value.as_str())];
            let b = block(&mut enc, &f);
            assert_eq!(decode(&mut dec, &b), owned(&f));
            assert!(enc.size() <= 200);
        }
    }
    // A recent field is still indexed, an old one was evicted.
    let recent = block(&mut enc, &[("x-h9", "v00000065")]);
    assert_eq!(recent.len(), 1);
    let old = block(&mut enc, &[("x-h0", "v00000002")]);
    assert!(old.len() > 1);
}

#[test]
fn shrinking_the_table_evicts_and_zero_disables_indexing() {
    let mut enc = DynamicEncoder::new(4096);
    block(&mut enc, &[("x-a", "1"), ("x-b", "2")]);
    assert_eq!(enc.size(), 2 * (3 + 1 + 32));
    enc.set_max_size(40);
    assert_eq!(enc.size(), 36);
    enc.set_max_size(0);
    assert_eq!(enc.size(), 0);
    let b = block(&mut enc, &[("x-b", "2")]);
    // Literal without indexing, new name.
    assert_eq!(b[0], 0x00);
    assert_eq!(enc.size(), 0);
}

#[test]
fn sensitive_fields_are_never_indexed_even_when_the_table_has_them() {
    let mut enc = DynamicEncoder::new(4096);
    let mut dec = hpack::Decoder::new();
    let first = block(&mut enc, &[("x-token", "abc")]);
    decode(&mut dec, &first);
    let size = enc.size();
    let mut out = Vec::new();
    enc.encode_field(b"x-token", b"abc", true, &mut out);
    assert_eq!(out[0] & 0xf0, 0x10, "never-indexed representation");
    enc.encode_field(b"authorization", b"secret", true, &mut out);
    assert_eq!(enc.size(), size);
    let got = decode(&mut dec, &out);
    assert_eq!(
        got,
        owned(&[("x-token", "abc"), ("authorization", "secret")])
    );
}

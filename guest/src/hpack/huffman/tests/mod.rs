use super::{decode, encode, encoded_len};

/// RFC 7541 Appendix C.4 and C.6 strings with their Huffman encodings.
const EXAMPLES: &[(&str, &[u8])] = &[
    (
        "www.example.com",
        &[
            0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ],
    ),
    ("no-cache", &[0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf]),
    (
        "custom-key",
        &[0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f],
    ),
    (
        "custom-value",
        &[0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf],
    ),
    ("302", &[0x64, 0x02]),
    ("private", &[0xae, 0xc3, 0x77, 0x1a, 0x4b]),
    (
        "Mon, 21 Oct 2013 20:13:21 GMT",
        &[
            0xd0, 0x7a, 0xbe, 0x94, 0x10, 0x54, 0xd4, 0x44, 0xa8, 0x20, 0x05, 0x95, 0x04, 0x0b,
            0x81, 0x66, 0xe0, 0x82, 0xa6, 0x2d, 0x1b, 0xff,
        ],
    ),
];

#[test]
fn rfc_examples_decode_and_encode() {
    for (text, coded) in EXAMPLES {
        let mut out = Vec::new();
        decode(coded, &mut out).unwrap();
        assert_eq!(out, text.as_bytes(), "decoding {text}");
        let mut enc = Vec::new();
        encode(text.as_bytes(), &mut enc);
        assert_eq!(enc, *coded, "encoding {text}");
        assert_eq!(encoded_len(text.as_bytes()), coded.len());
    }
}

#[test]
fn every_octet_round_trips() {
    let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let mut enc = Vec::new();
    encode(&all, &mut enc);
    assert_eq!(enc.len(), encoded_len(&all));
    let mut out = Vec::new();
    decode(&enc, &mut out).unwrap();
    assert_eq!(out, all);
    // Each octet alone exercises every padding length.
    for b in 0..=255u8 {
        let mut enc = Vec::new();
        encode(&[b], &mut enc);
        let mut out = Vec::new();
        decode(&enc, &mut out).unwrap();
        assert_eq!(out, [b]);
    }
}

#[test]
fn empty_string_decodes_to_nothing() {
    let mut out = Vec::new();
    decode(&[], &mut out).unwrap();
    assert!(out.is_empty());
}

#[test]
fn padding_longer_than_seven_bits_is_rejected() {
    // "0" is 00000 (5 bits); 3 bits of padding are fine, a further all-ones
    // octet makes 11 bits of padding (RFC 7541 §5.2).
    let mut out = Vec::new();
    assert!(decode(&[0x07], &mut out).is_some());
    assert_eq!(out, b"0");
    assert!(decode(&[0x07, 0xff], &mut Vec::new()).is_none());
    assert!(decode(&[0xff], &mut Vec::new()).is_none());
}

#[test]
fn padding_that_is_not_eos_prefix_is_rejected() {
    // "0" followed by padding 000 instead of 111.
    assert!(decode(&[0x00], &mut Vec::new()).is_none());
    assert!(decode(&[0x06], &mut Vec::new()).is_none());
}

#[test]
fn eos_inside_a_string_is_rejected() {
    // EOS is thirty 1 bits: four all-ones octets contain it whole.
    assert!(decode(&[0xff, 0xff, 0xff, 0xff], &mut Vec::new()).is_none());
    // "0" then EOS, then padding.
    assert!(decode(&[0x07, 0xff, 0xff, 0xff, 0xff], &mut Vec::new()).is_none());
}

//! Frame encode/decode round trips and malformed cases.

use super::*;
use crate::error::{ErrorCode, StreamError};
use bytes::{Bytes, BytesMut};

fn decode(buf: &[u8]) -> Result<Frame, ProtocolError> {
    let head = FrameHeader::parse(buf).expect("header");
    Frame::decode(&head, Bytes::copy_from_slice(&buf[FRAME_HEADER_LEN..]))
}

fn conn_code(r: Result<Frame, ProtocolError>) -> ErrorCode {
    match r {
        Err(ProtocolError::Connection(e)) => e.code,
        other => panic!("expected connection error, got {other:?}"),
    }
}

#[test]
fn header_round_trip_and_reserved_bit() {
    let mut buf = BytesMut::new();
    FrameHeader::new(kind::HEADERS, 0x25, 0x7fff_ffff, 0x00ab_cdef).encode(&mut buf);
    assert_eq!(
        &buf[..],
        &[0xab, 0xcd, 0xef, 0x01, 0x25, 0x7f, 0xff, 0xff, 0xff]
    );
    let mut raw = buf.to_vec();
    raw[5] |= 0x80;
    let head = FrameHeader::parse(&raw).unwrap();
    assert_eq!(head.stream_id, 0x7fff_ffff);
    assert_eq!(head.length, 0x00ab_cdef);
    assert!(FrameHeader::parse(&raw[..8]).is_none());
}

#[test]
fn data_round_trip() {
    let mut buf = BytesMut::new();
    Data::encode_header(3, 5, true, &mut buf);
    buf.extend_from_slice(b"hello");
    let Frame::Data(d) = decode(&buf).unwrap() else {
        panic!()
    };
    assert_eq!(
        (d.stream_id, &d.payload[..], d.end_stream, d.flow_len),
        (3, &b"hello"[..], true, 5)
    );
}

#[test]
fn padded_data_counts_padding_for_flow_control() {
    let mut buf = BytesMut::new();
    FrameHeader::new(kind::DATA, flag::PADDED, 1, 6).encode(&mut buf);
    buf.extend_from_slice(&[2, b'h', b'i', b'!', 0, 0]);
    let Frame::Data(d) = decode(&buf).unwrap() else {
        panic!()
    };
    assert_eq!(&d.payload[..], b"hi!");
    assert_eq!(d.flow_len, 6);
}

#[test]
fn padding_equal_to_payload_is_protocol_error() {
    let mut buf = BytesMut::new();
    FrameHeader::new(kind::DATA, flag::PADDED, 1, 3).encode(&mut buf);
    // The Pad Length octet counts as payload: padding of 3 in a 3-octet
    // payload leaves no room for the length field itself.
    buf.extend_from_slice(&[3, 0, 0]);
    assert_eq!(conn_code(decode(&buf)), ErrorCode::PROTOCOL_ERROR);
    // Pad length 1 with 2 octets after it is fine: one octet of payload.
    let mut buf = BytesMut::new();
    FrameHeader::new(kind::DATA, flag::PADDED, 1, 3).encode(&mut buf);
    buf.extend_from_slice(&[1, b'x', 0]);
    assert!(decode(&buf).is_ok());
}

#[test]
fn headers_with_priority_round_trip() {
    let spec = PrioritySpec {
        dependency: 7,
        exclusive: true,
        weight: 256,
    };
    let mut buf = BytesMut::new();
    Headers::encode_header(9, Some(spec), 2, false, true, &mut buf);
    buf.extend_from_slice(&[0x82, 0x84]);
    let Frame::Headers(h) = decode(&buf).unwrap() else {
        panic!()
    };
    assert_eq!(h.priority, Some(spec));
    assert_eq!(&h.fragment[..], &[0x82, 0x84]);
    assert!(h.end_headers && !h.end_stream);
}

#[test]
fn headers_too_short_for_priority_is_frame_size_error() {
    let mut buf = BytesMut::new();
    FrameHeader::new(kind::HEADERS, flag::PRIORITY | flag::END_HEADERS, 1, 3).encode(&mut buf);
    buf.extend_from_slice(&[0, 0, 0]);
    assert_eq!(conn_code(decode(&buf)), ErrorCode::FRAME_SIZE_ERROR);
}

#[test]
fn priority_rules() {
    let p = Priority {
        stream_id: 3,
        spec: PrioritySpec::default(),
    };
    let mut buf = BytesMut::new();
    p.encode(&mut buf);
    assert_eq!(decode(&buf).unwrap(), Frame::Priority(p));
    let mut buf = BytesMut::new();
    FrameHeader::new(kind::PRIORITY, 0, 3, 4).encode(&mut buf);
    buf.extend_from_slice(&[0; 4]);
    assert!(matches!(
        decode(&buf),
        Err(ProtocolError::Stream(StreamError {
            code: ErrorCode::FRAME_SIZE_ERROR,
            stream_id: 3,
            ..
        }))
    ));
}

#[test]
fn control_frames_round_trip() {
    let frames = [
        Frame::RstStream(RstStream {
            stream_id: 5,
            code: ErrorCode::CANCEL,
        }),
        Frame::Ping(Ping {
            ack: true,
            payload: *b"pingpong",
        }),
        Frame::GoAway(GoAway {
            last_stream_id: 99,
            code: ErrorCode::ENHANCE_YOUR_CALM,
            debug_data: Bytes::from_static(b"calm down"),
        }),
        Frame::WindowUpdate(WindowUpdate {
            stream_id: 0,
            increment: (1 << 31) - 1,
        }),
        Frame::Settings(SettingsFrame {
            ack: false,
            params: vec![(1, 0), (4, 1 << 20)],
        }),
    ];
    for f in frames {
        let mut buf = BytesMut::new();
        match &f {
            Frame::RstStream(x) => x.encode(&mut buf),
            Frame::Ping(x) => x.encode(&mut buf),
            Frame::GoAway(x) => x.encode(&mut buf),
            Frame::WindowUpdate(x) => x.encode(&mut buf),
            Frame::Settings(x) => x.encode(&mut buf),
            _ => unreachable!(),
        }
        assert_eq!(decode(&buf).unwrap(), f);
    }
}

#[test]
fn settings_ack_encoding() {
    let mut buf = BytesMut::new();
    encode_settings_ack(&mut buf);
    assert_eq!(&buf[..], &[0, 0, 0, 4, 1, 0, 0, 0, 0]);
}

#[test]
fn push_promise_round_trip_and_truncation() {
    let mut buf = BytesMut::new();
    PushPromise::encode_header(1, 2, 1, true, &mut buf);
    buf.extend_from_slice(&[0x82]);
    let Frame::PushPromise(p) = decode(&buf).unwrap() else {
        panic!()
    };
    assert_eq!(
        (p.stream_id, p.promised_id, &p.fragment[..]),
        (1, 2, &[0x82][..])
    );
    let mut buf = BytesMut::new();
    FrameHeader::new(kind::PUSH_PROMISE, flag::END_HEADERS, 1, 3).encode(&mut buf);
    buf.extend_from_slice(&[0, 0, 2]);
    assert_eq!(conn_code(decode(&buf)), ErrorCode::FRAME_SIZE_ERROR);
}

#[test]
fn unknown_type_decodes_as_unknown() {
    let mut buf = BytesMut::new();
    FrameHeader::new(0xee, 0xff, 3, 2).encode(&mut buf);
    buf.extend_from_slice(&[1, 2]);
    assert_eq!(
        decode(&buf).unwrap(),
        Frame::Unknown {
            kind: 0xee,
            stream_id: 3
        }
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic fuzz over every frame type and many lengths.
    let mut seed = 0x1234_5678u32;
    for kind in 0u8..=12 {
        for len in 0..40usize {
            for flags in [0u8, 0x1, 0x4, 0x8, 0x20, 0xff] {
                let payload: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        seed as u8
                    })
                    .collect();
                for stream in [0u32, 1, 2] {
                    let head = FrameHeader::new(kind, flags, stream, len);
                    let _ = Frame::decode(&head, Bytes::from(payload.clone()));
                }
            }
        }
    }
}

#[test]
fn padding_choose_follows_nodes_strategies() {
    use crate::options::PaddingStrategy::*;
    assert_eq!(padding::choose(None, 10, 1000), Option::None);
    // 9 + 13 + 2 = 24: one Pad Length octet and one pad octet.
    assert_eq!(padding::choose(Aligned, 13, 1000), Some(1));
    // 9 + 15 = 24 already: nothing added.
    assert_eq!(padding::choose(Aligned, 15, 1000), Option::None);
    // Room for only the Pad Length octet.
    assert_eq!(padding::choose(Aligned, 10, 1), Some(0));
    assert_eq!(padding::choose(Aligned, 10, 0), Option::None);
    assert_eq!(padding::choose(Max, 10, 100_000), Some(255));
    assert_eq!(padding::choose(Max, 10, 40), Some(39));
}

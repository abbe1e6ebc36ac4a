//! Randomised frame sequences (deterministic PRNG) thrown at both roles.
//! Asserts the engine never panics, always answers a connection error with
//! GOAWAY, and keeps its output and memory bounded.

mod common;

use bytes::BytesMut;
use common::*;
use h2wasm_engine::wire::{FrameHeader, kind};
use h2wasm_engine::{Connection, Event, Options, RequestOptions, RespondOptions, Role};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// One random frame: mostly plausible types on plausible streams, with
/// either a real header block or random payload.
fn random_frame(rng: &mut Rng, enc: &mut hpack::Encoder<'_>, buf: &mut BytesMut) {
    let kind = match rng.below(16) {
        n @ 0..=9 => n as u8,
        10 => kind::HEADERS,
        11 => kind::DATA,
        12 => kind::ALTSVC,
        13 => kind::ORIGIN,
        14 => kind::PRIORITY_UPDATE,
        _ => rng.next() as u8,
    };
    let flags = match rng.below(4) {
        0 => 0,
        1 => 0x1,
        2 => 0x4 | (rng.next() as u8 & 0x1),
        _ => rng.next() as u8,
    };
    let stream = match rng.below(6) {
        0 => 0,
        1..=3 => (rng.below(8) * 2 + 1) as u32,
        4 => (rng.below(4) * 2) as u32,
        _ => rng.next() as u32,
    };
    let real_block = matches!(kind, kind::HEADERS | kind::PUSH_PROMISE) && rng.below(3) > 0;
    let real_update = kind == kind::PRIORITY_UPDATE && rng.below(3) > 0;
    let payload = if real_update {
        // A stream id, then a Priority field value, sometimes garbled.
        let mut p = ((rng.below(8) * 2 + 1) as u32).to_be_bytes().to_vec();
        let values: [&[u8]; 5] = [b"u=0", b"u=6, i", b"i", b"u=9", b"u=,"];
        p.extend_from_slice(values[rng.below(5) as usize]);
        p
    } else if real_block {
        let mut block = Vec::new();
        if kind == kind::PUSH_PROMISE {
            // A promised (even, server-initiated) stream id first.
            block.extend_from_slice(&((rng.below(16) * 2) as u32).to_be_bytes());
        }
        let mut fields = request_fields("/fuzz");
        if rng.below(3) == 0 {
            fields.push(h("x-rand", "value"));
        }
        if rng.below(5) == 0 {
            fields.swap(0, 3);
        }
        if rng.below(4) == 0 {
            fields.push(h("priority", "u=1, i"));
        }
        block.extend(encode_block(enc, &fields));
        block
    } else {
        let len = match rng.below(10) {
            0 => 0,
            1..=6 => rng.below(16) as usize,
            7 | 8 => rng.below(300) as usize,
            _ => rng.below(20_000) as usize,
        };
        rng.bytes(len)
    };
    frame(buf, kind, flags, stream, &payload);
}

/// A random frame sequence for `role` to receive (after its preface).
fn random_input(role: Role, rng: &mut Rng) -> (Connection, BytesMut) {
    let opts = Options {
        authority: "fuzz".into(),
        ..Options::default()
    };
    let mut conn = Connection::new(role, opts, 0).unwrap();
    let mut enc = hpack::Encoder::new();
    let mut input = BytesMut::new();
    if role == Role::Server {
        input.extend_from_slice(h2wasm_engine::connection::PREFACE);
    } else {
        let _ = conn.request(get("/"), RequestOptions::default());
        let _ = conn.request(post_fields(), RequestOptions::default());
    }
    frame(&mut input, kind::SETTINGS, 0, 0, &[]);
    for _ in 0..rng.below(40) + 1 {
        random_frame(rng, &mut enc, &mut input);
    }
    (conn, input)
}

/// Feeds `input` in random pieces, each borrowed or handed over as the
/// coin says, reacting like an application; returns the output, the
/// events, and whether a connection error came.
fn feed(
    conn: &mut Connection,
    input: &[u8],
    rng: &mut Rng,
    owned: impl Fn(&mut Rng) -> bool,
) -> (Vec<u8>, Vec<Event>, bool) {
    let mut out = Vec::new();
    let mut events = Vec::new();
    let mut errored = false;
    let mut rest = input;
    while !rest.is_empty() {
        let n = (rng.below(4000) as usize + 1).min(rest.len());
        let result = match owned(rng) {
            true => conn.receive_owned(0, rest[..n].to_vec()),
            false => conn.receive(0, &rest[..n]),
        };
        errored |= result.is_err();
        rest = &rest[n..];
        // React like an application would, exercising command paths.
        while let Some(e) = conn.poll_event() {
            if let Event::Request { stream_id, .. } = &e {
                let id = *stream_id;
                let _ = conn.respond(id, status("200"), RespondOptions::default());
                let _ = conn.write(id, bytes::Bytes::from(vec![0u8; 1000]));
                let _ = conn.end(id);
            }
            events.push(e);
        }
        while let Some(b) = conn.poll_transmit(1 << 16) {
            out.extend_from_slice(&b.octets);
        }
        assert!(out.len() < 64 << 20, "output stays bounded");
    }
    (out, events, errored)
}

fn drive(role: Role, seed: u64) {
    let mut rng = Rng(seed);
    let (mut conn, input) = random_input(role, &mut rng);
    let (out, _, errored) = feed(&mut conn, &input, &mut rng, |r| r.below(2) == 0);
    if errored {
        assert!(conn.is_closed());
        // The last frame we sent is GOAWAY.
        let mut frames = Vec::new();
        let mut pos = if role == Role::Client { 24 } else { 0 };
        while let Some(head) = FrameHeader::parse(&out[pos..]) {
            frames.push(head.kind);
            pos += 9 + head.length as usize;
        }
        assert_eq!(frames.last(), Some(&kind::GOAWAY), "seed {seed}");
    }
}

#[test]
fn random_frames_never_panic_server() {
    for seed in 1..3000u64 {
        drive(Role::Server, seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    }
}

/// Input handed over (`receive_owned`) is parsed in place when nothing is
/// left over; whatever the pieces, it must mean what the same input
/// borrowed (`receive`) means: the same events and the same output.
#[test]
fn owned_input_means_what_borrowed_input_means() {
    for seed in 1..1500u64 {
        for role in [Role::Server, Role::Client] {
            let seed = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let (mut a, input) = random_input(role, &mut Rng(seed));
            let (mut b, _) = random_input(role, &mut Rng(seed));
            let borrowed = feed(&mut a, &input, &mut Rng(seed ^ 1), |_| false);
            let owned = feed(&mut b, &input, &mut Rng(seed ^ 1), |_| true);
            assert_eq!(borrowed, owned, "seed {seed}");
        }
    }
}

#[test]
fn data_in_owned_input_is_not_copied() {
    let mut p = RawPeer::server();
    let post = [
        h(":method", "POST"),
        h(":scheme", "https"),
        h(":authority", "example.com"),
        h(":path", "/upload"),
    ];
    p.send_headers(1, &post, false);
    assert!(matches!(p.events.last(), Some(Event::Request { .. })));
    let mut input = BytesMut::new();
    frame(&mut input, kind::DATA, 0, 1, &[7u8; 1000]);
    let input = input.to_vec();
    let range = input.as_ptr_range();
    p.conn.receive_owned(0, input).unwrap();
    let data = std::iter::from_fn(|| p.conn.poll_event())
        .find_map(|e| match e {
            Event::Data { data, .. } => Some(data),
            _ => None,
        })
        .expect("the DATA arrived");
    assert_eq!(&data[..], &[7u8; 1000][..]);
    assert!(
        range.contains(&data.as_ptr()),
        "a slice of the input itself"
    );
    // Its place in that input: after the 9-octet frame header.
    assert_eq!(p.conn.input_offset(&data), Some(9));
    assert_eq!(p.conn.input_offset(&[7u8; 3]), None, "not in the input");
    // Borrowed input is copied in, and the owned input is forgotten.
    p.conn.receive(0, &[]).unwrap();
    assert_eq!(p.conn.input_offset(&data), None);
}

/// Reads split frames: the frame begun in one input is completed from the
/// next, and the frames after it in that input are still parsed in place.
#[test]
fn data_after_a_frame_split_across_inputs_is_not_copied() {
    let post = [
        h(":method", "POST"),
        h(":scheme", "https"),
        h(":authority", "example.com"),
        h(":path", "/upload"),
    ];
    let mut frames = BytesMut::new();
    for fill in 1..=3u8 {
        frame(&mut frames, kind::DATA, 0, 1, &[fill; 1000]);
    }
    let data_events = |p: &mut RawPeer| -> Vec<bytes::Bytes> {
        std::iter::from_fn(|| p.conn.poll_event())
            .filter_map(|e| match e {
                Event::Data { data, .. } => Some(data),
                _ => None,
            })
            .collect()
    };
    // The first input ends inside the first frame's header, or inside its
    // payload; the second holds the rest of it, the second frame and the
    // start of the third; the third input the rest.
    for split in [4, 500] {
        let mut p = RawPeer::server();
        p.send_headers(1, &post, false);
        let (first, rest) = frames.split_at(split);
        let (second, third) = rest.split_at(2 * 1009 - split + 300);
        p.conn.receive_owned(0, first.to_vec()).unwrap();
        assert!(data_events(&mut p).is_empty(), "no whole frame yet");
        let second = second.to_vec();
        let range = second.as_ptr_range();
        p.conn.receive_owned(0, second).unwrap();
        let data = data_events(&mut p);
        assert_eq!(data.len(), 2, "split {split}");
        assert_eq!(&data[0][..], &[1u8; 1000][..]);
        assert_eq!(p.conn.input_offset(&data[0]), None, "completed in a copy");
        assert_eq!(&data[1][..], &[2u8; 1000][..]);
        assert!(range.contains(&data[1].as_ptr()), "split {split}");
        assert_eq!(p.conn.input_offset(&data[1]), Some(1009 - split + 9));
        p.conn.receive_owned(0, third.to_vec()).unwrap();
        let data = data_events(&mut p);
        assert_eq!(data.len(), 1);
        assert_eq!(&data[0][..], &[3u8; 1000][..]);
        assert_eq!(p.conn.input_offset(&data[0]), None);
    }
}

#[test]
fn random_frames_never_panic_client() {
    for seed in 1..3000u64 {
        drive(Role::Client, seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
    }
}

//! Randomised frame sequences (deterministic PRNG) thrown at both roles.
//! Asserts the engine never panics, always answers a connection error with
//! GOAWAY, and keeps its output and memory bounded.

mod common;

use bytes::BytesMut;
use common::*;
use h2wasm_engine::frame::{FrameHeader, kind};
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
fn random_frame(rng: &mut Rng, enc: &mut h2wasm_engine::hpack::HeaderEncoder, buf: &mut BytesMut) {
    let kind = match rng.below(15) {
        n @ 0..=9 => n as u8,
        10 => kind::HEADERS,
        11 => kind::DATA,
        12 => kind::ALTSVC,
        13 => kind::ORIGIN,
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
    let payload = if real_block {
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
        enc.encode(&fields, &mut block);
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

fn drive(role: Role, seed: u64) {
    let mut rng = Rng(seed);
    let opts = Options {
        authority: "fuzz".into(),
        ..Options::default()
    };
    let mut conn = Connection::new(role, opts, 0).unwrap();
    let mut enc = h2wasm_engine::hpack::HeaderEncoder::new(4096);
    let mut input = BytesMut::new();
    if role == Role::Server {
        input.extend_from_slice(h2wasm_engine::connection::PREFACE);
    } else {
        let _ = conn.request(get("/"), RequestOptions::default());
        let _ = conn.request(post_fields(), RequestOptions::default());
    }
    frame(&mut input, kind::SETTINGS, 0, 0, &[]);
    for _ in 0..rng.below(40) + 1 {
        random_frame(&mut rng, &mut enc, &mut input);
    }
    let mut out = Vec::new();
    let mut errored = false;
    let mut rest = &input[..];
    while !rest.is_empty() {
        let n = (rng.below(4000) as usize + 1).min(rest.len());
        if conn.receive(0, &rest[..n]).is_err() {
            errored = true;
        }
        rest = &rest[n..];
        // React like an application would, exercising command paths.
        while let Some(e) = conn.poll_event() {
            if let Event::Request { stream_id, .. } = e {
                let _ = conn.respond(stream_id, status("200"), RespondOptions::default());
                let _ = conn.write(stream_id, bytes::Bytes::from(vec![0u8; 1000]));
                let _ = conn.end(stream_id);
            }
        }
        while let Some(b) = conn.poll_transmit(1 << 16) {
            out.extend_from_slice(&b.octets);
        }
        assert!(out.len() < 64 << 20, "output stays bounded");
    }
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

#[test]
fn random_frames_never_panic_client() {
    for seed in 1..3000u64 {
        drive(Role::Client, seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
    }
}

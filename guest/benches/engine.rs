//! Native benchmarks of the engine's hot paths: frame decoding, HPACK, and
//! whole request/response exchanges through an in-memory engine pair.
//! Run with `cargo bench -p h2wasm-engine`.

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use h2wasm_engine::frame::{Data, Frame, FrameHeader};
use h2wasm_engine::hpack::{DecodeLimits, HeaderDecoder, HeaderEncoder};
use h2wasm_engine::pair::Pair;
use h2wasm_engine::{Event, HeaderField, RequestOptions, RespondOptions};
use std::hint::black_box;

fn request_headers() -> Vec<HeaderField> {
    vec![
        HeaderField::new(":method", "GET"),
        HeaderField::new(":scheme", "https"),
        HeaderField::new(":authority", "www.example.com"),
        HeaderField::new(":path", "/assets/app.js?v=12345"),
        HeaderField::new("user-agent", "Mozilla/5.0 (X11; Linux x86_64) bench/1.0"),
        HeaderField::new("accept", "*/*"),
        HeaderField::new("accept-encoding", "gzip, deflate, br"),
        HeaderField::new("cookie", "session=0123456789abcdef0123456789abcdef"),
    ]
}

fn frame_decoding(c: &mut Criterion) {
    let mut buf = BytesMut::new();
    for i in 0..64u32 {
        Data::encode_header(i * 2 + 1, 16_384, false, &mut buf);
        buf.extend_from_slice(&[0u8; 16_384]);
    }
    let wire = buf.freeze();
    let mut g = c.benchmark_group("frame");
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function("decode 64 DATA frames of 16 KiB", |b| {
        b.iter(|| {
            let mut rest = wire.clone();
            while let Some(head) = FrameHeader::parse(&rest) {
                let mut f = rest.split_to(9 + head.length as usize);
                let payload = f.split_off(9);
                black_box(Frame::decode(&head, payload).ok());
            }
        })
    });
    g.finish();
}

fn hpack(c: &mut Criterion) {
    let fields = request_headers();
    let limits = DecodeLimits {
        max_list_size: 65_536,
        max_pairs: 128,
    };
    let mut g = c.benchmark_group("hpack");
    g.bench_function("encode+decode request block (warm tables)", |b| {
        let mut enc = HeaderEncoder::new(4096);
        let mut dec = HeaderDecoder::new(4096);
        let mut out = Vec::new();
        b.iter(|| {
            out.clear();
            enc.encode(&fields, &mut out);
            black_box(dec.decode(&out, limits).ok());
        })
    });
    g.finish();
}

/// One GET through the pair; returns the response body octets delivered.
fn exchange(p: &mut Pair, body: &Bytes) -> usize {
    let id = match p.client.request(
        request_headers(),
        RequestOptions {
            end_stream: true,
            ..Default::default()
        },
    ) {
        Ok(id) => id,
        Err(e) => panic!("request: {e}"),
    };
    let _ = p.run();
    let _ = p.server.respond(
        id,
        vec![HeaderField::new(":status", "200")],
        RespondOptions::default(),
    );
    let _ = p.server.write(id, body.clone());
    let _ = p.server.end(id);
    let _ = p.run();
    let delivered = p
        .client_events
        .iter()
        .map(|e| match e {
            Event::Data { data, .. } => data.len(),
            _ => 0,
        })
        .sum();
    p.client_events.clear();
    p.server_events.clear();
    delivered
}

fn pair(c: &mut Criterion) {
    let mut g = c.benchmark_group("pair");
    let small = Bytes::from_static(b"hello world");
    g.throughput(Throughput::Elements(1));
    g.bench_function("GET with 11 B response", |b| {
        let mut p = Pair::with_defaults().expect("pair");
        b.iter(|| black_box(exchange(&mut p, &small)))
    });
    let big = Bytes::from(vec![0u8; 1 << 20]);
    g.throughput(Throughput::Bytes(1 << 20));
    g.bench_function("GET with 1 MiB response", |b| {
        let mut p = Pair::with_defaults().expect("pair");
        let _ = p.client.set_local_window_size(16 << 20);
        b.iter(|| black_box(exchange(&mut p, &big)))
    });
    g.finish();
    // Guard: the measured exchange really delivers the body.
    let mut p = Pair::with_defaults().expect("pair");
    assert_eq!(exchange(&mut p, &small), small.len());
}

criterion_group!(benches, frame_decoding, hpack, pair);
criterion_main!(benches);

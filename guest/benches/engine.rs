//! Native benchmarks of the engine's hot paths, through its public API: a
//! server receiving an upload (frame parsing, flow control, HPACK decoding)
//! and whole request/response exchanges through an in-memory engine pair.
//! Run with `cargo bench -p h2wasm-engine`.

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use h2wasm_engine::pair::Pair;
use h2wasm_engine::wire::{FrameHeader, PREFACE, flag, kind};
use h2wasm_engine::{
    Connection, Event, HeaderField, Options, RequestOptions, RespondOptions, Role,
};
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

/// The octets a client sends to open stream 1 and upload 64 DATA frames
/// of 16 KiB on it, the server's SETTINGS acknowledged first so that its
/// 16 MiB windows are in force.
fn upload_input() -> Vec<u8> {
    fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let mut head = BytesMut::new();
        FrameHeader::new(kind, flags, stream, payload.len()).encode(&mut head);
        out.extend_from_slice(&head);
        out.extend_from_slice(payload);
    }
    let mut out = PREFACE.to_vec();
    frame(&mut out, kind::SETTINGS, 0, 0, &[]);
    frame(&mut out, kind::SETTINGS, flag::ACK, 0, &[]);
    let mut post = request_headers();
    post[0] = HeaderField::new(":method", "POST");
    let block = hpack::Encoder::new().encode(post.iter().map(|f| (&f.name[..], &f.value[..])));
    frame(&mut out, kind::HEADERS, flag::END_HEADERS, 1, &block);
    for i in 0..64 {
        let end = if i == 63 { flag::END_STREAM } else { 0 };
        frame(&mut out, kind::DATA, end, 1, &[0u8; 16_384]);
    }
    out
}

fn receive(c: &mut Criterion) {
    let input = upload_input();
    let mut opts = Options::default();
    opts.settings.initial_window_size = Some(16 << 20);
    opts.connection_window_size = 16 << 20;
    let mut g = c.benchmark_group("receive");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("a request and 64 DATA frames of 16 KiB", |b| {
        b.iter(|| {
            let mut server = Connection::new(Role::Server, opts.clone(), 0).expect("server");
            let _ = server.receive(1, &input);
            let mut data = 0;
            while let Some(e) = server.poll_event() {
                if let Event::Data { data: d, .. } = e {
                    data += d.len();
                }
            }
            black_box(data)
        })
    });
    g.finish();
    // Guard: the whole body is delivered.
    let mut server = Connection::new(Role::Server, opts, 0).expect("server");
    server.receive(1, &input).expect("valid input");
    let delivered: usize = std::iter::from_fn(|| server.poll_event())
        .map(|e| match e {
            Event::Data { data, .. } => data.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(delivered, 64 * 16_384);
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

criterion_group!(benches, receive, pair);
criterion_main!(benches);

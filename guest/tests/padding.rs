//! Node's `paddingStrategy` on the frames we send.

mod common;

use bytes::Bytes;
use common::*;
use h2wasm_engine::options::PaddingStrategy;
use h2wasm_engine::pair::Pair;
use h2wasm_engine::wire::{flag, kind};
use h2wasm_engine::{Event, Options, RequestOptions, RespondOptions};

/// A server with `strategy` that answered stream 1 with `body`.
fn served(strategy: PaddingStrategy, body: &[u8]) -> RawPeer {
    let mut p = RawPeer::server_with(Options {
        padding_strategy: strategy,
        ..Options::default()
    });
    p.send_headers(1, &request_fields("/"), true);
    p.conn
        .respond(1, status("200"), RespondOptions::default())
        .unwrap();
    p.conn.write(1, Bytes::copy_from_slice(body)).unwrap();
    p.conn.end(1).unwrap();
    p.pump();
    p
}

fn stream_frames(p: &RawPeer) -> Vec<&RawFrame> {
    p.received
        .iter()
        .filter(|f| f.head.stream_id == 1 && matches!(f.head.kind, kind::HEADERS | kind::DATA))
        .collect()
}

#[test]
fn aligned_frames_are_multiples_of_eight() {
    for len in [1usize, 5, 100, 1000, 16_000] {
        let p = served(PaddingStrategy::Aligned, &vec![b'a'; len]);
        let frames = stream_frames(&p);
        assert!(frames.len() >= 2);
        for f in frames {
            if f.payload.is_empty() {
                continue;
            }
            assert_eq!((9 + f.payload.len()) % 8, 0, "len {len}: {:?}", f.head);
        }
    }
}

#[test]
fn max_padding_is_255_octets_and_counts_against_the_window() {
    let p = served(PaddingStrategy::Max, b"hello");
    let data = stream_frames(&p)
        .into_iter()
        .find(|f| f.head.kind == kind::DATA)
        .unwrap()
        .clone();
    assert!(data.head.flags & flag::PADDED != 0);
    assert_eq!(data.payload[0], 255);
    assert_eq!(data.payload.len(), 1 + 5 + 255);
    assert_eq!(&data.payload[1..6], b"hello");
    assert!(data.payload[6..].iter().all(|&b| b == 0));
    let headers = stream_frames(&p)
        .into_iter()
        .find(|f| f.head.kind == kind::HEADERS)
        .unwrap();
    assert!(headers.head.flags & flag::PADDED != 0);
    // The connection window paid for payload and padding alike.
    let state = p.conn.session_state();
    assert_eq!(state.remote_window_size, 65_535 - (1 + 5 + 255) as i64);
}

#[test]
fn padded_bodies_arrive_intact_with_every_strategy() {
    for strategy in [
        PaddingStrategy::None,
        PaddingStrategy::Aligned,
        PaddingStrategy::Max,
    ] {
        let opts = Options {
            padding_strategy: strategy,
            authority: "localhost".into(),
            ..Options::default()
        };
        let mut p = Pair::new(opts.clone(), opts).unwrap();
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let id = p
            .client
            .request(post_fields(), RequestOptions::default())
            .unwrap();
        p.client.write(id, Bytes::from(body.clone())).unwrap();
        p.client.end(id).unwrap();
        p.run().unwrap();
        assert_eq!(common::body(&p.server_events, id), body, "{strategy:?}");
        p.server
            .respond(id, status("200"), RespondOptions::default())
            .unwrap();
        p.server.write(id, Bytes::from(body.clone())).unwrap();
        p.server.end(id).unwrap();
        p.run().unwrap();
        assert_eq!(common::body(&p.client_events, id), body, "{strategy:?}");
        assert!(
            p.client_events
                .iter()
                .any(|e| matches!(e, Event::StreamClosed { stream_id, .. } if *stream_id == id))
        );
    }
}

//! The dependency tree and DATA scheduling by it (RFC 7540 §5.3, kept by
//! Node): parents before children, siblings in proportion to weight.

mod common;

use bytes::Bytes;
use common::*;
use h2wasm_engine::PrioritySpec;
use h2wasm_engine::pair::Pair;
use h2wasm_engine::wire::{FrameHeader, flag, kind};
use h2wasm_engine::{RequestOptions, RespondOptions};

/// HEADERS with a priority block.
fn headers_with_priority(p: &mut RawPeer, id: u32, spec: PrioritySpec) {
    let mut payload = Vec::new();
    spec.encode(&mut payload);
    payload.extend(p.block(&request_fields("/")));
    p.send_frame(
        kind::HEADERS,
        flag::END_HEADERS | flag::END_STREAM | flag::PRIORITY,
        id,
        &payload,
    );
}

/// A server whose client opened every window wide, so only the scheduler
/// decides the order.
fn wide_open_server() -> RawPeer {
    let mut p = RawPeer::server();
    let mut big_window = vec![0, 4];
    big_window.extend_from_slice(&(1u32 << 30).to_be_bytes());
    p.send_frame(kind::SETTINGS, 0, 0, &big_window);
    p.send_frame(kind::WINDOW_UPDATE, 0, 0, &(1u32 << 30).to_be_bytes());
    p
}

fn respond_with(p: &mut RawPeer, id: u32, len: usize) {
    p.conn
        .respond(id, status("200"), RespondOptions::default())
        .unwrap();
    p.conn.write(id, Bytes::from(vec![0u8; len])).unwrap();
    p.conn.end(id).unwrap();
}

/// DATA octets per stream, in the order the first `budget` octets of
/// output carry them.
fn data_order(p: &mut RawPeer, budget: usize) -> Vec<(u32, usize)> {
    let mut out = Vec::new();
    while out.len() < budget {
        match p.conn.poll_transmit(16 * 1024) {
            Some(b) => out.extend_from_slice(&b.octets),
            None => break,
        }
    }
    let mut frames = Vec::new();
    let mut rest = &out[..];
    while let Some(head) = FrameHeader::parse(rest) {
        let end = 9 + head.length as usize;
        if rest.len() < end {
            break;
        }
        if head.kind == kind::DATA && head.length > 0 {
            frames.push((head.stream_id, head.length as usize));
        }
        rest = &rest[end..];
    }
    frames
}

fn total(frames: &[(u32, usize)], id: u32) -> usize {
    frames
        .iter()
        .filter(|(s, _)| *s == id)
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn siblings_share_bandwidth_by_weight() {
    let mut p = wide_open_server();
    let heavy = PrioritySpec {
        dependency: 0,
        exclusive: false,
        weight: 200,
    };
    headers_with_priority(&mut p, 1, heavy);
    headers_with_priority(
        &mut p,
        3,
        PrioritySpec {
            weight: 50,
            ..heavy
        },
    );
    p.take_frames();
    respond_with(&mut p, 1, 4 << 20);
    respond_with(&mut p, 3, 4 << 20);
    let frames = data_order(&mut p, 2 << 20);
    let (a, b) = (total(&frames, 1), total(&frames, 3));
    let ratio = a as f64 / b as f64;
    assert!((3.0..=5.0).contains(&ratio), "{a} vs {b}: ratio {ratio}");
}

#[test]
fn a_dependent_stream_waits_for_its_parent() {
    let mut p = wide_open_server();
    headers_with_priority(&mut p, 1, PrioritySpec::default());
    headers_with_priority(
        &mut p,
        3,
        PrioritySpec {
            dependency: 1,
            exclusive: true,
            weight: 256,
        },
    );
    p.take_frames();
    assert_eq!(p.conn.stream_state(3).unwrap().parent, 1);
    respond_with(&mut p, 3, 100_000);
    respond_with(&mut p, 1, 100_000);
    let frames = data_order(&mut p, 1 << 20);
    let first_child = frames.iter().position(|(s, _)| *s == 3).unwrap();
    let last_parent = frames.iter().rposition(|(s, _)| *s == 1).unwrap();
    assert!(last_parent < first_child, "{frames:?}");
}

#[test]
fn priority_frames_reprioritise_and_state_reports_weights() {
    let mut p = RawPeer::server();
    for id in [1, 3, 5] {
        p.send_headers(id, &request_fields("/"), false);
    }
    let mut payload = Vec::new();
    PrioritySpec {
        dependency: 1,
        exclusive: false,
        weight: 100,
    }
    .encode(&mut payload);
    p.send_frame(kind::PRIORITY, 0, 3, &payload);
    p.send_frame(kind::PRIORITY, 0, 5, &payload);
    let parent = p.conn.stream_state(1).unwrap();
    assert_eq!((parent.weight, parent.sum_dependency_weight), (16, 200));
    let child = p.conn.stream_state(3).unwrap();
    assert_eq!((child.weight, child.parent), (100, 1));
    // PRIORITY for an idle stream is allowed and remembered (§5.3.4).
    p.send_frame(kind::PRIORITY, 0, 11, &payload);
    assert_eq!(p.goaway(), None);
}

#[test]
fn client_priority_calls_send_priority_frames_unless_silent() {
    let mut p = Pair::with_defaults().unwrap();
    let a = p
        .client
        .request(get("/a"), RequestOptions::default())
        .unwrap();
    let b = p
        .client
        .request(
            get("/b"),
            RequestOptions {
                priority: Some(PrioritySpec {
                    dependency: a,
                    exclusive: false,
                    weight: 42,
                }),
                ..Default::default()
            },
        )
        .unwrap();
    p.run().unwrap();
    assert_eq!(p.server.stream_state(b).unwrap().parent, a);
    assert_eq!(p.server.stream_state(b).unwrap().weight, 42);
    let spec = PrioritySpec {
        dependency: 0,
        exclusive: false,
        weight: 7,
    };
    p.client.set_priority(b, spec, true).unwrap();
    p.run().unwrap();
    assert_eq!(p.client.stream_state(b).unwrap().weight, 7);
    assert_eq!(p.server.stream_state(b).unwrap().weight, 42, "silent");
    p.client.set_priority(b, spec, false).unwrap();
    p.run().unwrap();
    assert_eq!(p.server.stream_state(b).unwrap().weight, 7);
    assert!(
        p.client
            .set_priority(
                b,
                PrioritySpec {
                    dependency: b,
                    ..spec
                },
                false
            )
            .is_err()
    );
    assert!(p.client.set_priority(99, spec, false).is_err());
}

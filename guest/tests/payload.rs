//! `respond_with_payload`: bodies the host holds go out as references the
//! host splices into the engine's octets (see `Transmit`). The client
//! side of each pair is an ordinary connection, so what it decodes is what
//! a peer would see on the wire.

mod common;

use bytes::Bytes;
use common::*;
use h2wasm_engine::options::PaddingStrategy;
use h2wasm_engine::pair::Pair;
use h2wasm_engine::{ErrorCode, Options, Settings};

fn data(len: usize) -> Bytes {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn client_with_window(window: u32) -> Options {
    Options {
        authority: "localhost".into(),
        settings: Settings {
            initial_window_size: Some(window),
            ..Default::default()
        },
        ..Options::default()
    }
}

#[test]
fn a_host_body_arrives_whole_without_entering_the_engine() {
    let body = data(1 << 20);
    let mut p = Pair::new(client_with_window(16_384), Options::default()).unwrap();
    p.bodies.insert(42, body.clone());
    let id = open_gets(&mut p, "/big", 1)[0];
    p.server
        .respond_with_payload(
            id,
            vec![h("content-type", "application/octet-stream")],
            42,
            1 << 20,
        )
        .unwrap();
    p.run().unwrap();
    // Every octet of the body left as a reference.
    assert_eq!(p.referenced, 1 << 20);
    assert_eq!(p.bad_refs, 0);
    assert_eq!(
        p.released,
        vec![42],
        "released once, after the last reference"
    );
    assert_eq!(body_of(&p, id), body);
    assert_ok_response(&p.client_events, id, "1048576");
}

/// A repeatable stream of numbers below `n` (xorshift).
fn numbers(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    }
}

fn body_of(p: &Pair, id: u32) -> Vec<u8> {
    body(&p.client_events, id)
}

#[test]
fn padded_frames_carry_references_between_pad_length_and_padding() {
    for strategy in [PaddingStrategy::Aligned, PaddingStrategy::Max] {
        let server = Options {
            padding_strategy: strategy,
            ..Options::default()
        };
        let mut p = Pair::new(client_with_window(65_535), server).unwrap();
        let body = data(100_000);
        p.bodies.insert(7, body.clone());
        let id = open_gets(&mut p, "/padded", 1)[0];
        p.server
            .respond_with_payload(id, vec![], 7, body.len() as u64)
            .unwrap();
        p.run().unwrap();
        assert_eq!(p.bad_refs, 0);
        assert_eq!(body_of(&p, id), body, "{strategy:?}");
        assert_eq!(p.released, vec![7]);
    }
}

#[test]
fn many_streams_share_batches_and_each_body_is_released() {
    let mut p = Pair::with_defaults().unwrap();
    let ids = open_gets(&mut p, "/many", 5);
    for (i, &id) in ids.iter().enumerate() {
        let len = 10_000 * (i + 1);
        p.bodies.insert(u64::from(id), data(len));
        p.server
            .respond_with_payload(id, vec![], u64::from(id), len as u64)
            .unwrap();
    }
    p.run().unwrap();
    assert_eq!(p.bad_refs, 0);
    for (i, &id) in ids.iter().enumerate() {
        assert_eq!(body_of(&p, id), data(10_000 * (i + 1)));
    }
    let mut released = p.released.clone();
    released.sort_unstable();
    let mut want: Vec<u64> = ids.iter().map(|&id| u64::from(id)).collect();
    want.sort_unstable();
    assert_eq!(released, want);
}

#[test]
fn an_empty_body_ends_with_the_headers_and_is_released() {
    let mut p = Pair::with_defaults().unwrap();
    let id = open_gets(&mut p, "/empty", 1)[0];
    p.server.respond_with_payload(id, vec![], 9, 0).unwrap();
    p.run().unwrap();
    assert_eq!(
        response_header(&p.client_events, id, "content-length").as_deref(),
        Some("0")
    );
    assert!(ended(&p.client_events, id));
    assert_eq!(p.released, vec![9]);
}

#[test]
fn a_reset_releases_the_body_after_references_already_queued() {
    let mut p = Pair::new(client_with_window(65_535), Options::default()).unwrap();
    let body = data(200_000);
    p.bodies.insert(3, body.clone());
    let id = open_gets(&mut p, "/reset", 1)[0];
    p.server
        .respond_with_payload(id, vec![], 3, body.len() as u64)
        .unwrap();
    // A batch a little larger than the HEADERS frame: the first DATA
    // frame is built, and the cut falls inside its frame header, so its
    // reference stays queued.
    let first = p.server.poll_transmit(20).unwrap();
    assert_eq!(first.octets.len(), 20);
    assert!(first.payload.is_empty());
    assert!(first.released.is_empty());
    p.server.close_stream(id, ErrorCode::CANCEL).unwrap();
    // The queued frame still needs its payload: no release while its
    // reference waits, even in a transmit after the reset.
    let mid = p.server.poll_transmit(5).unwrap();
    assert_eq!(mid.octets.len(), 5);
    assert!(mid.payload.is_empty());
    assert!(mid.released.is_empty());
    let rest = p.server.poll_transmit(1 << 20).unwrap();
    assert_eq!(rest.payload.len(), 1);
    assert_eq!(rest.released, vec![3]);
    let mut wire = first.octets.to_vec();
    wire.extend_from_slice(&mid.octets);
    wire.extend(rest.assemble(|r, dest| {
        let s = r.offset as usize;
        dest.copy_from_slice(&body[s..s + r.length]);
    }));
    p.client.receive(p.now, &wire).unwrap();
    p.run().unwrap();
    assert_eq!(closed_code(&p.client_events, id), Some(ErrorCode::CANCEL));
}

#[test]
fn a_peer_reset_releases_a_body_still_waiting_for_window() {
    // The client's window lets one frame's worth through, then the client
    // cancels: the rest of the body is never referenced.
    let mut p = Pair::new(client_with_window(16_384), Options::default()).unwrap();
    p.bodies.insert(11, data(1 << 20));
    let id = open_gets(&mut p, "/cancel", 1)[0];
    p.server
        .respond_with_payload(id, vec![], 11, 1 << 20)
        .unwrap();
    p.client.close_stream(id, ErrorCode::CANCEL).unwrap();
    p.run().unwrap();
    assert_eq!(p.bad_refs, 0);
    assert_eq!(p.released, vec![11]);
    assert!(body_of(&p, id).len() < 1 << 20);
}

#[test]
fn a_refused_call_keeps_no_reference() {
    let mut p = Pair::with_defaults().unwrap();
    // No such stream.
    assert!(p.server.respond_with_payload(99, vec![], 1, 10).is_err());
    // A client cannot respond.
    assert!(p.client.respond_with_payload(1, vec![], 1, 10).is_err());
    p.run().unwrap();
    assert!(p.released.is_empty());
    assert!(p.server.poll_transmit(1 << 16).is_none());
}

/// Cuts at every size: many streams' host bodies, padded or not, moved in
/// batches of pseudo-random sizes (a batch may end inside a frame header,
/// just before a reference or after it) still arrive whole, in order, and
/// each body is released exactly once.
#[test]
fn bodies_survive_batches_cut_anywhere() {
    let mut next = numbers(0x2545_f491_4f6c_dd1du64);
    for round in 0..60 {
        let strategy = match next(3) {
            0 => PaddingStrategy::None,
            1 => PaddingStrategy::Aligned,
            _ => PaddingStrategy::Max,
        };
        let server = Options {
            padding_strategy: strategy,
            ..Options::default()
        };
        let window = 16_384 + next(100_000) as u32;
        let mut p = Pair::new(client_with_window(window), server).unwrap();
        p.chunk = 1 + next(70_000) as usize;
        let streams = 1 + next(5) as usize;
        let ids = open_gets(&mut p, "/cut", streams);
        let mut want = Vec::new();
        for &id in &ids {
            let body = data(next(300_000) as usize);
            p.bodies.insert(u64::from(id), body.clone());
            p.server
                .respond_with_payload(id, vec![], u64::from(id), body.len() as u64)
                .unwrap();
            want.push((id, body));
        }
        p.run().unwrap();
        assert_eq!(p.bad_refs, 0, "round {round}");
        for (id, body) in want {
            assert_eq!(body_of(&p, id), body, "round {round}, stream {id}");
            let released = p.released.iter().filter(|&&b| b == u64::from(id)).count();
            assert_eq!(released, 1, "round {round}, stream {id}");
        }
    }
}

/// `write_payload` chunks queue in order with `write`s: the client gets
/// the concatenation, cut into batches anywhere; each host chunk is
/// released once; they count toward the high-water mark.
#[test]
fn host_chunks_interleave_with_written_data() {
    let mut next = numbers(0x9e37_79b9_7f4a_7c15u64);
    for round in 0..40 {
        let mut p = Pair::new(client_with_window(65_535), Options::default()).unwrap();
        p.chunk = 1 + next(40_000) as usize;
        let id = open_gets(&mut p, "/mixed", 1)[0];
        p.server
            .respond(id, status("200"), h2wasm_engine::RespondOptions::default())
            .unwrap();
        let mut want = Vec::new();
        let mut hosted = Vec::new();
        let mut next_body = 100u64;
        for _ in 0..(1 + next(8)) {
            let piece = data(next(50_000) as usize);
            if next(2) == 0 {
                p.server.write(id, piece.clone()).unwrap();
            } else {
                p.bodies.insert(next_body, piece.clone());
                p.server
                    .write_payload(id, next_body, piece.len() as u64)
                    .unwrap();
                hosted.push(next_body);
                next_body += 1;
            }
            want.extend_from_slice(&piece);
        }
        p.server.end(id).unwrap();
        p.run().unwrap();
        assert_eq!(p.bad_refs, 0, "round {round}");
        assert_eq!(body_of(&p, id), want, "round {round}");
        let mut released = p.released.clone();
        released.sort_unstable();
        assert_eq!(released, hosted, "round {round}");
    }
}

#[test]
fn host_chunks_count_toward_the_high_water_mark_not_session_memory() {
    // The client's window is closed for now: nothing leaves the queue.
    let mut p = Pair::new(client_with_window(0), Options::default()).unwrap();
    let id = open_gets(&mut p, "/hwm", 1)[0];
    p.server
        .respond(id, status("200"), h2wasm_engine::RespondOptions::default())
        .unwrap();
    let before = p.server.session_memory();
    p.bodies.insert(1, data(1 << 20));
    // 1 MiB is past the default 16 KiB high-water mark: wait for drain.
    assert_eq!(p.server.write_payload(id, 1, 1 << 20), Ok(false));
    assert!(p.server.session_memory() < before + 4096);
    assert_eq!(p.server.stream_state(id).unwrap().buffer_size, 1 << 20);
    // A stream that cannot take data refuses, and keeps no reference.
    assert!(p.server.write_payload(99, 2, 10).is_err());
    // An empty chunk is released at once.
    assert_eq!(p.server.write_payload(id, 3, 0), Ok(false));
    p.run().unwrap();
    assert_eq!(p.released, vec![3]);
}

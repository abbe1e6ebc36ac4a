//! RFC 9218 extensible priorities: the `priority` field and PRIORITY_UPDATE
//! frames set a response's urgency and incrementalness, and the scheduler
//! sends DATA by them (§10); SETTINGS_NO_RFC7540_PRIORITIES; the frame's
//! error cases (§7.1).

mod common;

use bytes::Bytes;
use common::*;
use h2wasm_engine::pair::Pair;
use h2wasm_engine::urgency::Urgency;
use h2wasm_engine::wire::{FrameHeader, kind};
use h2wasm_engine::{ErrorCode, HeaderField, PrioritySpec, RespondOptions};

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

/// A GET on `id`, with `priority` as its priority field if given.
fn get_with(p: &mut RawPeer, id: u32, priority: Option<&'static str>) {
    let mut fields = request_fields("/");
    if let Some(v) = priority {
        fields.push(h("priority", v));
    }
    p.send_headers(id, &fields, true);
}

fn priority_update(p: &mut RawPeer, id: u32, value: &str) {
    let mut payload = id.to_be_bytes().to_vec();
    payload.extend_from_slice(value.as_bytes());
    p.send_frame(kind::PRIORITY_UPDATE, 0, 0, &payload);
}

fn respond_with(p: &mut RawPeer, id: u32, fields: Vec<HeaderField>, len: usize) {
    p.conn
        .respond(id, fields, RespondOptions::default())
        .unwrap();
    p.conn.write(id, Bytes::from(vec![0u8; len])).unwrap();
    p.conn.end(id).unwrap();
}

/// The streams of the DATA frames sent, in wire order.
fn data_order(p: &mut RawPeer) -> Vec<u32> {
    let mut out = Vec::new();
    while let Some(b) = p.conn.poll_transmit(64 * 1024) {
        out.extend_from_slice(&b.octets);
    }
    let mut frames = Vec::new();
    let mut rest = &out[..];
    while let Some(head) = FrameHeader::parse(rest) {
        let end = 9 + head.length as usize;
        if head.kind == kind::DATA && head.length > 0 {
            frames.push(head.stream_id);
        }
        rest = &rest[end..];
    }
    frames
}

/// The order streams' DATA begins and ends: `[(id, first, last)]` by
/// frame index.
fn spans(frames: &[u32], id: u32) -> (usize, usize) {
    let first = frames.iter().position(|s| *s == id).unwrap();
    let last = frames.iter().rposition(|s| *s == id).unwrap();
    (first, last)
}

/// §10: urgency 1 before 5 whatever the order of the requests; the two
/// non-incremental responses of urgency 1 one after the other, lower
/// stream first; at urgency 5 the non-incremental one whole, then the
/// incremental ones interleaved.
#[test]
fn data_goes_by_urgency_then_whole_or_in_turns() {
    let mut p = wide_open_server();
    get_with(&mut p, 1, Some("u=5"));
    get_with(&mut p, 3, Some("u=1"));
    get_with(&mut p, 5, Some("u=1"));
    get_with(&mut p, 7, Some("u=5, i"));
    get_with(&mut p, 9, Some("u=5, i"));
    p.take_frames();
    let state = p.conn.stream_state(7).unwrap();
    assert_eq!((state.urgency, state.incremental), (5, true));
    for id in [1, 3, 5, 7, 9] {
        respond_with(&mut p, id, status("200"), 64 * 1024);
    }
    let frames = data_order(&mut p);
    let (s3, s5, s1, s7, s9) = (
        spans(&frames, 3),
        spans(&frames, 5),
        spans(&frames, 1),
        spans(&frames, 7),
        spans(&frames, 9),
    );
    assert!(s3.1 < s5.0, "3 whole before 5: {frames:?}");
    assert!(s5.1 < s1.0, "urgency 1 before 5: {frames:?}");
    assert!(s1.1 < s7.0.min(s9.0), "non-incremental first: {frames:?}");
    // Interleaved: each begins before the other ends.
    assert!(s7.0 < s9.1 && s9.0 < s7.1, "7 and 9 in turns: {frames:?}");
}

/// §7.1: a PRIORITY_UPDATE for a stream not yet opened is kept and wins
/// over that request's own field; one for an open stream reorders it.
#[test]
fn priority_updates_reorder_open_streams_and_ones_to_come() {
    let mut p = wide_open_server();
    priority_update(&mut p, 5, "u=0");
    get_with(&mut p, 1, None);
    get_with(&mut p, 3, None);
    get_with(&mut p, 5, Some("u=7"));
    priority_update(&mut p, 3, "u=1");
    p.take_frames();
    assert_eq!(p.conn.stream_state(5).unwrap().urgency, 0);
    assert_eq!(p.conn.stream_state(3).unwrap().urgency, 1);
    assert_eq!(p.conn.stream_state(1).unwrap().urgency, 3);
    for id in [1, 3, 5] {
        respond_with(&mut p, id, status("200"), 64 * 1024);
    }
    let frames = data_order(&mut p);
    let (s5, s3, s1) = (spans(&frames, 5), spans(&frames, 3), spans(&frames, 1));
    assert!(s5.1 < s3.0 && s3.1 < s1.0, "{frames:?}");
}

/// §8: the response's own `priority` field is the server's word: a
/// response made less urgent goes after one its request tied with.
#[test]
fn a_response_priority_field_reorders_its_data() {
    let mut p = wide_open_server();
    get_with(&mut p, 1, Some("u=2"));
    get_with(&mut p, 3, Some("u=2"));
    p.take_frames();
    let mut later = status("200");
    later.push(h("priority", "u=6"));
    respond_with(&mut p, 1, later, 64 * 1024);
    respond_with(&mut p, 3, status("200"), 64 * 1024);
    let frames = data_order(&mut p);
    assert!(spans(&frames, 3).1 < spans(&frames, 1).0, "{frames:?}");
}

/// Without any signal, streams share the connection in turns as before.
#[test]
fn without_signals_streams_take_turns() {
    let mut p = wide_open_server();
    get_with(&mut p, 1, None);
    get_with(&mut p, 3, None);
    p.take_frames();
    respond_with(&mut p, 1, status("200"), 256 * 1024);
    respond_with(&mut p, 3, status("200"), 256 * 1024);
    let frames = data_order(&mut p);
    let (s1, s3) = (spans(&frames, 1), spans(&frames, 3));
    assert!(s3.0 < s1.1, "interleaved: {frames:?}");
}

/// §7.1's errors: PRIORITY_UPDATE on a stream, shorter than its stream
/// id, or for stream 0, ends the connection; a value that is not a
/// dictionary is ignored.
#[test]
fn malformed_priority_updates_are_connection_errors() {
    let cases: [(u32, Vec<u8>, ErrorCode); 3] = [
        (1, b"\0\0\0\x01u=1".to_vec(), ErrorCode::PROTOCOL_ERROR),
        (0, b"\0\0\x01".to_vec(), ErrorCode::FRAME_SIZE_ERROR),
        (0, b"\0\0\0\0u=1".to_vec(), ErrorCode::PROTOCOL_ERROR),
    ];
    for (stream, payload, code) in cases {
        let mut p = RawPeer::server();
        p.send_frame(kind::PRIORITY_UPDATE, 0, stream, &payload);
        assert_eq!(p.goaway(), Some(code), "{payload:?} on {stream}");
    }
    let mut p = RawPeer::server();
    get_with(&mut p, 1, Some("u=2"));
    priority_update(&mut p, 1, "u=1,");
    assert_eq!(p.goaway(), None);
    assert_eq!(p.conn.stream_state(1).unwrap().urgency, 2);
}

/// §7.1: servers send no PRIORITY_UPDATE; a client that gets one ends
/// the connection.
#[test]
fn a_client_refuses_priority_update() {
    let (mut p, id) = RawPeer::client_with_request();
    priority_update(&mut p, id, "u=1");
    assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
}

/// §2.1: SETTINGS_NO_RFC7540_PRIORITIES is 0 or 1 and stays as sent; a
/// peer that sent 1 has its RFC 7540 signals ignored.
#[test]
fn no_rfc7540_priorities_is_checked_and_honoured() {
    let setting = |v: u32| {
        let mut s = vec![0, 9];
        s.extend_from_slice(&v.to_be_bytes());
        s
    };
    let mut p = RawPeer::server();
    p.send_frame(kind::SETTINGS, 0, 0, &setting(2));
    assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));

    let mut p = RawPeer::server();
    p.send_frame(kind::SETTINGS, 0, 0, &setting(1));
    let mut spec = Vec::new();
    PrioritySpec {
        dependency: 0,
        exclusive: false,
        weight: 200,
    }
    .encode(&mut spec);
    get_with(&mut p, 1, None);
    p.send_frame(kind::PRIORITY, 0, 1, &spec);
    assert_eq!(p.conn.stream_state(1).unwrap().weight, 16);
    assert_eq!(p.goaway(), None);
    p.send_frame(kind::SETTINGS, 0, 0, &setting(0));
    assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
}

/// The client's side: `update_priority` sends PRIORITY_UPDATE, which the
/// server applies to the stream; the setting goes out where configured.
#[test]
fn a_client_updates_a_priority_and_a_server_takes_it() {
    let mut server = h2wasm_engine::Options::default();
    server.settings.no_rfc7540_priorities = Some(true);
    let mut p = Pair::new(h2wasm_engine::Options::default(), server).unwrap();
    p.run().unwrap();
    assert_eq!(p.client.remote_settings().no_rfc7540_priorities, Some(true));
    let id = open_gets(&mut p, "/", 1)[0];
    p.client
        .update_priority(
            id,
            Urgency {
                urgency: 1,
                incremental: true,
            },
        )
        .unwrap();
    p.run().unwrap();
    let state = p.server.stream_state(id).unwrap();
    assert_eq!((state.urgency, state.incremental), (1, true));
    assert!(p.server.update_priority(id, Urgency::default()).is_err());
}

//! Receive-side flow-control accounting (RFC 9113 §5.2, §6.9): every octet
//! the peer sends is handed back exactly once, whether the application
//! consumed it or its stream closed first, and credit already granted is
//! never taken back.

mod common;

use common::*;
use h2wasm_engine::wire::{flag, kind};
use h2wasm_engine::{ErrorCode, Options, RespondOptions};

/// Sum of the WINDOW_UPDATE increments the engine sent on `stream`.
fn window_updates(p: &RawPeer, stream: u32) -> u64 {
    p.received
        .iter()
        .filter(|f| f.head.kind == kind::WINDOW_UPDATE && f.head.stream_id == stream)
        .map(|f| {
            u64::from(
                u32::from_be_bytes([f.payload[0], f.payload[1], f.payload[2], f.payload[3]])
                    & 0x7fff_ffff,
            )
        })
        .sum()
}

/// The credit we granted the peer is what the connection window target
/// says: what it may still send, plus what it sent that we have not
/// handed back yet (RFC 9113 §6.9: each octet returned once).
fn assert_connection_credit_balanced(p: &RawPeer) {
    let s = p.conn.session_state();
    assert_eq!(
        s.effective_local_window_size + i64::from(s.effective_recv_data_length),
        i64::from(s.local_window_size),
        "{s:?}"
    );
}

fn manual() -> Options {
    Options {
        manual_consume: true,
        ..Options::default()
    }
}

/// `n` POSTs with `len` octets of body each, answered 200 without a body.
fn uploads(p: &mut RawPeer, n: u32, len: usize, read_body: bool) {
    for i in 0..n {
        let id = 1 + 2 * i;
        p.send_headers(id, &post_fields(), false);
        p.send_data(id, &vec![7; len], true);
        if read_body {
            p.conn.consume(id, len as u32).unwrap();
        }
        p.conn
            .respond(
                id,
                status("200"),
                RespondOptions {
                    end_stream: true,
                    ..Default::default()
                },
            )
            .unwrap();
        p.pump();
        assert_eq!(closed_code(&p.events, id), Some(ErrorCode::NO_ERROR));
    }
}

/// RFC 9113 §6.9.1: closing a stream must not credit the connection a
/// second time for octets already consumed. 40 × 1,000 octets used to bring
/// 66,000 octets of connection WINDOW_UPDATE.
#[test]
fn s6_9_closed_streams_do_not_credit_the_connection_twice() {
    let mut p = RawPeer::server();
    uploads(&mut p, 40, 1_000, false);
    assert!(window_updates(&p, 0) <= 40_000, "{}", window_updates(&p, 0));
    assert_connection_credit_balanced(&p);
    assert_eq!(p.goaway(), None);
}

/// The same in manual-consume mode (the host pump's): 200 × 1,000 consumed
/// octets used to bring 396,000 octets of connection WINDOW_UPDATE.
#[test]
fn s6_9_consumed_octets_are_returned_once_in_manual_mode() {
    let mut p = RawPeer::server_with(manual());
    uploads(&mut p, 200, 1_000, true);
    let returned = window_updates(&p, 0);
    assert!(returned <= 200_000, "{returned}");
    // Batched at half the 65,535 target: all but the last batch is back.
    assert!(returned > 200_000 - 32_768, "{returned}");
    assert_connection_credit_balanced(&p);
}

/// RFC 9113 §5.2 / §6.9: octets received on a stream that closes before
/// the application consumed them still occupy the connection window and
/// must be returned, or the peer is eventually blocked (or, if it keeps
/// sending, wrongly charged with FLOW_CONTROL_ERROR).
#[test]
fn s5_2_unconsumed_octets_are_returned_when_their_stream_closes() {
    let mut p = RawPeer::server_with(manual());
    p.send_headers(1, &post_fields(), false);
    for _ in 0..3 {
        p.send_data(1, &[1; 16_000], false);
    }
    p.send_data(1, &[1; 10_000], true);
    // Answered without reading the body (a 413, say).
    p.conn
        .respond(
            1,
            status("413"),
            RespondOptions {
                end_stream: true,
                ..Default::default()
            },
        )
        .unwrap();
    p.pump();
    assert_eq!(closed_code(&p.events, 1), Some(ErrorCode::NO_ERROR));
    assert_eq!(window_updates(&p, 0), 58_000);
    // 58,000 + 16,000 is more than 65,535: only fine if 58,000 came back.
    p.send_headers(3, &post_fields(), false);
    p.send_data(3, &[2; 16_000], true);
    assert_eq!(p.goaway(), None);
    assert_eq!(body(&p.events, 3).len(), 16_000);
    assert_connection_credit_balanced(&p);
}

/// A stream reset by the peer mid-upload returns what it left unread too.
#[test]
fn s5_2_unconsumed_octets_of_a_reset_stream_are_returned() {
    let mut p = RawPeer::server_with(manual());
    p.send_headers(1, &post_fields(), false);
    for n in [16_000, 16_000, 8_000] {
        p.send_data(1, &vec![1; n], false);
    }
    p.conn.consume(1, 6_000).unwrap();
    p.send_frame(kind::RST_STREAM, 0, 1, &ErrorCode::CANCEL.0.to_be_bytes());
    assert_eq!(window_updates(&p, 0), 40_000);
    assert_connection_credit_balanced(&p);
    // Consuming after the close changes nothing.
    assert!(p.conn.consume(1, 10_000).is_err());
    p.pump();
    assert_eq!(window_updates(&p, 0), 40_000);
}

/// Consuming more than was received cannot open the window beyond the
/// credit the peer was given.
#[test]
fn s6_9_consume_beyond_what_was_received_is_ignored() {
    let mut p = RawPeer::server_with(manual());
    p.send_headers(1, &post_fields(), false);
    for n in [16_000, 16_000, 8_000] {
        p.send_data(1, &vec![1; n], false);
    }
    p.conn.consume(1, 1_000_000).unwrap();
    p.pump();
    assert_eq!(window_updates(&p, 0), 40_000);
    assert_eq!(window_updates(&p, 1), 40_000);
    assert_connection_credit_balanced(&p);
}

/// Padding counts toward flow control and is handed back at once (§6.1),
/// with the payload following when consumed; the sum is returned once.
#[test]
fn s6_1_padding_and_payload_are_each_returned_once() {
    let mut p = RawPeer::server_with(manual());
    p.send_headers(1, &post_fields(), false);
    let mut padded = vec![99u8];
    padded.extend_from_slice(&[5; 16_000]);
    padded.extend_from_slice(&[0; 99]);
    for end in [0, 0, flag::END_STREAM] {
        p.send_frame(kind::DATA, flag::PADDED | end, 1, &padded);
    }
    p.conn.consume(1, 48_000).unwrap();
    p.conn
        .respond(
            1,
            status("200"),
            RespondOptions {
                end_stream: true,
                ..Default::default()
            },
        )
        .unwrap();
    p.pump();
    assert_eq!(window_updates(&p, 0), 48_300);
    assert_connection_credit_balanced(&p);
}

/// RFC 9113 §6.9: shrinking our connection window cannot revoke credit the
/// peer already holds. With a 1 MiB window, `set_local_window_size(65535)`
/// then 192,000 octets from a compliant peer used to end the connection
/// with FLOW_CONTROL_ERROR.
#[test]
fn s6_9_shrinking_the_local_window_keeps_credit_already_granted() {
    let mut p = RawPeer::server_with(Options {
        connection_window_size: 1 << 20,
        settings: h2wasm_engine::Settings {
            initial_window_size: Some(1 << 20),
            ..Default::default()
        },
        ..Options::default()
    });
    p.conn.set_local_window_size(65_535).unwrap();
    p.take_frames();
    p.send_headers(1, &post_fields(), false);
    for _ in 0..12 {
        p.send_data(1, &[3; 16_000], false);
    }
    assert_eq!(p.goaway(), None, "{:?}", p.received);
    assert_eq!(body(&p.events, 1).len(), 192_000);
    // Nothing is handed back at connection level until the shrink is
    // absorbed: 1 MiB - 65,535 octets.
    assert_eq!(window_updates(&p, 0), 0);
    let s = p.conn.session_state();
    assert_eq!(s.local_window_size, 65_535);
    // The peer may still send the rest of the 1 MiB it was given.
    let rest = (1u32 << 20) - 192_000;
    let mut left = rest as usize;
    while left > 0 {
        let n = left.min(16_384);
        p.send_data(1, &vec![3; n], false);
        left -= n;
    }
    assert_eq!(p.goaway(), None);
    // From here the window is the new target: 65,535.
    assert!(window_updates(&p, 0) <= 65_535);
    let s = p.conn.session_state();
    assert!(s.effective_local_window_size <= 65_535, "{s:?}");
}

/// Growing the window again first cancels a shrink not yet absorbed.
#[test]
fn s6_9_growing_after_a_shrink_cancels_it_first() {
    let mut p = RawPeer::server_with(Options {
        connection_window_size: 1 << 20,
        ..Options::default()
    });
    p.take_frames();
    p.conn.set_local_window_size(65_535).unwrap();
    p.conn.set_local_window_size(2 << 20).unwrap();
    p.pump();
    // The peer held 1 MiB; the target is now 2 MiB: 1 MiB more, not
    // 2 MiB - 65,535.
    assert_eq!(window_updates(&p, 0), 1 << 20);
    assert_eq!(p.conn.session_state().effective_local_window_size, 2 << 20);
}

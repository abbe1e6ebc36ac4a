//! Peers that stop half-way must not hold a connection for ever: a frame
//! (or header block) that is never completed ends the connection after
//! the frame timeout, a request the client never ends after its response
//! went out is reset after the half-closed timeout, and a peer that
//! allows huge frames still gets DATA no larger than the batch asked for.

mod common;

use bytes::Bytes;
use common::*;
use h2wasm_engine::pair::Pair;
use h2wasm_engine::wire::{FrameHeader, flag, kind};
use h2wasm_engine::{ErrorCode, Event, Options, RespondOptions, Settings};

const SEC: u64 = 1_000_000_000;

fn server(frame_timeout: Option<u64>, half_closed: Option<u64>) -> RawPeer {
    RawPeer::server_with(Options {
        frame_timeout_ns: frame_timeout,
        half_closed_timeout_ns: half_closed,
        ..Options::default()
    })
}

/// Advances the peer's clock to `at` and lets the engine's timers run.
fn tick(p: &mut RawPeer, at: u64) {
    p.now = at;
    p.conn.handle_timeout(at);
    p.pump();
}

mod frame_timeout {
    use super::*;

    #[test]
    fn defaults_to_ten_seconds() {
        let o = Options::default();
        assert_eq!(o.frame_timeout_ns, Some(10 * SEC));
        assert_eq!(o.half_closed_timeout_ns, Some(10 * SEC));
    }

    #[test]
    fn a_frame_header_left_half_sent_ends_the_connection_at_the_timeout() {
        let mut p = server(Some(3 * SEC), None);
        assert_eq!(p.conn.poll_timeout(), None, "nothing partial yet");
        p.now = SEC;
        // Four of a frame header's nine octets.
        p.send_bytes(&[0, 0, 4, kind::PING]);
        assert_eq!(p.conn.poll_timeout(), Some(4 * SEC));
        tick(&mut p, 4 * SEC - 1);
        assert_eq!(p.goaway(), None, "not before the deadline");
        tick(&mut p, 4 * SEC);
        assert_eq!(p.goaway(), Some(ErrorCode::ENHANCE_YOUR_CALM));
        assert!(p.conn.is_closed());
        assert!(
            p.events
                .iter()
                .any(|e| matches!(e, Event::ConnectionError { code, .. } if *code == ErrorCode::ENHANCE_YOUR_CALM))
        );
    }

    #[test]
    fn the_clock_runs_from_the_first_octet_not_the_last() {
        let mut p = server(Some(3 * SEC), None);
        // A PING frame trickled one octet a second: 17 octets in all.
        let mut ping = Vec::new();
        FrameHeader::new(kind::PING, 0, 0, 8).encode(&mut ping);
        ping.extend_from_slice(b"trickled");
        for (i, octet) in ping.iter().take(3).enumerate() {
            p.now = (i as u64 + 1) * SEC;
            p.send_bytes(&[*octet]);
        }
        assert_eq!(p.conn.poll_timeout(), Some(4 * SEC));
        tick(&mut p, 4 * SEC);
        assert_eq!(p.goaway(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    }

    #[test]
    fn a_frame_completed_in_time_clears_the_clock_and_the_next_starts_its_own() {
        let mut p = server(Some(3 * SEC), None);
        let mut ping = Vec::new();
        FrameHeader::new(kind::PING, 0, 0, 8).encode(&mut ping);
        ping.extend_from_slice(b"in-time!");
        p.now = SEC;
        p.send_bytes(&ping[..5]);
        p.now = 3 * SEC;
        // The rest, and the first octets of another frame.
        let mut rest = ping[5..].to_vec();
        rest.extend_from_slice(&ping[..2]);
        p.send_bytes(&rest);
        assert!(
            p.received
                .iter()
                .any(|f| f.head.kind == kind::PING && f.head.flags & flag::ACK != 0),
            "the first PING was answered"
        );
        assert_eq!(
            p.conn.poll_timeout(),
            Some(6 * SEC),
            "the second frame's own three seconds"
        );
        p.now = 5 * SEC;
        p.send_bytes(&ping[2..]);
        assert_eq!(p.conn.poll_timeout(), None);
        tick(&mut p, 100 * SEC);
        assert_eq!(p.goaway(), None);
    }

    #[test]
    fn a_header_block_waiting_for_continuation_counts_from_its_headers_frame() {
        let mut p = server(Some(3 * SEC), None);
        p.now = SEC;
        let block = p.block(&request_fields("/"));
        // HEADERS without END_HEADERS: a CONTINUATION must follow.
        p.send_frame(kind::HEADERS, flag::END_STREAM, 1, &block[..2]);
        assert_eq!(p.conn.poll_timeout(), Some(4 * SEC));
        p.now = 2 * SEC;
        p.send_frame(kind::CONTINUATION, 0, 1, &block[2..3]);
        assert_eq!(
            p.conn.poll_timeout(),
            Some(4 * SEC),
            "CONTINUATION frames do not restart the block's clock"
        );
        tick(&mut p, 4 * SEC);
        assert_eq!(p.goaway(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    }

    #[test]
    fn none_turns_it_off() {
        let mut p = server(None, None);
        p.send_bytes(&[0, 0, 4]);
        assert_eq!(p.conn.poll_timeout(), None);
        tick(&mut p, 1_000 * SEC);
        assert_eq!(p.goaway(), None);
    }
}

mod half_closed {
    use super::*;

    fn respond_complete(p: &mut RawPeer, id: u32) {
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
    }

    #[test]
    fn a_request_never_ended_after_a_complete_response_is_reset_with_no_error() {
        let mut p = server(None, Some(5 * SEC));
        p.now = SEC;
        p.send_headers(1, &post_fields(), false);
        // Open both ways: nothing to time.
        assert_eq!(p.conn.poll_timeout(), None);
        p.now = 2 * SEC;
        respond_complete(&mut p, 1);
        assert_eq!(p.conn.open_streams(), 1, "half-closed (local)");
        // Commands take no clock: the engine's is the last time passed
        // in (1 s), and the clock starts there.
        assert_eq!(p.conn.poll_timeout(), Some(6 * SEC));
        // The client is still sending: each frame restarts the clock.
        p.now = 6 * SEC;
        p.send_data(1, b"more", false);
        assert_eq!(p.conn.poll_timeout(), Some(11 * SEC));
        tick(&mut p, 11 * SEC - 1);
        assert_eq!(p.rst(1), None);
        tick(&mut p, 11 * SEC);
        assert_eq!(p.rst(1), Some(ErrorCode::NO_ERROR), "RFC 9113 §8.1");
        assert_eq!(p.conn.open_streams(), 0, "closed, no longer held");
        assert_eq!(p.goaway(), None, "the connection goes on");
        assert_eq!(p.conn.poll_timeout(), None);
        // Late DATA on the reset stream is tolerated, not an error.
        p.send_data(1, b"late", true);
        assert_eq!(p.goaway(), None);
    }

    #[test]
    fn a_request_that_ends_in_time_is_left_alone() {
        let mut p = server(None, Some(5 * SEC));
        p.send_headers(1, &post_fields(), false);
        respond_complete(&mut p, 1);
        p.now = 4 * SEC;
        p.send_data(1, b"last", true);
        assert_eq!(p.conn.open_streams(), 0, "closed normally");
        assert_eq!(p.conn.poll_timeout(), None);
        tick(&mut p, 100 * SEC);
        assert_eq!(p.rst(1), None);
    }

    #[test]
    fn a_response_still_being_written_is_not_timed() {
        let mut p = server(None, Some(5 * SEC));
        p.send_headers(1, &post_fields(), false);
        p.conn
            .respond(1, status("200"), RespondOptions::default())
            .unwrap();
        p.conn.write(1, Bytes::from_static(b"partial")).unwrap();
        p.pump();
        assert_eq!(p.conn.poll_timeout(), None);
        tick(&mut p, 100 * SEC);
        assert_eq!(p.rst(1), None);
    }

    #[test]
    fn clients_do_not_reset_requests_waiting_for_their_response() {
        // A client's request is half-closed (local) until the response
        // ends: a long poll is not a stuck peer.
        let mut p = Pair::new(
            Options {
                authority: "example.com".into(),
                half_closed_timeout_ns: Some(SEC),
                ..Options::default()
            },
            Options::default(),
        )
        .unwrap();
        p.run().unwrap();
        let id = open_gets(&mut p, "/poll", 1)[0];
        assert_eq!(p.client.poll_timeout(), None);
        p.client.handle_timeout(100 * SEC);
        p.run().unwrap();
        assert_eq!(p.client.open_streams(), 1);
        assert!(closed_code(&p.client_events, id).is_none());
    }
}

/// A peer that announces the largest SETTINGS_MAX_FRAME_SIZE and opens its
/// windows wide still gets DATA frames no larger than the batch asked for
/// (at least 16,384 octets): a reader that then stops holds one batch, not
/// a 16 MiB frame.
#[test]
fn data_frames_stay_within_the_batch_whatever_the_peer_frame_size() {
    for batch in [16 * 1024, 100_000, 512 * 1024] {
        let largest = largest_data_frame(batch);
        assert!(
            largest <= batch.max(16 * 1024),
            "a {largest}-octet DATA frame in batches of {batch}"
        );
        assert!(
            largest > batch / 2,
            "frames as large as the batch allows: {largest} in batches of {batch}"
        );
    }
}

/// Sends 4 MiB from host payload and 3 MiB written into the engine to a
/// peer with 16 MiB frames and windows wide open, taking output `batch`
/// octets at a time; returns the largest DATA frame.
fn largest_data_frame(batch: usize) -> usize {
    let client = Options {
        authority: "localhost".into(),
        connection_window_size: (1 << 31) - 1,
        settings: Settings {
            initial_window_size: Some((1 << 31) - 1),
            max_frame_size: Some((1 << 24) - 1),
            ..Default::default()
        },
        ..Options::default()
    };
    let mut p = Pair::new(client, Options::default()).unwrap();
    p.run().unwrap();
    let ids = open_gets(&mut p, "/big", 2);
    let body: Bytes = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    p.server
        .respond_with_payload(
            ids[0],
            vec![h("content-type", "application/octet-stream")],
            9,
            4 << 20,
        )
        .unwrap();
    p.server
        .respond(ids[1], status("200"), RespondOptions::default())
        .unwrap();
    p.server
        .write(ids[1], Bytes::from(vec![7u8; 3 << 20]))
        .unwrap();
    p.server.end(ids[1]).unwrap();
    let mut wire = Vec::new();
    while let Some(t) = p.server.poll_transmit(batch) {
        assert!(
            t.len() <= batch + 16 * 1024 + 9,
            "a batch of {batch} carried {} octets",
            t.len()
        );
        wire.extend(t.assemble(|r, dest| {
            let start = r.offset as usize;
            dest.copy_from_slice(&body[start..start + r.length]);
        }));
    }
    let (mut at, mut largest, mut data) = (0, 0, 0);
    while let Some(head) = FrameHeader::parse(&wire[at..]) {
        if head.kind == kind::DATA {
            largest = largest.max(head.length as usize);
            data += head.length as usize;
        }
        at += 9 + head.length as usize;
    }
    assert_eq!(at, wire.len(), "whole frames");
    assert_eq!(data, 7 << 20, "every octet of both bodies");
    largest
}

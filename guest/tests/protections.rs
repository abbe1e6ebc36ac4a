//! Node's protective options: each test crosses a limit and checks the
//! documented outcome.

mod common;

use common::*;
use h2wasm_engine::wire::kind;
use h2wasm_engine::{ErrorCode, Options};

const MS: u64 = 1_000_000;

fn open_and_reset(p: &mut RawPeer, id: u32) {
    p.send_headers(id, &request_fields("/"), true);
    p.send_frame(kind::RST_STREAM, 0, id, &ErrorCode::CANCEL.0.to_be_bytes());
}

mod rapid_reset {
    use super::*;

    #[test]
    fn defaults_are_nodes() {
        let o = Options::default();
        assert_eq!((o.stream_reset_burst, o.stream_reset_rate), (1000, 33));
    }

    #[test]
    fn resets_beyond_the_burst_end_the_connection() {
        let mut p = RawPeer::server();
        for i in 0..1000 {
            open_and_reset(&mut p, 1 + 2 * i);
        }
        assert_eq!(p.goaway(), None, "the burst itself is allowed");
        open_and_reset(&mut p, 2001);
        assert_eq!(p.goaway(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    }

    #[test]
    fn resets_at_the_refill_rate_go_on_indefinitely() {
        let mut p = RawPeer::server_with(Options {
            stream_reset_burst: 5,
            stream_reset_rate: 10,
            ..Options::default()
        });
        for i in 0..200 {
            p.now += 100 * MS;
            open_and_reset(&mut p, 1 + 2 * i);
        }
        assert_eq!(p.goaway(), None);
        // Faster than 10 per second drains the bucket.
        for i in 200..206 {
            open_and_reset(&mut p, 1 + 2 * i);
        }
        assert_eq!(p.goaway(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    }

    #[test]
    fn a_zero_burst_disables_the_limit() {
        let mut p = RawPeer::server_with(Options {
            stream_reset_burst: 0,
            ..Options::default()
        });
        for i in 0..1500 {
            open_and_reset(&mut p, 1 + 2 * i);
        }
        assert_eq!(p.goaway(), None);
    }
}

mod session_memory {
    use super::*;
    use h2wasm_engine::{Event, RespondOptions};

    /// A stalled server whose stream 1 has `queued` octets it cannot send.
    fn server_holding(opts: Options, queued: usize) -> RawPeer {
        let mut p = stalled_server(opts);
        p.send_headers(1, &request_fields("/"), true);
        p.conn
            .respond(1, status("200"), RespondOptions::default())
            .unwrap();
        p.conn
            .write(1, bytes::Bytes::from(vec![7u8; queued]))
            .unwrap();
        p.pump();
        p
    }

    /// A server whose client grants no stream window, so whatever the
    /// application writes stays queued in the session.
    fn stalled_server(opts: Options) -> RawPeer {
        let mut p = RawPeer::server_with(opts);
        let mut zero_window = vec![0, 4];
        zero_window.extend_from_slice(&0u32.to_be_bytes());
        p.send_frame(kind::SETTINGS, 0, 0, &zero_window);
        p
    }

    fn requests(p: &RawPeer) -> Vec<u32> {
        p.events
            .iter()
            .filter_map(|e| match e {
                Event::Request { stream_id, .. } => Some(*stream_id),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn default_is_ten_megabytes() {
        assert_eq!(Options::default().max_session_memory, 10);
    }

    #[test]
    fn new_streams_are_refused_while_queued_data_exceeds_the_limit() {
        let opts = Options {
            max_session_memory: 1,
            ..Options::default()
        };
        let mut p = server_holding(opts, 1_500_000);
        assert!(p.conn.session_memory() > 1 << 20);

        p.send_headers(3, &request_fields("/"), true);
        assert_eq!(p.rst(3), Some(ErrorCode::ENHANCE_YOUR_CALM));
        assert_eq!(requests(&p), [1], "the existing stream goes on");
        assert_eq!(p.goaway(), None);

        // The client gives up on the big response: memory is freed and the
        // next stream is served.
        p.send_frame(kind::RST_STREAM, 0, 1, &ErrorCode::CANCEL.0.to_be_bytes());
        assert!(p.conn.session_memory() < 1 << 20);
        p.send_headers(5, &request_fields("/"), true);
        assert_eq!(requests(&p), [1, 5]);
    }

    /// Request bodies delivered but not yet consumed (with `consume`, they
    /// wait in the application's buffers) count too: uploads the
    /// application does not read cannot grow memory past the limit.
    #[test]
    fn unconsumed_request_bodies_count_against_the_limit() {
        let big = (1u32 << 31) - 1;
        let mut p = RawPeer::server_with(Options {
            max_session_memory: 1,
            manual_consume: true,
            settings: h2wasm_engine::Settings {
                initial_window_size: Some(big),
                ..Default::default()
            },
            connection_window_size: big,
            ..Options::default()
        });
        p.send_headers(1, &post_fields(), false);
        for _ in 0..70 {
            p.send_data(1, &[1; 16_000], false);
        }
        assert!(p.conn.session_memory() > 1 << 20);
        p.send_headers(3, &post_fields(), false);
        assert_eq!(p.rst(3), Some(ErrorCode::ENHANCE_YOUR_CALM));
        // Consumed, it no longer counts.
        p.conn.consume(1, 70 * 16_000).unwrap();
        p.send_headers(5, &post_fields(), false);
        assert_eq!(p.rst(5), None);
        assert!(requests(&p).contains(&5));
    }

    /// What the host holds for a stream outside the engine (a WebSocket's
    /// buffers) counts once reserved, limits what the client may open as
    /// the engine's own memory does, and goes with the stream.
    #[test]
    fn memory_the_host_reserves_for_a_stream_counts_until_it_closes() {
        let opts = Options {
            max_session_memory: 1,
            ..Options::default()
        };
        // Stream 1 holds 100 KB it cannot send.
        let mut p = server_holding(opts, 100_000);
        p.send_headers(3, &post_fields(), false);
        let before = p.conn.session_memory();
        p.conn.reserve_memory(3, 500_000).unwrap();
        assert_eq!(p.conn.session_memory(), before + 500_000);
        // No room for another such reservation: refused, nothing counted.
        p.send_headers(5, &post_fields(), false);
        let three_streams = p.conn.session_memory();
        assert_eq!(
            p.conn.reserve_memory(5, 500_000),
            Err(h2wasm_engine::CommandError::SessionMemory)
        );
        assert_eq!(p.conn.session_memory(), three_streams);
        assert_eq!(
            p.conn.reserve_memory(99, 1),
            Err(h2wasm_engine::CommandError::UnknownStream)
        );
        // Filled to the brim, and stream 1's queue grows past it: new
        // streams are refused.
        let room = (1 << 20) - p.conn.session_memory() as u32;
        p.conn.reserve_memory(5, room).unwrap();
        p.conn
            .write(1, bytes::Bytes::from(vec![7u8; 1000]))
            .unwrap();
        p.send_headers(7, &request_fields("/"), true);
        assert_eq!(p.rst(7), Some(ErrorCode::ENHANCE_YOUR_CALM));
        // The reserving streams end (the client resets them): their
        // reservations go, and the next stream is served.
        p.send_frame(kind::RST_STREAM, 0, 3, &ErrorCode::CANCEL.0.to_be_bytes());
        p.send_frame(kind::RST_STREAM, 0, 5, &ErrorCode::CANCEL.0.to_be_bytes());
        assert!(p.conn.session_memory() < 200_000);
        p.send_headers(9, &request_fields("/"), true);
        assert_eq!(p.rst(9), None);
        assert!(requests(&p).contains(&9));
    }

    #[test]
    fn refusals_count_towards_max_session_rejected_streams() {
        let opts = Options {
            max_session_memory: 1,
            max_session_rejected_streams: 3,
            ..Options::default()
        };
        let mut p = server_holding(opts, 2_000_000);
        for id in [3, 5, 7, 9] {
            p.send_headers(id, &request_fields("/"), true);
        }
        assert_eq!(p.goaway(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    }
}

mod max_send_header_block_length {
    use super::*;
    use h2wasm_engine::HeaderField;
    use h2wasm_engine::pair::Pair;
    use h2wasm_engine::{Event, RequestOptions, RespondOptions};

    fn big(n: usize) -> HeaderField {
        HeaderField::new("x-big", "v".repeat(n))
    }

    fn frame_errors(events: &[Event]) -> Vec<u32> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::FrameError {
                    stream_id,
                    frame_type,
                    ..
                } if *frame_type == kind::HEADERS => Some(*stream_id),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn oversized_response_is_a_frame_error_and_the_stream_is_reset() {
        let server = Options {
            max_send_header_block_length: 1000,
            ..Options::default()
        };
        let client = Options {
            authority: "localhost".into(),
            ..Options::default()
        };
        let mut p = Pair::new(client, server).unwrap();
        let opts = RequestOptions {
            end_stream: true,
            ..Default::default()
        };
        let small = p.client.request(get("/a"), opts.clone()).unwrap();
        let large = p.client.request(get("/b"), opts.clone()).unwrap();
        p.run().unwrap();
        let mut headers = status("200");
        headers.push(big(2000));
        p.server
            .respond(large, headers, RespondOptions::default())
            .unwrap();
        let mut fine = status("200");
        fine.push(big(500));
        let end = RespondOptions {
            end_stream: true,
            ..Default::default()
        };
        p.server.respond(small, fine, end.clone()).unwrap();
        p.run().unwrap();
        assert_eq!(frame_errors(&p.server_events), [large]);
        assert_eq!(
            closed_code(&p.client_events, large),
            Some(ErrorCode::INTERNAL_ERROR)
        );
        assert_eq!(
            closed_code(&p.client_events, small),
            Some(ErrorCode::NO_ERROR)
        );
        // Both HPACK contexts are still in step: the next response decodes.
        let next = p.client.request(get("/c"), opts).unwrap();
        p.run().unwrap();
        p.server.respond(next, status("204"), end).unwrap();
        p.run().unwrap();
        assert_eq!(
            closed_code(&p.client_events, next),
            Some(ErrorCode::NO_ERROR)
        );
    }

    #[test]
    fn oversized_request_never_reaches_the_wire() {
        let client = Options {
            authority: "localhost".into(),
            max_send_header_block_length: 1000,
            ..Options::default()
        };
        let mut p = Pair::new(client, Options::default()).unwrap();
        let mut fields = get("/");
        fields.push(big(5000));
        let id = p.client.request(fields, RequestOptions::default()).unwrap();
        p.run().unwrap();
        assert_eq!(frame_errors(&p.client_events), [id]);
        assert_eq!(
            closed_code(&p.client_events, id),
            Some(ErrorCode::INTERNAL_ERROR)
        );
        assert!(
            p.server_events
                .iter()
                .all(|e| !matches!(e, Event::Request { .. }))
        );
    }
}

mod peer_max_concurrent_streams {
    use super::*;
    use h2wasm_engine::pair::Pair;
    use h2wasm_engine::{Event, RequestOptions};

    /// Node's `peerMaxConcurrentStreams`: the peer's limit assumed until its
    /// SETTINGS say otherwise.
    #[test]
    fn applies_until_the_peers_settings_replace_it() {
        let client = Options {
            peer_max_concurrent_streams: 2,
            authority: "localhost".into(),
            ..Options::default()
        };
        let mut p = Pair::new(client, Options::default()).unwrap();
        let open = RequestOptions {
            end_stream: true,
            ..Default::default()
        };
        let ids: Vec<u32> = (0..3)
            .map(|_| p.client.request(get("/"), open.clone()).unwrap())
            .collect();
        let pending = |p: &Pair, id| p.client.stream_state(id).is_some_and(|s| s.pending);
        assert!(!pending(&p, ids[0]) && !pending(&p, ids[1]));
        assert!(
            pending(&p, ids[2]),
            "a third stream waits for the assumed limit"
        );
        // The server's SETTINGS (no limit of 2) release it.
        p.run().unwrap();
        let requests = p
            .server_events
            .iter()
            .filter(|e| matches!(e, Event::Request { .. }))
            .count();
        assert_eq!(requests, 3);
    }
}

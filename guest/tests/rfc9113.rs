//! Hand-built frames sent to an engine, asserting the exact GOAWAY or
//! RST_STREAM code RFC 9113 requires. Organised by RFC section.

mod common;

use common::*;
use h2wasm_engine::settings::id;
use h2wasm_engine::wire::{flag, kind};
use h2wasm_engine::{Connection, ErrorCode, Event, Options, RequestOptions, Role, Settings};

fn settings_payload(params: &[(u16, u32)]) -> Vec<u8> {
    params
        .iter()
        .flat_map(|(i, v)| {
            let mut b = i.to_be_bytes().to_vec();
            b.extend_from_slice(&v.to_be_bytes());
            b
        })
        .collect()
}

/// A server that accepted request stream 1 (open, no END_STREAM).
fn server_with_open_stream() -> RawPeer {
    let mut p = RawPeer::server();
    p.send_headers(1, &post_fields(), false);
    assert!(
        p.events
            .iter()
            .any(|e| matches!(e, Event::Request { stream_id: 1, .. }))
    );
    p
}

mod s3_preface {
    use super::*;

    #[test]
    fn invalid_preface_is_protocol_error() {
        let conn =
            h2wasm_engine::Connection::new(h2wasm_engine::Role::Server, Options::default(), 0)
                .unwrap();
        let mut p = RawPeer::new(conn);
        p.send_bytes(b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
        assert!(p.conn.is_closed());
    }

    #[test]
    fn preface_split_across_reads_is_accepted() {
        let conn =
            h2wasm_engine::Connection::new(h2wasm_engine::Role::Server, Options::default(), 0)
                .unwrap();
        let mut p = RawPeer::new(conn);
        let magic = h2wasm_engine::connection::PREFACE;
        for b in magic.chunks(5) {
            p.send_bytes(b);
        }
        p.send_frame(kind::SETTINGS, 0, 0, &[]);
        assert_eq!(p.goaway(), None);
        assert!(
            p.received
                .iter()
                .any(|f| f.head.kind == kind::SETTINGS && f.head.flags == flag::ACK)
        );
    }

    #[test]
    fn first_frame_must_be_settings() {
        let conn =
            h2wasm_engine::Connection::new(h2wasm_engine::Role::Server, Options::default(), 0)
                .unwrap();
        let mut p = RawPeer::new(conn);
        p.send_bytes(h2wasm_engine::connection::PREFACE);
        p.send_frame(kind::PING, 0, 0, &[0; 8]);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn server_preface_is_settings_without_enable_push() {
        let mut p = RawPeer::server();
        let first = &p.take_frames()[0];
        assert_eq!(first.head.kind, kind::SETTINGS);
        assert!(!first.payload.chunks(6).any(|c| c[..2] == [0, 2]));
    }
}

mod s4_frame_format {
    use super::*;

    #[test]
    fn unknown_frame_types_are_ignored() {
        let mut p = server_with_open_stream();
        p.send_frame(0xfa, 0xff, 1, b"whatever");
        p.send_frame(0xfa, 0, 0, b"");
        assert_eq!(p.goaway(), None);
        assert_eq!(p.rst(1), None);
    }

    #[test]
    fn reserved_bit_in_stream_id_is_ignored() {
        let mut p = RawPeer::server();
        let block = p.block(&request_fields("/"));
        p.send_frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            0x8000_0001,
            &block,
        );
        assert!(
            p.events
                .iter()
                .any(|e| matches!(e, Event::Request { stream_id: 1, .. }))
        );
    }

    #[test]
    fn frame_over_max_frame_size_is_frame_size_error() {
        let mut p = server_with_open_stream();
        p.send_frame(kind::DATA, 0, 1, &vec![0; 16_385]);
        assert_eq!(p.goaway(), Some(ErrorCode::FRAME_SIZE_ERROR));
    }

    #[test]
    fn frame_of_exactly_max_frame_size_is_accepted() {
        let mut p = server_with_open_stream();
        p.send_frame(kind::DATA, 0, 1, &vec![0; 16_384]);
        assert_eq!(p.goaway(), None);
    }
}

mod s5_1_stream_states {
    use super::*;

    #[test]
    fn data_on_idle_stream_is_protocol_error() {
        let mut p = RawPeer::server();
        p.send_data(1, b"x", false);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn rst_stream_on_idle_stream_is_protocol_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::RST_STREAM, 0, 1, &8u32.to_be_bytes());
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn window_update_on_idle_stream_is_protocol_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::WINDOW_UPDATE, 0, 1, &1u32.to_be_bytes());
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn priority_on_idle_stream_is_allowed() {
        let mut p = RawPeer::server();
        p.send_frame(kind::PRIORITY, 0, 3, &[0, 0, 0, 1, 15]);
        assert_eq!(p.goaway(), None);
    }

    #[test]
    fn data_on_half_closed_remote_is_stream_closed() {
        let mut p = RawPeer::server();
        p.send_headers(1, &request_fields("/"), true);
        p.send_data(1, b"late", false);
        assert_eq!(p.rst(1), Some(ErrorCode::STREAM_CLOSED));
        assert_eq!(p.goaway(), None);
    }

    #[test]
    fn window_update_on_half_closed_remote_is_allowed() {
        let mut p = RawPeer::server();
        p.send_headers(1, &request_fields("/"), true);
        p.send_frame(kind::WINDOW_UPDATE, 0, 1, &100u32.to_be_bytes());
        assert_eq!(p.rst(1), None);
        assert_eq!(p.goaway(), None);
    }

    #[test]
    fn data_after_stream_fully_closed_is_stream_closed_connection_error() {
        let mut p = RawPeer::server();
        p.send_headers(1, &request_fields("/"), true);
        p.conn
            .respond(
                1,
                status("204"),
                h2wasm_engine::RespondOptions {
                    end_stream: true,
                    ..Default::default()
                },
            )
            .unwrap();
        p.pump();
        assert_eq!(closed_code(&p.events, 1), Some(ErrorCode::NO_ERROR));
        p.send_data(1, b"x", false);
        assert_eq!(p.goaway(), Some(ErrorCode::STREAM_CLOSED));
    }

    #[test]
    fn frames_after_peer_reset_are_stream_closed() {
        let mut p = server_with_open_stream();
        p.send_frame(kind::RST_STREAM, 0, 1, &8u32.to_be_bytes());
        assert!(p.events.iter().any(|e| matches!(
            e,
            Event::StreamReset {
                stream_id: 1,
                code: ErrorCode::CANCEL,
                ..
            }
        )));
        p.send_data(1, b"x", false);
        assert_eq!(p.rst(1), Some(ErrorCode::STREAM_CLOSED));
        assert_eq!(p.goaway(), None);
    }

    #[test]
    fn frames_after_our_reset_are_ignored() {
        let mut p = server_with_open_stream();
        p.conn.close_stream(1, ErrorCode::CANCEL).unwrap();
        p.pump();
        p.take_frames();
        p.send_data(1, b"in flight", false);
        p.send_headers(1, &[h("x-trailer", "1")], true);
        assert_eq!(p.goaway(), None);
        assert_eq!(p.rst(1), None);
    }

    #[test]
    fn data_on_reset_stream_still_counts_toward_connection_window() {
        let mut p = server_with_open_stream();
        p.conn.close_stream(1, ErrorCode::CANCEL).unwrap();
        p.pump();
        // 4 × 16 KiB = 64 KiB: without crediting ignored DATA the fifth frame
        // would overflow the 65,535-octet connection window.
        for _ in 0..8 {
            p.send_frame(kind::DATA, 0, 1, &vec![0; 16_384]);
        }
        assert_eq!(p.goaway(), None);
        assert!(
            p.received
                .iter()
                .any(|f| f.head.kind == kind::WINDOW_UPDATE && f.head.stream_id == 0)
        );
    }
}

mod s5_1_1_stream_identifiers {
    use super::*;

    #[test]
    fn even_stream_from_client_is_protocol_error() {
        let mut p = RawPeer::server();
        p.send_headers(2, &request_fields("/"), true);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn decreasing_stream_id_is_protocol_error() {
        let mut p = RawPeer::server();
        p.send_headers(5, &request_fields("/"), true);
        p.send_headers(3, &request_fields("/"), true);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn skipped_ids_are_allowed() {
        let mut p = RawPeer::server();
        p.send_headers(1, &request_fields("/"), true);
        p.send_headers(11, &request_fields("/"), true);
        assert_eq!(p.goaway(), None);
        assert_eq!(p.conn.session_state().last_proc_stream_id, 11);
    }
}

mod s5_1_2_concurrency {
    use super::*;

    #[test]
    fn streams_over_max_concurrent_are_refused() {
        let mut p = RawPeer::server_with(Options {
            settings: Settings {
                max_concurrent_streams: Some(1),
                ..Default::default()
            },
            ..Options::default()
        });
        p.send_headers(1, &post_fields(), false);
        p.send_headers(3, &post_fields(), false);
        assert_eq!(p.rst(3), Some(ErrorCode::REFUSED_STREAM));
        assert_eq!(p.rst(1), None);
        // Once stream 1 ends, a new stream is accepted.
        p.send_data(1, b"", true);
        p.conn
            .respond(
                1,
                status("200"),
                h2wasm_engine::RespondOptions {
                    end_stream: true,
                    ..Default::default()
                },
            )
            .unwrap();
        p.pump();
        p.send_headers(5, &post_fields(), false);
        assert_eq!(p.rst(5), None);
    }

    #[test]
    fn too_many_refused_streams_end_the_connection() {
        let mut p = RawPeer::server_with(Options {
            settings: Settings {
                max_concurrent_streams: Some(0),
                ..Default::default()
            },
            max_session_rejected_streams: 3,
            ..Options::default()
        });
        for id in [1, 3, 5, 7] {
            p.send_headers(id, &request_fields("/"), true);
        }
        assert_eq!(p.goaway(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    }
}

mod s5_4_error_handling {
    use super::*;

    #[test]
    fn connection_error_goaway_carries_last_stream_id() {
        let mut p = server_with_open_stream();
        p.send_frame(kind::SETTINGS, 0, 1, &[]);
        let g = p
            .received
            .iter()
            .find(|f| f.head.kind == kind::GOAWAY)
            .unwrap();
        assert_eq!(&g.payload[..4], &1u32.to_be_bytes());
        assert!(p.events.iter().any(|e| matches!(
            e,
            Event::ConnectionError {
                code: ErrorCode::PROTOCOL_ERROR,
                ..
            }
        )));
        assert!(p.events.iter().any(|e| matches!(e, Event::Closed { .. })));
        assert_eq!(closed_code(&p.events, 1), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn nothing_is_read_after_a_connection_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::PING, 0, 1, &[0; 8]);
        let n = p.take_frames().len();
        assert!(n > 0);
        p.send_frame(kind::PING, 0, 0, &[0; 8]);
        assert!(p.take_frames().is_empty());
    }

    #[test]
    fn too_many_invalid_frames_end_the_connection() {
        let mut p = RawPeer::server_with(Options {
            max_session_invalid_frames: 2,
            ..Options::default()
        });
        for id in [1, 3, 5] {
            p.send_headers(id, &request_fields("/"), true);
            p.send_data(id, b"x", false);
        }
        assert_eq!(p.goaway(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    }
}

mod s6_1_data {
    use super::*;

    #[test]
    fn data_on_stream_zero_is_protocol_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::DATA, 0, 0, b"x");
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn padding_longer_than_payload_is_protocol_error() {
        let mut p = server_with_open_stream();
        p.send_frame(kind::DATA, flag::PADDED, 1, &[5, b'a', b'b']);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn padded_data_delivers_only_the_payload() {
        let mut p = server_with_open_stream();
        p.send_frame(
            kind::DATA,
            flag::PADDED | flag::END_STREAM,
            1,
            &[3, b'h', b'i', 0, 0, 0],
        );
        assert_eq!(body(&p.events, 1), b"hi");
        assert!(ended(&p.events, 1));
    }

    #[test]
    fn padded_frame_without_pad_length_is_frame_size_error() {
        let mut p = server_with_open_stream();
        p.send_frame(kind::DATA, flag::PADDED, 1, &[]);
        assert_eq!(p.goaway(), Some(ErrorCode::FRAME_SIZE_ERROR));
    }
}

mod s6_2_headers {
    use super::*;

    #[test]
    fn headers_on_stream_zero_is_protocol_error() {
        let mut p = RawPeer::server();
        let block = p.block(&request_fields("/"));
        p.send_frame(kind::HEADERS, flag::END_HEADERS, 0, &block);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn self_dependency_is_stream_protocol_error_and_hpack_stays_in_sync() {
        let mut p = RawPeer::server();
        let mut payload = vec![0, 0, 0, 1, 15];
        payload.extend(p.block(&[
            h(":method", "GET"),
            h(":scheme", "https"),
            h(":path", "/"),
            h("x-new", "indexed"),
        ]));
        p.send_frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::PRIORITY | flag::END_STREAM,
            1,
            &payload,
        );
        assert_eq!(p.rst(1), Some(ErrorCode::PROTOCOL_ERROR));
        // The block above added "x-new" to the dynamic table; a later block
        // referencing it must still decode.
        p.send_headers(
            3,
            &[
                h(":method", "GET"),
                h(":scheme", "https"),
                h(":path", "/"),
                h("x-new", "indexed"),
            ],
            true,
        );
        assert_eq!(p.goaway(), None);
        assert!(
            p.events
                .iter()
                .any(|e| matches!(e, Event::Request { stream_id: 3, .. }))
        );
    }

    #[test]
    fn padded_headers_with_priority_are_parsed() {
        let mut p = RawPeer::server();
        let mut payload = vec![2, 0, 0, 0, 0, 200];
        payload.extend(p.block(&request_fields("/padded")));
        payload.extend([0, 0]);
        p.send_frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::PRIORITY | flag::PADDED | flag::END_STREAM,
            1,
            &payload,
        );
        assert!(
            p.events
                .iter()
                .any(|e| matches!(e, Event::Request { stream_id: 1, headers, .. }
            if headers.get(":path").is_some_and(|v| v == "/padded")))
        );
    }

    #[test]
    fn invalid_hpack_is_compression_error() {
        let mut p = RawPeer::server();
        p.send_frame(
            kind::HEADERS,
            flag::END_HEADERS,
            1,
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        );
        assert_eq!(p.goaway(), Some(ErrorCode::COMPRESSION_ERROR));
    }

    #[test]
    fn oversized_header_list_resets_stream_but_keeps_connection() {
        let mut p = RawPeer::server_with(Options {
            settings: Settings {
                max_header_list_size: Some(200),
                ..Default::default()
            },
            ..Options::default()
        });
        let mut fields = request_fields("/");
        fields.push(h("x-big", "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"));
        p.send_headers(1, &fields, true);
        assert_eq!(p.rst(1), Some(ErrorCode::ENHANCE_YOUR_CALM));
        p.send_headers(3, &request_fields("/"), true);
        assert!(
            p.events
                .iter()
                .any(|e| matches!(e, Event::Request { stream_id: 3, .. }))
        );
        assert_eq!(p.goaway(), None);
    }

    #[test]
    fn too_many_header_pairs_resets_stream() {
        let mut p = RawPeer::server_with(Options {
            max_header_list_pairs: 5,
            ..Options::default()
        });
        let mut fields = request_fields("/");
        fields.push(h("a", "1"));
        fields.push(h("b", "2"));
        p.send_headers(1, &fields, true);
        assert_eq!(p.rst(1), Some(ErrorCode::ENHANCE_YOUR_CALM));
    }
}

mod s6_3_priority {
    use super::*;

    #[test]
    fn wrong_length_is_stream_frame_size_error() {
        let mut p = server_with_open_stream();
        p.send_frame(kind::PRIORITY, 0, 1, &[0, 0, 0, 0]);
        assert_eq!(p.rst(1), Some(ErrorCode::FRAME_SIZE_ERROR));
        assert_eq!(p.goaway(), None);
    }

    #[test]
    fn stream_zero_is_protocol_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::PRIORITY, 0, 0, &[0, 0, 0, 1, 15]);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn self_dependency_is_stream_protocol_error() {
        let mut p = server_with_open_stream();
        p.send_frame(kind::PRIORITY, 0, 1, &[0, 0, 0, 1, 15]);
        assert_eq!(p.rst(1), Some(ErrorCode::PROTOCOL_ERROR));
    }
}

mod s6_4_rst_stream {
    use super::*;

    #[test]
    fn wrong_length_is_frame_size_error() {
        let mut p = server_with_open_stream();
        p.send_frame(kind::RST_STREAM, 0, 1, &[0, 0, 8]);
        assert_eq!(p.goaway(), Some(ErrorCode::FRAME_SIZE_ERROR));
    }

    #[test]
    fn stream_zero_is_protocol_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::RST_STREAM, 0, 0, &8u32.to_be_bytes());
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn unknown_error_codes_pass_through() {
        let mut p = server_with_open_stream();
        p.send_frame(kind::RST_STREAM, 0, 1, &0xdead_beefu32.to_be_bytes());
        assert_eq!(closed_code(&p.events, 1), Some(ErrorCode(0xdead_beef)));
    }
}

mod s6_5_settings {
    use super::*;

    #[test]
    fn ack_with_payload_is_frame_size_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::SETTINGS, flag::ACK, 0, &[0; 6]);
        assert_eq!(p.goaway(), Some(ErrorCode::FRAME_SIZE_ERROR));
    }

    #[test]
    fn length_not_multiple_of_six_is_frame_size_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::SETTINGS, 0, 0, &[0; 5]);
        assert_eq!(p.goaway(), Some(ErrorCode::FRAME_SIZE_ERROR));
    }

    #[test]
    fn on_a_stream_is_protocol_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::SETTINGS, 0, 1, &[]);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn invalid_values_end_the_connection() {
        let cases: [(u16, u32, ErrorCode); 4] = [
            (id::ENABLE_PUSH, 2, ErrorCode::PROTOCOL_ERROR),
            (
                id::INITIAL_WINDOW_SIZE,
                1 << 31,
                ErrorCode::FLOW_CONTROL_ERROR,
            ),
            (id::MAX_FRAME_SIZE, 16_383, ErrorCode::PROTOCOL_ERROR),
            (id::MAX_FRAME_SIZE, 1 << 24, ErrorCode::PROTOCOL_ERROR),
        ];
        for (ident, value, code) in cases {
            let mut p = RawPeer::server();
            p.send_frame(kind::SETTINGS, 0, 0, &settings_payload(&[(ident, value)]));
            assert_eq!(p.goaway(), Some(code), "setting {ident:#x} = {value}");
        }
    }

    /// Unknown settings are acknowledged and ignored; those the
    /// application lists (Node's `remoteCustomSettings`) are reported.
    #[test]
    fn unknown_settings_are_ignored_and_acknowledged() {
        let mut p = RawPeer::server_with(Options {
            remote_custom_settings: vec![0x99],
            ..Options::default()
        });
        p.take_frames();
        p.send_frame(
            kind::SETTINGS,
            0,
            0,
            &settings_payload(&[(0x99, 7), (0x98, 8)]),
        );
        assert_eq!(p.goaway(), None);
        assert!(
            p.received
                .iter()
                .any(|f| f.head.kind == kind::SETTINGS && f.head.flags == flag::ACK)
        );
        assert_eq!(p.conn.remote_settings().custom, vec![(0x99, 7)]);
        let mut p = RawPeer::server();
        p.send_frame(kind::SETTINGS, 0, 0, &settings_payload(&[(0x99, 7)]));
        assert!(p.conn.remote_settings().custom.is_empty());
        let too_many = Options {
            remote_custom_settings: (1..=11).collect(),
            ..Options::default()
        };
        assert!(Connection::new(Role::Server, too_many, 0).is_err());
    }

    #[test]
    fn too_many_settings_in_one_frame_is_enhance_your_calm() {
        let mut p = RawPeer::server();
        let params: Vec<(u16, u32)> = (0..33).map(|i| (0x100 + i, 0)).collect();
        p.send_frame(kind::SETTINGS, 0, 0, &settings_payload(&params));
        assert_eq!(p.goaway(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    }

    #[test]
    fn client_rejects_enable_push_from_server() {
        let mut p = RawPeer::client();
        p.send_frame(
            kind::SETTINGS,
            0,
            0,
            &settings_payload(&[(id::ENABLE_PUSH, 1)]),
        );
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn initial_window_change_overflowing_a_stream_is_flow_control_error() {
        let mut p = server_with_open_stream();
        p.conn
            .respond(1, status("200"), Default::default())
            .unwrap();
        p.pump();
        p.send_frame(
            kind::WINDOW_UPDATE,
            0,
            1,
            &((1u32 << 31) - 1 - 65_535).to_be_bytes(),
        );
        assert_eq!(p.goaway(), None);
        p.send_frame(
            kind::SETTINGS,
            0,
            0,
            &settings_payload(&[(id::INITIAL_WINDOW_SIZE, 65_536)]),
        );
        assert_eq!(p.goaway(), Some(ErrorCode::FLOW_CONTROL_ERROR));
    }

    #[test]
    fn connect_protocol_cannot_be_turned_off() {
        let mut p = RawPeer::client();
        p.send_frame(
            kind::SETTINGS,
            0,
            0,
            &settings_payload(&[(id::ENABLE_CONNECT_PROTOCOL, 1)]),
        );
        p.send_frame(
            kind::SETTINGS,
            0,
            0,
            &settings_payload(&[(id::ENABLE_CONNECT_PROTOCOL, 0)]),
        );
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn settings_flood_without_reading_is_enhance_your_calm() {
        let mut p = RawPeer::server_with(Options {
            max_outbound_control: 900,
            ..Options::default()
        });
        for _ in 0..200 {
            let _ = p.conn.receive(0, &{
                let mut b = bytes::BytesMut::new();
                frame(&mut b, kind::SETTINGS, 0, 0, &[]);
                b
            });
        }
        p.pump();
        assert_eq!(p.goaway(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    }
}

mod s6_7_ping {
    use super::*;

    #[test]
    fn ping_is_acknowledged_with_same_payload() {
        let mut p = RawPeer::server();
        p.take_frames();
        p.send_frame(kind::PING, 0, 0, b"abcdefgh");
        let ack = p
            .received
            .iter()
            .find(|f| f.head.kind == kind::PING)
            .unwrap();
        assert_eq!(ack.head.flags, flag::ACK);
        assert_eq!(&ack.payload[..], b"abcdefgh");
    }

    #[test]
    fn wrong_length_is_frame_size_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::PING, 0, 0, &[0; 7]);
        assert_eq!(p.goaway(), Some(ErrorCode::FRAME_SIZE_ERROR));
    }

    #[test]
    fn on_a_stream_is_protocol_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::PING, 0, 1, &[0; 8]);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn unsolicited_ack_is_ignored() {
        let mut p = RawPeer::server();
        p.take_frames();
        p.send_frame(kind::PING, flag::ACK, 0, &[0; 8]);
        assert!(p.received.is_empty());
    }
}

mod s6_8_goaway {
    use super::*;

    #[test]
    fn on_a_stream_is_protocol_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::GOAWAY, 0, 1, &[0; 8]);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn too_short_is_frame_size_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::GOAWAY, 0, 0, &[0; 7]);
        assert_eq!(p.goaway(), Some(ErrorCode::FRAME_SIZE_ERROR));
    }

    #[test]
    fn client_streams_above_last_id_are_refused() {
        let mut p = RawPeer::client();
        let a = p
            .conn
            .request(
                get("/a"),
                RequestOptions {
                    end_stream: true,
                    ..Default::default()
                },
            )
            .unwrap();
        let b = p
            .conn
            .request(
                get("/b"),
                RequestOptions {
                    end_stream: true,
                    ..Default::default()
                },
            )
            .unwrap();
        p.pump();
        let mut payload = a.to_be_bytes().to_vec();
        payload.extend(0u32.to_be_bytes());
        payload.extend(b"bye");
        p.send_frame(kind::GOAWAY, 0, 0, &payload);
        assert!(
            p.events
                .iter()
                .any(|e| matches!(e, Event::GoAway { debug_data, .. } if debug_data == "bye"))
        );
        assert_eq!(closed_code(&p.events, b), Some(ErrorCode::REFUSED_STREAM));
        assert_eq!(
            closed_code(&p.events, a),
            None,
            "stream a may still complete"
        );
    }
}

mod s6_9_window_update {
    use super::*;

    #[test]
    fn zero_increment_on_stream_is_stream_protocol_error() {
        let mut p = server_with_open_stream();
        p.send_frame(kind::WINDOW_UPDATE, 0, 1, &0u32.to_be_bytes());
        assert_eq!(p.rst(1), Some(ErrorCode::PROTOCOL_ERROR));
        assert_eq!(p.goaway(), None);
    }

    #[test]
    fn zero_increment_on_connection_is_protocol_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::WINDOW_UPDATE, 0, 0, &0u32.to_be_bytes());
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn connection_window_overflow_is_flow_control_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::WINDOW_UPDATE, 0, 0, &((1u32 << 31) - 1).to_be_bytes());
        assert_eq!(p.goaway(), Some(ErrorCode::FLOW_CONTROL_ERROR));
    }

    #[test]
    fn stream_window_overflow_is_stream_flow_control_error() {
        let mut p = server_with_open_stream();
        p.send_frame(kind::WINDOW_UPDATE, 0, 1, &((1u32 << 31) - 1).to_be_bytes());
        assert_eq!(p.rst(1), Some(ErrorCode::FLOW_CONTROL_ERROR));
        assert_eq!(p.goaway(), None);
    }

    #[test]
    fn wrong_length_is_frame_size_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 1]);
        assert_eq!(p.goaway(), Some(ErrorCode::FRAME_SIZE_ERROR));
    }

    #[test]
    fn data_beyond_stream_window_is_flow_control_error() {
        let mut p = RawPeer::server_with(Options {
            settings: Settings {
                initial_window_size: Some(10),
                ..Default::default()
            },
            connection_window_size: 1 << 20,
            ..Options::default()
        });
        p.send_headers(1, &post_fields(), false);
        p.send_data(1, &[0; 11], false);
        assert_eq!(p.rst(1), Some(ErrorCode::FLOW_CONTROL_ERROR));
    }

    #[test]
    fn data_beyond_connection_window_is_flow_control_error() {
        let mut p = RawPeer::server_with(Options {
            settings: Settings {
                initial_window_size: Some(1 << 20),
                max_frame_size: Some(1 << 20),
                ..Default::default()
            },
            ..Options::default()
        });
        p.send_headers(1, &post_fields(), false);
        p.send_data(1, &vec![0; 65_536], false);
        assert_eq!(p.goaway(), Some(ErrorCode::FLOW_CONTROL_ERROR));
    }

    #[test]
    fn consumed_data_is_returned_with_window_update() {
        let mut p = server_with_open_stream();
        p.take_frames();
        p.send_data(1, &vec![0; 16_384], false);
        p.send_data(1, &vec![0; 16_384], false);
        let updates: Vec<u32> = p
            .received
            .iter()
            .filter(|f| f.head.kind == kind::WINDOW_UPDATE)
            .map(|f| f.head.stream_id)
            .collect();
        assert!(updates.contains(&0) && updates.contains(&1), "{updates:?}");
    }
}

mod s6_10_continuation {
    use super::*;

    #[test]
    fn header_block_split_across_continuations() {
        let mut p = RawPeer::server();
        let block = p.block(&request_fields("/split"));
        let (a, rest) = block.split_at(3);
        let (b, c) = rest.split_at(2);
        p.send_frame(kind::HEADERS, flag::END_STREAM, 1, a);
        p.send_frame(kind::CONTINUATION, 0, 1, b);
        p.send_frame(kind::CONTINUATION, flag::END_HEADERS, 1, c);
        assert!(p.events.iter().any(|e| matches!(
            e,
            Event::Request {
                stream_id: 1,
                end_stream: true,
                ..
            }
        )));
    }

    #[test]
    fn continuation_without_headers_is_protocol_error() {
        let mut p = RawPeer::server();
        p.send_frame(kind::CONTINUATION, flag::END_HEADERS, 1, &[]);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn interleaved_frame_is_protocol_error() {
        let mut p = RawPeer::server();
        let block = p.block(&request_fields("/"));
        p.send_frame(kind::HEADERS, 0, 1, &block[..2]);
        p.send_frame(kind::PING, 0, 0, &[0; 8]);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn continuation_on_other_stream_is_protocol_error() {
        let mut p = RawPeer::server();
        let block = p.block(&request_fields("/"));
        p.send_frame(kind::HEADERS, 0, 1, &block[..2]);
        p.send_frame(kind::CONTINUATION, flag::END_HEADERS, 3, &block[2..]);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn continuation_flood_is_enhance_your_calm() {
        let mut p = RawPeer::server();
        let block = p.block(&request_fields("/"));
        p.send_frame(kind::HEADERS, 0, 1, &block[..1]);
        for _ in 0..100 {
            p.send_frame(kind::CONTINUATION, 0, 1, &[]);
        }
        assert_eq!(p.goaway(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    }

    #[test]
    fn oversized_header_block_is_enhance_your_calm() {
        let mut p = RawPeer::server_with(Options {
            max_continuation_frames: 1000,
            ..Options::default()
        });
        p.send_frame(kind::HEADERS, 0, 1, &[0x40]);
        for _ in 0..10 {
            p.send_frame(kind::CONTINUATION, 0, 1, &vec![b'a'; 16_384]);
        }
        assert_eq!(p.goaway(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    }
}

mod s8_http_semantics {
    use super::*;

    fn assert_malformed(fields: Vec<h2wasm_engine::HeaderField>) {
        let mut p = RawPeer::server();
        p.send_headers(1, &fields, true);
        assert_eq!(p.rst(1), Some(ErrorCode::PROTOCOL_ERROR), "{fields:?}");
        assert!(!p.events.iter().any(|e| matches!(e, Event::Request { .. })));
        assert_eq!(p.goaway(), None);
    }

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<h2wasm_engine::HeaderField> {
        let mut f = request_fields("/");
        f.extend(extra.iter().map(|&(n, v)| h(n, v)));
        f
    }

    #[test]
    fn uppercase_field_name() {
        assert_malformed(with(&[("X-Upper", "1")]));
    }

    #[test]
    fn pseudo_header_after_regular_field() {
        let mut f = vec![
            h(":method", "GET"),
            h(":scheme", "https"),
            h("accept", "*/*"),
            h(":path", "/"),
        ];
        f.truncate(4);
        assert_malformed(f);
    }

    #[test]
    fn missing_required_pseudo_headers() {
        assert_malformed(vec![h(":scheme", "https"), h(":path", "/")]);
        assert_malformed(vec![h(":method", "GET"), h(":path", "/")]);
        assert_malformed(vec![h(":method", "GET"), h(":scheme", "https")]);
        assert_malformed(vec![
            h(":method", "GET"),
            h(":scheme", "https"),
            h(":path", ""),
        ]);
    }

    #[test]
    fn unknown_or_response_pseudo_header_in_request() {
        assert_malformed(with(&[(":foo", "bar")]));
        let mut f = vec![h(":status", "200")];
        f.extend(request_fields("/"));
        assert_malformed(f);
    }

    #[test]
    fn duplicate_pseudo_header() {
        let mut f = request_fields("/");
        f.insert(1, h(":method", "POST"));
        assert_malformed(f);
    }

    #[test]
    fn connection_specific_fields() {
        for name in [
            "connection",
            "keep-alive",
            "proxy-connection",
            "transfer-encoding",
            "upgrade",
        ] {
            assert_malformed(with(&[(name, "x")]));
        }
    }

    #[test]
    fn te_other_than_trailers() {
        assert_malformed(with(&[("te", "gzip")]));
        let mut p = RawPeer::server();
        p.send_headers(1, &with(&[("te", "trailers")]), true);
        assert_eq!(p.rst(1), None);
    }

    #[test]
    fn invalid_field_values() {
        assert_malformed(with(&[("x", "a\rb")]));
        assert_malformed(with(&[("x", "a\nb")]));
        assert_malformed(with(&[("x", " leading")]));
    }

    #[test]
    fn content_length_must_match_data() {
        let mut p = RawPeer::server();
        let mut f = post_fields();
        f.push(h("content-length", "5"));
        p.send_headers(1, &f, false);
        p.send_data(1, b"abc", true);
        assert_eq!(p.rst(1), Some(ErrorCode::PROTOCOL_ERROR));

        let mut p = RawPeer::server();
        p.send_headers(1, &f, false);
        p.send_data(1, b"abcdef", false);
        assert_eq!(p.rst(1), Some(ErrorCode::PROTOCOL_ERROR));

        let mut p = RawPeer::server();
        p.send_headers(1, &f, false);
        p.send_data(1, b"abcde", true);
        assert_eq!(p.rst(1), None);
        assert_eq!(body(&p.events, 1), b"abcde");
    }

    #[test]
    fn trailers_must_end_stream_and_have_no_pseudo_headers() {
        let mut p = server_with_open_stream();
        p.send_headers(1, &[h("x-t", "1")], false);
        assert_eq!(p.rst(1), Some(ErrorCode::PROTOCOL_ERROR));

        let mut p = server_with_open_stream();
        p.send_headers(1, &[h(":path", "/")], true);
        assert_eq!(p.rst(1), Some(ErrorCode::PROTOCOL_ERROR));

        let mut p = server_with_open_stream();
        p.send_data(1, b"body", false);
        p.send_headers(1, &[h("x-t", "1")], true);
        assert!(
            p.events
                .iter()
                .any(|e| matches!(e, Event::Trailers { stream_id: 1, .. }))
        );
    }

    #[test]
    fn connect_has_no_scheme_or_path() {
        let mut p = RawPeer::server();
        p.send_headers(
            1,
            &[h(":method", "CONNECT"), h(":authority", "example.com:443")],
            false,
        );
        assert!(
            p.events
                .iter()
                .any(|e| matches!(e, Event::Request { stream_id: 1, .. }))
        );
        assert_malformed(vec![
            h(":method", "CONNECT"),
            h(":authority", "a:1"),
            h(":path", "/"),
        ]);
        assert_malformed(vec![h(":method", "CONNECT")]);
    }

    #[test]
    fn protocol_pseudo_header_needs_enable_connect_protocol() {
        assert_malformed(vec![
            h(":method", "CONNECT"),
            h(":protocol", "websocket"),
            h(":scheme", "https"),
            h(":authority", "a"),
            h(":path", "/chat"),
        ]);
    }

    #[test]
    fn informational_response_with_end_stream_is_malformed() {
        let (mut p, id) = RawPeer::client_with_request();
        p.send_headers(id, &status("103"), true);
        assert_eq!(p.rst(id), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn response_without_status_is_malformed() {
        let (mut p, id) = RawPeer::client_with_request();
        p.send_headers(id, &[h("server", "x")], true);
        assert_eq!(p.rst(id), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn response_to_head_may_carry_content_length_without_body() {
        let mut p = RawPeer::client();
        let id = p
            .conn
            .request(
                vec![h(":method", "HEAD")],
                RequestOptions {
                    end_stream: true,
                    ..Default::default()
                },
            )
            .unwrap();
        p.pump();
        p.send_headers(
            id,
            &[h(":status", "200"), h("content-length", "1000")],
            true,
        );
        assert_eq!(p.rst(id), None);
        assert_eq!(closed_code(&p.events, id), Some(ErrorCode::NO_ERROR));
    }

    #[test]
    fn outgoing_headers_are_validated_and_lowercased() {
        let mut p = RawPeer::client();
        assert!(
            p.conn
                .request(vec![h("connection", "close")], RequestOptions::default())
                .is_err()
        );
        assert!(
            p.conn
                .request(vec![h("x", "a\nb")], RequestOptions::default())
                .is_err()
        );
        assert!(
            p.conn
                .request(vec![h("bad name", "v")], RequestOptions::default())
                .is_err()
        );
        let id = p
            .conn
            .request(
                vec![h("X-Mixed", "v")],
                RequestOptions {
                    end_stream: true,
                    ..Default::default()
                },
            )
            .unwrap();
        p.pump();
        let blocks = p.header_blocks(id);
        assert!(blocks[0].iter().any(|f| f.name == "x-mixed"));
    }
}

mod s8_4_push {
    use super::*;

    #[test]
    fn push_promise_to_a_server_is_protocol_error() {
        let mut p = server_with_open_stream();
        p.send_frame(kind::PUSH_PROMISE, flag::END_HEADERS, 1, &[0, 0, 0, 2]);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn push_promise_with_odd_promised_id_is_protocol_error() {
        let (mut p, id) = RawPeer::client_with_request();
        let mut payload = 3u32.to_be_bytes().to_vec();
        payload.extend(p.block(&request_fields("/pushed")));
        p.send_frame(kind::PUSH_PROMISE, flag::END_HEADERS, id, &payload);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    /// A client with stream 1 open (request sent, response pending).
    fn client_with_request() -> RawPeer {
        RawPeer::client_with_request().0
    }

    fn promise(p: &mut RawPeer, parent: u32, promised: u32, fields: &[h2wasm_engine::HeaderField]) {
        let mut payload = promised.to_be_bytes().to_vec();
        payload.extend(p.block(fields));
        p.send_frame(kind::PUSH_PROMISE, flag::END_HEADERS, parent, &payload);
    }

    #[test]
    fn promised_request_that_is_not_safe_is_a_stream_error() {
        let mut p = client_with_request();
        let mut post = request_fields("/pushed");
        post[0] = h(":method", "POST");
        promise(&mut p, 1, 2, &post);
        assert_eq!(p.rst(2), Some(ErrorCode::PROTOCOL_ERROR));
        assert_eq!(p.goaway(), None);
    }

    #[test]
    fn pushed_response_arrives_on_the_promised_stream() {
        let mut p = client_with_request();
        promise(&mut p, 1, 2, &request_fields("/style.css"));
        let block = p.block(&[h(":status", "200")]);
        p.send_frame(kind::HEADERS, flag::END_HEADERS, 2, &block);
        p.send_frame(kind::DATA, flag::END_STREAM, 2, b"body{}");
        assert!(p.events.iter().any(|e| matches!(e,
            Event::PushPromise { parent: 1, stream_id: 2, headers }
                if headers.iter().any(|f| f.name == ":path" && f.value == "/style.css"))));
        assert_eq!(body(&p.events, 2), b"body{}");
        assert!(ended(&p.events, 2));
        assert_eq!(p.goaway(), None);
    }

    #[test]
    fn data_on_a_reserved_stream_before_its_headers_is_protocol_error() {
        let mut p = client_with_request();
        promise(&mut p, 1, 2, &request_fields("/a"));
        p.send_frame(kind::DATA, 0, 2, b"x");
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn reused_promised_id_is_protocol_error() {
        let mut p = client_with_request();
        promise(&mut p, 1, 2, &request_fields("/a"));
        promise(&mut p, 1, 2, &request_fields("/b"));
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn promises_beyond_max_reserved_remote_streams_are_refused() {
        let opts = Options {
            authority: "example.com".into(),
            max_reserved_remote_streams: 2,
            ..Options::default()
        };
        let mut p = RawPeer::client_with(opts);
        p.conn.request(get("/"), RequestOptions::default()).unwrap();
        p.pump();
        for id in [2, 4, 6] {
            promise(&mut p, 1, id, &request_fields("/x"));
        }
        assert_eq!(p.rst(2), None);
        assert_eq!(p.rst(4), None);
        assert_eq!(p.rst(6), Some(ErrorCode::REFUSED_STREAM));
        assert_eq!(p.goaway(), None);
    }
}

/// Defects found in review, each under the section it breaks.
mod review {
    use super::*;
    use bytes::Bytes;
    use h2wasm_engine::RespondOptions;

    /// A client whose server allows one stream: stream 1 is sent, stream 3
    /// waits as pending (never sent).
    fn client_with_a_pending_request() -> RawPeer {
        let opts = Options {
            authority: "example.com".into(),
            ..Options::default()
        };
        let mut conn =
            h2wasm_engine::Connection::new(h2wasm_engine::Role::Client, opts, 0).unwrap();
        let magic = conn.poll_transmit(24).unwrap();
        assert_eq!(magic.len(), 24);
        let mut p = RawPeer::new(conn);
        p.send_frame(
            kind::SETTINGS,
            0,
            0,
            &settings_payload(&[(id::MAX_CONCURRENT_STREAMS, 1)]),
        );
        p.send_frame(kind::SETTINGS, flag::ACK, 0, &[]);
        for _ in 0..2 {
            p.conn
                .request(
                    get("/"),
                    RequestOptions {
                        end_stream: true,
                        ..Default::default()
                    },
                )
                .unwrap();
        }
        p.pump();
        assert!(p.conn.stream_state(3).unwrap().pending);
        p
    }

    /// §5.1: a pending request was never sent, so its stream is idle to
    /// the peer: HEADERS on it is a PROTOCOL_ERROR, not a response.
    #[test]
    fn s5_1_headers_on_a_pending_request_is_protocol_error() {
        let mut p = client_with_a_pending_request();
        p.send_headers(3, &status("200"), true);
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
        assert!(
            !p.events
                .iter()
                .any(|e| matches!(e, Event::Response { stream_id: 3, .. }))
        );
    }

    /// §6.4: RST_STREAM on an idle stream (a pending request) is a
    /// PROTOCOL_ERROR.
    #[test]
    fn s6_4_rst_stream_on_a_pending_request_is_protocol_error() {
        let mut p = client_with_a_pending_request();
        p.send_frame(kind::RST_STREAM, 0, 3, &ErrorCode::CANCEL.0.to_be_bytes());
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
    }

    /// §5.1: PUSH_PROMISE may arrive after we reset its stream; the
    /// promised stream is refused and the connection goes on.
    #[test]
    fn s5_1_push_promise_after_we_reset_the_parent_is_refused() {
        let (mut p, id) = RawPeer::client_with_request();
        p.conn.close_stream(id, ErrorCode::CANCEL).unwrap();
        p.pump();
        let block = p.block(&request_fields("/pushed"));
        let mut payload = 2u32.to_be_bytes().to_vec();
        payload.extend_from_slice(&block);
        p.send_frame(kind::PUSH_PROMISE, flag::END_HEADERS, id, &payload);
        assert_eq!(p.goaway(), None);
        assert_eq!(p.rst(2), Some(ErrorCode::CANCEL));
        // The promised stream is closed: its response is ignored.
        p.send_headers(2, &status("200"), true);
        assert_eq!(p.goaway(), None);
    }

    /// §6.5.2: unknown settings are ignored; identifier 0 is one of them.
    #[test]
    fn s6_5_2_setting_identifier_zero_is_ignored() {
        let mut p = RawPeer::server();
        p.send_frame(kind::SETTINGS, 0, 0, &settings_payload(&[(0, 7)]));
        assert_eq!(p.goaway(), None);
        assert!(
            p.received
                .iter()
                .filter(|f| f.head.kind == kind::SETTINGS && f.head.flags == flag::ACK)
                .count()
                >= 2
        );
    }

    /// §6.5.2: unknown settings cannot grow memory: at most ten custom ones
    /// are kept (Node's limit), the rest are ignored.
    #[test]
    fn s6_5_2_unknown_settings_are_bounded() {
        let mut p = RawPeer::server();
        for frame_no in 0..2000u16 {
            let params: Vec<(u16, u32)> = (0..32)
                .map(|i| (0x100 + frame_no.wrapping_mul(32).wrapping_add(i), 1))
                .collect();
            p.send_frame(kind::SETTINGS, 0, 0, &settings_payload(&params));
            p.received.clear();
            p.events.clear();
        }
        assert_eq!(p.goaway(), None);
        assert!(p.conn.remote_settings().custom.len() <= 10);
        p.send_frame(kind::SETTINGS, 0, 0, &[]);
        let sizes: usize = p
            .events
            .iter()
            .map(|e| match e {
                Event::RemoteSettings { settings } => settings.custom.len(),
                _ => 0,
            })
            .sum();
        assert!(sizes <= 10, "{sizes}");
    }

    /// §6.2: padding that reaches into the priority fields exceeds the
    /// room left for the field block: PROTOCOL_ERROR, not FRAME_SIZE_ERROR.
    #[test]
    fn s6_2_padding_over_the_priority_fields_is_protocol_error() {
        let mut p = RawPeer::server();
        p.send_frame(
            kind::HEADERS,
            flag::PADDED | flag::PRIORITY | flag::END_HEADERS,
            1,
            &[0x01, 0x00, 0x00, 0x00, 0x00, 0x0f],
        );
        assert_eq!(p.goaway(), Some(ErrorCode::PROTOCOL_ERROR));
        // Too short for the priority fields at all is still a size error.
        let mut p = RawPeer::server();
        p.send_frame(
            kind::HEADERS,
            flag::PADDED | flag::PRIORITY | flag::END_HEADERS,
            1,
            &[0x00, 0x00, 0x00],
        );
        assert_eq!(p.goaway(), Some(ErrorCode::FRAME_SIZE_ERROR));
    }

    /// §6.8: "Endpoints MUST NOT increase the value they send in the last
    /// stream identifier".
    #[test]
    fn s6_8_a_later_goaway_never_raises_the_last_stream_id() {
        let mut p = RawPeer::server();
        p.send_headers(1, &request_fields("/"), true);
        p.send_headers(3, &request_fields("/"), true);
        p.conn
            .goaway(ErrorCode::NO_ERROR, Some(1), Bytes::new())
            .unwrap();
        p.conn
            .goaway(ErrorCode::NO_ERROR, Some(3), Bytes::new())
            .unwrap();
        p.pump();
        let lasts: Vec<u32> = p
            .received
            .iter()
            .filter(|f| f.head.kind == kind::GOAWAY)
            .map(|f| u32::from_be_bytes(f.payload[..4].try_into().unwrap()))
            .collect();
        assert_eq!(lasts, [1, 1]);
    }

    /// §5.1.2 refusals (REFUSED_STREAM past MAX_CONCURRENT_STREAMS) count
    /// towards Node's maxSessionRejectedStreams in a row: a stream accepted
    /// in between starts the count again, as Node does.
    #[test]
    fn s5_1_2_rejected_streams_are_counted_in_a_row() {
        let mut p = RawPeer::server_with(Options {
            settings: h2wasm_engine::Settings {
                max_concurrent_streams: Some(1),
                ..Default::default()
            },
            max_session_rejected_streams: 3,
            ..Options::default()
        });
        let mut id = 1;
        for _ in 0..10 {
            // Accepted, then one refused while it is open, then it closes.
            p.send_headers(id, &post_fields(), false);
            p.send_headers(id + 2, &post_fields(), false);
            assert_eq!(p.rst(id + 2), Some(ErrorCode::REFUSED_STREAM));
            p.send_frame(kind::RST_STREAM, 0, id, &ErrorCode::CANCEL.0.to_be_bytes());
            id += 4;
        }
        assert_eq!(p.goaway(), None);
        // Four refusals in a row do end it.
        p.send_headers(id, &post_fields(), false);
        for n in 1..=4 {
            p.send_headers(id + 2 * n, &post_fields(), false);
        }
        assert_eq!(p.goaway(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    }

    /// §5.3 (RFC 7540 §5.3 scheduling): reset streams leave the priority
    /// scheduler's list (it used to keep them, and every later send walked
    /// them all).
    #[test]
    fn s5_3_reset_streams_leave_the_priority_scheduler() {
        let mut p = RawPeer::server();
        // One PRIORITY frame turns priority scheduling on.
        p.send_frame(kind::PRIORITY, 0, 1, &[0, 0, 0, 0, 15]);
        let mut id = 1;
        for _ in 0..50 {
            p.send_headers(id, &request_fields("/"), true);
            p.conn
                .respond(id, status("200"), RespondOptions::default())
                .unwrap();
            p.conn.write(id, Bytes::from(vec![1u8; 1000])).unwrap();
            // Reset while its response waits to be sent.
            let _ = p.conn.receive(0, &{
                let mut b = bytes::BytesMut::new();
                frame(
                    &mut b,
                    kind::RST_STREAM,
                    0,
                    id,
                    &ErrorCode::CANCEL.0.to_be_bytes(),
                );
                b
            });
            p.pump();
            id += 2;
        }
        assert_eq!(p.goaway(), None);
        assert_eq!(p.conn.scheduled_streams(), 0);
    }

    /// RFC 9110 §6.4.1 (§8.1.1 here): a response to HEAD, and a 204 or 304,
    /// has no content; DATA with a payload makes it malformed.
    #[test]
    fn s8_1_1_data_on_a_bodyless_response_is_malformed() {
        for (method, code) in [("HEAD", "200"), ("GET", "204"), ("GET", "304")] {
            let mut p = RawPeer::client();
            let id = p
                .conn
                .request(
                    vec![h(":method", method), h(":path", "/")],
                    RequestOptions {
                        end_stream: true,
                        ..Default::default()
                    },
                )
                .unwrap();
            p.pump();
            let mut fields = status(code);
            fields.push(h("content-length", "10"));
            p.send_headers(id, &fields, false);
            p.send_data(id, b"0123456789", true);
            assert_eq!(
                p.rst(id),
                Some(ErrorCode::PROTOCOL_ERROR),
                "{method} {code}"
            );
            assert!(body(&p.events, id).is_empty());
        }
    }
}

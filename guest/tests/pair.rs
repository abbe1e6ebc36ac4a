//! Client and server engines driven against each other in memory.

mod common;

use bytes::Bytes;
use common::*;
use h2wasm_engine::pair::Pair;
use h2wasm_engine::settings::Settings;
use h2wasm_engine::{ErrorCode, Event, Options, Origin, RequestOptions, RespondOptions};

fn request_id(events: &[Event]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Request { stream_id, .. } => Some(*stream_id),
            _ => None,
        })
        .collect()
}

#[test]
fn get_request_and_response_with_body() {
    let mut p = Pair::with_defaults().unwrap();
    let id = p
        .client
        .request(
            get("/hello"),
            RequestOptions {
                end_stream: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(id, 1);
    p.run().unwrap();
    let req = p
        .server_events
        .iter()
        .find_map(|e| match e {
            Event::Request {
                stream_id,
                headers,
                end_stream,
            } => Some((*stream_id, headers.clone(), *end_stream)),
            _ => None,
        })
        .unwrap();
    assert_eq!(req.0, 1);
    assert!(req.2);
    // Defaults filled in as Node does.
    let names: Vec<&[u8]> = req.1.iter().map(|f| &f.name[..]).collect();
    assert_eq!(
        names,
        [&b":method"[..], b":scheme", b":authority", b":path"]
    );
    p.server
        .respond(1, status("200"), RespondOptions::default())
        .unwrap();
    p.server
        .write(1, Bytes::from_static(b"hello world"))
        .unwrap();
    p.server.end(1).unwrap();
    p.run().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(e,
        Event::Response { stream_id: 1, headers, end_stream: false }
            if headers[0].value == "200")));
    assert_eq!(body(&p.client_events, 1), b"hello world");
    assert!(ended(&p.client_events, 1));
    assert_eq!(closed_code(&p.client_events, 1), Some(ErrorCode::NO_ERROR));
    assert_eq!(closed_code(&p.server_events, 1), Some(ErrorCode::NO_ERROR));
}

#[test]
fn method_and_path_default_to_get_and_root() {
    let mut p = Pair::with_defaults().unwrap();
    p.client
        .request(
            vec![],
            RequestOptions {
                end_stream: true,
                ..Default::default()
            },
        )
        .unwrap();
    p.run().unwrap();
    let Some(Event::Request { headers, .. }) = p
        .server_events
        .iter()
        .find(|e| matches!(e, Event::Request { .. }))
    else {
        panic!("no request");
    };
    let get = |n: &str| headers.get(n).cloned();
    assert_eq!(get(":method").unwrap(), "GET");
    assert_eq!(get(":path").unwrap(), "/");
    assert_eq!(get(":scheme").unwrap(), "https");
    assert_eq!(get(":authority").unwrap(), "localhost");
}

/// Sends `size` bytes each way and checks both arrive intact, across many
/// flow-control windows.
fn echo_body(size: usize) {
    let mut p = Pair::with_defaults().unwrap();
    let payload: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let id = p
        .client
        .request(post_fields(), RequestOptions::default())
        .unwrap();
    // Write in uneven chunks; honour backpressure by running the pair.
    for chunk in payload.chunks(7919) {
        p.client.write(id, Bytes::copy_from_slice(chunk)).unwrap();
        p.run().unwrap();
        // The server echoes what it has so far.
        let got = body(&p.server_events, id);
        let _ = got;
    }
    p.client.end(id).unwrap();
    p.run().unwrap();
    assert_eq!(body(&p.server_events, id), payload, "request body");
    assert!(ended(&p.server_events, id));
    p.server
        .respond(id, status("200"), RespondOptions::default())
        .unwrap();
    p.server.write(id, Bytes::from(payload.clone())).unwrap();
    p.server.end(id).unwrap();
    p.run().unwrap();
    assert_eq!(body(&p.client_events, id), payload, "response body");
    assert!(ended(&p.client_events, id));
}

#[test]
fn bodies_of_edge_sizes_cross_intact() {
    for size in [0, 1, 16_383, 16_384, 16_385, 65_535, 65_536, 1 << 20] {
        echo_body(size);
    }
}

#[test]
fn large_body_respects_windows_and_max_frame_size() {
    let mut p = Pair::with_defaults().unwrap();
    let id = open_gets(&mut p, "/", 1)[0];
    p.server
        .respond(id, status("200"), RespondOptions::default())
        .unwrap();
    p.server.write(id, Bytes::from(vec![7u8; 300_000])).unwrap();
    p.server.end(id).unwrap();
    // Without the client's WINDOW_UPDATEs the server may send only the
    // initial 65,535-octet window.
    let mut sent = 0;
    while let Some(b) = p.server.poll_transmit(1 << 20) {
        sent += b.len();
    }
    assert!(
        sent < 65_535 + 10_000,
        "sent {sent} octets without window updates"
    );
    assert!(sent > 65_535);
    p.chunk = 1000;
    p.run().unwrap();
    // Feed what was already taken? It was dropped above, so start over.
    let mut p = Pair::with_defaults().unwrap();
    let id = open_gets(&mut p, "/", 1)[0];
    p.server
        .respond(id, status("200"), RespondOptions::default())
        .unwrap();
    p.server.write(id, Bytes::from(vec![7u8; 300_000])).unwrap();
    p.server.end(id).unwrap();
    p.run().unwrap();
    assert_eq!(body(&p.client_events, id).len(), 300_000);
    let max_frame = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::Data { data, .. } => Some(data.len()),
            _ => None,
        })
        .max()
        .unwrap();
    assert_eq!(max_frame, 16_384);
}

#[test]
fn many_concurrent_streams_interleave() {
    let mut p = Pair::with_defaults().unwrap();
    let ids = open_gets(&mut p, "/x", 50);
    assert_eq!(request_id(&p.server_events), ids);
    for &id in &ids {
        p.server
            .respond(id, status("200"), RespondOptions::default())
            .unwrap();
        p.server
            .write(id, Bytes::from(vec![id as u8; 40_000]))
            .unwrap();
        p.server.end(id).unwrap();
    }
    p.run().unwrap();
    for &id in &ids {
        assert_eq!(body(&p.client_events, id), vec![id as u8; 40_000]);
    }
    // Round-robin: the first DATA frames alternate between streams rather
    // than draining one stream first.
    let first: Vec<u32> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::Data { stream_id, .. } => Some(*stream_id),
            _ => None,
        })
        .take(3)
        .collect();
    assert_eq!(first, ids[..3]);
}

#[test]
fn trailers_both_ways() {
    let mut p = Pair::with_defaults().unwrap();
    let id = p
        .client
        .request(
            post_fields(),
            RequestOptions {
                wait_for_trailers: true,
                ..Default::default()
            },
        )
        .unwrap();
    p.client.write(id, Bytes::from_static(b"abc")).unwrap();
    p.client.end(id).unwrap();
    p.run().unwrap();
    assert!(
        p.client_events
            .iter()
            .any(|e| matches!(e, Event::WantTrailers { stream_id } if *stream_id == id))
    );
    assert!(
        !ended(&p.server_events, id),
        "END_STREAM is held for trailers"
    );
    p.client
        .send_trailers(id, vec![h("x-checksum", "123")])
        .unwrap();
    p.run().unwrap();
    assert!(p.server_events.iter().any(|e| matches!(e,
        Event::Trailers { stream_id, headers } if *stream_id == id && headers[0].name == "x-checksum")));
    p.server
        .respond(
            id,
            status("200"),
            RespondOptions {
                wait_for_trailers: true,
                end_stream: true,
            },
        )
        .unwrap();
    p.run().unwrap();
    assert!(
        p.server_events
            .iter()
            .any(|e| matches!(e, Event::WantTrailers { .. }))
    );
    p.server
        .send_trailers(id, vec![h("grpc-status", "0")])
        .unwrap();
    p.run().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(e,
        Event::Trailers { headers, .. } if headers[0].value == "0")));
    assert_eq!(closed_code(&p.client_events, id), Some(ErrorCode::NO_ERROR));
}

#[test]
fn trailers_may_not_carry_pseudo_headers() {
    let mut p = Pair::with_defaults().unwrap();
    let id = p
        .client
        .request(
            post_fields(),
            RequestOptions {
                wait_for_trailers: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(
        p.client
            .send_trailers(id, vec![h(":status", "200")])
            .is_err()
    );
}

#[test]
fn stream_reset_by_client_reaches_server() {
    let mut p = Pair::with_defaults().unwrap();
    let id = open_post(&mut p);
    p.client.close_stream(id, ErrorCode::CANCEL).unwrap();
    p.run().unwrap();
    assert!(p.server_events.iter().any(|e| matches!(e,
        Event::StreamReset { stream_id, code: ErrorCode::CANCEL, origin: Origin::Remote } if *stream_id == id)));
    assert_eq!(closed_code(&p.server_events, id), Some(ErrorCode::CANCEL));
    assert_eq!(closed_code(&p.client_events, id), Some(ErrorCode::CANCEL));
    // The stream is gone on both sides; writing fails cleanly.
    assert!(p.client.write(id, Bytes::from_static(b"x")).is_err());
}

#[test]
fn graceful_close_finishes_open_streams_and_refuses_new_ones() {
    let mut p = Pair::with_defaults().unwrap();
    let id = open_gets(&mut p, "/", 1)[0];
    p.server.close();
    p.run().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(
        e,
        Event::GoAway {
            code: ErrorCode::NO_ERROR,
            last_stream_id: 1,
            origin: Origin::Remote,
            ..
        }
    )));
    assert!(!p.server.is_closed(), "stream 1 still open");
    assert!(
        p.client
            .request(get("/"), RequestOptions::default())
            .is_err()
    );
    p.server
        .respond(
            id,
            status("204"),
            RespondOptions {
                end_stream: true,
                ..Default::default()
            },
        )
        .unwrap();
    p.run().unwrap();
    assert!(p.server.is_closed());
    assert!(p.client.is_closed());
    assert!(p.server_events.iter().any(|e| matches!(
        e,
        Event::Closed {
            code: ErrorCode::NO_ERROR
        }
    )));
}

#[test]
fn goaway_refuses_streams_above_last_id() {
    let mut p = Pair::with_defaults().unwrap();
    let a = open_gets(&mut p, "/a", 1)[0];
    let b = p
        .client
        .request(
            get("/b"),
            RequestOptions {
                end_stream: true,
                ..Default::default()
            },
        )
        .unwrap();
    // Server says goodbye before it sees stream b.
    p.server
        .goaway(ErrorCode::NO_ERROR, Some(a), Bytes::new())
        .unwrap();
    p.run().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(e,
        Event::StreamReset { stream_id, code: ErrorCode::REFUSED_STREAM, .. } if *stream_id == b)));
    // The server ignored stream b entirely.
    assert_eq!(request_id(&p.server_events), vec![a]);
}

#[test]
fn destroy_sends_goaway_with_code() {
    let mut p = Pair::with_defaults().unwrap();
    p.client
        .request(get("/"), RequestOptions::default())
        .unwrap();
    p.run().unwrap();
    p.client.destroy(ErrorCode::INTERNAL_ERROR);
    p.run().unwrap();
    assert!(p.server_events.iter().any(|e| matches!(
        e,
        Event::GoAway {
            code: ErrorCode::INTERNAL_ERROR,
            origin: Origin::Remote,
            ..
        }
    )));
    assert!(p.client.is_closed());
    assert_eq!(
        closed_code(&p.client_events, 1),
        Some(ErrorCode::INTERNAL_ERROR)
    );
}

#[test]
fn ping_reports_round_trip_time() {
    let mut p = Pair::with_defaults().unwrap();
    p.run().unwrap();
    let payload = p.client.ping(1_000, Some(*b"12345678")).unwrap();
    let bytes = p.client.poll_transmit(1 << 16).unwrap();
    p.server.receive(2_000, &bytes.octets).unwrap();
    let back = p.server.poll_transmit(1 << 16).unwrap();
    p.client.receive(5_000, &back.octets).unwrap();
    p.collect();
    assert!(
        p.server_events
            .iter()
            .any(|e| matches!(e, Event::Ping { payload: pl } if *pl == payload))
    );
    assert!(p.client_events.iter().any(|e| matches!(e,
        Event::PingAck { payload: pl, rtt_ns: 4_000 } if *pl == payload)));
}

#[test]
fn outstanding_pings_are_bounded() {
    let mut p = Pair::with_defaults().unwrap();
    for _ in 0..10 {
        p.client.ping(0, None).unwrap();
    }
    assert!(p.client.ping(0, None).is_err());
    p.run().unwrap();
    assert!(p.client.ping(0, None).is_ok(), "acks free the slots");
}

#[test]
fn settings_change_is_acknowledged_and_applied() {
    let mut p = Pair::with_defaults().unwrap();
    p.run().unwrap();
    p.client
        .settings(Settings {
            initial_window_size: Some(1 << 20),
            max_frame_size: Some(1 << 16),
            ..Default::default()
        })
        .unwrap();
    // The connection window is separate from SETTINGS (§6.9.2).
    p.client.set_local_window_size(1 << 21).unwrap();
    assert_eq!(p.client.pending_settings_acks(), 1);
    p.run().unwrap();
    assert_eq!(p.client.pending_settings_acks(), 0);
    assert_eq!(p.client.local_settings().initial_window_size, Some(1 << 20));
    assert_eq!(p.server.remote_settings().max_frame_size, Some(1 << 16));
    assert!(
        p.client_events
            .iter()
            .any(|e| matches!(e, Event::LocalSettings { .. }))
    );
    assert!(
        p.server_events
            .iter()
            .any(|e| matches!(e, Event::RemoteSettings { .. }))
    );
    // Larger frames and a larger window now flow (in batches that have
    // room for them: a frame is never larger than the batch).
    p.chunk = 1 << 20;
    let id = open_gets(&mut p, "/", 1)[0];
    p.server
        .respond(id, status("200"), RespondOptions::default())
        .unwrap();
    p.server.write(id, Bytes::from(vec![1u8; 200_000])).unwrap();
    p.server.end(id).unwrap();
    p.run().unwrap();
    let max = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::Data { data, .. } => Some(data.len()),
            _ => None,
        })
        .max()
        .unwrap();
    assert_eq!(max, 1 << 16);
    assert_eq!(body(&p.client_events, id).len(), 200_000);
}

#[test]
fn initial_window_change_mid_stream_resumes_sending() {
    let mut p = Pair::with_defaults().unwrap();
    p.client
        .settings(Settings {
            initial_window_size: Some(0),
            ..Default::default()
        })
        .unwrap();
    p.run().unwrap();
    let id = open_gets(&mut p, "/", 1)[0];
    p.server
        .respond(id, status("200"), RespondOptions::default())
        .unwrap();
    p.server.write(id, Bytes::from(vec![3u8; 50_000])).unwrap();
    p.server.end(id).unwrap();
    p.run().unwrap();
    assert!(body(&p.client_events, id).is_empty(), "window is zero");
    p.client
        .settings(Settings {
            initial_window_size: Some(65_535),
            ..Default::default()
        })
        .unwrap();
    p.run().unwrap();
    assert_eq!(body(&p.client_events, id).len(), 50_000);
}

#[test]
fn requests_past_the_peer_limit_wait_as_pending() {
    let server = Options {
        settings: Settings {
            max_concurrent_streams: Some(2),
            ..Default::default()
        },
        ..Options::default()
    };
    let client = Options {
        authority: "localhost".into(),
        ..Options::default()
    };
    let mut p = Pair::new(client, server).unwrap();
    p.run().unwrap();
    let open = |p: &mut Pair| {
        p.client
            .request(get("/"), RequestOptions::default())
            .unwrap()
    };
    let (a, b, c) = (open(&mut p), open(&mut p), open(&mut p));
    // A pending request takes body data; it goes out with the request.
    p.client.write(c, Bytes::from_static(b"queued")).unwrap();
    p.client.end(c).unwrap();
    p.run().unwrap();
    assert_eq!(request_id(&p.server_events), [a, b]);
    let st = p.client.stream_state(c).unwrap();
    assert!(st.pending && !st.headers_sent);
    // One finishes: the waiting request is sent, in id order.
    p.client.close_stream(a, ErrorCode::CANCEL).unwrap();
    p.run().unwrap();
    assert_eq!(request_id(&p.server_events), [a, b, c]);
    assert!(!p.client.stream_state(c).unwrap().pending);
    assert_eq!(body(&p.server_events, c), b"queued");
    // A pending request can be cancelled without the peer ever seeing it,
    // and GOAWAY refuses the ones still waiting.
    let d = open(&mut p);
    let e = open(&mut p);
    let f = open(&mut p);
    p.client.close_stream(d, ErrorCode::CANCEL).unwrap();
    assert_eq!(closed_code_now(&mut p, d), Some(ErrorCode::CANCEL));
    p.server
        .goaway(ErrorCode::NO_ERROR, None, Bytes::new())
        .unwrap();
    p.run().unwrap();
    assert_eq!(
        closed_code(&p.client_events, e),
        Some(ErrorCode::REFUSED_STREAM)
    );
    assert_eq!(
        closed_code(&p.client_events, f),
        Some(ErrorCode::REFUSED_STREAM)
    );
    assert!(!request_id(&p.server_events).contains(&d));
}

fn closed_code_now(p: &mut Pair, id: u32) -> Option<ErrorCode> {
    p.collect();
    closed_code(&p.client_events, id)
}

#[test]
fn backpressure_reports_full_then_drain() {
    let mut p = Pair::with_defaults().unwrap();
    let id = open_gets(&mut p, "/", 1)[0];
    p.server
        .respond(id, status("200"), RespondOptions::default())
        .unwrap();
    assert_eq!(p.server.write(id, Bytes::from(vec![0u8; 10_000])), Ok(true));
    assert_eq!(
        p.server.write(id, Bytes::from(vec![0u8; 10_000])),
        Ok(false)
    );
    assert_eq!(p.server.stream_state(id).unwrap().buffer_size, 20_000);
    p.run().unwrap();
    assert!(
        p.server_events
            .iter()
            .any(|e| matches!(e, Event::Drain { stream_id } if *stream_id == id))
    );
}

#[test]
fn manual_consume_holds_window_updates() {
    let mut p = Pair::with_defaults().unwrap();
    let id = p
        .client
        .request(
            get("/"),
            RequestOptions {
                end_stream: true,
                manual_consume: true,
                ..Default::default()
            },
        )
        .unwrap();
    p.run().unwrap();
    p.server
        .respond(id, status("200"), RespondOptions::default())
        .unwrap();
    p.server.write(id, Bytes::from(vec![0u8; 100_000])).unwrap();
    p.server.end(id).unwrap();
    p.run().unwrap();
    assert_eq!(
        body(&p.client_events, id).len(),
        65_535,
        "stops at the initial window"
    );
    p.client.consume(id, 65_535).unwrap();
    p.run().unwrap();
    assert_eq!(body(&p.client_events, id).len(), 100_000);
}

#[test]
fn informational_then_final_response() {
    let mut p = Pair::with_defaults().unwrap();
    let id = open_post(&mut p);
    p.server.additional_headers(id, status("103")).unwrap();
    p.server
        .respond(
            id,
            status("200"),
            RespondOptions {
                end_stream: true,
                ..Default::default()
            },
        )
        .unwrap();
    p.run().unwrap();
    let kinds: Vec<&str> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::Informational { .. } => Some("info"),
            Event::Response { .. } => Some("response"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["info", "response"]);
}

#[test]
fn large_header_block_uses_continuation() {
    let mut p = Pair::with_defaults().unwrap();
    let big: &'static str = Box::leak("v".repeat(40_000).into_boxed_str());
    let mut fields = get("/");
    fields.push(h("x-big", big));
    let id = p
        .client
        .request(
            fields,
            RequestOptions {
                end_stream: true,
                ..Default::default()
            },
        )
        .unwrap();
    p.run().unwrap();
    assert!(p.server_events.iter().any(|e| matches!(e,
        Event::Request { stream_id, headers, .. } if *stream_id == id && headers.iter().any(|f| f.value.len() == 40_000))));
}

#[test]
fn session_state_reports_windows_and_ids() {
    let mut p = Pair::with_defaults().unwrap();
    let id = open_gets(&mut p, "/", 1)[0];
    let s = p.server.session_state();
    assert_eq!(s.last_proc_stream_id, id);
    assert_eq!(s.remote_window_size, 65_535);
    assert_eq!(p.client.session_state().next_stream_id, 3);
    let st = p.server.stream_state(id).unwrap();
    assert!(st.remote_close && !st.local_close);
    assert_eq!(st.state, 6, "half-closed (remote)");
}

#[test]
fn idle_timeout_fires() {
    let mut p = Pair::with_defaults().unwrap();
    p.server.set_timeout(0, Some(1_000_000));
    assert_eq!(p.server.poll_timeout(), Some(1_000_000));
    p.server.handle_timeout(999_999);
    assert!(
        p.server.poll_event().is_none()
            || !p.server_events.iter().any(|e| matches!(e, Event::Timeout))
    );
    p.server.handle_timeout(1_000_000);
    p.collect();
    assert!(p.server_events.iter().any(|e| matches!(e, Event::Timeout)));
}

#[test]
fn response_body_then_trailers_after_request_ended() {
    let mut p = Pair::with_defaults().unwrap();
    let id = p
        .client
        .request(post_fields(), RequestOptions::default())
        .unwrap();
    p.client
        .write(id, Bytes::from_static(b"hello echo"))
        .unwrap();
    p.client.end(id).unwrap();
    p.run().unwrap();
    p.server
        .respond(
            id,
            status("200"),
            RespondOptions {
                wait_for_trailers: true,
                ..Default::default()
            },
        )
        .unwrap();
    p.run().unwrap();
    p.server
        .write(id, Bytes::from_static(b"hello echo"))
        .unwrap();
    p.run().unwrap();
    assert_eq!(body(&p.client_events, id), b"hello echo");
    p.server.end(id).unwrap();
    p.run().unwrap();
    assert!(
        p.server_events
            .iter()
            .any(|e| matches!(e, Event::WantTrailers { .. }))
    );
    p.server
        .send_trailers(id, vec![h("x-echo-bytes", "10")])
        .unwrap();
    p.run().unwrap();
    assert_eq!(closed_code(&p.client_events, id), Some(ErrorCode::NO_ERROR));
}

#[test]
fn response_started_before_request_body_arrives() {
    let mut p = Pair::with_defaults().unwrap();
    let id = open_post(&mut p);
    p.server
        .respond(
            id,
            status("200"),
            RespondOptions {
                wait_for_trailers: true,
                ..Default::default()
            },
        )
        .unwrap();
    p.client
        .write(id, Bytes::from_static(b"hello echo"))
        .unwrap();
    p.client.end(id).unwrap();
    p.run().unwrap();
    p.server.consume(id, 10).unwrap();
    p.server
        .write(id, Bytes::from_static(b"hello echo"))
        .unwrap();
    p.server.end(id).unwrap();
    p.run().unwrap();
    assert_eq!(body(&p.client_events, id), b"hello echo");
    assert!(
        p.server_events
            .iter()
            .any(|e| matches!(e, Event::WantTrailers { .. }))
    );
}

fn expect_continue_request(p: &mut Pair) -> u32 {
    let mut fields = post_fields();
    fields.push(h("expect", "100-continue"));
    let id = p.client.request(fields, RequestOptions::default()).unwrap();
    p.run().unwrap();
    id
}

fn informational_statuses(events: &[Event], stream: u32) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Informational { stream_id, headers } if *stream_id == stream => headers
                .iter()
                .find(|f| f.name == ":status")
                .map(|f| f.value.to_vec()),
            _ => None,
        })
        .collect()
}

#[test]
fn expect_100_continue_is_answered_automatically() {
    let mut p = Pair::with_defaults().unwrap();
    let id = expect_continue_request(&mut p);
    assert_eq!(
        informational_statuses(&p.client_events, id),
        [b"100".to_vec()]
    );
    // The body then flows and the final response follows as usual.
    p.client.write(id, Bytes::from_static(b"data")).unwrap();
    p.client.end(id).unwrap();
    p.run().unwrap();
    assert_eq!(body(&p.server_events, id), b"data");
}

#[test]
fn without_auto_continue_the_application_decides() {
    let client = Options {
        authority: "localhost".into(),
        ..Options::default()
    };
    let server = Options {
        auto_continue: false,
        ..Options::default()
    };
    let mut p = Pair::new(client, server).unwrap();
    let id = expect_continue_request(&mut p);
    assert!(informational_statuses(&p.client_events, id).is_empty());
    assert!(
        !p.client_events
            .iter()
            .any(|e| matches!(e, Event::Continue { .. }))
    );
    // Node's checkContinue handler refusing the body.
    p.server
        .respond(
            id,
            status("417"),
            RespondOptions {
                end_stream: true,
                ..Default::default()
            },
        )
        .unwrap();
    p.run().unwrap();
    assert!(p.client_events.iter().any(|e| matches!(e,
        Event::Response { stream_id, headers, .. }
            if *stream_id == id && headers.iter().any(|f| f.name == ":status" && f.value == "417"))));
}

#[test]
fn extended_connect_only_after_the_server_enables_it() {
    let ws = || {
        vec![
            h(":method", "CONNECT"),
            h(":protocol", "websocket"),
            h(":path", "/chat"),
        ]
    };
    // Without SETTINGS_ENABLE_CONNECT_PROTOCOL from the server (RFC 8441 §3).
    let mut p = Pair::with_defaults().unwrap();
    p.run().unwrap();
    assert!(matches!(
        p.client.request(ws(), RequestOptions::default()),
        Err(h2wasm_engine::error::CommandError::InvalidHeader(_))
    ));
    let server = Options {
        settings: Settings {
            enable_connect_protocol: Some(true),
            ..Settings::default()
        },
        ..Options::default()
    };
    let client = Options {
        authority: "localhost".into(),
        ..Options::default()
    };
    let mut p = Pair::new(client, server).unwrap();
    p.run().unwrap();
    let id = p.client.request(ws(), RequestOptions::default()).unwrap();
    p.client.write(id, Bytes::from_static(b"frame")).unwrap();
    p.run().unwrap();
    let request = p
        .server_events
        .iter()
        .find_map(|e| match e {
            Event::Request { headers, .. } => Some(headers.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        request
            .iter()
            .any(|f| f.name == ":protocol" && f.value == "websocket")
    );
    assert!(
        request.iter().any(|f| f.name == ":scheme"),
        "extended CONNECT keeps :scheme"
    );
    assert_eq!(body(&p.server_events, id), b"frame");
}

/// A body streamed without `wait_for_trailers` may still end with
/// trailers, sent when the host learns of them.
#[test]
fn trailers_after_a_streamed_body_without_waiting_for_them() {
    let mut p = Pair::with_defaults().unwrap();
    let id = open_gets(&mut p, "/", 1)[0];
    p.server
        .respond(id, status("200"), RespondOptions::default())
        .unwrap();
    p.server.write(id, Bytes::from_static(b"part one")).unwrap();
    p.run().unwrap();
    p.server
        .send_trailers(id, vec![h("x-done", "yes")])
        .unwrap();
    p.run().unwrap();
    assert_eq!(body(&p.client_events, id), b"part one");
    assert!(
        p.client_events.iter().any(|e| matches!(e,
        Event::Trailers { stream_id, headers } if *stream_id == id && headers[0].name == "x-done"))
    );
    assert_eq!(closed_code(&p.client_events, id), Some(ErrorCode::NO_ERROR));
    // Once ended, no trailers.
    let id = open_gets(&mut p, "/", 1)[0];
    p.server
        .respond(id, status("200"), RespondOptions::default())
        .unwrap();
    p.server.end(id).unwrap();
    assert!(p.server.send_trailers(id, vec![h("x-late", "1")]).is_err());
}

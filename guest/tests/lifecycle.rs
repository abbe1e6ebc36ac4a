//! Node's stream facts (`rstCode`, `aborted`, `closed`, `endAfterHeaders`,
//! `sentHeaders`, `sentInfoHeaders`, `sentTrailers`, `bufferSize`) and
//! per-stream timeouts.

mod common;

use bytes::Bytes;
use common::*;
use h2wasm_engine::pair::Pair;
use h2wasm_engine::{ErrorCode, Event, RequestOptions, RespondOptions};

const MS: u64 = 1_000_000;

fn names(fields: &[h2wasm_engine::HeaderField]) -> Vec<String> {
    fields
        .iter()
        .map(|f| String::from_utf8_lossy(&f.name).into_owned())
        .collect()
}

#[test]
fn sent_headers_info_headers_and_trailers_are_kept_while_open() {
    let mut p = Pair::with_defaults().unwrap();
    let id = open_post(&mut p);
    let client_view = p.client.stream_state(id).unwrap();
    assert!(client_view.headers_sent);
    assert!(names(&client_view.sent_headers).contains(&":method".to_string()));

    p.server
        .additional_headers(id, vec![h(":status", "103"), h("link", "</a.css>")])
        .unwrap();
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
    p.server.write(id, Bytes::from(vec![1u8; 100_000])).unwrap();
    let st = p.server.stream_state(id).unwrap();
    assert_eq!(st.sent_info_headers.len(), 1);
    assert_eq!(names(&st.sent_headers), [":status"]);
    assert_eq!(st.buffer_size, 100_000, "nothing moved yet");
    assert!(!st.end_after_headers, "the request has a body");
    p.server.end(id).unwrap();
    p.run().unwrap();
    p.server.send_trailers(id, vec![h("x-done", "1")]).unwrap();
    p.run().unwrap();
    let st = p.server.stream_state(id).unwrap();
    assert_eq!(names(&st.sent_trailers), ["x-done"]);
    assert!(st.local_close && !st.closed);
}

#[test]
fn closed_streams_report_how_they_closed() {
    let mut p = Pair::with_defaults().unwrap();
    let end = RequestOptions {
        end_stream: true,
        ..Default::default()
    };
    let clean = p.client.request(get("/a"), end.clone()).unwrap();
    let reset = p.client.request(get("/b"), end).unwrap();
    p.run().unwrap();
    assert!(p.server.stream_state(clean).unwrap().end_after_headers);
    p.server
        .respond(
            clean,
            status("204"),
            RespondOptions {
                end_stream: true,
                ..Default::default()
            },
        )
        .unwrap();
    p.server.close_stream(reset, ErrorCode::CANCEL).unwrap();
    p.run().unwrap();
    for side in [&p.client, &p.server] {
        let c = side.stream_state(clean).unwrap();
        assert_eq!((c.closed, c.rst_code, c.aborted), (true, Some(0), false));
        assert_eq!(c.state, 7);
        let r = side.stream_state(reset).unwrap();
        assert_eq!((r.closed, r.rst_code, r.aborted), (true, Some(8), true));
    }
    assert!(p.client.stream_state(99).is_none());
}

#[test]
fn stream_timeout_fires_once_per_quiet_period() {
    let mut p = Pair::with_defaults().unwrap();
    let id = open_post(&mut p);
    p.server
        .set_stream_timeout(id, p.now, Some(100 * MS))
        .unwrap();
    assert_eq!(p.server.poll_timeout(), Some(p.now + 100 * MS));
    let timeouts = |p: &Pair| {
        p.server_events
            .iter()
            .filter(|e| matches!(e, Event::StreamTimeout { stream_id } if *stream_id == id))
            .count()
    };
    p.now += 50 * MS;
    p.server.handle_timeout(p.now);
    p.collect();
    assert_eq!(timeouts(&p), 0);
    // Activity on the stream pushes the deadline back.
    p.client.write(id, Bytes::from_static(b"x")).unwrap();
    p.run().unwrap();
    p.now += 60 * MS;
    p.server.handle_timeout(p.now);
    p.collect();
    assert_eq!(timeouts(&p), 0);
    p.now += 50 * MS;
    p.server.handle_timeout(p.now);
    p.collect();
    assert_eq!(timeouts(&p), 1);
    p.server.handle_timeout(p.now);
    p.collect();
    assert_eq!(timeouts(&p), 1, "not again until another quiet period");
    // Turning it off, or closing the stream, stops it.
    p.server.set_stream_timeout(id, p.now, None).unwrap();
    assert_eq!(p.server.poll_timeout(), None);
    assert!(p.server.set_stream_timeout(999, p.now, Some(MS)).is_err());
}

fn closed_metrics(events: &[Event], stream: u32) -> h2wasm_engine::StreamMetrics {
    events
        .iter()
        .find_map(|e| match e {
            Event::StreamClosed {
                stream_id, metrics, ..
            } if *stream_id == stream => Some(*metrics),
            _ => None,
        })
        .expect("stream closed")
}

#[test]
fn performance_entries_per_stream_and_session() {
    let mut p = Pair::with_defaults().unwrap();
    // The engine knows the time it is given: hosts pass it in with every
    // `drive`; here the client learns it before opening the stream.
    p.now = 1_000 * MS;
    p.client.handle_timeout(p.now);
    let id = p
        .client
        .request(post_fields(), RequestOptions::default())
        .unwrap();
    p.client.write(id, Bytes::from(vec![0u8; 1000])).unwrap();
    p.client.end(id).unwrap();
    p.now += 5 * MS;
    p.run().unwrap();
    p.now += 10 * MS;
    p.server.handle_timeout(p.now);
    p.server
        .respond(id, status("200"), RespondOptions::default())
        .unwrap();
    p.run().unwrap();
    p.now += 20 * MS;
    p.server.handle_timeout(p.now);
    p.server.write(id, Bytes::from(vec![0u8; 300])).unwrap();
    p.server.end(id).unwrap();
    p.run().unwrap();

    let c = closed_metrics(&p.client_events, id);
    assert_eq!((c.bytes_written, c.bytes_read), (1000, 300));
    assert_eq!(
        c.time_to_first_byte_sent_ns,
        Some(0),
        "queued with the request"
    );
    assert_eq!(c.time_to_first_header_ns, Some(15 * MS));
    assert_eq!(c.time_to_first_byte_ns, Some(35 * MS));
    assert_eq!(c.duration_ns, 35 * MS);
    let s = closed_metrics(&p.server_events, id);
    assert_eq!((s.bytes_read, s.bytes_written), (1000, 300));
    assert_eq!(
        s.time_to_first_byte_ns,
        Some(0),
        "request body arrived with it"
    );
    assert_eq!(s.duration_ns, 30 * MS);

    p.client.ping(p.now, None).unwrap();
    p.run().unwrap();
    let m = p.client.metrics();
    assert_eq!(m.ping_rtt_ns, Some(0));
    assert_eq!(m.stream_count, 1);
    assert_eq!(m.stream_average_duration_ns, 35 * MS);
    assert_eq!(m.duration_ns, 1_035 * MS);
    assert!(m.bytes_written > 1000 && m.frames_sent >= 4);
}

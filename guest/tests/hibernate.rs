//! Hibernation: an idle connection written out and rebuilt must go on as
//! if nothing happened: both HPACK tables, stream ids, windows, settings
//! and counters carry over, and nothing that is still in flight can be
//! written out.

mod common;

use bytes::Bytes;
use common::*;
use h2wasm_engine::pair::Pair;
use h2wasm_engine::{
    CommandError, Connection, Event, HeaderField, Options, RequestOptions, RespondOptions,
};

fn server_options() -> Options {
    Options {
        manual_consume: true,
        ..Options::default()
    }
}

fn pair() -> Pair {
    let client = Options {
        authority: "example.com".into(),
        ..Options::default()
    };
    let mut p = Pair::new(client, server_options()).unwrap();
    p.run().unwrap();
    p
}

/// A request with fields the client's encoder indexes, answered with
/// fields the server's encoder indexes: afterwards both HPACK tables hold
/// entries that later blocks refer to.
fn exchange(p: &mut Pair, path: &'static str) -> (Vec<HeaderField>, Vec<u8>) {
    let mut fields = get(path);
    fields.push(h("user-agent", "hibernation-test/1.0"));
    fields.push(h("x-tenant", "blue"));
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
    let seen = p
        .server_events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Request {
                stream_id, headers, ..
            } if *stream_id == id => Some(headers.clone()),
            _ => None,
        })
        .expect("the server saw the request");
    let mut answer = status("200");
    answer.push(h("content-type", "text/plain"));
    answer.push(h("x-served-by", "hibernated-engine"));
    p.server
        .respond(
            id,
            answer,
            RespondOptions {
                end_stream: false,
                ..Default::default()
            },
        )
        .unwrap();
    p.server.write(id, Bytes::from_static(b"body")).unwrap();
    p.server.end(id).unwrap();
    p.run().unwrap();
    let response = p
        .client_events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Response {
                stream_id, headers, ..
            } if *stream_id == id => Some(headers.clone()),
            _ => None,
        })
        .expect("the client saw the response");
    assert!(
        response
            .iter()
            .any(|f| f.name == "x-served-by" && f.value == "hibernated-engine")
    );
    (seen.into_vec(), body(&p.client_events, id))
}

#[test]
fn an_idle_server_resumes_with_its_hpack_tables_and_stream_ids() {
    let mut p = pair();
    exchange(&mut p, "/one");
    let snapshot = p.server.hibernate().expect("idle after one exchange");
    assert!(
        snapshot.len() < 2048,
        "a few KiB at most: {}",
        snapshot.len()
    );
    let before = p.server.session_state();
    let metrics = p.server.metrics();
    p.server = Connection::resume(server_options(), &snapshot, 5).unwrap();
    let after = p.server.session_state();
    assert_eq!(after.last_proc_stream_id, before.last_proc_stream_id);
    assert_eq!(after.remote_window_size, before.remote_window_size);
    assert_eq!(after.local_window_size, before.local_window_size);
    assert_eq!(
        after.inflate_dynamic_table_size,
        before.inflate_dynamic_table_size
    );
    assert_eq!(
        after.deflate_dynamic_table_size,
        before.deflate_dynamic_table_size
    );
    assert_eq!(p.server.metrics().stream_count, metrics.stream_count);
    assert_eq!(p.server.remote_settings(), p.server.remote_settings());
    // The client's next block refers to entries the old instance indexed;
    // the response's to entries the server's encoder indexed.
    let (seen, got) = exchange(&mut p, "/two");
    assert!(
        seen.iter()
            .any(|f| f.name == "x-tenant" && f.value == "blue")
    );
    assert_eq!(got, b"body");
    // And again, several times over.
    for _ in 0..3 {
        let snapshot = p.server.hibernate().unwrap();
        p.server = Connection::resume(server_options(), &snapshot, 10).unwrap();
        exchange(&mut p, "/again");
    }
    assert!(
        p.client_events
            .iter()
            .all(|e| !matches!(e, Event::GoAway { .. }))
    );
}

#[test]
fn a_client_resumes_too_and_numbers_its_next_stream_after_the_last() {
    let mut p = pair();
    exchange(&mut p, "/one");
    let client_options = Options {
        authority: "example.com".into(),
        ..Options::default()
    };
    let snapshot = p.client.hibernate().unwrap();
    p.client = Connection::resume(client_options, &snapshot, 1).unwrap();
    let id = p
        .client
        .request(
            get("/next"),
            RequestOptions {
                end_stream: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(id, 3);
    assert_eq!(p.client.origin_set(), ["https://example.com"]);
    p.run().unwrap();
}

#[test]
fn nothing_in_flight_can_be_written_out() {
    let mut p = pair();
    // An open stream.
    let id = open_post(&mut p);
    assert!(matches!(
        p.server.hibernate(),
        Err(CommandError::InvalidState(_))
    ));
    p.client
        .close_stream(id, h2wasm_engine::ErrorCode::CANCEL)
        .unwrap();
    p.run().unwrap();
    p.server
        .hibernate()
        .expect("idle again once the stream closed");
    // Closing.
    p.server.close();
    assert!(p.server.hibernate().is_err());
}

/// SETTINGS and PINGs awaiting the peer's acknowledgement are written out
/// with the rest: a peer that never acknowledges costs what any idle
/// connection costs, and one that does later gets them applied then.
#[test]
fn unacknowledged_settings_and_pings_carry_over() {
    let mut p = pair();
    exchange(&mut p, "/one");
    p.server.ping(0, Some(*b"pingpong")).unwrap();
    p.server
        .settings(h2wasm_engine::Settings {
            max_concurrent_streams: Some(7),
            ..Default::default()
        })
        .unwrap();
    // Out on the wire, not yet answered.
    let out = p.server.poll_transmit(1 << 16).unwrap();
    let snapshot = p.server.hibernate().expect("waiting for ACKs is idle");
    p.server = Connection::resume(server_options(), &snapshot, 0).unwrap();
    assert_eq!(p.server.pending_settings_acks(), 1);
    assert_ne!(p.server.local_settings().max_concurrent_streams, Some(7));
    // The client reads what was sent before hibernation and acknowledges.
    p.client.receive(0, &out.octets).unwrap();
    p.run().unwrap();
    assert_eq!(p.server.pending_settings_acks(), 0);
    assert_eq!(p.server.local_settings().max_concurrent_streams, Some(7));
    assert!(
        p.server_events
            .iter()
            .any(|e| matches!(e, Event::PingAck { payload, .. } if payload == b"pingpong")),
        "the PING's ACK is matched in the new instance"
    );
    assert!(
        p.client_events
            .iter()
            .all(|e| !matches!(e, Event::GoAway { .. }))
    );
}

/// A client that sends the preface and SETTINGS and never acknowledges the
/// server's may hibernate at once; its ACK, if it ever comes, is taken.
#[test]
fn a_server_whose_first_settings_are_never_acknowledged_hibernates() {
    let mut c = Connection::new(h2wasm_engine::Role::Server, server_options(), 0).unwrap();
    let mut hello = h2wasm_engine::connection::PREFACE.to_vec();
    hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    c.receive(1, &hello).unwrap();
    while c.poll_transmit(1 << 16).is_some() {}
    while c.poll_event().is_some() {}
    assert_eq!(c.pending_settings_acks(), 1);
    let snapshot = c.hibernate().expect("nothing else in flight");
    let mut c = Connection::resume(server_options(), &snapshot, 2).unwrap();
    c.receive(3, &[0, 0, 0, 4, 1, 0, 0, 0, 0]).unwrap();
    assert_eq!(c.pending_settings_acks(), 0);
    assert!(
        c.poll_event()
            .is_some_and(|e| matches!(e, Event::LocalSettings { .. }))
    );
}

#[test]
fn a_server_before_the_preface_cannot_hibernate() {
    let c = Connection::new(h2wasm_engine::Role::Server, server_options(), 0).unwrap();
    assert!(c.hibernate().is_err());
}

#[test]
fn damaged_snapshots_are_refused_never_misread() {
    let mut p = pair();
    exchange(&mut p, "/one");
    let snapshot = p.server.hibernate().unwrap();
    for cut in 0..snapshot.len() {
        assert!(
            Connection::resume(server_options(), &snapshot[..cut], 0).is_err(),
            "truncated at {cut}"
        );
    }
    let mut longer = snapshot.clone();
    longer.push(0);
    assert!(Connection::resume(server_options(), &longer, 0).is_err());
    // Flipped octets either read back as some connection or are refused;
    // neither panics.
    let mut x = 0x9e37_79b9_u32;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let mut bad = snapshot.clone();
        let i = x as usize % bad.len();
        bad[i] ^= (x >> 8) as u8 | 1;
        let _ = Connection::resume(server_options(), &bad, 0);
    }
    assert!(Connection::resume(server_options(), b"not a snapshot", 0).is_err());
}

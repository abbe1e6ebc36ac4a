//! HPACK on a connection: dynamic table size updates (RFC 7541 §4.2, §6.3):
//! where they may appear, blocks that hold nothing else, and the update a
//! peer owes after we lower SETTINGS_HEADER_TABLE_SIZE; and blocks a peer
//! repeats octet for octet, which the engine need not decode again.

mod common;

use bytes::Bytes;
use common::*;
use h2wasm_engine::pair::Pair;
use h2wasm_engine::wire::{flag, kind};
use h2wasm_engine::{ErrorCode, Event, RequestOptions, RespondOptions, Settings};

fn send_block(p: &mut RawPeer, stream: u32, block: &[u8], end_stream: bool) {
    let flags = flag::END_HEADERS | if end_stream { flag::END_STREAM } else { 0 };
    p.send_frame(kind::HEADERS, flags, stream, block);
}

/// RFC 7541 §4.2: "This dynamic table size update MUST occur at the
/// beginning of the first header block following the change": one after a
/// field is a COMPRESSION_ERROR for the connection.
#[test]
fn s4_2_size_update_after_a_field_is_compression_error() {
    for block in [
        &[0x82, 0x87, 0x20, 0x84, 0x41, 0x01, 0x61][..],
        &[0x82, 0x3f, 0xe1, 0x1f, 0x82],
    ] {
        let mut p = RawPeer::server();
        send_block(&mut p, 1, block, true);
        assert_eq!(
            p.goaway(),
            Some(ErrorCode::COMPRESSION_ERROR),
            "{block:02x?}"
        );
    }
}

/// RFC 7541 §4.2: a header block of nothing but size updates is valid:
/// here, empty trailers.
#[test]
fn s4_2_a_block_of_only_size_updates_is_accepted() {
    for block in [&[0x3f, 0xe1, 0x1f][..], &[0x20, 0x3f, 0xe1, 0x1f]] {
        let mut p = RawPeer::server();
        p.send_headers(1, &post_fields(), false);
        p.send_data(1, b"x", false);
        send_block(&mut p, 1, block, true);
        assert_eq!(p.goaway(), None, "{block:02x?}");
        assert!(
            p.events.iter().any(
                |e| matches!(e, Event::Trailers { stream_id: 1, headers } if headers.is_empty())
            )
        );
    }
}

/// The case two engines used to fail: the client lowers its
/// SETTINGS_HEADER_TABLE_SIZE after the response headers, then the server
/// sends empty trailers — a block that is only the size update.
#[test]
fn s4_2_empty_trailers_after_a_table_size_change_reach_the_client() {
    let mut p = Pair::with_defaults().unwrap();
    let id = p
        .client
        .request(
            get("/"),
            RequestOptions {
                end_stream: true,
                ..Default::default()
            },
        )
        .unwrap();
    p.run().unwrap();
    p.server
        .respond(
            id,
            status("200"),
            RespondOptions {
                end_stream: false,
                wait_for_trailers: true,
            },
        )
        .unwrap();
    p.server.write(id, Bytes::from_static(b"data")).unwrap();
    p.server.end(id).unwrap();
    p.run().unwrap();
    p.client
        .settings(Settings {
            header_table_size: Some(1000),
            ..Default::default()
        })
        .unwrap();
    p.run().unwrap();
    p.server.send_trailers(id, Vec::new()).unwrap();
    p.run().expect("no COMPRESSION_ERROR");
    assert_eq!(closed_code(&p.client_events, id), Some(ErrorCode::NO_ERROR));
}

/// RFC 7541 §4.2: after we lower SETTINGS_HEADER_TABLE_SIZE and the peer
/// acknowledges it, the peer's next block must start with a size update
/// no larger than the new value. Referring to an old entry without one is
/// a COMPRESSION_ERROR (nghttp2 and Python's hpack agree).
/// A server whose table holds stream 1's `:authority`, after the peer
/// acknowledged our SETTINGS_HEADER_TABLE_SIZE of 0.
fn server_after_lowering_its_table_size() -> RawPeer {
    let mut p = RawPeer::server();
    p.send_headers(1, &request_fields("/"), true);
    assert_eq!(p.goaway(), None);
    p.conn
        .settings(Settings {
            header_table_size: Some(0),
            ..Default::default()
        })
        .unwrap();
    p.pump();
    p.send_frame(kind::SETTINGS, flag::ACK, 0, &[]);
    p
}

#[test]
fn s4_2_the_update_owed_after_we_lower_our_table_size_is_enforced() {
    let mut p = server_after_lowering_its_table_size();
    // :method GET, :scheme https, :path /, then :authority by its old
    // dynamic index, with no size update first.
    send_block(&mut p, 3, &[0x82, 0x87, 0x84, 0x80 | 62], true);
    assert_eq!(p.goaway(), Some(ErrorCode::COMPRESSION_ERROR));
}

#[test]
fn s4_2_a_block_that_opens_with_the_owed_update_is_accepted() {
    let mut p = server_after_lowering_its_table_size();
    send_block(&mut p, 3, &[0x20, 0x82, 0x87, 0x84, 0x01, 0x01, b'a'], true);
    assert_eq!(p.goaway(), None);
    assert!(
        p.events
            .iter()
            .any(|e| matches!(e, Event::Request { stream_id: 3, .. }))
    );
    // The update emptied the table.
    assert_eq!(p.conn.session_state().inflate_dynamic_table_size, 0);
}

/// A GET block that changes no table (as nghttp2 sends `:path`, literals
/// without indexing), with one more literal field `name: v`.
fn unindexed_get(extra_name: &str) -> Vec<u8> {
    let mut b = vec![0x82, 0x86, 0x01, 11];
    b.extend_from_slice(b"example.com");
    b.extend_from_slice(&[0x04, 2, b'/', b'a']);
    b.extend_from_slice(&[0x00, extra_name.len() as u8]);
    b.extend_from_slice(extra_name.as_bytes());
    b.extend_from_slice(&[1, b'v']);
    b
}

fn request_headers(p: &RawPeer, stream: u32) -> Option<Vec<(String, String)>> {
    p.events.iter().find_map(|e| match e {
        Event::Request {
            stream_id, headers, ..
        } if *stream_id == stream => Some(
            headers
                .iter()
                .map(|f| {
                    let s = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
                    (s(&f.name), s(&f.value))
                })
                .collect(),
        ),
        _ => None,
    })
}

/// The same octets on stream after stream are the same request each time,
/// and a malformed one is refused each time (RFC 9113 §8.2.1: upper-case
/// names), however the blocks alternate.
#[test]
fn repeated_blocks_are_the_same_request_and_the_same_refusal_each_time() {
    let mut p = RawPeer::server();
    let (good, bad) = (unindexed_get("x-a"), unindexed_get("X-A"));
    let order = [&good, &good, &bad, &bad, &good, &bad, &good, &good];
    for (i, block) in order.iter().enumerate() {
        let stream = 1 + 2 * i as u32;
        send_block(&mut p, stream, block, true);
        if std::ptr::eq(*block, &good) {
            assert_eq!(p.rst(stream), None, "stream {stream}");
            let headers = request_headers(&p, stream).expect("request delivered");
            assert_eq!(headers.len(), 5);
            assert_eq!(headers[3], (":path".into(), "/a".into()));
            assert_eq!(headers[4], ("x-a".into(), "v".into()));
        } else {
            assert_eq!(
                p.rst(stream),
                Some(ErrorCode::PROTOCOL_ERROR),
                "stream {stream}"
            );
            assert!(request_headers(&p, stream).is_none());
        }
    }
    assert_eq!(p.goaway(), None);
}

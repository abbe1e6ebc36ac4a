//! HPACK dynamic table size updates on a connection (RFC 7541 §4.2, §6.3):
//! where they may appear, blocks that hold nothing else, and the update a
//! peer owes after we lower SETTINGS_HEADER_TABLE_SIZE.

mod common;

use bytes::Bytes;
use common::*;
use h2wasm_engine::frame::{flag, kind};
use h2wasm_engine::pair::Pair;
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

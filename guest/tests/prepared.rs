//! Prepared response headers: checked once, sent on many streams, their
//! HPACK block reused only while the dynamic table is unchanged. The
//! client's decoder (a separate HPACK implementation) is the judge: a stale
//! block would decode to the wrong fields or fail with COMPRESSION_ERROR.

mod common;

use bytes::Bytes;
use common::*;
use h2wasm_engine::pair::Pair;
use h2wasm_engine::settings::Settings;
use h2wasm_engine::{CommandError, Event, HeaderField, Options, PreparedHeaders, RespondOptions};

fn done() -> RespondOptions {
    RespondOptions {
        end_stream: true,
        ..Default::default()
    }
}

fn response_headers(events: &[Event], id: u32) -> Vec<HeaderField> {
    events
        .iter()
        .find_map(|e| match e {
            Event::Response {
                stream_id, headers, ..
            } if *stream_id == id => Some(headers.to_vec()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no response on stream {id}"))
}

fn pairs(fields: &[HeaderField]) -> Vec<(Bytes, Bytes)> {
    fields
        .iter()
        .map(|f| (f.name.clone(), f.value.clone()))
        .collect()
}

fn page(p: &Pair) -> PreparedHeaders {
    p.server
        .prepare_headers(vec![
            h(":status", "200"),
            h("content-type", "text/html"),
            h("etag", "\"abc-123\""),
            h("cache-control", "max-age=60"),
        ])
        .unwrap()
}

#[test]
fn a_prepared_list_decodes_the_same_however_the_table_moves_between_uses() {
    let mut p = Pair::with_defaults().unwrap();
    let ids = open_gets(&mut p, "/", 8);
    let page = page(&p);
    // Each plain response adds a new field to the table, shifting every
    // index the prepared block would have used.
    for (i, &id) in ids.iter().enumerate() {
        if i % 3 == 2 {
            let unique = format!("v{i}");
            let fields = vec![h(":status", "200"), HeaderField::new("x-n", unique)];
            p.server.respond(id, fields, done()).unwrap();
        } else {
            p.server.respond_prepared(id, &page, done()).unwrap();
        }
        // One run per response: each block is decoded before the next is
        // encoded, as on a real connection.
        p.run().unwrap();
    }
    for (i, &id) in ids.iter().enumerate() {
        let got = pairs(&response_headers(&p.client_events, id));
        if i % 3 == 2 {
            assert_eq!(got[1].1, format!("v{i}"));
        } else {
            assert_eq!(got, pairs(page.fields()), "stream {id}");
        }
        assert!(ended(&p.client_events, id));
    }
}

#[test]
fn a_prepared_block_follows_a_table_size_change() {
    let mut p = Pair::with_defaults().unwrap();
    let ids = open_gets(&mut p, "/", 4);
    let page = page(&p);
    p.server.respond_prepared(ids[0], &page, done()).unwrap();
    p.server.respond_prepared(ids[1], &page, done()).unwrap();
    p.run().unwrap();
    // The client shrinks our table to nothing: the next block must carry
    // the size update and index nothing it used to.
    p.client
        .settings(Settings {
            header_table_size: Some(0),
            ..Default::default()
        })
        .unwrap();
    p.run().unwrap();
    p.server.respond_prepared(ids[2], &page, done()).unwrap();
    p.server.respond_prepared(ids[3], &page, done()).unwrap();
    p.run().unwrap();
    for id in ids {
        assert_eq!(
            pairs(&response_headers(&p.client_events, id)),
            pairs(page.fields())
        );
    }
    assert!(
        !p.client_events
            .iter()
            .any(|e| matches!(e, Event::GoAway { .. })),
        "no compression error"
    );
}

#[test]
fn one_prepared_list_serves_several_connections() {
    let mut a = Pair::with_defaults().unwrap();
    let mut b = Pair::with_defaults().unwrap();
    let page = page(&a);
    let a_ids = open_gets(&mut a, "/", 3);
    let b_ids = open_gets(&mut b, "/", 3);
    // Interleaved, so each connection's encoder sees the list at a
    // different table state than the other's.
    for (&x, &y) in a_ids.iter().zip(&b_ids) {
        a.server.respond_prepared(x, &page, done()).unwrap();
        a.run().unwrap();
        b.server
            .respond(y, vec![h(":status", "204"), h("x-other", "1")], done())
            .unwrap();
        b.run().unwrap();
    }
    let c_ids = open_gets(&mut b, "/", 2);
    for &y in &c_ids {
        b.server.respond_prepared(y, &page, done()).unwrap();
        b.run().unwrap();
    }
    for id in a_ids {
        assert_eq!(
            pairs(&response_headers(&a.client_events, id)),
            pairs(page.fields())
        );
    }
    for id in c_ids {
        assert_eq!(
            pairs(&response_headers(&b.client_events, id)),
            pairs(page.fields())
        );
    }
}

#[test]
fn prepared_headers_are_checked_like_respond() {
    let p = Pair::with_defaults().unwrap();
    let lowered = p
        .server
        .prepare_headers(vec![h(":status", "200"), h("X-Upper", "1")])
        .unwrap();
    assert_eq!(&lowered.fields()[1].name[..], b"x-upper");
    for bad in [
        vec![h(":status", "103")],
        vec![h(":status", "200"), h(":path", "/")],
        vec![h(":status", "200"), h("connection", "close")],
        vec![h(":status", "200"), h("bad name", "1")],
        vec![h(":status", "200"), h("x", "a\r\nb")],
    ] {
        assert!(
            matches!(
                p.server.prepare_headers(bad.clone()),
                Err(CommandError::InvalidHeader(_))
            ),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn respond_prepared_keeps_respond_rules_and_stream_facts() {
    let mut p = Pair::with_defaults().unwrap();
    let page = page(&p);
    assert_eq!(
        p.client.respond_prepared(1, &page, done()),
        Err(CommandError::WrongRole)
    );
    assert_eq!(
        p.server.respond_prepared(1, &page, done()),
        Err(CommandError::UnknownStream)
    );
    let id = open_gets(&mut p, "/", 1)[0];
    p.server
        .respond_prepared(id, &page, RespondOptions::default())
        .unwrap();
    assert!(matches!(
        p.server.respond_prepared(id, &page, done()),
        Err(CommandError::InvalidState(_))
    ));
    let st = p.server.stream_state(id).unwrap();
    assert!(st.headers_sent);
    assert_eq!(pairs(&st.sent_headers), pairs(page.fields()));
    p.server.write(id, Bytes::from_static(b"body")).unwrap();
    p.server.end(id).unwrap();
    p.run().unwrap();
    assert_eq!(body(&p.client_events, id), b"body");
    assert!(ended(&p.client_events, id));
}

/// A batch answers each stream with its own list and its own slice of the
/// bodies; a response whose index or length is wrong is refused alone,
/// and the bodies after it still line up.
#[test]
fn a_batch_answers_each_stream_with_its_list_and_its_slice_of_the_bodies() {
    use h2wasm_engine::BatchedResponse;
    let mut p = Pair::with_defaults().unwrap();
    let ids = open_gets(&mut p, "/", 5);
    let page = page(&p);
    let empty = p.server.prepare_headers(vec![h(":status", "204")]).unwrap();
    let lists = [&page, &empty];
    let batch = |stream_id, headers, body_length| BatchedResponse {
        stream_id,
        headers,
        body_length,
    };
    let responses = [
        batch(ids[0], 0, 5),
        batch(ids[1], 1, 0),
        batch(ids[2], 7, 3),
        batch(ids[3], 0, 6),
        batch(ids[4], 0, 100),
    ];
    let refused =
        p.server
            .respond_prepared_batch(|i| lists.get(i).copied(), responses, b"hellobadsecond");
    assert_eq!(
        refused,
        vec![
            (
                ids[2],
                CommandError::InvalidArgument("headers is not an index into the batch's headers")
            ),
            (
                ids[4],
                CommandError::InvalidArgument("body-length runs past the end of bodies")
            ),
        ]
    );
    p.run().unwrap();
    let events = &p.client_events;
    assert_eq!(
        pairs(&response_headers(events, ids[0])),
        pairs(page.fields())
    );
    assert_eq!(body(events, ids[0]), b"hello");
    assert_eq!(
        pairs(&response_headers(events, ids[1])),
        pairs(empty.fields())
    );
    assert!(body(events, ids[1]).is_empty());
    // The refused one's three octets ("bad") were skipped, not sent.
    assert_eq!(body(events, ids[3]), b"second");
    for id in [ids[0], ids[1], ids[3]] {
        assert!(ended(events, id), "stream {id}");
    }
    assert!(!ended(events, ids[2]) && !ended(events, ids[4]));
}

/// A body that flow control holds back is sent whole once the window
/// opens, beside bodies of the same batch that went out at once.
#[test]
fn a_batch_body_larger_than_the_window_follows_as_the_window_opens() {
    use h2wasm_engine::BatchedResponse;
    let client = Options {
        authority: "localhost".into(),
        settings: h2wasm_engine::Settings {
            initial_window_size: Some(1000),
            ..Default::default()
        },
        ..Options::default()
    };
    let mut p = Pair::new(client, Options::default()).unwrap();
    let ids = open_gets(&mut p, "/", 3);
    let page = page(&p);
    let big: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let mut bodies = b"small".to_vec();
    bodies.extend_from_slice(&big);
    bodies.extend_from_slice(b"tail");
    let responses =
        [(ids[0], 5), (ids[1], big.len() as u32), (ids[2], 4)].map(|(stream_id, body_length)| {
            BatchedResponse {
                stream_id,
                headers: 0,
                body_length,
            }
        });
    let refused =
        p.server
            .respond_prepared_batch(|i| (i == 0).then_some(&page), responses, &bodies);
    assert!(refused.is_empty(), "{refused:?}");
    p.run().unwrap();
    assert_eq!(body(&p.client_events, ids[0]), b"small");
    assert_eq!(body(&p.client_events, ids[1]), big);
    assert_eq!(body(&p.client_events, ids[2]), b"tail");
    assert!(ids.iter().all(|id| ended(&p.client_events, *id)));
}

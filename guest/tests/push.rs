//! Server push between engine peers (RFC 9113 §8.4, Node's `pushStream`).

mod common;

use bytes::Bytes;
use common::*;
use h2wasm_engine::error::CommandError;
use h2wasm_engine::pair::Pair;
use h2wasm_engine::settings::Settings;
use h2wasm_engine::{ErrorCode, Event, Options, Origin, RespondOptions};

fn pair(client: Options) -> Pair {
    let client = Options {
        authority: "localhost".into(),
        ..client
    };
    Pair::new(client, Options::default()).unwrap()
}

fn open(p: &mut Pair) -> u32 {
    open_gets(p, "/page", 1)[0]
}

fn pushed(path: &'static str) -> Vec<h2wasm_engine::HeaderField> {
    vec![h(":path", path), h(":authority", "localhost")]
}

fn end() -> RespondOptions {
    RespondOptions {
        end_stream: true,
        ..Default::default()
    }
}

#[test]
fn pushed_response_reaches_the_client_before_the_page() {
    let mut p = pair(Options::default());
    let page = open(&mut p);
    assert!(p.server.push_allowed());
    let css = p.server.push_stream(page, pushed("/style.css")).unwrap();
    assert_eq!(css % 2, 0, "servers promise even stream ids");
    p.server
        .respond(css, status("200"), RespondOptions::default())
        .unwrap();
    p.server.write(css, Bytes::from_static(b"body{}")).unwrap();
    p.server.end(css).unwrap();
    p.server.respond(page, status("200"), end()).unwrap();
    p.run().unwrap();

    let promise = p
        .client_events
        .iter()
        .position(|e| matches!(e, Event::PushPromise { stream_id, .. } if *stream_id == css))
        .expect("push-promise event");
    let Event::PushPromise {
        parent, headers, ..
    } = &p.client_events[promise]
    else {
        unreachable!()
    };
    assert_eq!(*parent, page);
    let path = headers.iter().find(|f| f.name == ":path").unwrap();
    assert_eq!(path.value, "/style.css");
    // Node's defaults fill the rest of the promised request.
    assert!(
        headers
            .iter()
            .any(|f| f.name == ":method" && f.value == "GET")
    );
    let page_response = p
        .client_events
        .iter()
        .position(|e| matches!(e, Event::Response { stream_id, .. } if *stream_id == page))
        .unwrap();
    assert!(promise < page_response, "the promise precedes the page");
    assert_eq!(body(&p.client_events, css), b"body{}");
    assert_eq!(
        closed_code(&p.client_events, css),
        Some(ErrorCode::NO_ERROR)
    );
    assert_eq!(
        closed_code(&p.client_events, page),
        Some(ErrorCode::NO_ERROR)
    );
}

#[test]
fn push_is_refused_where_node_refuses_it() {
    let no_push = Options {
        settings: Settings {
            enable_push: Some(false),
            ..Settings::default()
        },
        ..Options::default()
    };
    let mut p = pair(no_push);
    let page = open(&mut p);
    assert!(!p.server.push_allowed());
    assert!(matches!(
        p.server.push_stream(page, pushed("/a")),
        Err(CommandError::InvalidState(_))
    ));

    let mut p = pair(Options::default());
    let page = open(&mut p);
    let a = p.server.push_stream(page, pushed("/a")).unwrap();
    // No push from a pushed stream.
    assert!(matches!(
        p.server.push_stream(a, pushed("/b")),
        Err(CommandError::InvalidState(_))
    ));
    // Only safe, cacheable requests, with an authority.
    let mut post = pushed("/c");
    post.push(h(":method", "POST"));
    assert!(matches!(
        p.server.push_stream(page, post),
        Err(CommandError::InvalidHeader(_))
    ));
    assert!(matches!(
        p.server.push_stream(page, vec![h(":path", "/d")]),
        Err(CommandError::InvalidHeader(_))
    ));
    assert!(matches!(
        p.client.push_stream(page, pushed("/e")),
        Err(CommandError::WrongRole)
    ));
    // Not on a stream whose response has ended.
    p.server.respond(page, status("204"), end()).unwrap();
    assert!(matches!(
        p.server.push_stream(page, pushed("/f")),
        Err(CommandError::InvalidState(_)) | Err(CommandError::UnknownStream)
    ));
}

#[test]
fn client_can_cancel_a_push() {
    let mut p = pair(Options::default());
    let page = open(&mut p);
    let a = p.server.push_stream(page, pushed("/a")).unwrap();
    p.run().unwrap();
    p.client.close_stream(a, ErrorCode::CANCEL).unwrap();
    p.run().unwrap();
    assert!(p.server_events.iter().any(|e| matches!(e,
        Event::StreamReset { stream_id, code, origin: Origin::Remote }
            if *stream_id == a && *code == ErrorCode::CANCEL)));
    assert!(matches!(
        p.server.respond(a, status("200"), end()),
        Err(CommandError::UnknownStream)
    ));
}

#[test]
fn pushed_streams_count_once_answered() {
    let mut p = pair(Options::default());
    let page = open(&mut p);
    let ids: Vec<u32> = (0..3)
        .map(|_| p.server.push_stream(page, pushed("/x")).unwrap())
        .collect();
    assert_eq!(ids, [2, 4, 6]);
    // Reserved streams are not active (§5.1.2).
    assert_eq!(p.server.session_state().next_stream_id, 8);
    for id in &ids {
        p.server
            .respond(*id, status("200"), RespondOptions::default())
            .unwrap();
    }
    p.run().unwrap();
    let state = p.server.stream_state(2).unwrap();
    assert_eq!(state.state, 6, "half-closed (remote) once answered");
}

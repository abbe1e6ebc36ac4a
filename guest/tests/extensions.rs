//! ALTSVC (RFC 7838) and ORIGIN (RFC 8336) between engine peers, and
//! hand-built frames that the RFCs say must be ignored.

mod common;

use common::*;
use h2wasm_engine::connection::{AltSvcTarget, valid_origin};
use h2wasm_engine::error::CommandError;
use h2wasm_engine::pair::Pair;
use h2wasm_engine::wire::kind;
use h2wasm_engine::{Event, Options, RequestOptions};

fn client_opts() -> Options {
    Options {
        authority: "example.org".into(),
        ..Options::default()
    }
}

fn altsvc_events(events: &[Event]) -> Vec<(u32, String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::AltSvc {
                stream_id,
                origin,
                value,
            } => Some((*stream_id, origin.clone(), value.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn origins_option_is_sent_at_start_and_fills_the_origin_set() {
    let server = Options {
        origins: vec![
            "https://a.example.org".into(),
            "https://b.example.org:8443".into(),
        ],
        ..Options::default()
    };
    let mut p = Pair::new(client_opts(), server).unwrap();
    p.run().unwrap();
    let got: Vec<&Vec<String>> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::Origin { origins } => Some(origins),
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        [&vec![
            "https://a.example.org".to_string(),
            "https://b.example.org:8443".to_string()
        ]]
    );
    assert_eq!(
        p.client.origin_set(),
        [
            "https://example.org",
            "https://a.example.org",
            "https://b.example.org:8443"
        ]
    );
    // More later, repeats not duplicated.
    p.server
        .origin(&[
            "https://c.example.org".into(),
            "https://a.example.org".into(),
        ])
        .unwrap();
    p.run().unwrap();
    assert_eq!(p.client.origin_set().len(), 4);
}

#[test]
fn altsvc_for_an_origin_and_for_a_stream() {
    let mut p = Pair::new(client_opts(), Options::default()).unwrap();
    let id = p
        .client
        .request(get("/"), RequestOptions::default())
        .unwrap();
    p.run().unwrap();
    p.server
        .altsvc(
            "h2=\":8443\"; ma=60",
            AltSvcTarget::Origin("https://example.org".into()),
        )
        .unwrap();
    p.server
        .altsvc("h3=\":443\"", AltSvcTarget::Stream(id))
        .unwrap();
    p.run().unwrap();
    assert_eq!(
        altsvc_events(&p.client_events),
        [
            (
                0,
                "https://example.org".into(),
                "h2=\":8443\"; ma=60".into()
            ),
            (id, String::new(), "h3=\":443\"".into()),
        ]
    );
}

#[test]
fn bad_advertisements_are_refused_like_node() {
    let mut p = Pair::new(client_opts(), Options::default()).unwrap();
    let origin = |s: &str| AltSvcTarget::Origin(s.into());
    assert!(matches!(
        p.server.altsvc("h2=\":1\"", origin("not an origin")),
        Err(CommandError::InvalidArgument(_))
    ));
    assert!(matches!(
        p.server.altsvc("h2=\":1\"", AltSvcTarget::Stream(0)),
        Err(CommandError::InvalidArgument(_))
    ));
    assert!(matches!(
        p.server.altsvc("bad\nvalue", origin("https://example.org")),
        Err(CommandError::InvalidArgument(_))
    ));
    let long = "x".repeat(16_400);
    assert!(matches!(
        p.server.altsvc(&long, origin("https://example.org")),
        Err(CommandError::InvalidArgument(_))
    ));
    assert!(matches!(
        p.server.origin(&["https://example.org/path".into()]),
        Err(CommandError::InvalidArgument(_))
    ));
    assert!(matches!(
        p.client.origin(&["https://example.org".into()]),
        Err(CommandError::WrongRole)
    ));
    assert!(matches!(
        p.client.altsvc("h2=\":1\"", origin("https://example.org")),
        Err(CommandError::WrongRole)
    ));
    let bad = Options {
        origins: vec!["nope".into()],
        ..Options::default()
    };
    assert!(h2wasm_engine::Connection::new(h2wasm_engine::Role::Server, bad, 0).is_err());
}

#[test]
fn origin_syntax() {
    for ok in [
        "https://example.org",
        "http://example.org:8080",
        "https://[::1]:8443",
        "https://[::1]",
        "h2c+x://a",
    ] {
        assert!(valid_origin(ok), "{ok}");
    }
    for bad in [
        "",
        "example.org",
        "https://",
        "https://example.org/",
        "https://user@example.org",
        "https://example.org:99999",
        "https://example.org:",
        "1https://a",
        "https://exa mple.org",
    ] {
        assert!(!valid_origin(bad), "{bad}");
    }
}

fn assert_no_extension_events(p: &RawPeer) {
    assert!(
        p.events
            .iter()
            .all(|e| !matches!(e, Event::AltSvc { .. } | Event::Origin { .. })),
        "{:?}",
        p.events
    );
}

fn altsvc_payload(origin: &[u8], value: &[u8]) -> Vec<u8> {
    let mut p = (origin.len() as u16).to_be_bytes().to_vec();
    p.extend_from_slice(origin);
    p.extend_from_slice(value);
    p
}

#[test]
fn frames_breaking_the_rules_are_ignored() {
    let mut p = RawPeer::client();
    // Stream 0 without an origin; a stream with one; a length past the end.
    p.send_frame(kind::ALTSVC, 0, 0, &altsvc_payload(b"", b"h2=\":1\""));
    p.send_frame(
        kind::ALTSVC,
        0,
        1,
        &altsvc_payload(b"https://x", b"h2=\":1\""),
    );
    p.send_frame(kind::ALTSVC, 0, 0, &[0, 50, b'a']);
    // ORIGIN on a stream, and a truncated entry.
    p.send_frame(kind::ORIGIN, 0, 1, &altsvc_payload(b"https://x", b""));
    p.send_frame(kind::ORIGIN, 0, 0, &[0, 9, b'h']);
    assert_eq!(p.goaway(), None);
    assert_no_extension_events(&p);
    // A well-formed one still works afterwards.
    p.send_frame(kind::ALTSVC, 0, 0, &altsvc_payload(b"https://x", b"clear"));
    assert_eq!(
        altsvc_events(&p.events),
        [(0, "https://x".into(), "clear".into())]
    );
}

#[test]
fn servers_ignore_both_frames() {
    let mut p = RawPeer::server();
    p.send_frame(kind::ALTSVC, 0, 0, &altsvc_payload(b"https://x", b"clear"));
    p.send_frame(kind::ORIGIN, 0, 0, &altsvc_payload(b"https://x", b""));
    assert_eq!(p.goaway(), None);
    assert_no_extension_events(&p);
}

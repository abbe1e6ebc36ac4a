//! Field validation and the §8 message rules.

use super::*;
use block::flatten;

fn f(n: &'static str, v: &'static str) -> HeaderField {
    HeaderField::new(n, v)
}

#[test]
fn name_and_value_character_rules() {
    assert!(valid_name(b"content-type"));
    assert!(valid_name(b":path"));
    assert!(!valid_name(b"Content-Type"));
    assert!(!valid_name(b""));
    assert!(!valid_name(b":"));
    assert!(!valid_name(b"a b"));
    assert!(!valid_name(b"a:b"));
    assert!(!valid_name(&[0xc3, 0xa9]));
    assert!(valid_value(b"text/html; charset=utf-8"));
    assert!(valid_value(b""));
    assert!(!valid_value(b"a\0b"));
    assert!(!valid_value(b"trailing "));
    assert!(!valid_value(b"\tleading"));
}

#[test]
fn request_info() {
    let info = check_received(
        &[
            f(":method", "HEAD"),
            f(":scheme", "https"),
            f(":path", "/"),
            f("content-length", "10"),
            f("content-length", "10"),
        ],
        BlockKind::Request,
        false,
    )
    .unwrap();
    assert!(info.head);
    assert_eq!(info.content_length, Some(10));
}

#[test]
fn conflicting_or_bad_content_length() {
    let base = || vec![f(":method", "POST"), f(":scheme", "https"), f(":path", "/")];
    let mut a = base();
    a.extend([f("content-length", "1"), f("content-length", "2")]);
    assert!(check_received(&a, BlockKind::Request, false).is_err());
    let mut b = base();
    b.push(f("content-length", "-1"));
    assert!(check_received(&b, BlockKind::Request, false).is_err());
    let mut c = base();
    c.push(f("content-length", "99999999999999999999"));
    assert!(check_received(&c, BlockKind::Request, false).is_err());
}

#[test]
fn response_status_rules() {
    let ok = check_received(&[f(":status", "204")], BlockKind::Response, false).unwrap();
    assert_eq!(ok.status, Some(204));
    for bad in ["20", "2000", "abc", "099"] {
        let fields = [HeaderField::new(":status", bad)];
        assert!(
            check_received(&fields, BlockKind::Response, false).is_err(),
            "{bad}"
        );
    }
    assert!(check_received(&[f("server", "x")], BlockKind::Response, false).is_err());
    assert!(
        check_received(
            &[f(":status", "200"), f(":status", "200")],
            BlockKind::Response,
            false
        )
        .is_err()
    );
}

#[test]
fn extended_connect_needs_setting_and_pseudo_headers() {
    let fields = [
        f(":method", "CONNECT"),
        f(":protocol", "websocket"),
        f(":scheme", "https"),
        f(":authority", "a"),
        f(":path", "/chat"),
    ];
    assert!(check_received(&fields, BlockKind::Request, false).is_err());
    assert!(check_received(&fields, BlockKind::Request, true).is_ok());
    assert!(check_received(&fields[..4], BlockKind::Request, true).is_err());
}

#[test]
fn outgoing_preparation() {
    let out = prepare_outgoing(
        vec![
            f("X-A", "1"),
            f(":status", "200"),
            f("cookie", "short"),
            f("authorization", "secret"),
        ],
        BlockKind::Response,
    )
    .unwrap();
    assert_eq!(out[0].name, ":status", "pseudo-headers first");
    assert_eq!(out[1].name, "x-a", "lower-cased");
    assert!(out[2].sensitive && out[3].sensitive);
    let long_cookie = prepare_outgoing(
        vec![
            f(":status", "200"),
            f("cookie", "a-much-longer-cookie-value"),
        ],
        BlockKind::Response,
    )
    .unwrap();
    assert!(!long_cookie[1].sensitive);
    assert!(
        prepare_outgoing(vec![f("x", "y")], BlockKind::Response).is_err(),
        "no :status"
    );
    assert!(prepare_outgoing(vec![f(":method", "GET")], BlockKind::Response).is_err());
    assert!(prepare_outgoing(vec![f(":status", "200")], BlockKind::Trailers).is_err());
    assert!(prepare_outgoing(vec![f("te", "gzip")], BlockKind::Request).is_err());
    assert!(prepare_outgoing(vec![f("te", "trailers")], BlockKind::Request).is_ok());
}

#[test]
fn request_defaults_like_node() {
    let mut fields = vec![f("host", "example.org"), f("accept", "*/*")];
    apply_request_defaults(&mut fields, "http", "fallback");
    let names: Vec<&[u8]> = fields.iter().map(|f| &f.name[..]).collect();
    assert_eq!(
        names,
        [
            &b":method"[..],
            b":scheme",
            b":authority",
            b":path",
            b"host",
            b"accept"
        ]
    );
    assert_eq!(find(&fields, ":authority").unwrap(), "example.org");
    assert_eq!(find(&fields, ":scheme").unwrap(), "http");

    let mut connect = vec![f(":method", "CONNECT"), f(":authority", "a:1")];
    apply_request_defaults(&mut connect, "https", "x");
    assert!(find(&connect, ":path").is_none() && find(&connect, ":scheme").is_none());
}

#[test]
fn a_flattened_block_holds_every_field_in_order() {
    let fields = vec![
        f(":method", "GET"),
        f(":path", "/"),
        HeaderField::sensitive("authorization", "Bearer x"),
        f("empty", ""),
    ];
    let (octets, spans) = flatten(&fields);
    assert_eq!(octets, b":methodGET:path/authorizationBearer xempty");
    let mut at = 0usize;
    for (field, span) in fields.iter().zip(&spans) {
        let (n, v) = (span.name_len as usize, span.value_len as usize);
        assert_eq!(&octets[at..at + n], &field.name[..]);
        assert_eq!(&octets[at + n..at + n + v], &field.value[..]);
        assert_eq!(span.sensitive, field.sensitive);
        at += n + v;
    }
    assert_eq!((spans.len(), at), (fields.len(), octets.len()));
    assert_eq!(flatten(&[]), (Vec::new(), Vec::new()));
}

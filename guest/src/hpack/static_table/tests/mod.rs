use super::{STATIC, StaticMatch, find};

#[test]
fn every_entry_is_found_by_name_and_value() {
    for (i, (name, value)) in STATIC.iter().enumerate() {
        let index = i + 1;
        match find(name, value) {
            // No (name, value) pair appears twice in the table.
            Some(StaticMatch::Field(got)) => assert_eq!(got, index),
            other => panic!("entry {index} gave {other:?}"),
        }
    }
}

#[test]
fn known_indices() {
    assert_eq!(find(b":status", b"200"), Some(StaticMatch::Field(8)));
    assert_eq!(find(b":status", b"404"), Some(StaticMatch::Field(13)));
    assert_eq!(find(b":status", b"201"), Some(StaticMatch::Name(8)));
    assert_eq!(find(b":method", b"GET"), Some(StaticMatch::Field(2)));
    assert_eq!(find(b"content-length", b"12"), Some(StaticMatch::Name(28)));
    assert_eq!(
        find(b"accept-encoding", b"gzip, deflate"),
        Some(StaticMatch::Field(16))
    );
    assert_eq!(find(b"www-authenticate", b"x"), Some(StaticMatch::Name(61)));
    assert_eq!(
        find(b"access-control-allow-origin", b"*"),
        Some(StaticMatch::Name(20))
    );
}

#[test]
fn unknown_names_are_not_found() {
    assert_eq!(find(b"x-custom", b""), None);
    assert_eq!(find(b"", b""), None);
    assert_eq!(find(b"content-lengthy", b""), None);
    assert_eq!(find(&[b'a'; 200], b""), None);
}

use super::{STRINGS, number, numbers};
use crate::error::ErrorCode;
use crate::frame::{flag, kind};
use crate::settings::id;

#[test]
fn numbers_agree_with_the_engine() {
    assert_eq!(number("NGHTTP2_NO_ERROR"), Some(0));
    assert_eq!(
        number("NGHTTP2_ENHANCE_YOUR_CALM"),
        Some(i64::from(ErrorCode::ENHANCE_YOUR_CALM.0))
    );
    assert_eq!(
        number("NGHTTP2_HTTP_1_1_REQUIRED"),
        Some(i64::from(ErrorCode::HTTP_1_1_REQUIRED.0))
    );
    assert_eq!(
        number("NGHTTP2_SETTINGS_ENABLE_PUSH"),
        Some(i64::from(id::ENABLE_PUSH))
    );
    assert_eq!(
        number("NGHTTP2_FLAG_END_STREAM"),
        Some(i64::from(flag::END_STREAM))
    );
    assert_eq!(number("NGHTTP2_FLAG_PADDED"), Some(i64::from(flag::PADDED)));
    assert_eq!(number("NGHTTP2_DEFAULT_WEIGHT"), Some(16));
    assert_eq!(number("HTTP_STATUS_TEAPOT"), Some(418));
    assert_eq!(number("PADDING_STRATEGY_ALIGNED"), Some(1));
    assert_eq!(number("PADDING_STRATEGY_MAX"), Some(2));
    assert_eq!(number("NGHTTP2_ERR_FRAME_SIZE_ERROR"), Some(-522));
    assert_eq!(number("NGHTTP2_ORIGIN"), Some(i64::from(kind::ORIGIN)));
    assert_eq!(
        number("NGHTTP2_CONTINUATION"),
        Some(i64::from(kind::CONTINUATION))
    );
    assert_eq!(
        number("NGHTTP2_STREAM_STATE_HALF_CLOSED_REMOTE"),
        Some(i64::from(
            crate::stream::State::HalfClosedRemote.node_code()
        ))
    );
    assert_eq!(number("nope"), None);
}

#[test]
fn names_are_unique_and_strings_are_lower_case() {
    let mut names: Vec<&str> = numbers()
        .map(|(n, _)| n)
        .chain(STRINGS.iter().map(|(n, _)| *n))
        .collect();
    let total = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), total);
    for (name, value) in STRINGS {
        if name.starts_with("HTTP2_HEADER_") {
            assert_eq!(value, value.to_ascii_lowercase(), "{name}");
        }
    }
}

use super::*;

#[test]
fn packs_enable_push_false_like_node() {
    let s = Settings {
        enable_push: Some(false),
        ..Settings::default()
    };
    // Node: getPackedSettings({ enablePush: false }) is base64 "AAIAAAAA".
    assert_eq!(s.pack().unwrap(), [0x00, 0x02, 0, 0, 0, 0]);
}

#[test]
fn unpack_inverts_pack() {
    let mut s = Settings::node_defaults();
    s.custom.push((0x99, 7));
    assert_eq!(Settings::unpack(&s.pack().unwrap()).unwrap(), s);
}

#[test]
fn rejects_out_of_range_values() {
    let err = |params: &[(u16, u32)]| Settings::from_params(params).unwrap_err().code;
    assert_eq!(err(&[(id::ENABLE_PUSH, 2)]), ErrorCode::PROTOCOL_ERROR);
    assert_eq!(
        err(&[(id::INITIAL_WINDOW_SIZE, 1 << 31)]),
        ErrorCode::FLOW_CONTROL_ERROR
    );
    assert_eq!(
        err(&[(id::MAX_FRAME_SIZE, 16_383)]),
        ErrorCode::PROTOCOL_ERROR
    );
    assert_eq!(
        err(&[(id::MAX_FRAME_SIZE, 1 << 24)]),
        ErrorCode::PROTOCOL_ERROR
    );
    assert_eq!(
        err(&[(id::ENABLE_CONNECT_PROTOCOL, 5)]),
        ErrorCode::PROTOCOL_ERROR
    );
    assert!(Settings::from_params(&[(id::MAX_FRAME_SIZE, (1 << 24) - 1)]).is_ok());
    assert!(Settings::from_params(&[(id::INITIAL_WINDOW_SIZE, (1 << 31) - 1)]).is_ok());
}

#[test]
fn later_values_override_and_unknown_are_kept() {
    let s = Settings::from_params(&[
        (id::HEADER_TABLE_SIZE, 1),
        (id::HEADER_TABLE_SIZE, 2),
        (0x42, 3),
    ])
    .unwrap();
    assert_eq!(s.header_table_size, Some(2));
    assert_eq!(s.custom, vec![(0x42, 3)]);
}

#[test]
fn unpack_rejects_partial_entries() {
    assert_eq!(
        Settings::unpack(&[0, 1, 0]).unwrap_err().code,
        ErrorCode::FRAME_SIZE_ERROR
    );
}

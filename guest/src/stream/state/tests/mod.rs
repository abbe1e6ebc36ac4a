//! The §5.1 transition table, checked case by case.

use super::*;

fn recv(kind: FrameKind, end_stream: bool) -> Event {
    Event::Recv { kind, end_stream }
}

fn send(kind: FrameKind, end_stream: bool) -> Event {
    Event::Send { kind, end_stream }
}

#[test]
fn request_response_lifecycle_server_side() {
    let s = State::Idle
        .transition(recv(FrameKind::Headers, false))
        .unwrap();
    assert_eq!(s, State::Open);
    let s = s.transition(recv(FrameKind::Data, true)).unwrap();
    assert_eq!(s, State::HalfClosedRemote);
    let s = s.transition(send(FrameKind::Headers, false)).unwrap();
    assert_eq!(s, State::HalfClosedRemote);
    let s = s.transition(send(FrameKind::Data, true)).unwrap();
    assert_eq!(s, State::Closed(Cause::EndStream { remote_last: false }));
}

#[test]
fn client_side_records_remote_closing_last() {
    let s = State::Idle
        .transition(send(FrameKind::Headers, true))
        .unwrap();
    assert_eq!(s, State::HalfClosedLocal);
    let s = s.transition(recv(FrameKind::Headers, true)).unwrap();
    assert_eq!(s, State::Closed(Cause::EndStream { remote_last: true }));
}

#[test]
fn idle_accepts_only_headers_and_priority() {
    for kind in [FrameKind::Data, FrameKind::WindowUpdate] {
        assert_eq!(
            State::Idle.transition(recv(kind, false)),
            Err(Violation::Connection(ErrorCode::PROTOCOL_ERROR))
        );
    }
    assert_eq!(
        State::Idle.transition(Event::RecvReset(ErrorCode::CANCEL)),
        Err(Violation::Connection(ErrorCode::PROTOCOL_ERROR))
    );
}

#[test]
fn half_closed_remote_rejects_data_with_stream_closed() {
    let s = State::HalfClosedRemote;
    assert_eq!(
        s.transition(recv(FrameKind::Data, false)),
        Err(Violation::Stream(ErrorCode::STREAM_CLOSED))
    );
    assert_eq!(s.transition(recv(FrameKind::WindowUpdate, false)), Ok(s));
}

#[test]
fn closed_stream_answers_depend_on_cause() {
    let by_us = State::Closed(Cause::LocalReset(ErrorCode::CANCEL));
    assert_eq!(
        by_us.transition(recv(FrameKind::Data, false)),
        Err(Violation::Ignore)
    );
    let by_peer = State::Closed(Cause::RemoteReset(ErrorCode::CANCEL));
    assert_eq!(
        by_peer.transition(recv(FrameKind::Data, false)),
        Err(Violation::Stream(ErrorCode::STREAM_CLOSED))
    );
    let ended = State::Closed(Cause::EndStream { remote_last: true });
    assert_eq!(
        ended.transition(recv(FrameKind::Headers, false)),
        Err(Violation::Connection(ErrorCode::STREAM_CLOSED))
    );
    assert_eq!(
        ended.transition(recv(FrameKind::WindowUpdate, false)),
        Err(Violation::Ignore)
    );
}

#[test]
fn resets_close_from_any_active_state_and_record_who() {
    for s in [
        State::Open,
        State::HalfClosedLocal,
        State::HalfClosedRemote,
        State::ReservedLocal,
    ] {
        assert_eq!(
            s.transition(Event::SendReset(ErrorCode::CANCEL)),
            Ok(State::Closed(Cause::LocalReset(ErrorCode::CANCEL)))
        );
        assert_eq!(
            s.transition(Event::RecvReset(ErrorCode::INTERNAL_ERROR)),
            Ok(State::Closed(Cause::RemoteReset(ErrorCode::INTERNAL_ERROR)))
        );
    }
}

#[test]
fn reserved_states() {
    let s = State::Idle
        .transition(send(FrameKind::PushPromise, false))
        .unwrap();
    assert_eq!(s, State::ReservedLocal);
    assert_eq!(
        s.transition(send(FrameKind::Headers, false)),
        Ok(State::HalfClosedRemote)
    );
    assert_eq!(
        s.transition(recv(FrameKind::Data, false)),
        Err(Violation::Connection(ErrorCode::PROTOCOL_ERROR))
    );
    let r = State::Idle
        .transition(recv(FrameKind::PushPromise, false))
        .unwrap();
    assert_eq!(r, State::ReservedRemote);
    assert_eq!(
        r.transition(recv(FrameKind::Headers, false)),
        Ok(State::HalfClosedLocal)
    );
    assert_eq!(
        r.transition(send(FrameKind::Data, false)),
        Err(Violation::NotAllowed)
    );
}

#[test]
fn local_misuse_is_not_allowed() {
    assert_eq!(
        State::HalfClosedLocal.transition(send(FrameKind::Data, false)),
        Err(Violation::NotAllowed)
    );
    assert_eq!(
        State::Closed(Cause::EndStream { remote_last: true })
            .transition(send(FrameKind::Data, false)),
        Err(Violation::NotAllowed)
    );
}

#[test]
fn node_state_codes() {
    assert_eq!(State::Idle.node_code(), 1);
    assert_eq!(State::HalfClosedRemote.node_code(), 6);
    assert_eq!(
        State::Closed(Cause::EndStream { remote_last: true }).node_code(),
        7
    );
}

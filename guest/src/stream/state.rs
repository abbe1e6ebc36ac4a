//! The stream state machine of RFC 9113 §5.1 as one total transition
//! function. Every (state, event) pair has an answer: a new state, or the
//! exact error the RFC requires. Closed states record who closed the stream
//! and how, because what a late frame means depends on it.

use crate::error::ErrorCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Idle,
    ReservedLocal,
    ReservedRemote,
    Open,
    HalfClosedLocal,
    HalfClosedRemote,
    Closed(Cause),
}

/// How a stream reached `closed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// Both sides sent END_STREAM; `remote_last` says whether the peer's was
    /// the final one.
    EndStream { remote_last: bool },
    /// We sent RST_STREAM.
    LocalReset(ErrorCode),
    /// The peer sent RST_STREAM.
    RemoteReset(ErrorCode),
}

/// A frame type as far as the state machine cares. PRIORITY is not one:
/// it is allowed in every state (§5.1), so the connection handles it
/// without asking the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameKind {
    Headers,
    Data,
    WindowUpdate,
    PushPromise,
}

/// Something that happens to a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Send {
        kind: FrameKind,
        end_stream: bool,
    },
    Recv {
        kind: FrameKind,
        end_stream: bool,
    },
    /// RST_STREAM with this code, sent or received.
    SendReset(ErrorCode),
    RecvReset(ErrorCode),
}

/// What a received frame does when the state does not allow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Violation {
    /// Connection error with this code.
    Connection(ErrorCode),
    /// Stream error with this code.
    Stream(ErrorCode),
    /// Drop the frame silently (late frames after we reset, §5.1 "closed").
    Ignore,
    /// A local command that is not allowed in this state (an API misuse).
    NotAllowed,
}

impl State {
    pub(crate) fn is_closed(self) -> bool {
        matches!(self, State::Closed(_))
    }

    /// We may still send DATA or trailers.
    pub(crate) fn can_send(self) -> bool {
        matches!(self, State::Open | State::HalfClosedRemote)
    }

    /// The peer may still send DATA or trailers.
    pub(crate) fn can_recv(self) -> bool {
        matches!(self, State::Open | State::HalfClosedLocal)
    }

    pub(crate) fn is_active(self) -> bool {
        matches!(
            self,
            State::Open | State::HalfClosedLocal | State::HalfClosedRemote
        )
    }

    /// Node's `stream.state.state` (nghttp2 numbering).
    pub(crate) fn node_code(self) -> u32 {
        match self {
            State::Idle => 1,
            State::Open => 2,
            State::ReservedLocal => 3,
            State::ReservedRemote => 4,
            State::HalfClosedLocal => 5,
            State::HalfClosedRemote => 6,
            State::Closed(_) => 7,
        }
    }

    pub(crate) fn transition(self, event: Event) -> Result<State, Violation> {
        use Event::*;
        use FrameKind::*;
        use State::*;
        let closed_local = |end: bool, next: State| if end { Ok(next) } else { Ok(self) };
        match (self, event) {
            // Resets close any non-idle stream.
            (Idle, SendReset(_) | RecvReset(_)) => Err(match event {
                RecvReset(_) => Violation::Connection(ErrorCode::PROTOCOL_ERROR),
                _ => Violation::NotAllowed,
            }),
            (Closed(_), SendReset(_)) => Ok(self),
            (Closed(_), RecvReset(_)) => Ok(self),
            (_, SendReset(code)) => Ok(Closed(Cause::LocalReset(code))),
            (_, RecvReset(code)) => Ok(Closed(Cause::RemoteReset(code))),

            // idle
            (
                Idle,
                Send {
                    kind: Headers,
                    end_stream,
                },
            ) => Ok(if end_stream { HalfClosedLocal } else { Open }),
            (
                Idle,
                Recv {
                    kind: Headers,
                    end_stream,
                },
            ) => Ok(if end_stream { HalfClosedRemote } else { Open }),
            (
                Idle,
                Send {
                    kind: PushPromise, ..
                },
            ) => Ok(ReservedLocal),
            (
                Idle,
                Recv {
                    kind: PushPromise, ..
                },
            ) => Ok(ReservedRemote),
            (Idle, Recv { .. }) => Err(Violation::Connection(ErrorCode::PROTOCOL_ERROR)),
            (Idle, Send { .. }) => Err(Violation::NotAllowed),

            // reserved (local): we may send HEADERS; the peer only
            // WINDOW_UPDATE (and PRIORITY / RST, handled above).
            (
                ReservedLocal,
                Send {
                    kind: Headers,
                    end_stream,
                },
            ) => Ok(if end_stream {
                Closed(Cause::EndStream { remote_last: false })
            } else {
                HalfClosedRemote
            }),
            (ReservedLocal, Send { .. }) => Err(Violation::NotAllowed),
            (
                ReservedLocal,
                Recv {
                    kind: WindowUpdate, ..
                },
            ) => Ok(self),
            (ReservedLocal, Recv { .. }) => Err(Violation::Connection(ErrorCode::PROTOCOL_ERROR)),

            // reserved (remote): the peer may send HEADERS; we only
            // WINDOW_UPDATE.
            (
                ReservedRemote,
                Recv {
                    kind: Headers,
                    end_stream,
                },
            ) => Ok(if end_stream {
                Closed(Cause::EndStream { remote_last: true })
            } else {
                HalfClosedLocal
            }),
            (ReservedRemote, Recv { .. }) => Err(Violation::Connection(ErrorCode::PROTOCOL_ERROR)),
            (
                ReservedRemote,
                Send {
                    kind: WindowUpdate, ..
                },
            ) => Ok(self),
            (ReservedRemote, Send { .. }) => Err(Violation::NotAllowed),

            // open
            (
                Open,
                Send {
                    kind: Headers | Data,
                    end_stream,
                },
            ) => closed_local(end_stream, HalfClosedLocal),
            (
                Open,
                Recv {
                    kind: Headers | Data,
                    end_stream,
                },
            ) => closed_local(end_stream, HalfClosedRemote),
            (
                Open,
                Send {
                    kind: WindowUpdate | PushPromise,
                    ..
                },
            ) => Ok(self),
            (
                Open,
                Recv {
                    kind: WindowUpdate, ..
                },
            ) => Ok(self),
            (
                Open | HalfClosedLocal,
                Recv {
                    kind: PushPromise, ..
                },
            ) => Ok(self),

            // half-closed (local): we send only WINDOW_UPDATE (PRIORITY, RST).
            (
                HalfClosedLocal,
                Recv {
                    kind: Headers | Data,
                    end_stream,
                },
            ) => closed_local(end_stream, Closed(Cause::EndStream { remote_last: true })),
            (
                HalfClosedLocal,
                Recv {
                    kind: WindowUpdate, ..
                },
            ) => Ok(self),
            (
                HalfClosedLocal,
                Send {
                    kind: WindowUpdate, ..
                },
            ) => Ok(self),
            (HalfClosedLocal, Send { .. }) => Err(Violation::NotAllowed),

            // half-closed (remote): anything but WINDOW_UPDATE, PRIORITY or
            // RST_STREAM from the peer is a stream error STREAM_CLOSED.
            (
                HalfClosedRemote,
                Send {
                    kind: Headers | Data,
                    end_stream,
                },
            ) => closed_local(end_stream, Closed(Cause::EndStream { remote_last: false })),
            (
                HalfClosedRemote,
                Send {
                    kind: PushPromise, ..
                },
            ) => Ok(self),
            (
                HalfClosedRemote,
                Send {
                    kind: WindowUpdate, ..
                },
            ) => Err(Violation::NotAllowed),
            (
                HalfClosedRemote,
                Recv {
                    kind: WindowUpdate, ..
                },
            ) => Ok(self),
            (HalfClosedRemote, Recv { .. }) => Err(Violation::Stream(ErrorCode::STREAM_CLOSED)),

            // closed
            (Closed(_), Send { .. }) => Err(Violation::NotAllowed),
            (Closed(cause), Recv { kind, .. }) => Err(closed_recv(cause, kind)),
        }
    }
}

/// A frame arrives on a closed stream (§5.1 "closed").
fn closed_recv(cause: Cause, kind: FrameKind) -> Violation {
    match (cause, kind) {
        // Frames in flight when we reset the stream: ignore them.
        (Cause::LocalReset(_), _) => Violation::Ignore,
        // WINDOW_UPDATE may trail our END_STREAM for a while.
        (Cause::EndStream { .. } | Cause::RemoteReset(_), FrameKind::WindowUpdate) => {
            Violation::Ignore
        }
        // "An endpoint that receives any frame other than PRIORITY after
        // receiving a RST_STREAM MUST treat that as a stream error of type
        // STREAM_CLOSED."
        (Cause::RemoteReset(_), _) => Violation::Stream(ErrorCode::STREAM_CLOSED),
        // The peer already ended its side: more frames are a connection
        // error STREAM_CLOSED (§5.1, half-closed (remote) and closed).
        (Cause::EndStream { .. }, _) => Violation::Connection(ErrorCode::STREAM_CLOSED),
    }
}

#[cfg(test)]
mod tests;

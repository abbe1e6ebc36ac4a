//! HTTP/2 error codes (RFC 9113 §7) and the two kinds of protocol failure.

use std::fmt;

/// An HTTP/2 error code. Unknown codes are legal on the wire and are kept as
/// they are (RFC 9113 §7: "MUST NOT trigger any special behavior").
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// Graceful shutdown, or a stream ended without error.
    pub const NO_ERROR: ErrorCode = ErrorCode(0x0);
    /// The peer broke the protocol.
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(0x1);
    /// The endpoint failed for a reason of its own.
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(0x2);
    /// The peer broke flow control.
    pub const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode(0x3);
    /// SETTINGS were not acknowledged in time.
    pub const SETTINGS_TIMEOUT: ErrorCode = ErrorCode(0x4);
    /// A frame arrived on a half-closed stream.
    pub const STREAM_CLOSED: ErrorCode = ErrorCode(0x5);
    /// A frame had an invalid size.
    pub const FRAME_SIZE_ERROR: ErrorCode = ErrorCode(0x6);
    /// The stream was refused before any processing: safe to retry.
    pub const REFUSED_STREAM: ErrorCode = ErrorCode(0x7);
    /// The stream is no longer needed.
    pub const CANCEL: ErrorCode = ErrorCode(0x8);
    /// The header compression context can no longer be kept.
    pub const COMPRESSION_ERROR: ErrorCode = ErrorCode(0x9);
    /// The connection of a CONNECT request failed.
    pub const CONNECT_ERROR: ErrorCode = ErrorCode(0xa);
    /// The peer is behaving in a way that may generate excessive load.
    pub const ENHANCE_YOUR_CALM: ErrorCode = ErrorCode(0xb);
    /// The transport does not meet the minimum security requirements.
    pub const INADEQUATE_SECURITY: ErrorCode = ErrorCode(0xc);
    /// The request must be made over HTTP/1.1.
    pub const HTTP_1_1_REQUIRED: ErrorCode = ErrorCode(0xd);

    /// The RFC name of the code, or `None` for codes outside the registry.
    pub fn name(self) -> Option<&'static str> {
        const NAMES: [&str; 14] = [
            "NO_ERROR",
            "PROTOCOL_ERROR",
            "INTERNAL_ERROR",
            "FLOW_CONTROL_ERROR",
            "SETTINGS_TIMEOUT",
            "STREAM_CLOSED",
            "FRAME_SIZE_ERROR",
            "REFUSED_STREAM",
            "CANCEL",
            "COMPRESSION_ERROR",
            "CONNECT_ERROR",
            "ENHANCE_YOUR_CALM",
            "INADEQUATE_SECURITY",
            "HTTP_1_1_REQUIRED",
        ];
        usize::try_from(self.0)
            .ok()
            .and_then(|i| NAMES.get(i))
            .copied()
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "ErrorCode({:#x})", self.0),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl From<u32> for ErrorCode {
    fn from(v: u32) -> Self {
        ErrorCode(v)
    }
}

/// A failure that ends the whole connection (RFC 9113 §5.4.1): the engine
/// sends GOAWAY with `code` and stops processing input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionError {
    /// The code sent in GOAWAY.
    pub code: ErrorCode,
    /// Human-readable reason, also sent as GOAWAY debug data.
    pub reason: &'static str,
}

impl ConnectionError {
    /// A connection error with `code`.
    pub fn new(code: ErrorCode, reason: &'static str) -> Self {
        ConnectionError { code, reason }
    }
    /// A PROTOCOL_ERROR.
    pub fn protocol(reason: &'static str) -> Self {
        Self::new(ErrorCode::PROTOCOL_ERROR, reason)
    }
    /// A FRAME_SIZE_ERROR.
    pub fn frame_size(reason: &'static str) -> Self {
        Self::new(ErrorCode::FRAME_SIZE_ERROR, reason)
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connection error {}: {}", self.code, self.reason)
    }
}

impl std::error::Error for ConnectionError {}

/// A failure confined to one stream (RFC 9113 §5.4.2): RST_STREAM with `code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StreamError {
    pub(crate) stream_id: u32,
    pub(crate) code: ErrorCode,
    pub(crate) reason: &'static str,
}

/// Either kind of protocol failure found while processing input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ProtocolError {
    Connection(ConnectionError),
    Stream(StreamError),
}

impl From<ConnectionError> for ProtocolError {
    fn from(e: ConnectionError) -> Self {
        ProtocolError::Connection(e)
    }
}

impl From<StreamError> for ProtocolError {
    fn from(e: StreamError) -> Self {
        ProtocolError::Stream(e)
    }
}

/// Why a command from the embedding application was refused. These never
/// touch the wire; the caller gets them back as values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// The stream does not exist (never opened, or already closed and forgotten).
    UnknownStream,
    /// The stream exists but is not in a state that allows this command
    /// (e.g. writing after `end`, responding twice).
    InvalidState(&'static str),
    /// The command is not available in this role (e.g. `request` on a server).
    WrongRole,
    /// A header name or value is not allowed (see `headers` module).
    InvalidHeader(String),
    /// An argument is out of range (window size, settings value, payload length).
    InvalidArgument(&'static str),
    /// The session is closing or closed and takes no new streams.
    SessionClosed,
    /// No stream identifiers are left on this connection.
    StreamIdsExhausted,
    /// The peer's MAX_CONCURRENT_STREAMS would be exceeded.
    ConcurrencyLimit,
    /// A file could not be opened or read (`respond_with_file`).
    File(String),
    /// `maxSessionMemory` has no room for what was asked
    /// (`reserve_memory`).
    SessionMemory,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::UnknownStream => f.write_str("unknown stream"),
            CommandError::InvalidState(s) => write!(f, "invalid stream state: {s}"),
            CommandError::WrongRole => f.write_str("not available in this role"),
            CommandError::InvalidHeader(s) => write!(f, "invalid header: {s}"),
            CommandError::InvalidArgument(s) => write!(f, "invalid argument: {s}"),
            CommandError::SessionClosed => f.write_str("session is closed or closing"),
            CommandError::StreamIdsExhausted => f.write_str("stream identifiers exhausted"),
            CommandError::File(s) => write!(f, "file error: {s}"),
            CommandError::SessionMemory => f.write_str("the session's memory is spent"),
            CommandError::ConcurrencyLimit => {
                f.write_str("peer's maximum concurrent streams reached")
            }
        }
    }
}

impl std::error::Error for CommandError {}

//! What the engine tells its embedder. Events are queued in order and taken
//! with `Connection::poll_event`.

use crate::error::ErrorCode;
use crate::headers::HeaderList;
use crate::settings::Settings;
use crate::stream::StreamMetrics;
use bytes::Bytes;

/// Which side a close or GOAWAY came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Local,
    Remote,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Server: the peer opened a stream with a request (Node's `stream`).
    Request {
        stream_id: u32,
        headers: HeaderList,
        end_stream: bool,
    },
    /// Client: the server promised a pushed request on `parent`; its
    /// response follows on `stream_id` as `Response`, `Data`... (Node's
    /// session `stream` event with the request headers). Refuse it with
    /// `close_stream(stream_id, CANCEL)`.
    PushPromise {
        parent: u32,
        stream_id: u32,
        headers: HeaderList,
    },
    /// Client: the final response headers (Node's `response`).
    Response {
        stream_id: u32,
        headers: HeaderList,
        end_stream: bool,
    },
    /// Client: the server sent 100 Continue (Node's `continue`), before
    /// the `Informational` event carrying its headers.
    Continue { stream_id: u32 },
    /// Client: a 1xx informational response (Node's `headers`).
    Informational { stream_id: u32, headers: HeaderList },
    /// Trailing headers (Node's `trailers`); the stream's incoming side ends.
    Trailers { stream_id: u32, headers: HeaderList },
    /// Body data. `end_stream` marks the last of it (Node's `end`).
    Data {
        stream_id: u32,
        data: Bytes,
        end_stream: bool,
    },
    /// Body data the host kept (`Connection::receive_held`): `length`
    /// octets at `at` in the read that call was given, as the host has it
    /// (its held payloads counted).
    HeldData {
        stream_id: u32,
        at: u32,
        length: u32,
        end_stream: bool,
    },
    /// All data was sent on a stream opened with `wait_for_trailers`: call
    /// `send_trailers` (Node's `wantTrailers`).
    WantTrailers { stream_id: u32 },
    /// The stream's queued data fell below the high-water mark after a
    /// `write` reported it full (Node's `drain`).
    Drain { stream_id: u32 },
    /// RST_STREAM was sent or received (Node's `aborted`/`error` cases).
    StreamReset {
        stream_id: u32,
        code: ErrorCode,
        origin: Origin,
    },
    /// The stream is closed and forgotten (Node's `close`; `code` is
    /// `rstCode`: NO_ERROR for a clean close), with its performance entry.
    StreamClosed {
        stream_id: u32,
        code: ErrorCode,
        metrics: StreamMetrics,
    },
    /// The peer sent a PING (already acknowledged by the engine).
    Ping { payload: [u8; 8] },
    /// Our PING was acknowledged; `rtt_ns` is the round trip.
    PingAck { payload: [u8; 8], rtt_ns: u64 },
    /// The peer's SETTINGS took effect (Node's `remoteSettings`); all values.
    RemoteSettings { settings: Settings },
    /// The peer acknowledged our SETTINGS (Node's `localSettings`); all values
    /// now in force.
    LocalSettings { settings: Settings },
    /// GOAWAY sent or received.
    GoAway {
        code: ErrorCode,
        last_stream_id: u32,
        debug_data: Bytes,
        origin: Origin,
    },
    /// A frame could not be sent (Node's `frameError`).
    FrameError {
        frame_type: u8,
        code: ErrorCode,
        stream_id: u32,
    },
    /// A protocol error ended the connection (Node's session `error`).
    ConnectionError { code: ErrorCode, reason: String },
    /// Client: an ALTSVC frame (Node's `altsvc`): `origin` is empty when
    /// the advertisement is for stream `stream_id`'s origin.
    AltSvc {
        stream_id: u32,
        origin: String,
        value: String,
    },
    /// Client: an ORIGIN frame (Node's `origin`); the origins were added
    /// to the origin set.
    Origin { origins: Vec<String> },
    /// No activity for the session's idle timeout (Node's `timeout`).
    Timeout,
    /// No frames on this stream for its timeout (Node's stream `timeout`).
    StreamTimeout { stream_id: u32 },
    /// Nothing more will happen on this connection; flush output and close
    /// the transport.
    Closed { code: ErrorCode },
}

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
    /// We did it (a command, or the engine on our behalf).
    Local,
    /// The peer did it.
    Remote,
}

/// Something that happened on the connection, in the order it happened.
/// Every `stream_id` is the stream it happened on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Server: the peer opened a stream with a request (Node's `stream`).
    Request {
        #[allow(missing_docs)]
        stream_id: u32,
        /// The request's fields, pseudo-headers first.
        headers: HeaderList,
        /// The request has no body.
        end_stream: bool,
    },
    /// Client: the server promised a pushed request on `parent`; its
    /// response follows on `stream_id` as `Response`, `Data`... (Node's
    /// session `stream` event with the request headers). Refuse it with
    /// `close_stream(stream_id, CANCEL)`.
    PushPromise {
        /// The stream whose response the promise came with.
        parent: u32,
        /// The promised stream.
        stream_id: u32,
        /// The promised request's fields.
        headers: HeaderList,
    },
    /// Client: the final response headers (Node's `response`).
    Response {
        #[allow(missing_docs)]
        stream_id: u32,
        /// The response's fields, `:status` first.
        headers: HeaderList,
        /// The response has no body.
        end_stream: bool,
    },
    /// Client: the server sent 100 Continue (Node's `continue`), before
    /// the `Informational` event carrying its headers.
    Continue {
        #[allow(missing_docs)]
        stream_id: u32,
    },
    /// Client: a 1xx informational response (Node's `headers`).
    Informational {
        #[allow(missing_docs)]
        stream_id: u32,
        /// Its fields, `:status` first.
        headers: HeaderList,
    },
    /// Trailing headers (Node's `trailers`); the stream's incoming side ends.
    Trailers {
        #[allow(missing_docs)]
        stream_id: u32,
        /// The trailer fields.
        headers: HeaderList,
    },
    /// Body data. `end_stream` marks the last of it (Node's `end`).
    Data {
        #[allow(missing_docs)]
        stream_id: u32,
        /// The octets (padding removed).
        data: Bytes,
        /// The last data of the stream.
        end_stream: bool,
    },
    /// Body data the host kept (`Connection::receive_held`): `length`
    /// octets at `at` in the read that call was given, as the host has it
    /// (its held payloads counted).
    HeldData {
        #[allow(missing_docs)]
        stream_id: u32,
        /// Where the octets start in the host's read.
        at: u32,
        /// How many octets.
        length: u32,
        /// The last data of the stream.
        end_stream: bool,
    },
    /// All data was sent on a stream opened with `wait_for_trailers`: call
    /// `send_trailers` (Node's `wantTrailers`).
    WantTrailers {
        #[allow(missing_docs)]
        stream_id: u32,
    },
    /// The stream's queued data fell below the high-water mark after a
    /// `write` reported it full (Node's `drain`).
    Drain {
        #[allow(missing_docs)]
        stream_id: u32,
    },
    /// RST_STREAM was sent or received (Node's `aborted`/`error` cases).
    StreamReset {
        #[allow(missing_docs)]
        stream_id: u32,
        /// The RST_STREAM's error code.
        code: ErrorCode,
        /// Who reset the stream.
        origin: Origin,
    },
    /// The stream is closed and forgotten (Node's `close`; `code` is
    /// `rstCode`: NO_ERROR for a clean close), with its performance entry.
    StreamClosed {
        #[allow(missing_docs)]
        stream_id: u32,
        /// NO_ERROR, or the code it was reset with.
        code: ErrorCode,
        /// Node's stream performance entry.
        metrics: StreamMetrics,
    },
    /// The peer sent a PING (already acknowledged by the engine).
    Ping {
        /// Its opaque data.
        payload: [u8; 8],
    },
    /// Our PING was acknowledged; `rtt_ns` is the round trip.
    PingAck {
        /// The payload our PING carried.
        payload: [u8; 8],
        /// Nanoseconds from sending it to its ACK.
        rtt_ns: u64,
    },
    /// The peer's SETTINGS took effect (Node's `remoteSettings`); all values.
    RemoteSettings {
        /// Every value now in force, defaults included.
        settings: Settings,
    },
    /// The peer acknowledged our SETTINGS (Node's `localSettings`); all values
    /// now in force.
    LocalSettings {
        /// Every value now in force, defaults included.
        settings: Settings,
    },
    /// GOAWAY sent or received.
    GoAway {
        /// Why the connection is going away.
        code: ErrorCode,
        /// Streams above this were not (and will not be) processed.
        last_stream_id: u32,
        /// Opaque diagnostic data.
        debug_data: Bytes,
        /// Who sent it.
        origin: Origin,
    },
    /// A frame could not be sent (Node's `frameError`).
    FrameError {
        /// The frame's type.
        frame_type: u8,
        /// Why it could not be sent.
        code: ErrorCode,
        #[allow(missing_docs)]
        stream_id: u32,
    },
    /// A protocol error ended the connection (Node's session `error`).
    ConnectionError {
        /// The code sent in GOAWAY.
        code: ErrorCode,
        /// What the peer did wrong.
        reason: String,
    },
    /// Client: an ALTSVC frame (Node's `altsvc`): `origin` is empty when
    /// the advertisement is for stream `stream_id`'s origin.
    AltSvc {
        /// 0 when the frame names its origin.
        stream_id: u32,
        /// The origin the alternative is for, or empty.
        origin: String,
        /// The Alt-Svc field value (RFC 7838).
        value: String,
    },
    /// Client: an ORIGIN frame (Node's `origin`); the origins were added
    /// to the origin set.
    Origin {
        /// The origins the frame listed.
        origins: Vec<String>,
    },
    /// No activity for the session's idle timeout (Node's `timeout`).
    Timeout,
    /// No frames on this stream for its timeout (Node's stream `timeout`).
    StreamTimeout {
        #[allow(missing_docs)]
        stream_id: u32,
    },
    /// Nothing more will happen on this connection; flush output and close
    /// the transport.
    Closed {
        /// How it ended: NO_ERROR for a graceful close.
        code: ErrorCode,
    },
}

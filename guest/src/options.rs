//! Construction options for a connection: Node's option names and defaults.

use crate::settings::Settings;

/// Which end of the connection the engine is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Opens streams with requests.
    Client,
    /// Answers them.
    Server,
}

/// Node's `paddingStrategy` for HEADERS and DATA frames we send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PaddingStrategy {
    /// No padding (Node's default).
    #[default]
    None,
    /// Pad so that each frame, header included, is a multiple of 8 octets
    /// where flow control and the frame size allow.
    Aligned,
    /// As much padding as flow control and the frame size allow.
    Max,
}

/// How a connection behaves: its SETTINGS, limits and protections.
#[derive(Clone, Debug)]
pub struct Options {
    /// SETTINGS sent in the connection preface (fields left `None` keep the
    /// RFC 9113 defaults and are not sent).
    pub settings: Settings,
    /// Client: `:scheme` for requests ("https" or "http").
    pub scheme: String,
    /// Client: default `:authority` for requests.
    pub authority: String,
    /// Node's `maxDeflateDynamicTableSize` (our HPACK encoder's table cap).
    pub max_deflate_dynamic_table_size: u32,
    /// Node's `maxHeaderListPairs`.
    pub max_header_list_pairs: u32,
    /// Node's `maxSettings`: parameters accepted in one SETTINGS frame.
    pub max_settings: u32,
    /// Node's `maxOutstandingPings`.
    pub max_outstanding_pings: u32,
    /// Node's `peerMaxConcurrentStreams`: assumed before the peer's SETTINGS.
    pub peer_max_concurrent_streams: u32,
    /// Node's `maxSessionInvalidFrames`.
    pub max_session_invalid_frames: u32,
    /// Node's `maxSessionRejectedStreams`.
    pub max_session_rejected_streams: u32,
    /// Connection-level receive window we keep open (Node's
    /// `setLocalWindowSize` at start). At least 65,535.
    pub connection_window_size: u32,
    /// Queued outgoing octets per stream above which `write` reports "full".
    pub stream_high_water_mark: u32,
    /// Most CONTINUATION frames accepted for one header block.
    pub max_continuation_frames: u32,
    /// Octets of control frames we owe the peer (SETTINGS/PING ACKs, RSTs)
    /// that may be unsent before we stop reading from it.
    pub max_outbound_control: u32,
    /// Closed streams remembered to classify late frames (§5.1).
    pub max_closed_streams: u32,
    /// Streams the peer opens deliver DATA without consuming it; the
    /// application calls `consume` as it processes data, so a slow consumer
    /// throttles the peer through flow control instead of buffering.
    pub manual_consume: bool,
    /// Node's `streamResetBurst` and `streamResetRate`: RST_STREAM frames a
    /// client may send at once, and per second after that, before the
    /// server ends the connection with ENHANCE_YOUR_CALM (rapid reset).
    /// A burst of 0 turns the limit off.
    pub stream_reset_burst: u32,
    #[allow(missing_docs)]
    pub stream_reset_rate: u32,
    /// Node's `paddingStrategy`.
    pub padding_strategy: PaddingStrategy,
    /// Node's `maxSessionMemory` in megabytes (at least 1): while the
    /// session's accounted memory is above it, new streams are refused with
    /// ENHANCE_YOUR_CALM.
    pub max_session_memory: u32,
    /// Node's `maxSendHeaderBlockLength`: a header block we would send that
    /// is larger is not sent; a frame-error event follows and the stream
    /// is reset.
    pub max_send_header_block_length: u32,
    /// Node's `maxReservedRemoteStreams`: pushed streams a client holds in
    /// `reserved (remote)` before it refuses more with REFUSED_STREAM.
    pub max_reserved_remote_streams: u32,
    /// Server: answer `expect: 100-continue` with a 100 response as the
    /// request arrives. Off is Node's `checkContinue` listener: the
    /// application decides (`additional_headers` with 100, or a final
    /// response such as 417).
    pub auto_continue: bool,
    /// Node's `origins`: sent in an ORIGIN frame when a server starts.
    pub origins: Vec<String>,
    /// A frame begun in the input (or a header block waiting for its
    /// CONTINUATION frames) must be whole within this many nanoseconds of
    /// its first octet, or the connection ends with GOAWAY
    /// ENHANCE_YOUR_CALM: a peer that trickles a frame (or stops half-way)
    /// would otherwise hold the connection's state, and the instance
    /// behind it, for ever. `None`: no limit.
    pub frame_timeout_ns: Option<u64>,
    /// Server: a stream whose response is complete while the client has
    /// not ended its side is reset with RST_STREAM NO_ERROR once it has
    /// had no frame from the client for this many nanoseconds (RFC 9113
    /// §8.1 lets a server ask a client to stop sending that way). `None`:
    /// such a stream waits for the client for ever.
    pub half_closed_timeout_ns: Option<u64>,
    /// Node's `remoteCustomSettings`: the setting identifiers this engine
    /// does not interpret that are taken from the peer's SETTINGS (and
    /// reported in the remote settings' `custom`); others are ignored
    /// (RFC 9113 §6.5.2). At most 10; none by default, as in Node.
    pub remote_custom_settings: Vec<u16>,
}

/// The default for [`Options::frame_timeout_ns`] and
/// [`Options::half_closed_timeout_ns`]: 10 s.
pub const DEFAULT_PEER_TIMEOUT_NS: u64 = 10_000_000_000;

impl Default for Options {
    fn default() -> Self {
        Options {
            // Node advertises a 64 KiB header-list limit; it also bounds
            // how much of a header block we buffer.
            settings: Settings {
                max_header_list_size: Some(65_535),
                ..Settings::default()
            },
            scheme: "https".into(),
            authority: String::new(),
            max_deflate_dynamic_table_size: 4096,
            max_header_list_pairs: 128,
            max_settings: 32,
            max_outstanding_pings: 10,
            peer_max_concurrent_streams: 100,
            max_session_invalid_frames: 1000,
            max_session_rejected_streams: 100,
            connection_window_size: 65_535,
            stream_high_water_mark: 16_384,
            max_continuation_frames: 64,
            // About 4,000 PING ACKs: nghttp2 stops at 1,000 queued ACKs.
            max_outbound_control: 64 * 1024,
            max_closed_streams: 256,
            manual_consume: false,
            stream_reset_burst: 1000,
            stream_reset_rate: 33,
            padding_strategy: PaddingStrategy::None,
            max_session_memory: 10,
            max_send_header_block_length: 64 * 1024,
            max_reserved_remote_streams: 200,
            auto_continue: true,
            origins: Vec::new(),
            frame_timeout_ns: Some(DEFAULT_PEER_TIMEOUT_NS),
            half_closed_timeout_ns: Some(DEFAULT_PEER_TIMEOUT_NS),
            remote_custom_settings: Vec::new(),
        }
    }
}

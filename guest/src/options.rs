//! Construction options for a connection: Node's option names and defaults.

use crate::settings::Settings;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

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
}

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
            max_outbound_control: 1 << 20,
            max_closed_streams: 256,
            manual_consume: false,
        }
    }
}

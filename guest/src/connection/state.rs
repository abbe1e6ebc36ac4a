//! Read-only views of session and stream state (Node's `session.state` and
//! `stream.state`).

use super::Connection;
use crate::stream::{Cause, State};

/// Node's `http2session.state`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionState {
    /// Receive window the peer may still fill at the connection level.
    pub effective_local_window_size: i64,
    /// Octets received since the last connection WINDOW_UPDATE we sent.
    pub effective_recv_data_length: u32,
    /// Id the next locally initiated stream will get.
    pub next_stream_id: u32,
    /// The connection receive window we aim to keep open.
    pub local_window_size: u32,
    /// Highest stream id the peer initiated.
    pub last_proc_stream_id: u32,
    /// Our connection send window.
    pub remote_window_size: i64,
    /// Octets queued for the transport.
    pub outbound_queue_size: u32,
    /// Octets in our HPACK encoder's dynamic table.
    pub deflate_dynamic_table_size: u32,
    /// The peer's HPACK encoder table capacity we allow (our SETTINGS).
    pub inflate_dynamic_table_size: u32,
}

/// Node's `http2stream.state`, plus the fields its stream objects expose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamStateInfo {
    /// nghttp2 state number as Node reports it (1 idle … 7 closed).
    pub state: u32,
    /// Receive window the peer may still fill.
    pub local_window_size: i64,
    /// Our send window.
    pub remote_window_size: i64,
    /// We have sent END_STREAM (or reset).
    pub local_close: bool,
    /// The peer has sent END_STREAM (or reset).
    pub remote_close: bool,
    /// Octets queued by `write` and not yet sent (Node's `bufferSize`).
    pub buffer_size: u32,
    pub headers_sent: bool,
}

impl Connection {
    pub fn session_state(&self) -> SessionState {
        SessionState {
            effective_local_window_size: self.recv_window.window(),
            effective_recv_data_length: self.recv_window.unannounced(),
            next_stream_id: self.next_local_id,
            local_window_size: self.recv_window.target(),
            last_proc_stream_id: self.max_peer_id,
            remote_window_size: self.send_window.value(),
            outbound_queue_size: u32::try_from(self.out.len()).unwrap_or(u32::MAX),
            deflate_dynamic_table_size: self.encoder.table_fill(),
            inflate_dynamic_table_size: self.local.header_table_size,
        }
    }

    /// State of a live stream; `None` once it is closed and forgotten.
    pub fn stream_state(&self, stream_id: u32) -> Option<StreamStateInfo> {
        let s = self.streams.get(&stream_id)?;
        let (local_close, remote_close) = match s.state {
            State::HalfClosedLocal => (true, false),
            State::HalfClosedRemote => (false, true),
            State::Closed(Cause::EndStream { .. }) => (true, true),
            State::Closed(_) => (true, true),
            _ => (false, false),
        };
        Some(StreamStateInfo {
            state: s.state.node_code(),
            local_window_size: s.recv_window.window(),
            remote_window_size: s.send_window.value(),
            local_close,
            remote_close,
            buffer_size: u32::try_from(s.send.len()).unwrap_or(u32::MAX),
            headers_sent: s.headers_sent,
        })
    }

    /// Ids of the streams currently alive, ascending.
    pub fn stream_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.streams.keys().copied().collect();
        ids.sort_unstable();
        ids
    }
}

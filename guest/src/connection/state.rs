//! Read-only views of session and stream state (Node's `session.state` and
//! `stream.state`).

use super::Connection;
use crate::error::ErrorCode;
use crate::headers::HeaderField;
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

/// Node's `http2stream.state`, plus the facts its stream objects expose.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Node's `headersSent`.
    pub headers_sent: bool,
    /// Node's `closed` (and `destroyed`: the engine keeps no stream object
    /// beyond its close).
    pub closed: bool,
    /// Node's `rstCode`: the RST_STREAM code that closed it, NO_ERROR (0)
    /// for a clean close; `None` while open.
    pub rst_code: Option<u32>,
    /// Node's `aborted`: closed by a reset with an error code.
    pub aborted: bool,
    /// Node's `pending`: a request waiting for the peer's concurrency limit.
    pub pending: bool,
    /// Node's `endAfterHeaders`.
    pub end_after_headers: bool,
    /// Node's `sentHeaders`, `sentInfoHeaders` and `sentTrailers`.
    pub sent_headers: Vec<HeaderField>,
    #[allow(missing_docs)]
    pub sent_info_headers: Vec<Vec<HeaderField>>,
    #[allow(missing_docs)]
    pub sent_trailers: Vec<HeaderField>,
    /// Node's `state.weight` and `state.sumDependencyWeight`, and the
    /// stream this one depends on (0: the root).
    pub weight: u16,
    #[allow(missing_docs)]
    pub sum_dependency_weight: u32,
    #[allow(missing_docs)]
    pub parent: u32,
    /// The response's RFC 9218 priority: urgency 0..=7 and incremental.
    pub urgency: u8,
    #[allow(missing_docs)]
    pub incremental: bool,
}

impl Connection {
    /// Node's `session.state`.
    pub fn session_state(&self) -> SessionState {
        SessionState {
            effective_local_window_size: self.flow.recv.window(),
            effective_recv_data_length: self.flow.recv.received_unannounced(),
            next_stream_id: self.counts.next_local_id,
            local_window_size: self.flow.recv.target(),
            last_proc_stream_id: self.counts.max_peer_id,
            remote_window_size: self.flow.send.value(),
            outbound_queue_size: u32::try_from(self.pending_output()).unwrap_or(u32::MAX),
            deflate_dynamic_table_size: self.hpack.encoder.table_fill(),
            inflate_dynamic_table_size: u32::try_from(self.hpack.decoder.table_fill())
                .unwrap_or(u32::MAX),
        }
    }

    /// State of a stream that is live or recently closed (the engine
    /// remembers `max_closed_streams` of those); `None` for others.
    pub fn stream_state(&self, stream_id: u32) -> Option<StreamStateInfo> {
        let Some(s) = self.streams.live.get(&stream_id) else {
            let cause = self.streams.closed.get(stream_id)?;
            return Some(closed_info(cause));
        };
        let (local_close, remote_close) = match s.state {
            State::HalfClosedLocal => (true, false),
            State::HalfClosedRemote => (false, true),
            State::Closed(_) => (true, true),
            _ => (false, false),
        };
        Some(StreamStateInfo {
            state: s.state.node_code(),
            local_window_size: s.recv_window.window(),
            remote_window_size: s.send_window.value(),
            local_close,
            remote_close,
            buffer_size: u32::try_from(s.send.buffered()).unwrap_or(u32::MAX),
            headers_sent: s.headers_sent,
            closed: s.state.is_closed(),
            rst_code: None,
            aborted: false,
            pending: s.pending.is_some(),
            end_after_headers: s.end_after_headers,
            sent_headers: s
                .sent_headers
                .as_deref()
                .map(<[_]>::to_vec)
                .unwrap_or_default(),
            sent_info_headers: s.sent_info_headers.clone(),
            sent_trailers: s.sent_trailers.clone().unwrap_or_default(),
            weight: self.scheduler.tree.weight(stream_id),
            sum_dependency_weight: self.scheduler.tree.sum_dependency_weight(stream_id),
            parent: self.scheduler.tree.parent(stream_id),
            urgency: s.urgency.urgency,
            incremental: s.urgency.incremental,
        })
    }

    /// Ids of the streams currently alive, ascending.
    pub fn stream_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.streams.live.keys().copied().collect();
        ids.sort_unstable();
        ids
    }
}

/// What is known of a stream after it closed: how, not what it carried.
fn closed_info(cause: Cause) -> StreamStateInfo {
    let (rst_code, aborted) = match cause {
        Cause::EndStream { .. } => (ErrorCode::NO_ERROR, false),
        Cause::LocalReset(c) | Cause::RemoteReset(c) => (c, c != ErrorCode::NO_ERROR),
    };
    StreamStateInfo {
        state: State::Closed(cause).node_code(),
        local_window_size: 0,
        remote_window_size: 0,
        local_close: true,
        remote_close: true,
        buffer_size: 0,
        headers_sent: false,
        closed: true,
        rst_code: Some(rst_code.0),
        aborted,
        pending: false,
        end_after_headers: false,
        sent_headers: Vec::new(),
        sent_info_headers: Vec::new(),
        sent_trailers: Vec::new(),
        weight: crate::priority::DEFAULT_WEIGHT,
        sum_dependency_weight: 0,
        parent: 0,
        urgency: crate::urgency::DEFAULT_URGENCY,
        incremental: false,
    }
}

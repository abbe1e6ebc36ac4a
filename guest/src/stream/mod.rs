//! Per-stream state: the §5.1 state machine, both flow-control windows, the
//! outgoing queue, and the HTTP facts needed to check incoming messages.

mod send_queue;
pub(crate) mod state;

pub(crate) use send_queue::{BodyReader, FileBody, SendQueue};
pub(crate) use state::{Cause, State};

use crate::flow::{RecvWindow, SendWindow};
use crate::headers::HeaderField;

/// Where the incoming side of a stream is in its message (§8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecvPhase {
    /// Waiting for the request or final response headers (1xx may come first).
    Headers,
    /// Final headers received; DATA may follow, then trailers.
    Body,
    /// Trailers received; nothing more may come.
    Done,
}

#[derive(Debug)]
pub(crate) struct Stream {
    pub id: u32,
    pub state: State,
    pub send_window: SendWindow,
    pub recv_window: RecvWindow,
    pub send: SendQueue,
    pub recv_phase: RecvPhase,
    /// `content-length` of the incoming message, checked against DATA.
    pub expected_len: Option<u64>,
    pub received_len: u64,
    /// This side sent a HEAD request (its response has no content).
    pub head_request: bool,
    /// The final (non-1xx) HEADERS went out.
    pub headers_sent: bool,
    /// The stream sits in the scheduler's ready list.
    pub scheduled: bool,
    /// `write` returned "full" and a `drain` event is owed.
    pub drain_wanted: bool,
    /// The application reads this stream's data with explicit `consume`.
    pub manual_consume: bool,
    /// The request or response HEADERS we received carried END_STREAM
    /// (Node's `endAfterHeaders`).
    pub end_after_headers: bool,
    /// What we sent (Node's `sentHeaders`, `sentInfoHeaders`,
    /// `sentTrailers`).
    pub sent_headers: Option<std::sync::Arc<[HeaderField]>>,
    pub sent_info_headers: Vec<Vec<HeaderField>>,
    pub sent_trailers: Option<Vec<HeaderField>>,
    /// Octets the host holds for this stream outside the engine (a
    /// WebSocket's buffers), counted toward `maxSessionMemory`
    /// (`reserve_memory`) until the stream is gone.
    pub host_held: u32,
    /// Node's `stream.setTimeout`, and when a frame last moved.
    pub timeout_ns: Option<u64>,
    pub last_activity: u64,
    /// Server: our side ended while the client's is open; reset once the
    /// client is quiet for `Options::half_closed_timeout_ns`.
    pub half_closed_clock: bool,
    /// Facts behind Node's per-stream performance entry.
    pub timing: StreamTiming,
    /// Weighted scheduling: grows with the octets sent, divided by weight;
    /// the smallest eligible pass goes next.
    pub pass: u64,
    /// The response's RFC 9218 priority (urgency, incremental).
    pub urgency: crate::urgency::Urgency,
    /// Client: a request waiting for the peer's MAX_CONCURRENT_STREAMS to
    /// allow it (Node's `pending`): its headers, END_STREAM on them, and its
    /// priority.
    pub pending: Option<PendingRequest>,
}

#[derive(Debug)]
pub(crate) struct PendingRequest {
    pub fields: Vec<HeaderField>,
    pub end_on_headers: bool,
    pub priority: Option<crate::frame::PrioritySpec>,
}

/// When a stream's first frames moved, and how much DATA it carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StreamTiming {
    pub opened_at: u64,
    pub first_header_at: Option<u64>,
    pub first_byte_at: Option<u64>,
    pub first_byte_sent_at: Option<u64>,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

/// Node's performance entry for one stream, reported when it closes.
/// Times are nanoseconds since the stream opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamMetrics {
    /// Body octets received.
    pub bytes_read: u64,
    /// Body octets sent.
    pub bytes_written: u64,
    /// From open to close.
    pub duration_ns: u64,
    /// Until the first header block arrived (Node's `timeToFirstHeader`).
    pub time_to_first_header_ns: Option<u64>,
    /// Until the first DATA arrived (Node's `timeToFirstByte`).
    pub time_to_first_byte_ns: Option<u64>,
    /// Until our first DATA went out (Node's `timeToFirstByteSent`).
    pub time_to_first_byte_sent_ns: Option<u64>,
}

impl StreamTiming {
    pub(crate) fn metrics(&self, now: u64) -> StreamMetrics {
        let since = |t: Option<u64>| t.map(|t| t.saturating_sub(self.opened_at));
        StreamMetrics {
            bytes_read: self.bytes_read,
            bytes_written: self.bytes_written,
            duration_ns: now.saturating_sub(self.opened_at),
            time_to_first_header_ns: since(self.first_header_at),
            time_to_first_byte_ns: since(self.first_byte_at),
            time_to_first_byte_sent_ns: since(self.first_byte_sent_at),
        }
    }
}

impl Stream {
    pub(crate) fn new(id: u32, send_window: u32, recv_window: u32) -> Stream {
        Stream {
            id,
            state: State::Idle,
            send_window: SendWindow::new(send_window),
            recv_window: RecvWindow::new(recv_window),
            send: SendQueue::default(),
            recv_phase: RecvPhase::Headers,
            expected_len: None,
            received_len: 0,
            head_request: false,
            headers_sent: false,
            scheduled: false,
            drain_wanted: false,
            manual_consume: false,
            end_after_headers: false,
            sent_headers: None,
            sent_info_headers: Vec::new(),
            sent_trailers: None,
            host_held: 0,
            timeout_ns: None,
            last_activity: 0,
            half_closed_clock: false,
            timing: StreamTiming::default(),
            pass: 0,
            urgency: crate::urgency::Urgency::default(),
            pending: None,
        }
    }

    /// Whether the scheduler has something to send for this stream: data
    /// that fits the window, or an END_STREAM / trailers / want-trailers step
    /// that needs no window.
    pub(crate) fn has_pending_output(&self) -> bool {
        if !self.state.can_send() || !self.headers_sent {
            return false;
        }
        if !self.send.is_empty() {
            return true;
        }
        let waiting_for_app = self.send.wait_for_trailers
            && self.send.want_trailers_emitted
            && self.send.trailers.is_none();
        self.send.end_requested && !waiting_for_app
    }
}

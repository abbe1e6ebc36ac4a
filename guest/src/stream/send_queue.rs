//! Outgoing body data for one stream: queued by `write`, drained by the
//! connection's scheduler as flow control allows.

use crate::headers::HeaderField;
use bytes::Bytes;
use std::collections::VecDeque;

#[derive(Debug, Default)]
pub struct SendQueue {
    chunks: VecDeque<Bytes>,
    len: usize,
    /// The application called `end`: END_STREAM goes on the last frame.
    pub end_requested: bool,
    /// Trailers to send once the data is out (they carry END_STREAM).
    pub trailers: Option<Vec<HeaderField>>,
    /// `waitForTrailers`: after the data, emit `want-trailers` and hold
    /// END_STREAM until `send-trailers`.
    pub wait_for_trailers: bool,
    /// The `want-trailers` event was already emitted.
    pub want_trailers_emitted: bool,
}

impl SendQueue {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.len += data.len();
            self.chunks.push_back(data);
        }
    }

    /// Takes up to `max` octets from the front, as one or more slices that
    /// share the queued buffers (no copy here).
    pub fn take(&mut self, max: usize, mut sink: impl FnMut(&[u8])) -> usize {
        let mut taken = 0;
        while taken < max {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let n = front.len().min(max - taken);
            sink(&front[..n]);
            taken += n;
            if n == front.len() {
                self.chunks.pop_front();
            } else {
                let _ = front.split_to(n);
            }
        }
        self.len -= taken;
        taken
    }

    /// Drops everything queued (the stream was reset).
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
        self.trailers = None;
    }
}

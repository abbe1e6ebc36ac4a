//! Outgoing body data for one stream: queued by `write`, drained by the
//! connection's scheduler as flow control allows.

use crate::headers::HeaderField;
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::io::Read;

/// A body read from a file as flow control lets it go
/// (`respond_with_file`): at most one read-ahead chunk is in memory.
#[derive(Debug)]
pub struct FileBody {
    pub file: Box<dyn BodyReader>,
    /// Octets still to send, read-ahead included.
    pub remaining: u64,
    /// Read but not yet sent. In the component every read is a call out
    /// through wasi:filesystem, so reads are large and frames are cut from
    /// them.
    pub ahead: BytesMut,
}

/// Where a file body is read from, positioned at its first octet: an open
/// file natively, a wasi:filesystem descriptor in the component.
pub trait BodyReader: std::io::Read + std::fmt::Debug {}

impl<T: std::io::Read + std::fmt::Debug> BodyReader for T {}

/// Largest read-ahead per file body (also bounded by what flow control
/// lets the stream send, and counted against `maxSessionMemory`).
const READ_AHEAD: usize = 32 * 1024;

#[derive(Debug, Default)]
pub struct SendQueue {
    chunks: VecDeque<Bytes>,
    len: usize,
    /// The body comes from a file instead of `chunks`.
    file: Option<FileBody>,
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
    /// Octets still to send, in memory or in a file.
    pub fn len(&self) -> usize {
        let file = self
            .file
            .as_ref()
            .map_or(0, |f| usize::try_from(f.remaining).unwrap_or(usize::MAX));
        self.len.saturating_add(file)
    }

    /// Octets held in memory (Node's `bufferSize`).
    pub fn buffered(&self) -> usize {
        self.len
    }

    /// Memory a file body holds for what it read ahead of sending.
    pub fn read_ahead(&self) -> usize {
        self.file.as_ref().map_or(0, |f| f.ahead.capacity())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn has_file(&self) -> bool {
        self.file.is_some()
    }

    pub fn push(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.len += data.len();
            self.chunks.push_back(data);
        }
    }

    pub fn set_file(&mut self, body: FileBody) {
        self.file = Some(body);
    }

    /// Appends up to `max` octets from the front to `out`: queued buffers
    /// first, then the file. A file is read ahead by at most `sendable`
    /// octets (what the windows and the connection's read-ahead allowance
    /// let go soon), and always by what this frame needs. An error leaves `out` as it was; the stream
    /// cannot go on (the promised length can no longer be met).
    pub fn take_into(
        &mut self,
        max: usize,
        sendable: usize,
        out: &mut BytesMut,
    ) -> std::io::Result<usize> {
        let mut taken = 0;
        while taken < max {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let n = front.len().min(max - taken);
            out.extend_from_slice(&front[..n]);
            taken += n;
            if n == front.len() {
                self.chunks.pop_front();
            } else {
                let _ = front.split_to(n);
            }
        }
        self.len -= taken;
        if taken < max
            && let Some(f) = self.file.as_mut()
        {
            let remaining = usize::try_from(f.remaining).unwrap_or(usize::MAX);
            let want = (max - taken).min(remaining);
            let fill = remaining.min(READ_AHEAD.min(sendable).max(want));
            if f.ahead.is_empty() && fill == want {
                // Nothing to read ahead: straight into the output.
                let start = out.len();
                out.resize(start + want, 0);
                if let Err(e) = f.file.read_exact(&mut out[start..]) {
                    out.truncate(start);
                    return Err(e);
                }
            } else {
                if f.ahead.len() < want {
                    // Top up: at least this frame, at most what the windows
                    // let go soon, up to the read-ahead size.
                    let have = f.ahead.len();
                    f.ahead.resize(fill.max(want), 0);
                    if let Err(e) = f.file.read_exact(&mut f.ahead[have..]) {
                        f.ahead.truncate(have);
                        return Err(e);
                    }
                }
                out.extend_from_slice(&f.ahead[..want]);
                let _ = f.ahead.split_to(want);
                if f.ahead.is_empty() {
                    // Do not keep the buffer between frames.
                    f.ahead = BytesMut::new();
                }
            }
            f.remaining -= want as u64;
            taken += want;
            if f.remaining == 0 {
                self.file = None;
            }
        }
        Ok(taken)
    }

    /// Drops everything queued (the stream was reset).
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
        self.file = None;
        self.trailers = None;
    }
}

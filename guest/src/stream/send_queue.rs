//! Outgoing body data for one stream: queued by `write`, drained by the
//! connection's scheduler as flow control allows.

use crate::connection::PayloadRef;
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

/// A body the host holds (`respond_with_payload`): the engine sends
/// references to it, never its octets.
#[derive(Clone, Copy, Debug)]
pub struct HostBody {
    /// The host's name for it.
    pub id: u64,
    /// Where the next frame's payload starts within it.
    pub offset: u64,
    /// Octets still to send.
    pub remaining: u64,
}

/// Where a body comes from after the queued buffers.
#[derive(Debug)]
enum Source {
    File(FileBody),
    Host(HostBody),
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
    /// The body comes from a file or the host instead of `chunks`.
    source: Option<Source>,
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
    /// Octets still to send, in memory, in a file or held by the host.
    pub fn len(&self) -> usize {
        let rest = match &self.source {
            None => 0,
            Some(Source::File(f)) => f.remaining,
            Some(Source::Host(h)) => h.remaining,
        };
        self.len
            .saturating_add(usize::try_from(rest).unwrap_or(usize::MAX))
    }

    /// Octets held in memory (Node's `bufferSize`).
    pub fn buffered(&self) -> usize {
        self.len
    }

    /// Memory a file body holds for what it read ahead of sending.
    pub fn read_ahead(&self) -> usize {
        match &self.source {
            Some(Source::File(f)) => f.ahead.capacity(),
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn has_file(&self) -> bool {
        matches!(self.source, Some(Source::File(_)))
    }

    /// The host body still to be sent, if the body is one.
    pub fn host_body(&self) -> Option<u64> {
        match &self.source {
            Some(Source::Host(h)) => Some(h.id),
            _ => None,
        }
    }

    pub fn push(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.len += data.len();
            self.chunks.push_back(data);
        }
    }

    pub fn set_file(&mut self, body: FileBody) {
        self.source = Some(Source::File(body));
    }

    pub fn set_host_body(&mut self, body: HostBody) {
        self.source = Some(Source::Host(body));
    }

    /// Appends up to `max` octets from the front to `out`: queued buffers
    /// first, then the file or the host body (a reference to it goes to
    /// `payload`, positioned at the end of `out`). A file is read ahead by
    /// at most `sendable` octets (what the windows and the connection's
    /// read-ahead allowance let go soon), and always by what this frame
    /// needs. An error leaves `out` as it was; the stream cannot go on
    /// (the promised length can no longer be met). Returns the octets
    /// taken, and the host body when its last octet was.
    pub fn take_into(
        &mut self,
        max: usize,
        sendable: usize,
        out: &mut BytesMut,
        payload: &mut impl FnMut(PayloadRef),
    ) -> std::io::Result<(usize, Option<u64>)> {
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
            && let Some(Source::Host(h)) = self.source.as_mut()
        {
            let want = (max - taken).min(usize::try_from(h.remaining).unwrap_or(usize::MAX));
            payload(PayloadRef {
                at: out.len(),
                body: h.id,
                offset: h.offset,
                length: want,
            });
            h.offset += want as u64;
            h.remaining -= want as u64;
            let id = h.id;
            if h.remaining == 0 {
                self.source = None;
                return Ok((taken + want, Some(id)));
            }
            return Ok((taken + want, None));
        }
        if taken < max
            && let Some(Source::File(f)) = self.source.as_mut()
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
                self.source = None;
            }
        }
        Ok((taken, None))
    }

    /// Drops everything queued (the stream was reset); returns the host
    /// body that will not be sent now.
    pub fn clear(&mut self) -> Option<u64> {
        let host = self.host_body();
        self.chunks.clear();
        self.len = 0;
        self.source = None;
        self.trailers = None;
        host
    }
}

//! Outgoing body data for one stream: queued by `write`, drained by the
//! connection's scheduler as flow control allows.

use crate::headers::HeaderField;
use crate::transmit::{PayloadQueue, PayloadRef};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::io::Read;

/// A body read from a file as flow control lets it go
/// (`respond_with_file`): at most one read-ahead chunk is in memory.
#[derive(Debug)]
pub(crate) struct FileBody {
    pub file: Box<dyn BodyReader>,
    /// Octets still to send, read-ahead included.
    pub remaining: u64,
    /// Read but not yet sent. In the component every read is a call out
    /// through wasi:filesystem, so reads are large and frames are cut from
    /// them.
    pub ahead: BytesMut,
}

/// Octets the host holds (`write_payload`, `respond_with_payload`): the
/// engine sends references to them, never the octets themselves.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HostBody {
    /// The host's name for it.
    pub id: u64,
    /// Where the next frame's payload starts within it.
    pub offset: u64,
    /// Octets still to send.
    pub remaining: u64,
}

/// One queued piece of the body.
#[derive(Debug)]
enum Chunk {
    Octets(Bytes),
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
pub(crate) struct SendQueue {
    chunks: VecDeque<Chunk>,
    /// Octets in `chunks` in the engine's memory.
    len: usize,
    /// Octets in `chunks` the host holds (a host body may pass 4 GiB,
    /// which is more than the engine's `usize` counts in wasm32).
    host_len: u64,
    /// The body comes from a file after `chunks`.
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
    /// Octets still to send, in memory, in a file or held by the host.
    pub(crate) fn len(&self) -> usize {
        let file = self.file.as_ref().map_or(0, |f| f.remaining);
        self.buffered()
            .saturating_add(usize::try_from(file).unwrap_or(usize::MAX))
    }

    /// Octets queued with `write` and `write_payload` (Node's
    /// `bufferSize`).
    pub(crate) fn buffered(&self) -> usize {
        self.len
            .saturating_add(usize::try_from(self.host_len).unwrap_or(usize::MAX))
    }

    /// Octets this queue holds in the engine's own memory.
    pub(crate) fn held(&self) -> usize {
        self.len
    }

    /// Memory a file body holds for what it read ahead of sending.
    pub(crate) fn read_ahead(&self) -> usize {
        self.file.as_ref().map_or(0, |f| f.ahead.capacity())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn has_file(&self) -> bool {
        self.file.is_some()
    }

    pub(crate) fn push(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.len += data.len();
            self.chunks.push_back(Chunk::Octets(data));
        }
    }

    /// Queues `length` octets the host holds as `id`; false (and nothing
    /// queued) when there are none.
    pub(crate) fn push_host(&mut self, id: u64, length: u64) -> bool {
        if length == 0 {
            return false;
        }
        self.host_len = self.host_len.saturating_add(length);
        self.chunks.push_back(Chunk::Host(HostBody {
            id,
            offset: 0,
            remaining: length,
        }));
        true
    }

    pub(crate) fn set_file(&mut self, body: FileBody) {
        self.file = Some(body);
    }

    /// Appends up to `max` octets from the front to `out`: queued chunks
    /// first (octets copied; the host's referenced in `payload`, at the end
    /// of `out`, and finished there once wholly referenced), then the file.
    /// A file is read ahead by at most `sendable` octets (what the windows
    /// and the connection's read-ahead allowance let go soon), and always
    /// by what this frame needs. An error (a file read failed) means the
    /// stream cannot go on (the promised length can no longer be met): the
    /// caller takes the frame back, octets and references alike.
    pub(crate) fn take_into(
        &mut self,
        max: usize,
        sendable: usize,
        out: &mut BytesMut,
        payload: &mut PayloadQueue,
    ) -> std::io::Result<usize> {
        let mut taken = 0;
        while taken < max {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            match front {
                Chunk::Octets(b) => {
                    let n = b.len().min(max - taken);
                    out.extend_from_slice(&b[..n]);
                    taken += n;
                    self.len -= n;
                    if n == b.len() {
                        self.chunks.pop_front();
                    } else {
                        let _ = b.split_to(n);
                    }
                }
                Chunk::Host(h) => {
                    let n = usize::try_from(h.remaining)
                        .unwrap_or(usize::MAX)
                        .min(max - taken);
                    payload.push(PayloadRef {
                        at: out.len(),
                        body: h.id,
                        offset: h.offset,
                        length: n,
                    });
                    taken += n;
                    self.host_len -= n as u64;
                    h.offset += n as u64;
                    h.remaining -= n as u64;
                    if h.remaining == 0 {
                        payload.finish(h.id);
                        self.chunks.pop_front();
                    }
                }
            }
        }
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

    /// Drops everything queued (the stream was reset, or is gone): host
    /// chunks not wholly referenced are finished in `payload`.
    pub(crate) fn clear(&mut self, payload: &mut PayloadQueue) {
        for chunk in self.chunks.drain(..) {
            if let Chunk::Host(h) = chunk {
                payload.finish(h.id);
            }
        }
        self.len = 0;
        self.host_len = 0;
        self.file = None;
        self.trailers = None;
    }
}

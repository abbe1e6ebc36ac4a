//! Input not yet parsed: octets short of a whole frame, the header block
//! being assembled from HEADERS/PUSH_PROMISE + CONTINUATION, and where
//! the host's held payloads sit.

use super::held::HeldInput;
use bytes::BytesMut;

#[derive(Default)]
pub(super) struct Input {
    /// Octets received and not yet parsed (at most one partial frame
    /// between calls).
    pub(super) buf: BytesMut,
    /// The address range of the input `receive_owned` last parsed in
    /// place (see `input_offset`); cleared by every `receive`.
    pub(super) adopted: Option<(usize, usize)>,
    /// Octets received so far (as passed in, held payloads not counted):
    /// `buf` holds the last of them, and held spans are placed by it.
    pub(super) end: u64,
    pub(super) held: HeldInput,
    pub(super) block: Option<PartialBlock>,
    /// When the partial frame in `buf` began to arrive, while there is
    /// one (see `Options::frame_timeout_ns`).
    pub(super) frame_started_at: Option<u64>,
}

impl Input {
    /// Nothing is partly read.
    pub(super) fn is_empty(&self) -> bool {
        self.block.is_none() && self.buf.is_empty()
    }

    /// Octets held for input not yet whole.
    pub(super) fn memory(&self) -> usize {
        self.buf.len() + self.block.as_ref().map_or(0, |b| b.fragment.len())
    }

    /// When the frame (or header block) partly received began, if one is.
    pub(super) fn partial_since(&self) -> Option<u64> {
        let block = self.block.as_ref().map(|b| b.started_at);
        match (self.frame_started_at, block) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drops what was partly read: the connection has ended.
    pub(super) fn clear(&mut self) {
        self.block = None;
        self.buf.clear();
        self.frame_started_at = None;
    }
}

/// A header block being assembled from HEADERS/PUSH_PROMISE + CONTINUATION.
pub(super) struct PartialBlock {
    pub(super) stream_id: u32,
    pub(super) kind: BlockStart,
    pub(super) fragment: BytesMut,
    pub(super) continuations: u32,
    /// When its first frame arrived: the whole block counts against the
    /// frame timeout.
    pub(super) started_at: u64,
}

#[derive(Clone, Copy)]
pub(super) enum BlockStart {
    Headers {
        end_stream: bool,
        priority: Option<crate::frame::PrioritySpec>,
    },
    PushPromise {
        promised_id: u32,
    },
}

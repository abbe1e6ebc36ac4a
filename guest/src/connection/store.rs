//! The streams themselves (hyperium/h2's `Store`): those open or
//! reserved, a bounded memory of those closed, and the client's requests
//! waiting for the peer's concurrency limit.

use super::closed::ClosedStreams;
use crate::id_map::IdMap;
use crate::stream::Stream;
use std::collections::VecDeque;

pub(super) struct StreamStore {
    /// Boxed: a `Stream` is a few hundred octets, and in wasm every move
    /// of one that size (into the map when the stream opens, out of it
    /// when it closes) is a `memory.copy`, which wasmtime runs as a call
    /// out to the host. Boxed, a small response costs three such calls
    /// fewer (`bench/cpu` small: 2.00 -> 1.85 µs per request, nghttpd
    /// 1.49 in the same run).
    pub(super) live: IdMap<Box<Stream>>,
    /// How recently closed streams closed (§5.1), for late frames.
    pub(super) closed: ClosedStreams,
    /// Client: requests waiting for the peer's concurrency limit, in order.
    pub(super) pending: VecDeque<u32>,
}

impl StreamStore {
    /// No streams, remembering at most `max_closed` closed ones.
    pub(super) fn new(max_closed: usize) -> Self {
        StreamStore {
            live: IdMap::default(),
            closed: ClosedStreams::new(max_closed),
            pending: VecDeque::new(),
        }
    }

    /// No stream is open, reserved or waiting to be sent.
    pub(super) fn is_empty(&self) -> bool {
        self.live.is_empty() && self.pending.is_empty()
    }
}

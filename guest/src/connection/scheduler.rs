//! Which stream's output goes next: streams with output, in round-robin
//! order; by urgency (RFC 9218) once either side signals priorities that
//! way; by the RFC 7540 dependency tree while a peer uses that instead.

use crate::priority::PriorityTree;
use crate::urgency::Urgency;
use std::collections::VecDeque;

/// Streams (live, closed or idle) the priority tree may name.
const PRIORITY_NODES: usize = 1024;

pub(super) struct Scheduler {
    /// Streams with output the scheduler should look at, in order.
    pub(super) ready: VecDeque<u32>,
    /// Virtual time: the pass of the last stream served.
    pub(super) vtime: u64,
    /// The dependency tree (RFC 7540 §5.3) that orders outgoing DATA.
    pub(super) tree: PriorityTree,
    /// RFC 9218 signals were seen (a `priority` field, a PRIORITY_UPDATE,
    /// or the peer's SETTINGS_NO_RFC7540_PRIORITIES): urgency orders
    /// DATA, and the tree is not consulted.
    pub(super) by_urgency: bool,
    /// PRIORITY_UPDATEs for streams not yet opened (§7.1: a client may
    /// send one before the request), applied when they open; at most
    /// [`EARLY_UPDATES`], the oldest given up first.
    pub(super) early: VecDeque<(u32, Urgency)>,
}

/// PRIORITY_UPDATEs kept for streams not yet opened.
pub(super) const EARLY_UPDATES: usize = 32;

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler {
            ready: VecDeque::new(),
            vtime: 0,
            tree: PriorityTree::new(PRIORITY_NODES),
            by_urgency: false,
            early: VecDeque::new(),
        }
    }
}

impl Scheduler {
    /// Keeps `urgency` for `id`, a stream not yet opened (the latest
    /// update for a stream replaces an earlier one).
    pub(super) fn keep_early(&mut self, id: u32, urgency: Urgency) {
        self.early.retain(|(e, _)| *e != id);
        if self.early.len() == EARLY_UPDATES {
            self.early.pop_front();
        }
        self.early.push_back((id, urgency));
    }

    /// The update kept for `id`, if any (taken).
    pub(super) fn take_early(&mut self, id: u32) -> Option<Urgency> {
        let at = self.early.iter().position(|(e, _)| *e == id)?;
        self.early.remove(at).map(|(_, u)| u)
    }
}

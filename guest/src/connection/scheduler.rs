//! Which stream's output goes next: streams with output, in round-robin
//! order, ordered by the RFC 7540 dependency tree while a peer uses it.

use crate::priority::PriorityTree;
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
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler {
            ready: VecDeque::new(),
            vtime: 0,
            tree: PriorityTree::new(PRIORITY_NODES),
        }
    }
}

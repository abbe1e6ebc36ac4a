//! A bounded memory of recently closed streams. How a stream closed decides
//! what a late frame on it means (§5.1); the bound keeps a peer that opens
//! and closes streams forever from growing our memory.

use crate::id_map::IdMap;
use crate::stream::Cause;
use std::collections::VecDeque;

pub(super) struct ClosedStreams {
    causes: IdMap<Cause>,
    order: VecDeque<u32>,
    cap: usize,
}

impl ClosedStreams {
    pub(super) fn new(cap: usize) -> Self {
        ClosedStreams {
            causes: IdMap::default(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    pub(super) fn insert(&mut self, id: u32, cause: Cause) {
        if self.causes.insert(id, cause).is_none() {
            self.order.push_back(id);
            while self.order.len() > self.cap {
                if let Some(old) = self.order.pop_front() {
                    self.causes.remove(&old);
                }
            }
        }
    }

    /// Oldest first, as they were inserted.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, Cause)> + '_ {
        self.order
            .iter()
            .filter_map(|id| Some((*id, *self.causes.get(id)?)))
    }

    pub(super) fn get(&self, id: u32) -> Option<Cause> {
        self.causes.get(&id).copied()
    }

    pub(super) fn contains(&self, id: u32) -> bool {
        self.causes.contains_key(&id)
    }
}

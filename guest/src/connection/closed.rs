//! A bounded memory of recently closed streams. How a stream closed decides
//! what a late frame on it means (§5.1); the bound keeps a peer that opens
//! and closes streams forever from growing our memory.
//!
//! Every stream's close writes here, so it is laid out for that: a table
//! indexed by the id itself (its low bits), where consecutive ids are
//! neighbours. A hash map put each close in a random bucket, and that one
//! load, mostly a cache miss, was half the time of closing a stream
//! (about 2.5% of all CPU serving small responses). A stream's slot is
//! found in one step; a later id that lands on an occupied slot replaces
//! the older one once the table is full size, the oldest of ids of one
//! parity being the one a fuller memory would also have forgotten first.

use crate::stream::Cause;

pub(super) struct ClosedStreams {
    /// `(id, cause)` at index `id % slots.len()`; id 0 (never a stream's)
    /// marks a free slot. Grows by doubling, as collisions ask, up to
    /// `max_slots`.
    slots: Vec<(u32, Cause)>,
    /// Twice the cap, as a power of two: ids of each parity (the client's
    /// odd ones, the server's even ones) get at least `cap` slots.
    max_slots: usize,
}

/// The table's first size.
const FIRST_SLOTS: usize = 16;

const FREE: (u32, Cause) = (0, Cause::EndStream { remote_last: false });

impl ClosedStreams {
    /// A memory of at least `cap` closed streams of each side's ids.
    pub(super) fn new(cap: usize) -> Self {
        ClosedStreams {
            slots: Vec::new(),
            max_slots: cap.max(1).next_power_of_two().saturating_mul(2),
        }
    }

    pub(super) fn insert(&mut self, id: u32, cause: Cause) {
        if id == 0 {
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![FREE; FIRST_SLOTS.min(self.max_slots)];
        }
        loop {
            let i = self.slot(id);
            let held = self.slots[i].0;
            if held == 0 || held == id || self.slots.len() >= self.max_slots {
                self.slots[i] = (id, cause);
                return;
            }
            self.grow();
        }
    }

    /// Doubles the table. Ids in distinct slots stay distinct: each
    /// size divides the next.
    fn grow(&mut self) {
        let mut bigger = vec![FREE; self.slots.len() * 2];
        let mask = bigger.len() - 1;
        for &(id, cause) in self.slots.iter().filter(|(id, _)| *id != 0) {
            bigger[id as usize & mask] = (id, cause);
        }
        self.slots = bigger;
    }

    fn slot(&self, id: u32) -> usize {
        id as usize & (self.slots.len() - 1)
    }

    /// Every stream remembered, in the order of their ids (for a client's
    /// and a server's streams alike, the order they were opened in).
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, Cause)> + '_ {
        let mut remembered: Vec<(u32, Cause)> = self
            .slots
            .iter()
            .copied()
            .filter(|(id, _)| *id != 0)
            .collect();
        remembered.sort_unstable_by_key(|(id, _)| *id);
        remembered.into_iter()
    }

    pub(super) fn get(&self, id: u32) -> Option<Cause> {
        if id == 0 || self.slots.is_empty() {
            return None;
        }
        match self.slots[self.slot(id)] {
            (held, cause) if held == id => Some(cause),
            _ => None,
        }
    }

    pub(super) fn contains(&self, id: u32) -> bool {
        self.get(id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    const DONE: Cause = Cause::EndStream { remote_last: true };

    #[test]
    fn remembers_the_last_cap_streams_of_each_side() {
        let mut closed = ClosedStreams::new(256);
        for id in (1..=2001).step_by(2) {
            closed.insert(id, DONE);
        }
        // The 256 most recent client streams are known; older ones are not.
        for id in (2001 - 2 * 255..=2001).step_by(2) {
            assert_eq!(closed.get(id), Some(DONE), "stream {id}");
        }
        assert_eq!(closed.get(2001 - 2 * 256), None);
        assert_eq!(closed.get(1), None);
        // Bounded: never more than twice the cap (a power of two).
        assert!(closed.iter().count() <= 512);
        // Server streams do not push client ones out.
        for id in (2..=512).step_by(2) {
            closed.insert(id, Cause::LocalReset(ErrorCode::CANCEL));
        }
        assert_eq!(closed.get(2001), Some(DONE));
        assert_eq!(closed.get(1491), Some(DONE));
        assert_eq!(closed.get(2), Some(Cause::LocalReset(ErrorCode::CANCEL)));
    }

    #[test]
    fn the_latest_cause_of_a_stream_wins_and_iteration_follows_ids() {
        let mut closed = ClosedStreams::new(4);
        closed.insert(7, DONE);
        closed.insert(3, Cause::RemoteReset(ErrorCode::CANCEL));
        closed.insert(7, Cause::LocalReset(ErrorCode::STREAM_CLOSED));
        assert!(!closed.contains(5));
        assert!(!closed.contains(0));
        let all: Vec<_> = closed.iter().collect();
        assert_eq!(
            all,
            vec![
                (3, Cause::RemoteReset(ErrorCode::CANCEL)),
                (7, Cause::LocalReset(ErrorCode::STREAM_CLOSED))
            ]
        );
    }

    #[test]
    fn ids_far_apart_grow_the_table_up_to_its_bound_only() {
        let mut closed = ClosedStreams::new(8);
        // Ids 2^16 apart share low bits: the table grows, then the newer
        // replaces the older, never past 16 slots.
        for k in 0..100u32 {
            closed.insert(1 + (k << 16), DONE);
        }
        assert_eq!(closed.iter().count(), 1);
        assert_eq!(closed.get(1 + (99 << 16)), Some(DONE));
        assert_eq!(closed.slots.len(), 16);
    }
}

//! Stream ids and how many streams are active on each side (as
//! hyperium/h2's `Counts`): whose a stream is, whether it is idle, and
//! the next id we may open.

use crate::options::Role;
use crate::snapshot::{Corrupt, Reader, Writer};

pub(super) struct Counts {
    role: Role,
    /// The id our next stream gets (odd for a client, even for a server).
    pub(super) next_local_id: u32,
    /// Highest stream id the peer initiated (Node's `lastProcStreamID`).
    pub(super) max_peer_id: u32,
    /// Active (open or half-closed) streams we opened.
    pub(super) local_active: u32,
    /// Active streams the peer opened.
    pub(super) remote_active: u32,
}

impl Counts {
    pub(super) fn new(role: Role) -> Self {
        Counts {
            role,
            next_local_id: match role {
                Role::Client => 1,
                Role::Server => 2,
            },
            max_peer_id: 0,
            local_active: 0,
            remote_active: 0,
        }
    }

    pub(super) fn is_peer_initiated(&self, id: u32) -> bool {
        match self.role {
            Role::Server => id % 2 == 1,
            Role::Client => id.is_multiple_of(2),
        }
    }

    /// A stream in the `idle` state: never opened by either side.
    pub(super) fn is_idle(&self, id: u32) -> bool {
        if self.is_peer_initiated(id) {
            id > self.max_peer_id
        } else {
            id >= self.next_local_id
        }
    }

    /// Takes our next stream id (the one `next_local_id` named).
    pub(super) fn take_local_id(&mut self) -> u32 {
        let id = self.next_local_id;
        self.next_local_id = id.saturating_add(2);
        id
    }

    /// Counts stream `id` as becoming active (`delta` 1) or not (-1);
    /// returns the streams active on both sides.
    pub(super) fn count_active(&mut self, id: u32, delta: i32) -> u32 {
        let counter = if self.is_peer_initiated(id) {
            &mut self.remote_active
        } else {
            &mut self.local_active
        };
        *counter = counter.saturating_add_signed(delta);
        self.local_active.saturating_add(self.remote_active)
    }

    /// The ids only: a hibernating connection has no active stream.
    pub(super) fn write(&self, w: &mut Writer) {
        w.u32(self.next_local_id);
        w.u32(self.max_peer_id);
    }

    pub(super) fn read(r: &mut Reader<'_>, role: Role) -> Result<Self, Corrupt> {
        Ok(Counts {
            next_local_id: r.u32()?,
            max_peer_id: r.u32()?,
            ..Counts::new(role)
        })
    }
}

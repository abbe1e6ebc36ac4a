//! What goes to the transport: built octets, and references to payload
//! the host holds (bodies given with `respond_with_payload`). The engine
//! frames such a body (DATA headers, padding, flow control) but its octets
//! never enter the engine: the host splices them in where the references
//! say, so bulk data is not copied into the sandbox and out again.

use bytes::Bytes;
use std::collections::VecDeque;

/// `length` octets of the host's body `body`, from `offset` within it,
/// written after octet `at` of the transmit's (or the queue's) octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadRef {
    /// Where it goes: after this many of the octets.
    pub at: usize,
    /// The host's body id.
    pub body: u64,
    /// Where in the body it starts.
    pub offset: u64,
    /// Octets.
    pub length: usize,
}

/// One batch for the transport: `octets` with the `payload` references
/// spliced in, in order; and the bodies no reference will name again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transmit {
    /// The octets the engine built.
    pub octets: Bytes,
    /// Host payload to splice in, in order.
    pub payload: Vec<PayloadRef>,
    /// Host bodies no later reference will name: the host may drop them.
    pub released: Vec<u64>,
}

impl Transmit {
    /// Octets on the wire: the built ones plus the payload.
    pub fn len(&self) -> usize {
        self.octets.len() + self.payload.iter().map(|r| r.length).sum::<usize>()
    }

    /// Nothing to send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batch as one buffer, payload filled in by `fill(ref, dest)`:
    /// what a host without host bodies, or a test, writes.
    pub fn assemble(&self, mut fill: impl FnMut(&PayloadRef, &mut [u8])) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        let mut from = 0;
        for r in &self.payload {
            out.extend_from_slice(&self.octets[from..r.at]);
            let start = out.len();
            out.resize(start + r.length, 0);
            fill(r, &mut out[start..]);
            from = r.at;
        }
        out.extend_from_slice(&self.octets[from..]);
        out
    }
}

/// The references waiting in the connection's output, positioned within
/// its built octets, and the bodies finished in the engine whose release
/// waits for their last reference to be handed out.
#[derive(Debug, Default)]
pub(crate) struct PayloadQueue {
    refs: VecDeque<PayloadRef>,
    /// Octets the references stand for.
    len: usize,
    finished: Vec<u64>,
}

impl PayloadQueue {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.refs.is_empty() && self.finished.is_empty()
    }

    pub(crate) fn push(&mut self, r: PayloadRef) {
        self.len += r.length;
        self.refs.push_back(r);
    }

    /// The engine will queue nothing more of `body`.
    pub(crate) fn finish(&mut self, body: u64) {
        self.finished.push(body);
    }

    /// Drops the references placed after octet `at` (a frame that was
    /// taken back); what they named was finished or is being dropped.
    pub(crate) fn truncate(&mut self, at: usize) {
        while self.refs.back().is_some_and(|r| r.at > at) {
            if let Some(r) = self.refs.pop_back() {
                self.len -= r.length;
            }
        }
    }

    /// Where to cut `built` queued octets so the batch holds about `max`
    /// octets, references included: the octets to take, and how many
    /// references go with them. A reference is never split; one that
    /// would overrun the batch waits for the next, unless the batch would
    /// otherwise be empty.
    pub(crate) fn cut(&self, built: usize, max: usize) -> (usize, usize) {
        let mut total = 0;
        let mut from = 0;
        for (i, r) in self.refs.iter().enumerate() {
            let inline = r.at - from;
            if total + inline >= max {
                return (from + (max - total), i);
            }
            total += inline;
            if total > 0 && total + r.length > max {
                return (r.at, i);
            }
            total += r.length;
            from = r.at;
            if total >= max {
                return (r.at, i + 1);
            }
        }
        (from + (built - from).min(max - total), self.refs.len())
    }

    /// Takes the first `count` references (positions relative to the cut)
    /// and moves the rest back by the `taken` octets cut off before them;
    /// returns them with the finished bodies no remaining reference names.
    pub(crate) fn take(&mut self, taken: usize, count: usize) -> (Vec<PayloadRef>, Vec<u64>) {
        let out: Vec<PayloadRef> = self.refs.drain(..count).collect();
        self.len -= out.iter().map(|r| r.length).sum::<usize>();
        for r in &mut self.refs {
            r.at -= taken;
        }
        let refs = &self.refs;
        let (released, waiting) = self
            .finished
            .drain(..)
            .partition(|b| !refs.iter().any(|r| r.body == *b));
        self.finished = waiting;
        (out, released)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(at: usize, length: usize) -> PayloadRef {
        PayloadRef {
            at,
            body: 7,
            offset: 0,
            length,
        }
    }

    fn queue(refs: &[PayloadRef]) -> PayloadQueue {
        let mut q = PayloadQueue::default();
        for &x in refs {
            q.push(x);
        }
        q
    }

    #[test]
    fn cut_counts_payload_toward_the_batch() {
        // 9-octet headers, each followed by 100 octets of payload.
        let q = queue(&[r(9, 100), r(18, 100), r(27, 100)]);
        assert_eq!(q.cut(27, 1000), (27, 3));
        // 109 + 109 fit in 220, and two octets of the third header.
        assert_eq!(q.cut(27, 220), (20, 2));
        // 109 + 9 + 100 would overrun 200: the second reference waits.
        assert_eq!(q.cut(27, 200), (18, 1));
        // A cut inside built octets.
        assert_eq!(q.cut(27, 5), (5, 0));
        // A reference larger than the batch still goes when first.
        let q = queue(&[r(0, 500)]);
        assert_eq!(q.cut(0, 100), (0, 1));
        // Built octets after the last reference.
        let q = queue(&[r(9, 100)]);
        assert_eq!(q.cut(30, 1000), (30, 1));
        assert_eq!(q.cut(30, 115), (15, 1));
    }

    #[test]
    fn release_waits_for_the_last_reference() {
        let mut q = queue(&[r(9, 100), r(18, 100)]);
        q.finish(7);
        let (refs, released) = q.take(9, 1);
        assert_eq!(refs, vec![r(9, 100)]);
        assert!(released.is_empty());
        assert_eq!(q.len(), 100);
        let (refs, released) = q.take(9, 1);
        assert_eq!(refs, vec![r(9, 100)]);
        assert_eq!(released, vec![7]);
        assert!(q.is_empty());
    }

    #[test]
    fn assemble_splices_payload_in() {
        let t = Transmit {
            octets: Bytes::from_static(b"ab|cd|"),
            payload: vec![r(3, 2), r(6, 1)],
            released: vec![],
        };
        let out = t.assemble(|_, dest| dest.fill(b'x'));
        assert_eq!(out, b"ab|xxcd|x");
        assert_eq!(t.len(), 9);
    }
}

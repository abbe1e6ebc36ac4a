//! DATA payloads the host kept out of the input (`receive_held`).
//!
//! Bulk upload data need not cross into the engine: the host may leave
//! the payload of an unpadded DATA frame out of what it passes, saying
//! where it was. The engine still sees every frame header, so framing,
//! flow control, content-length and stream state are decided here as for
//! any frame; the octets stay with the host, and the event that delivers
//! them says where they sit in the host's read.

use crate::error::{ConnectionError, ErrorCode};
use std::collections::VecDeque;

/// Where a payload was left out: at `at` octets into the input as passed
/// (the position its DATA frame's header is followed by), `length` octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldSpan {
    /// Where the payload would have started in the input.
    pub at: u32,
    /// The payload's length.
    pub length: u32,
}

/// The held payloads of the input being parsed.
#[derive(Default)]
pub(super) struct HeldInput {
    /// Not yet reached, in input order: where each payload would start in
    /// the stream of octets received (counted as passed, without held
    /// payloads), its length, and its offset in the host's read.
    pending: VecDeque<(u64, u32, u32)>,
    /// This input's spans, for the offsets of payloads that were passed.
    spans: Vec<HeldSpan>,
}

/// Held spans that cannot be taken: the host's mistake, not the peer's.
pub(super) fn bad_span() -> ConnectionError {
    ConnectionError::new(
        ErrorCode::INTERNAL_ERROR,
        "held data does not match an unpadded DATA payload",
    )
}

impl HeldInput {
    /// Spans for the input that starts `start` octets into the received
    /// stream; `None` unless they are in order, inside the input and
    /// apart by at least a frame header.
    pub(super) fn begin(&mut self, start: u64, len: usize, spans: &[HeldSpan]) -> Option<()> {
        self.pending.clear();
        self.spans.clear();
        let mut before = 0u32;
        let mut next_free = 0u64;
        for s in spans {
            let at = u64::from(s.at);
            if at < next_free + 9 || at > len as u64 || s.length == 0 {
                return None;
            }
            next_free = at;
            let full_at = s.at.checked_add(before)?;
            self.pending.push_back((start + at, s.length, full_at));
            before = before.checked_add(s.length)?;
        }
        self.spans.extend_from_slice(spans);
        Some(())
    }

    /// Takes the span for a payload that starts at `pos` in the received
    /// stream, if one was held there: its length and offset in the host's
    /// read.
    pub(super) fn take(&mut self, pos: u64) -> Option<(u32, u32)> {
        match self.pending.front() {
            Some(&(p, length, full_at)) if p == pos => {
                self.pending.pop_front();
                Some((length, full_at))
            }
            _ => None,
        }
    }

    /// Whether a span lies before `pos` in the received stream: one that
    /// the frames passed by without meeting.
    pub(super) fn missed(&self, pos: u64) -> bool {
        self.pending.front().is_some_and(|&(p, _, _)| p < pos)
    }

    /// Spans not met by the end of their input.
    pub(super) fn left(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The offset in the host's read of what is `at` octets into the
    /// input as passed: later by every payload held before it.
    pub(super) fn full_offset(&self, at: usize) -> usize {
        let held: u64 = self
            .spans
            .iter()
            .take_while(|s| s.at as usize <= at)
            .map(|s| u64::from(s.length))
            .sum();
        at.saturating_add(usize::try_from(held).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(at: u32, length: u32) -> HeldSpan {
        HeldSpan { at, length }
    }

    #[test]
    fn spans_map_to_the_hosts_offsets() {
        let mut h = HeldInput::default();
        h.begin(100, 40, &[span(9, 1000), span(27, 500)]).unwrap();
        assert_eq!(h.take(109), Some((1000, 9)));
        assert!(!h.missed(118));
        assert_eq!(h.take(127), Some((500, 1027)));
        assert!(!h.left());
        assert_eq!(h.full_offset(5), 5);
        assert_eq!(h.full_offset(18), 1018);
        assert_eq!(h.full_offset(30), 1530);
    }

    #[test]
    fn spans_out_of_order_overlapping_or_outside_are_refused() {
        let mut h = HeldInput::default();
        assert!(h.begin(0, 40, &[span(27, 5), span(9, 5)]).is_none());
        assert!(
            h.begin(0, 40, &[span(9, 5), span(12, 5)]).is_none(),
            "no room for a header"
        );
        assert!(h.begin(0, 40, &[span(41, 5)]).is_none());
        assert!(h.begin(0, 40, &[span(3, 5)]).is_none());
        assert!(h.begin(0, 40, &[span(9, 0)]).is_none());
        assert!(h.begin(0, 40, &[span(9, u32::MAX), span(20, 1)]).is_none());
        assert!(h.begin(0, 40, &[]).is_some());
    }

    #[test]
    fn a_span_passed_by_is_missed() {
        let mut h = HeldInput::default();
        h.begin(0, 40, &[span(20, 5)]).unwrap();
        assert_eq!(h.take(9), None);
        assert!(!h.missed(20));
        assert!(h.missed(29));
        assert!(h.left());
    }
}

//! Received body data as the service gets it: the data a `drive` reports
//! for a stream becomes one chunk.
//!
//! A read of an upload holds several DATA frames. Handed over frame by
//! frame, each costs a send to the body's channel, a poll of the service's
//! body, a `consume` call into the engine for its credit, and (for an echo
//! or a proxy) a `write` or `write-payload` call; handed over as one chunk,
//! these are paid once per read. The octets are copied out of the read
//! buffer once either way.

use crate::bindings::{DataEvent, Event};
use std::collections::VecDeque;
use std::iter::Peekable;

/// The events of one `drive`, with the data of each stream in a run of
/// data events (of any streams) made one `data` event. Streams' data are
/// independent of each other, so only their order across streams changes
/// (a run's chunks come by stream id); any other event ends a run, so
/// everything else keeps its place relative to the data.
pub(crate) struct Received<'a, I: Iterator<Item = Event>> {
    events: Peekable<I>,
    /// The input of the `drive` call that reported the events.
    input: &'a [u8],
    /// The current run's events not yet joined, by stream (each stream's
    /// in their order): a stream's are next to each other, so a run of
    /// any length costs a sort and one pass, however many streams it has.
    run: VecDeque<Event>,
}

impl<'a, I: Iterator<Item = Event>> Received<'a, I> {
    pub(crate) fn new(events: I, input: &'a [u8]) -> Self {
        Received {
            events: events.peekable(),
            input,
            run: VecDeque::new(),
        }
    }

    /// The next stream's data in the current run, as one `data` event.
    fn next_of_run(&mut self) -> Option<anyhow::Result<Event>> {
        let (stream_id, _) = self.run.front().and_then(data_of)?;
        let (mut total, mut count) = (0, 0);
        for event in self.run.iter() {
            match data_of(event) {
                Some((id, _)) if id == stream_id => match octets_of(event, self.input) {
                    Ok(octets) => (total, count) = (total + octets.len(), count + 1),
                    Err(e) => {
                        self.run.clear();
                        return Some(Err(e));
                    }
                },
                _ => break,
            }
        }
        // A lone `data` event keeps its list: nothing to copy.
        if count == 1 && matches!(self.run.front(), Some(Event::Data(_))) {
            return self.run.pop_front().map(Ok);
        }
        let mut data = Vec::with_capacity(total);
        let mut end_stream = false;
        for event in self.run.drain(..count) {
            end_stream = data_of(&event).is_some_and(|(_, end)| end);
            // Checked in the pass above.
            data.extend_from_slice(octets_of(&event, self.input).unwrap_or_default());
        }
        Some(Ok(Event::Data(DataEvent {
            stream_id,
            data,
            end_stream,
        })))
    }
}

/// The octets of a data event: its own, or where it sits in `input`.
fn octets_of<'e>(event: &'e Event, input: &'e [u8]) -> anyhow::Result<&'e [u8]> {
    match event {
        Event::Data(d) => Ok(&d.data),
        Event::InputData(d) => {
            let (at, len) = (d.at as usize, d.length as usize);
            at.checked_add(len)
                .and_then(|end| input.get(at..end))
                .ok_or_else(|| anyhow::anyhow!("the engine placed data outside its input"))
        }
        _ => Ok(&[]),
    }
}

/// The stream and `end-stream` of a data event.
fn data_of(event: &Event) -> Option<(u32, bool)> {
    match event {
        Event::Data(d) => Some((d.stream_id, d.end_stream)),
        Event::InputData(d) => Some((d.stream_id, d.end_stream)),
        _ => None,
    }
}

impl<I: Iterator<Item = Event>> Iterator for Received<'_, I> {
    type Item = anyhow::Result<Event>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(chunk) = self.next_of_run() {
            return Some(chunk);
        }
        let first = self.events.next()?;
        if data_of(&first).is_none() {
            return Some(Ok(first));
        }
        self.run.clear();
        self.run.push_back(first);
        while self.events.peek().and_then(data_of).is_some() {
            self.run.extend(self.events.next());
        }
        // Stable: each stream's data stay in their order.
        self.run
            .make_contiguous()
            .sort_by_key(|e| data_of(e).map(|(id, _)| id));
        self.next_of_run()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::InputDataEvent;

    fn at(stream_id: u32, at: u32, length: u32, end_stream: bool) -> Event {
        Event::InputData(InputDataEvent {
            stream_id,
            at,
            length,
            end_stream,
        })
    }

    fn owned(stream_id: u32, data: &[u8], end_stream: bool) -> Event {
        Event::Data(DataEvent {
            stream_id,
            data: data.to_vec(),
            end_stream,
        })
    }

    fn chunks(events: Vec<Event>, input: &[u8]) -> Vec<(u32, Vec<u8>, bool)> {
        Received::new(events.into_iter(), input)
            .map(|e| match e.unwrap() {
                Event::Data(d) => (d.stream_id, d.data, d.end_stream),
                Event::Drain(id) => (id, b"drain".to_vec(), false),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_stream_s_data_in_one_drive_is_one_chunk() {
        let input = b"\0\0\0\0\0\0\0\0\0abc\0\0\0\0\0\0\0\0\0defg";
        let got = chunks(
            vec![
                owned(1, b"xy", false),
                at(1, 9, 3, false),
                at(1, 21, 4, true),
            ],
            input,
        );
        assert_eq!(got, vec![(1, b"xyabcdefg".to_vec(), true)]);
    }

    #[test]
    fn runs_are_split_by_stream_and_end_at_other_events() {
        let input = b"aabbccddeeffgg";
        let got = chunks(
            vec![
                at(1, 0, 2, false),
                at(3, 2, 2, false),
                at(1, 4, 2, false),
                at(3, 6, 2, true),
                at(1, 8, 2, false),
                Event::Drain(5),
                at(1, 10, 2, true),
                owned(7, b"zz", false),
                at(5, 12, 2, false),
            ],
            input,
        );
        assert_eq!(
            got,
            vec![
                (1, b"aaccee".to_vec(), false),
                (3, b"bbdd".to_vec(), true),
                (5, b"drain".to_vec(), false),
                (1, b"ff".to_vec(), true),
                (5, b"gg".to_vec(), false),
                (7, b"zz".to_vec(), false),
            ]
        );
    }

    /// A read of tiny frames over many streams (what a hostile peer can
    /// send) becomes one chunk per stream, in one pass.
    #[test]
    fn a_run_of_tiny_frames_over_many_streams() {
        let input: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let events = (0..20_000u32)
            .map(|i| at(1 + 2 * (i % 100), i, 1, false))
            .collect();
        let got = chunks(events, &input);
        assert_eq!(got.len(), 100);
        for (n, (id, data, end)) in got.into_iter().enumerate() {
            let n = n as u32;
            assert_eq!((id, end), (1 + 2 * n, false));
            let want: Vec<u8> = (0..200u32).map(|k| ((n + 100 * k) % 251) as u8).collect();
            assert_eq!(data, want, "stream {id}");
        }
    }

    #[test]
    fn data_outside_the_input_is_an_error_not_a_panic() {
        let events = vec![at(1, 0, 2, false), at(1, u32::MAX, 2, false)];
        let mut received = Received::new(events.into_iter(), b"abc");
        assert!(received.next().unwrap().is_err());
    }
}

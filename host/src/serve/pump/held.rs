//! Upload data kept out of the sandbox: the payloads of DATA frames stay
//! in the host's read buffer, and the engine gets the rest of each read
//! with spans saying where they were (`drive`'s `held`).
//!
//! Only frame boundaries are followed here (a 9-octet header gives each
//! frame's length); the engine still sees every header and decides
//! everything about the frame. A payload is held only when it is worth
//! it, unpadded, and whole in the read with its header: whatever this
//! scanner does not hold goes to the engine as it came.

use crate::bindings::HeldSpan;
use h2wasm_engine::wire::{FRAME_HEADER_LEN as HEADER, FrameHeader, PREFACE, flag, kind};
/// Smaller payloads go in with the rest: a span costs about what
/// copying a few hundred octets does.
const HOLD_MIN: usize = 1024;

/// Where the scan is in the byte stream a server connection reads.
pub(crate) enum Scanner {
    /// This many octets of the preface seen.
    Preface(usize),
    /// Between frames, with this much of the next header seen (kept here
    /// when a read ends inside it).
    Header([u8; HEADER], usize),
    /// Inside a frame, this much of its payload still to come.
    Payload(usize),
    /// Not following the stream (it did not start with the preface):
    /// everything goes to the engine.
    Off,
}

impl Scanner {
    /// For a server connection, which reads the client's preface first.
    pub(crate) fn server() -> Self {
        Scanner::Preface(0)
    }

    /// Splits `read`: the payloads it holds go in `held` (their places in
    /// the rest), and the rest in `rest`, unless nothing is held (then
    /// `read` itself is the input, and `rest` is left empty).
    pub(crate) fn split(&mut self, read: &[u8], rest: &mut Vec<u8>, held: &mut Vec<HeldSpan>) {
        rest.clear();
        held.clear();
        let mut at = 0;
        while at < read.len() {
            match self {
                Scanner::Off => break,
                Scanner::Preface(seen) => {
                    let n = (PREFACE.len() - *seen).min(read.len() - at);
                    if read[at..at + n] != PREFACE[*seen..*seen + n] {
                        *self = Scanner::Off;
                        break;
                    }
                    at += n;
                    *seen += n;
                    if *seen == PREFACE.len() {
                        *self = Scanner::Header([0; HEADER], 0);
                    }
                }
                Scanner::Payload(left) => {
                    let n = (*left).min(read.len() - at);
                    at += n;
                    *left -= n;
                    if *left == 0 {
                        *self = Scanner::Header([0; HEADER], 0);
                    }
                }
                Scanner::Header(buf, have) => {
                    let whole = *have == 0 && read.len() - at >= HEADER;
                    let n = (HEADER - *have).min(read.len() - at);
                    buf[*have..*have + n].copy_from_slice(&read[at..at + n]);
                    *have += n;
                    at += n;
                    if *have < HEADER {
                        break;
                    }
                    let Some(head) = FrameHeader::parse(&buf[..]) else {
                        break;
                    };
                    let length = head.length as usize;
                    let holdable = whole
                        && head.kind == kind::DATA
                        && !head.has(flag::PADDED)
                        && length >= HOLD_MIN
                        && read.len() - at >= length;
                    if holdable {
                        // Where it is in `read`, for now (rebased below).
                        held.push(HeldSpan {
                            // Reads are at most a few hundred KiB.
                            at: u32::try_from(at).unwrap_or(u32::MAX),
                            length: head.length,
                        });
                        at += length;
                        *self = Scanner::Header([0; HEADER], 0);
                    } else if length == 0 {
                        *self = Scanner::Header([0; HEADER], 0);
                    } else {
                        *self = Scanner::Payload(length);
                    }
                }
            }
        }
        if held.is_empty() {
            return;
        }
        let mut from = 0;
        for span in held.iter_mut() {
            let start = span.at as usize;
            rest.extend_from_slice(&read[from..start]);
            from = start + span.length as usize;
            span.at = u32::try_from(rest.len()).unwrap_or(u32::MAX);
        }
        rest.extend_from_slice(&read[from..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// A read as the engine gets it: the octets passed, and the spans.
    type Split = (Vec<u8>, Vec<(u32, u32)>);

    /// Splits `reads` in turn; a read that held nothing gives itself as
    /// the octets passed.
    fn scan(reads: &[&[u8]]) -> Vec<Split> {
        let mut s = Scanner::server();
        let (mut rest, mut held) = (Vec::new(), Vec::new());
        reads
            .iter()
            .map(|r| {
                s.split(r, &mut rest, &mut held);
                let spans = held.iter().map(|h| (h.at, h.length)).collect();
                (
                    if held.is_empty() {
                        r.to_vec()
                    } else {
                        rest.clone()
                    },
                    spans,
                )
            })
            .collect()
    }

    #[test]
    fn whole_unpadded_data_payloads_are_held_and_the_rest_passes() {
        let big = vec![7u8; 5000];
        let settings = frame(0x4, 0, 0, &[]);
        let headers = frame(0x1, 0x4, 1, b"hpack");
        let data = frame(kind::DATA, 0x1, 1, &big);
        let small = frame(kind::DATA, 0, 3, b"tiny");
        let padded = frame(
            kind::DATA,
            flag::PADDED,
            3,
            &[&[2u8][..], &big, &[0, 0]].concat(),
        );
        let read = [
            &PREFACE[..],
            &settings,
            &headers,
            &data,
            &small,
            &padded,
            &data,
        ]
        .concat();
        let got = scan(&[&read]);
        let (rest, spans) = &got[0];
        let want_rest = [
            PREFACE,
            &settings[..],
            &headers,
            &data[..HEADER],
            &small,
            &padded,
            &data[..HEADER],
        ]
        .concat();
        assert_eq!(rest, &want_rest);
        let first = PREFACE.len() + settings.len() + headers.len() + HEADER;
        let second = first + small.len() + padded.len() + HEADER;
        assert_eq!(spans, &vec![(first as u32, 5000), (second as u32, 5000)]);
    }

    #[test]
    fn frames_split_across_reads_pass_and_the_scan_keeps_its_place() {
        let big = vec![1u8; 3000];
        let data = frame(kind::DATA, 0, 1, &big);
        let stream = [&PREFACE[..], &frame(0x4, 0, 0, &[]), &data, &data, &data].concat();
        // Cut inside the second frame's header, then inside its payload.
        let cut1 = PREFACE.len() + 9 + data.len() + 4;
        let cut2 = cut1 + 1000;
        let got = scan(&[&stream[..cut1], &stream[cut1..cut2], &stream[cut2..]]);
        // First read: the first frame held; the rest (4 header octets) passes.
        assert_eq!(got[0].1, vec![((PREFACE.len() + 9 + 9) as u32, 3000)]);
        // Second: inside the second frame: nothing held.
        assert!(got[1].1.is_empty());
        // Third: the rest of the second frame passes, the third is held.
        let tail_of_second = data.len() - 4 - 1000;
        assert_eq!(got[2].1, vec![((tail_of_second + 9) as u32, 3000)]);
        assert_eq!(got[2].0.len(), tail_of_second + 9);
    }

    #[test]
    fn a_stream_without_the_preface_is_not_scanned() {
        let data = frame(kind::DATA, 0, 1, &[5u8; 4000]);
        let read = [b"GET / HTTP/1.1\r\n\r\n".as_slice(), &data].concat();
        let got = scan(&[&read, &data]);
        assert!(got[0].1.is_empty() && got[1].1.is_empty());
    }
}

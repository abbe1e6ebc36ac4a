//! Bodies the pump holds for the engine (`respond-with-payload`,
//! `write-payload`): files served over HTTP/2, and large chunks of
//! response bodies. The engine frames them (DATA headers, padding, flow
//! control) and hands back references; their octets go from the file or
//! buffer to the socket without entering the engine's memory and coming
//! out again.

use super::output::{Outgoing, Piece, SHARE_AT_LEAST};
use crate::bindings::{BodyChunk, Transmit};
use bytes::Bytes;
use std::collections::HashMap;
use std::fs::File;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;

/// Whole bodies at least this large go to the engine as references
/// (`respond-with-payload`); smaller ones go with prepared headers, copied
/// (a `drive`'s `responses`): a reference costs a map entry here and a
/// step in the engine, where a small body's copy across the boundary
/// costs less.
pub(crate) const MIN_CHUNK: usize = 16 * 1024;

/// Chunks of a streamed body at least this large go to the engine as
/// references; a smaller one is copied in (and its frame out again). With
/// writes going to the engine with `drive` (no call of their own), the
/// references pay from here: 16 KiB to 4 KiB took `bench/cpu --load
/// upload` from 754 to 682 µs per 1 MiB echoed at `-m 4` (every fourth
/// frame there is 16,383 octets), and from 717 to 669 µs at `--streams 1`.
pub(crate) const MIN_WRITE: usize = 4 * 1024;

/// What a body is.
enum Held {
    /// An open file and where the body starts in it.
    File(File, u64),
    Buffer(Bytes),
}

/// A connection's host bodies, by the id given to the engine. One per
/// stream answered with a file, and one per large chunk of a streamed
/// body not yet sent (bounded, with what the engine queues, by the
/// stream's high-water mark); each released when the engine says so.
#[derive(Default)]
pub(crate) struct HostBodies {
    held: HashMap<u64, Held>,
    next_id: u64,
}

impl HostBodies {
    pub(super) fn add_file(&mut self, file: File, start: u64) -> u64 {
        self.add(Held::File(file, start))
    }

    pub(super) fn add_buffer(&mut self, data: Bytes) -> u64 {
        self.add(Held::Buffer(data))
    }

    /// A chunk of a streamed body as the engine takes it: held here and
    /// framed by reference from `MIN_WRITE` up, copied in below.
    pub(super) fn chunk(&mut self, chunk: Bytes) -> BodyChunk {
        match chunk.len() < MIN_WRITE {
            true => BodyChunk::Octets(Vec::from(chunk)),
            false => {
                let len = chunk.len() as u64;
                BodyChunk::Payload((self.add_buffer(chunk), len))
            }
        }
    }

    fn add(&mut self, body: Held) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.held.insert(id, body);
        id
    }

    /// The body was never given to the engine after all.
    pub(super) fn remove(&mut self, id: u64) {
        self.held.remove(&id);
    }

    /// The output for `t`: its octets, with the referenced ranges read
    /// in between (files) or put in between (buffers); then the bodies
    /// it releases are let go. A file that cannot be read as far as
    /// promised fails the connection: the frame headers around that
    /// payload are already decided.
    pub(super) fn assemble(&mut self, t: Transmit) -> std::io::Result<Outgoing> {
        let out = if t.payload.is_empty() {
            Outgoing::flat(t.octets)
        } else {
            self.splice(&t)?
        };
        for id in t.released {
            self.held.remove(&id);
        }
        Ok(out)
    }

    /// One buffer for the batch's own octets, filled in place: octets and
    /// short buffer payload copied, file payload read straight into it
    /// (not zeroed first, which cost as much as a tenth of serving large
    /// files), one `preadv` for each run of references to consecutive
    /// ranges of one file (a body's DATA frames in a row), not a read per
    /// frame. Buffer payload is not copied: it is a piece of the output
    /// of its own.
    fn splice(&self, t: &Transmit) -> std::io::Result<Outgoing> {
        // Payload that goes into the buffer: all but long buffer payload.
        let inline: usize = t
            .payload
            .iter()
            .filter(|r| {
                (r.length as usize) < SHARE_AT_LEAST
                    || !matches!(self.held.get(&r.body), Some(Held::Buffer(_)))
            })
            .map(|r| r.length as usize)
            .sum();
        let total = t.octets.len() + inline;
        let mut out: Vec<u8> = Vec::with_capacity(total);
        let mut pieces = Vec::new();
        let mut piece_start = 0;
        let room = &mut out.spare_capacity_mut()[..total];
        let mut pos = 0;
        let mut from = 0;
        let mut run: Option<Run> = None;
        for r in &t.payload {
            let at = r.at as usize;
            let inline = t.octets.get(from..at).ok_or_else(bad_ref)?;
            write_into(&mut room[pos..pos + inline.len()], inline);
            pos += inline.len();
            from = at;
            let len = r.length as usize;
            match self.held.get(&r.body).ok_or_else(bad_ref)? {
                Held::File(file, start) => {
                    let offset = start + r.offset;
                    match &mut run {
                        Some((f, next, pieces))
                            if std::ptr::eq(*f, file)
                                && *next == offset
                                && pieces.len() < MAX_IOV =>
                        {
                            pieces.push((pos, len));
                            *next += len as u64;
                        }
                        _ => {
                            if let Some((f, end, pieces)) = run.take() {
                                read_run(f, end, &pieces, room)?;
                            }
                            run = Some((file, offset + len as u64, vec![(pos, len)]));
                        }
                    }
                }
                Held::Buffer(data) => {
                    let start = usize::try_from(r.offset).map_err(|_| bad_ref())?;
                    let end = start.checked_add(len).ok_or_else(bad_ref)?;
                    let src = data.get(start..end).ok_or_else(bad_ref)?;
                    if len >= SHARE_AT_LEAST {
                        pieces.push(Piece::Flat(piece_start, pos));
                        pieces.push(Piece::Shared(data.slice(start..end)));
                        piece_start = pos;
                        continue;
                    }
                    write_into(&mut room[pos..pos + len], src);
                }
            }
            pos += len;
        }
        if let Some((f, end, pieces)) = run.take() {
            read_run(f, end, &pieces, room)?;
        }
        let rest = t.octets.get(from..).ok_or_else(bad_ref)?;
        write_into(&mut room[pos..], rest);
        // SAFETY: every octet of `room` (the first `total` of the spare
        // capacity) was written above: the octets, the short buffers and the
        // file ranges tile it exactly (`pos` walked it piece by piece to
        // `total - rest.len()`), and a failed read returned early.
        unsafe { out.set_len(total) };
        if pieces.is_empty() {
            return Ok(Outgoing::flat(out));
        }
        pieces.push(Piece::Flat(piece_start, total));
        Outgoing::pieces(out, pieces)
    }
}

/// A run of file reads for one `preadv`: the file, where in it the run
/// ends, and the (offset in the batch, length) pieces it fills.
type Run<'a> = (&'a File, u64, Vec<(usize, usize)>);

/// Most pieces one `preadv` takes (Linux's IOV_MAX is 1024).
const MAX_IOV: usize = 512;

fn write_into(dest: &mut [MaybeUninit<u8>], src: &[u8]) {
    for (d, s) in dest.iter_mut().zip(src) {
        d.write(*s);
    }
}

/// Reads the file octets that end at `end` into `pieces` of `room`, in
/// order (they are consecutive in the file); a short read goes on where
/// it stopped.
fn read_run(
    file: &File,
    end: u64,
    pieces: &[(usize, usize)],
    room: &mut [MaybeUninit<u8>],
) -> std::io::Result<()> {
    let total: usize = pieces.iter().map(|p| p.1).sum();
    let mut offset = end - total as u64;
    let mut done = 0;
    while done < total {
        // The pieces from `done` on, the first one trimmed.
        let mut skip = done;
        let mut iov = Vec::with_capacity(pieces.len());
        for &(at, len) in pieces {
            if skip >= len {
                skip -= len;
                continue;
            }
            let piece = &mut room[at + skip..at + len];
            iov.push(libc::iovec {
                iov_base: piece.as_mut_ptr().cast(),
                iov_len: piece.len(),
            });
            skip = 0;
        }
        let at = libc::off_t::try_from(offset).map_err(|_| bad_ref())?;
        let count = libc::c_int::try_from(iov.len()).map_err(|_| bad_ref())?;
        // SAFETY: each iovec points into `room`, writable memory of the
        // caller's buffer, within its bounds, and they do not overlap;
        // preadv writes at most their total length.
        let n = unsafe { libc::preadv(file.as_raw_fd(), iov.as_ptr(), count, at) };
        match n {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n if n < 0 => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            n => {
                done += n as usize;
                offset += n as u64;
            }
        }
    }
    Ok(())
}

fn bad_ref() -> std::io::Error {
    std::io::Error::other("the engine referred to payload the host does not hold")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::PayloadRef;
    use std::io::Write;

    #[test]
    fn splices_file_ranges_between_octets_and_releases() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"0123456789").unwrap();
        let path = file.path();
        let mut bodies = HostBodies::default();
        let id = bodies.add_file(File::open(path).unwrap(), 2);
        let buf = bodies.add_buffer(Bytes::from_static(b"abc"));
        let t = Transmit {
            octets: b"[]<>".to_vec(),
            payload: vec![
                PayloadRef {
                    at: 1,
                    body: id,
                    offset: 0,
                    length: 3,
                },
                PayloadRef {
                    at: 3,
                    body: id,
                    offset: 3,
                    length: 2,
                },
                PayloadRef {
                    at: 4,
                    body: buf,
                    offset: 1,
                    length: 2,
                },
            ],
            released: vec![id, buf],
        };
        assert_eq!(bodies.assemble(t).unwrap().to_vec(), b"[234]<56>bc");
        assert!(bodies.held.is_empty());
        // Runs break where the file or the offsets change.
        let a = bodies.add_file(File::open(path).unwrap(), 0);
        let b = bodies.add_file(File::open(path).unwrap(), 5);
        let piece = |at, body, offset, length| PayloadRef {
            at,
            body,
            offset,
            length,
        };
        let t = Transmit {
            octets: b"||||".to_vec(),
            payload: vec![
                piece(0, a, 0, 2),
                piece(0, a, 2, 2),
                piece(1, b, 0, 3),
                piece(2, a, 8, 2),
                piece(3, a, 4, 1),
            ],
            released: vec![a, b],
        };
        assert_eq!(bodies.assemble(t).unwrap().to_vec(), b"0123|567|89|4|");
        // Long buffer payload is a piece of its own, between file payload.
        let long = Bytes::from(vec![b'x'; SHARE_AT_LEAST + 1]);
        let (f, l) = (
            bodies.add_file(File::open(path).unwrap(), 0),
            bodies.add_buffer(long.clone()),
        );
        let t = Transmit {
            octets: b"<><>".to_vec(),
            payload: vec![
                piece(1, f, 0, 2),
                piece(2, l, 1, SHARE_AT_LEAST as u32),
                piece(3, f, 2, 2),
            ],
            released: vec![f, l],
        };
        let out = bodies.assemble(t).unwrap();
        let mut expected = b"<01>".to_vec();
        expected.extend_from_slice(&long[1..]);
        expected.extend_from_slice(b"<23>");
        assert_eq!(out.to_vec(), expected);
        assert_eq!(out.len(), expected.len());
        // A reference to a body it does not hold is an error, not a panic.
        let t = Transmit {
            octets: vec![],
            payload: vec![PayloadRef {
                at: 0,
                body: id,
                offset: 0,
                length: 1,
            }],
            released: vec![],
        };
        assert!(bodies.assemble(t).is_err());
        // So is a range past the end of the file or buffer.
        let file = bodies.add_file(File::open(path).unwrap(), 8);
        let buf = bodies.add_buffer(Bytes::from_static(b"abc"));
        for (body, length) in [(file, 5), (buf, 4)] {
            let t = Transmit {
                octets: vec![],
                payload: vec![PayloadRef {
                    at: 0,
                    body,
                    offset: 0,
                    length,
                }],
                released: vec![],
            };
            assert!(bodies.assemble(t).is_err());
        }
    }
}

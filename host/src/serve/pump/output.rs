//! Output on its way to the socket: the octets of a batch (the engine's
//! frames, with file payload read in between them) and the host buffers
//! the engine framed, written where they belong with vectored writes.
//! A buffer's octets are copied once, by the kernel, not first into the
//! batch and then again to the socket.

use bytes::Bytes;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::Poll;
use tokio::io::AsyncWrite;

/// Buffer payload shorter than this is copied into the batch: an iovec
/// of its own costs more than the copy.
pub(crate) const SHARE_AT_LEAST: usize = 1024;

/// Most pieces one vectored write takes.
const MAX_SLICES: usize = 64;

/// One batch of output and how far writing it has got.
#[derive(Default)]
pub(crate) struct Outgoing {
    flat: Vec<u8>,
    /// The pieces in order; empty means `flat` whole.
    pieces: Vec<Piece>,
    /// The piece being written, and how much of it is.
    piece: usize,
    offset: usize,
    len: usize,
    /// Octets written so far.
    written: usize,
}

/// A piece of output: a range of the flat octets, or a host buffer.
pub(crate) enum Piece {
    Flat(usize, usize),
    Shared(Bytes),
}

impl Outgoing {
    /// `flat` whole.
    pub(super) fn flat(flat: Vec<u8>) -> Outgoing {
        Outgoing {
            len: flat.len(),
            flat,
            ..Outgoing::default()
        }
    }

    /// `pieces` of `flat` and buffers, in order. Each `Flat` range lies
    /// within `flat` (checked: a bad range is an error, not a panic).
    pub(super) fn pieces(flat: Vec<u8>, pieces: Vec<Piece>) -> std::io::Result<Outgoing> {
        let mut len = 0;
        for p in &pieces {
            len += match p {
                Piece::Flat(a, b) if a <= b && *b <= flat.len() => b - a,
                Piece::Flat(..) => return Err(std::io::Error::other("output range out of bounds")),
                Piece::Shared(b) => b.len(),
            };
        }
        let mut out = Outgoing {
            flat,
            pieces,
            len,
            ..Outgoing::default()
        };
        out.advance(0);
        Ok(out)
    }

    /// Octets in the batch, written or not.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Octets not written yet.
    pub(super) fn unwritten(&self) -> usize {
        self.len - self.written
    }

    /// `more` to go after what is left of this batch, in the same writes:
    /// the SETTINGS acknowledgement a request's turn gives goes out with
    /// the response the same turn gave, not in a write (and a wake-up of
    /// the peer) of its own. Nothing is copied: `more`'s octets become
    /// shared pieces.
    pub(super) fn append(&mut self, more: Outgoing) {
        if self.is_empty() {
            *self = more;
            return;
        }
        if self.pieces.is_empty() {
            // Piece 0 stays what it was: the octets whole.
            self.pieces.push(Piece::Flat(0, self.flat.len()));
        }
        let Outgoing {
            flat, pieces, len, ..
        } = more;
        let flat = Bytes::from(flat);
        if pieces.is_empty() {
            self.pieces.push(Piece::Shared(flat));
        } else {
            self.pieces.extend(pieces.into_iter().map(|p| match p {
                Piece::Flat(a, b) => Piece::Shared(flat.slice(a..b)),
                shared => shared,
            }));
        }
        self.len += len;
    }

    /// Nothing (more) to write.
    pub(super) fn is_empty(&self) -> bool {
        self.piece >= self.count()
    }

    /// Everything unwritten, in one buffer.
    #[cfg(test)]
    pub(super) fn to_vec(&self) -> Vec<u8> {
        let mut all = Vec::new();
        let mut offset = self.offset;
        for i in self.piece..self.count() {
            all.extend_from_slice(&self.piece(i)[offset..]);
            offset = 0;
        }
        all
    }

    fn count(&self) -> usize {
        match self.pieces.is_empty() {
            true => usize::from(!self.flat.is_empty()),
            false => self.pieces.len(),
        }
    }

    fn piece(&self, i: usize) -> &[u8] {
        match self.pieces.get(i) {
            None => &self.flat,
            Some(Piece::Flat(a, b)) => &self.flat[*a..*b],
            Some(Piece::Shared(b)) => b,
        }
    }

    /// The unwritten octets, at most `limit` of them, as slices.
    fn slices<'a>(&'a self, limit: usize, into: &mut [IoSlice<'a>; MAX_SLICES]) -> usize {
        let (mut n, mut total) = (0, 0);
        let mut offset = self.offset;
        for i in self.piece..self.count() {
            if n == MAX_SLICES || total >= limit {
                break;
            }
            let piece = &self.piece(i)[offset..];
            offset = 0;
            let take = piece.len().min(limit - total);
            if take > 0 {
                into[n] = IoSlice::new(&piece[..take]);
                n += 1;
                total += take;
            }
        }
        n
    }

    /// `n` more octets were written.
    fn advance(&mut self, mut n: usize) {
        // A writer never reports more than it was handed.
        self.written = (self.written + n).min(self.len);
        while n > 0 && !self.is_empty() {
            let left = self.piece(self.piece).len() - self.offset;
            if n < left {
                self.offset += n;
                return;
            }
            n -= left;
            self.piece += 1;
            self.offset = 0;
        }
        // Skip empty pieces, so that `is_empty` holds when all is written.
        while !self.is_empty() && self.piece(self.piece).len() == self.offset {
            self.piece += 1;
            self.offset = 0;
        }
    }
}

/// Writes what is left of `out` and flushes, at most `chunk` octets per
/// write. Progress is kept in `out`, so the future can be dropped
/// (another branch of a `select!` won) and made again without losing or
/// repeating a byte. `stalled` is set when the transport could not take
/// everything at once.
pub(crate) async fn write_out<W: AsyncWrite + Unpin>(
    wr: &mut W,
    out: &mut Outgoing,
    stalled: &mut bool,
    chunk: usize,
) -> std::io::Result<()> {
    std::future::poll_fn(|cx| {
        while !out.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let n = out.slices(chunk, &mut slices);
            let written = Pin::new(&mut *wr).poll_write_vectored(cx, &slices[..n]);
            match written {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => out.advance(n),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    *stalled = true;
                    return Poll::Pending;
                }
            }
        }
        let flushed = Pin::new(&mut *wr).poll_flush(cx);
        if flushed.is_pending() {
            *stalled = true;
        }
        flushed
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Context;

    /// Records every write it is handed, taking at most `most` octets of
    /// each (a socket with little room).
    struct Writes {
        seen: Vec<Vec<u8>>,
        most: usize,
        vectored: bool,
    }

    impl Writes {
        fn new(most: usize, vectored: bool) -> Writes {
            Writes {
                seen: Vec::new(),
                most,
                vectored,
            }
        }
        fn all(&self) -> Vec<u8> {
            self.seen.concat()
        }
        fn sizes(&self) -> Vec<usize> {
            self.seen.iter().map(Vec::len).collect()
        }
    }

    impl AsyncWrite for Writes {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let n = buf.len().min(self.most);
            self.seen.push(buf[..n].to_vec());
            Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<std::io::Result<usize>> {
            if !self.vectored {
                let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
                return self.poll_write(cx, first);
            }
            let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            self.poll_write(cx, &all)
        }
        fn is_write_vectored(&self) -> bool {
            self.vectored
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn sample() -> (Outgoing, Vec<u8>) {
        let flat = b"<head1><head2><tail>".to_vec();
        let pieces = vec![
            Piece::Flat(0, 7),
            Piece::Shared(Bytes::from_static(b"first body")),
            Piece::Flat(7, 14),
            Piece::Shared(Bytes::new()),
            Piece::Shared(Bytes::from_static(b"second")),
            Piece::Flat(14, 20),
        ];
        let expected = b"<head1>first body<head2>second<tail>".to_vec();
        (Outgoing::pieces(flat, pieces).unwrap(), expected)
    }

    #[tokio::test]
    async fn pieces_go_out_in_order_whatever_each_write_takes() {
        for most in [1, 3, 7, 10, 1000] {
            for vectored in [true, false] {
                let (mut out, expected) = sample();
                assert_eq!(out.len(), expected.len());
                let mut w = Writes::new(most, vectored);
                write_out(&mut w, &mut out, &mut false, usize::MAX)
                    .await
                    .unwrap();
                assert_eq!(w.all(), expected, "most {most}, vectored {vectored}");
                assert!(out.is_empty());
            }
        }
    }

    #[tokio::test]
    async fn cleartext_output_goes_out_in_writes_of_at_most_a_chunk() {
        let (mut out, expected) = sample();
        let mut w = Writes::new(usize::MAX, true);
        write_out(&mut w, &mut out, &mut false, 8).await.unwrap();
        assert_eq!(w.sizes(), [8, 8, 8, 8, 4]);
        assert_eq!(w.all(), expected);
        let mut out = Outgoing::flat(vec![7; 100]);
        let mut w = Writes::new(usize::MAX, true);
        write_out(&mut w, &mut out, &mut false, usize::MAX)
            .await
            .unwrap();
        assert_eq!(w.sizes(), [100], "TLS output is handed over whole");
    }

    #[tokio::test]
    async fn appended_output_follows_what_is_left_whatever_was_written() {
        for took in [0, 3, 10] {
            let ack = (Outgoing::flat(b"<ack>".to_vec()), b"<ack>".to_vec());
            for (more, more_octets) in [ack, sample()] {
                let mut out = Outgoing::flat(b"<settings>".to_vec());
                out.advance(took);
                out.append(more);
                assert_eq!(out.unwritten(), 10 - took + more_octets.len());
                let mut w = Writes::new(3, true);
                write_out(&mut w, &mut out, &mut false, usize::MAX)
                    .await
                    .unwrap();
                assert_eq!(w.all(), [&b"<settings>"[took..], &more_octets].concat());
                assert_eq!(out.unwritten(), 0);
            }
        }
        // Pieces after pieces: the ranges of the octets appended move with
        // them.
        let (mut out, octets) = sample();
        out.advance(9);
        out.append(sample().0);
        let mut w = Writes::new(5, false);
        write_out(&mut w, &mut out, &mut false, usize::MAX)
            .await
            .unwrap();
        assert_eq!(w.all(), [&octets[9..], &octets].concat());
    }

    #[test]
    fn a_range_outside_the_octets_is_an_error() {
        for bad in [Piece::Flat(0, 5), Piece::Flat(3, 2)] {
            assert!(Outgoing::pieces(vec![0; 4], vec![bad]).is_err());
        }
        assert!(Outgoing::flat(Vec::new()).is_empty());
        let only_empty = Outgoing::pieces(Vec::new(), vec![Piece::Shared(Bytes::new())]).unwrap();
        assert_eq!(only_empty.len(), 0);
        assert!(only_empty.is_empty());
    }
}

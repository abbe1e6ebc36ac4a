//! The byte encoding of a hibernated connection (see
//! `Connection::hibernate`): little-endian integers and length-prefixed
//! byte strings behind a version tag. Reading never panics: anything
//! truncated, oversized or left over is [`Corrupt`].

/// Bumped whenever the layout changes: a snapshot from another engine
/// build is refused rather than misread.
pub(crate) const VERSION: u32 = 3;

/// The snapshot could not be read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Corrupt;

#[derive(Default)]
pub(crate) struct Writer(Vec<u8>);

impl Writer {
    pub(crate) fn new() -> Self {
        let mut w = Writer(Vec::with_capacity(256));
        w.u32(VERSION);
        w
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.0
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    pub(crate) fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn opt_u32(&mut self, v: Option<u32>) {
        self.bool(v.is_some());
        self.u32(v.unwrap_or(0));
    }

    pub(crate) fn opt_u64(&mut self, v: Option<u64>) {
        self.bool(v.is_some());
        self.u64(v.unwrap_or(0));
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(b);
    }

    /// A count of items that follow.
    pub(crate) fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
}

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Checks the version tag.
    pub(crate) fn new(buf: &'a [u8]) -> Result<Self, Corrupt> {
        let mut r = Reader { buf };
        if r.u32()? != VERSION {
            return Err(Corrupt);
        }
        Ok(r)
    }

    /// Everything was read.
    pub(crate) fn finish(self) -> Result<(), Corrupt> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Corrupt)
        }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], Corrupt> {
        let (head, rest) = self.buf.split_first_chunk::<N>().ok_or(Corrupt)?;
        self.buf = rest;
        Ok(*head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Corrupt> {
        Ok(self.take::<1>()?[0])
    }

    pub(crate) fn bool(&mut self) -> Result<bool, Corrupt> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Corrupt),
        }
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Corrupt> {
        Ok(u16::from_le_bytes(self.take()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Corrupt> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Corrupt> {
        Ok(u64::from_le_bytes(self.take()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, Corrupt> {
        Ok(i64::from_le_bytes(self.take()?))
    }

    pub(crate) fn opt_u32(&mut self) -> Result<Option<u32>, Corrupt> {
        let some = self.bool()?;
        let v = self.u32()?;
        Ok(some.then_some(v))
    }

    pub(crate) fn opt_u64(&mut self) -> Result<Option<u64>, Corrupt> {
        let some = self.bool()?;
        let v = self.u64()?;
        Ok(some.then_some(v))
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], Corrupt> {
        let n = usize::try_from(self.u32()?).map_err(|_| Corrupt)?;
        if n > self.buf.len() {
            return Err(Corrupt);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// A count of items that follow, each at least `min_item` octets: a
    /// count the rest of the buffer cannot hold is refused before anything
    /// is allocated for it.
    pub(crate) fn len(&mut self, min_item: usize) -> Result<usize, Corrupt> {
        let n = usize::try_from(self.u32()?).map_err(|_| Corrupt)?;
        if n.saturating_mul(min_item.max(1)) > self.buf.len() {
            return Err(Corrupt);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests;

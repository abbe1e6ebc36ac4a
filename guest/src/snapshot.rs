//! The byte encoding of a hibernated connection (see
//! `Connection::hibernate`): integers as LEB128 varints (most values a
//! hibernated connection keeps are small: a counter, a window, a setting
//! take one to three octets where fixed widths took four or eight, and the
//! snapshot is held by every idle connection), signed ones zigzagged, and
//! length-prefixed byte strings, behind a version tag. Reading never
//! panics: anything truncated, oversized, overlong or left over is
//! [`Corrupt`].

/// Bumped whenever the layout changes: a snapshot from another engine
/// build is refused rather than misread.
pub(crate) const VERSION: u32 = 4;

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

    /// An unsigned integer, seven bits per octet, low bits first.
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.varint(v.into());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.varint(v.into());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.varint(v);
    }

    pub(crate) fn i64(&mut self, v: i64) {
        // Zigzag: small magnitudes of either sign stay short.
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    pub(crate) fn opt_u32(&mut self, v: Option<u32>) {
        self.bool(v.is_some());
        if let Some(v) = v {
            self.u32(v);
        }
    }

    pub(crate) fn opt_u64(&mut self, v: Option<u64>) {
        self.bool(v.is_some());
        if let Some(v) = v {
            self.u64(v);
        }
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

    /// A varint: at most ten octets, and none past 64 bits.
    fn varint(&mut self) -> Result<u64, Corrupt> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let octet = self.u8()?;
            let bits = u64::from(octet & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(Corrupt);
            }
            v |= bits << shift;
            if octet & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Corrupt)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Corrupt> {
        u16::try_from(self.varint()?).map_err(|_| Corrupt)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Corrupt> {
        u32::try_from(self.varint()?).map_err(|_| Corrupt)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Corrupt> {
        self.varint()
    }

    pub(crate) fn i64(&mut self) -> Result<i64, Corrupt> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    pub(crate) fn opt_u32(&mut self) -> Result<Option<u32>, Corrupt> {
        match self.bool()? {
            true => self.u32().map(Some),
            false => Ok(None),
        }
    }

    pub(crate) fn opt_u64(&mut self) -> Result<Option<u64>, Corrupt> {
        match self.bool()? {
            true => self.u64().map(Some),
            false => Ok(None),
        }
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

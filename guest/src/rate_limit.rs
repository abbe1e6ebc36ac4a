//! A token bucket on the engine's clock (nanoseconds passed in): `burst`
//! tokens at most, refilled at `rate` per second. nghttp2 guards incoming
//! RST_STREAM this way (Node's `streamResetBurst`/`streamResetRate`), the
//! defence against "rapid reset" (CVE-2023-44487).

use crate::snapshot::{Corrupt, Reader, Writer};

const NS_PER_SEC: u64 = 1_000_000_000;

#[derive(Clone, Debug)]
pub(crate) struct TokenBucket {
    /// Tokens scaled by 10^9, so refills stay exact in integers.
    credit: u64,
    cap: u64,
    rate: u64,
    last: u64,
}

impl TokenBucket {
    /// A full bucket. `burst` 0 disables the limit.
    pub(crate) fn new(burst: u32, rate: u32, now: u64) -> Self {
        let cap = u64::from(burst).saturating_mul(NS_PER_SEC);
        TokenBucket {
            credit: cap,
            cap,
            rate: u64::from(rate),
            last: now,
        }
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u64(self.credit);
        w.u64(self.last);
    }

    /// The bucket as `write` left it, for the same burst and rate.
    pub(crate) fn read(r: &mut Reader<'_>, burst: u32, rate: u32) -> Result<Self, Corrupt> {
        let mut b = TokenBucket::new(burst, rate, 0);
        b.credit = r.u64()?.min(b.cap);
        b.last = r.u64()?;
        Ok(b)
    }

    /// Takes one token; false when none is left.
    pub(crate) fn take(&mut self, now: u64) -> bool {
        if self.cap == 0 {
            return true;
        }
        let elapsed = now.saturating_sub(self.last);
        self.last = self.last.max(now);
        self.credit = self
            .credit
            .saturating_add(elapsed.saturating_mul(self.rate))
            .min(self.cap);
        match self.credit.checked_sub(NS_PER_SEC) {
            Some(left) => {
                self.credit = left;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests;

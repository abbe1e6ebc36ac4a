//! What a peer may cost us before it is cut off (nghttp2's and Node's
//! protections): invalid frames, refused streams, rapid resets, and the
//! host's request to refuse new streams while it is short of memory.

use crate::error::{ConnectionError, ErrorCode};
use crate::options::Options;
use crate::rate_limit::TokenBucket;
use crate::snapshot::{Corrupt, Reader, Writer};

pub(super) struct Protections {
    /// Stream errors the peer caused (Node's `maxSessionInvalidFrames`).
    invalid_frames: u32,
    max_invalid_frames: u32,
    /// Streams refused in a row (Node's `maxSessionRejectedStreams`).
    rejected_streams: u32,
    max_rejected_streams: u32,
    /// Server: RST_STREAM frames the client may still send (rapid reset).
    reset_bucket: TokenBucket,
    /// The host asked us to refuse new peer streams (it is short of memory).
    pub(super) refusing_streams: bool,
    /// `session_memory` as counted in this `receive` call (see
    /// `Connection::session_memory_exceeded`).
    pub(super) memory_in_turn: Option<usize>,
}

impl Protections {
    pub(super) fn new(opts: &Options, now: u64) -> Self {
        Protections {
            invalid_frames: 0,
            max_invalid_frames: opts.max_session_invalid_frames,
            rejected_streams: 0,
            max_rejected_streams: opts.max_session_rejected_streams,
            reset_bucket: TokenBucket::new(opts.stream_reset_burst, opts.stream_reset_rate, now),
            refusing_streams: false,
            memory_in_turn: None,
        }
    }

    /// A strike for a stream error the peer caused; past the limit, the
    /// connection ends.
    pub(super) fn invalid_frame(&mut self) -> Result<(), ConnectionError> {
        self.invalid_frames = self.invalid_frames.saturating_add(1);
        if self.invalid_frames > self.max_invalid_frames {
            return Err(calm("too many invalid frames"));
        }
        Ok(())
    }

    /// A stream we had to refuse; a peer that keeps opening streams we
    /// must refuse is ended.
    pub(super) fn rejected_stream(&mut self) -> Result<(), ConnectionError> {
        self.rejected_streams = self.rejected_streams.saturating_add(1);
        if self.rejected_streams > self.max_rejected_streams {
            return Err(calm("too many rejected streams"));
        }
        Ok(())
    }

    /// A stream accepted: as Node does, refusals count only in a row.
    pub(super) fn accepted_stream(&mut self) {
        self.rejected_streams = 0;
    }

    /// The client reset one of its open streams at `now`: each may have
    /// cost us work to start, so resetting faster than the limit allows
    /// is an attack.
    pub(super) fn peer_reset(&mut self, now: u64) -> Result<(), ConnectionError> {
        if !self.reset_bucket.take(now) {
            return Err(calm("too many stream resets"));
        }
        Ok(())
    }

    pub(super) fn write(&self, w: &mut Writer) {
        w.u32(self.invalid_frames);
        w.u32(self.rejected_streams);
        self.reset_bucket.write(w);
    }

    pub(super) fn read(r: &mut Reader<'_>, opts: &Options) -> Result<Self, Corrupt> {
        let invalid_frames = r.u32()?;
        let rejected_streams = r.u32()?;
        let (burst, rate) = (opts.stream_reset_burst, opts.stream_reset_rate);
        Ok(Protections {
            invalid_frames,
            rejected_streams,
            reset_bucket: TokenBucket::read(r, burst, rate)?,
            ..Protections::new(opts, 0)
        })
    }
}

fn calm(reason: &'static str) -> ConnectionError {
    ConnectionError::new(ErrorCode::ENHANCE_YOUR_CALM, reason)
}

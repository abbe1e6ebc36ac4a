//! The send path: header blocks (HPACK + HEADERS/CONTINUATION split),
//! and the DATA scheduler that fills `poll_transmit` within flow control.

use super::{Connection, PreparedHeaders};
use crate::error::ErrorCode;
use crate::events::Event;
use crate::frame::{Continuation, Data, HeadersStart, PrioritySpec, PushPromise, padding};
use crate::headers::HeaderField;
use crate::options::PaddingStrategy;
use crate::stream::state::{Event as StateEvent, FrameKind};
use crate::transmit::Transmit;
use bytes::BytesMut;

/// What a batch may run past its size: one DATA frame at the usual size,
/// with its header and padding.
const MAX_FRAME_HEADROOM: usize = 16 * 1024 + 9 + 256;

/// Octets of file bodies read ahead of sending, across a connection's
/// streams (each read is at least the frame being sent).
const CONNECTION_READ_AHEAD: usize = 32 * 1024;

/// How a header block starts on the wire.
pub(super) enum BlockFrame {
    Headers {
        end_stream: bool,
        priority: Option<PrioritySpec>,
    },
    /// On the associated stream, promising `promised_id` (§6.6).
    PushPromise { promised_id: u32 },
}

impl Connection {
    /// Returns about `max` octets to write to the transport (host payload
    /// references count by the octets they stand for), or `None` when
    /// there is nothing to send or release. Control frames and headers go
    /// first; the rest is filled with DATA, round-robin across ready
    /// streams.
    pub fn poll_transmit(&mut self, max: usize) -> Option<Transmit> {
        let max = max.max(1);
        if self.pending_output() < max && self.phase != super::Phase::Closed {
            if !self.scheduler.ready.is_empty() && self.out.capacity() < max {
                // DATA is coming: room for the batch at once, not by
                // doubling (each doubling copies what is there).
                self.out.reserve(max + MAX_FRAME_HEADROOM - self.out.len());
            }
            self.fill_data(max);
        }
        if self.out.is_empty() && self.payload.is_empty() {
            return None;
        }
        let (n, count) = self.payload.cut(self.out.len(), max);
        // Taking everything hands over the buffer itself (no copy, and
        // the engine keeps no allocation between batches).
        let octets = if n == self.out.len() {
            std::mem::take(&mut self.out)
        } else {
            let chunk = self.out.split_to(n);
            // The little that ran past goes into a buffer of its own, so
            // the batch's buffer leaves with the batch.
            self.out = BytesMut::from(&self.out[..]);
            chunk
        };
        let (payload, released) = self.payload.take(n, count);
        let t = Transmit {
            octets: octets.freeze(),
            payload,
            released,
        };
        self.metrics.bytes_written += t.len() as u64;
        Some(t)
    }

    /// Octets queued for the transport but not yet taken by `poll_transmit`.
    pub fn outbound_queue_size(&self) -> usize {
        self.pending_output()
    }

    /// Built octets plus the host payload referenced among them.
    pub(super) fn pending_output(&self) -> usize {
        self.out.len() + self.payload.len()
    }

    /// Streams waiting in the send scheduler's list.
    pub fn scheduled_streams(&self) -> usize {
        self.scheduler.ready.len()
    }

    /// Streams open (or reserved, or pending) on this connection.
    pub fn open_streams(&self) -> usize {
        self.streams.live.len()
    }

    /// HPACK-encodes `fields` and writes HEADERS (or PUSH_PROMISE) plus
    /// CONTINUATIONs. Encoding happens at the moment the block enters the
    /// output, so encoder order is wire order.
    pub(super) fn write_header_block(
        &mut self,
        stream_id: u32,
        start: BlockFrame,
        fields: &[HeaderField],
    ) {
        let mut block = std::mem::take(&mut self.hpack.buf);
        block.clear();
        self.hpack.encoder.encode(fields, &mut block);
        self.frame_block(stream_id, start, &block);
        self.hpack.buf = block;
    }

    /// `write_header_block` for prepared headers: their encoded block is
    /// reused while the HPACK table is unchanged (`encode_prepared`).
    pub(super) fn write_prepared_block(
        &mut self,
        stream_id: u32,
        start: BlockFrame,
        prepared: &PreparedHeaders,
    ) {
        let mut scratch = std::mem::take(&mut self.hpack.buf);
        scratch.clear();
        // Framed from the cached block itself when there is one: in wasm
        // each copy is a call out to the host.
        let Connection {
            hpack,
            out,
            metrics,
            settings,
            opts,
            ..
        } = self;
        let block = hpack
            .encoder
            .encode_prepared(prepared.id(), prepared.fields(), &mut scratch);
        let framing = Framing {
            frame_max: settings.remote.max_frame_size as usize,
            padding: opts.padding_strategy,
        };
        metrics.frames_sent += framing.write(out, stream_id, start, block);
        self.hpack.buf = scratch;
    }

    /// Writes an encoded block as HEADERS (or PUSH_PROMISE) plus
    /// CONTINUATIONs within the peer's frame size.
    fn frame_block(&mut self, stream_id: u32, start: BlockFrame, block: &[u8]) {
        let framing = Framing {
            frame_max: self.settings.remote.max_frame_size as usize,
            padding: self.opts.padding_strategy,
        };
        self.metrics.frames_sent += framing.write(&mut self.out, stream_id, start, block);
    }

    /// Moves DATA (and END_STREAM, trailers, want-trailers) from ready
    /// streams into the output until `max` octets are queued or nothing more
    /// can go.
    fn fill_data(&mut self, max: usize) {
        if self.scheduler.by_urgency {
            return self.fill_data_by_urgency(max);
        }
        if self.scheduler.tree.used() {
            return self.fill_data_by_priority(max);
        }
        loop {
            let mut progressed = false;
            let round = self.scheduler.ready.len();
            for _ in 0..round {
                if self.pending_output() >= max {
                    return;
                }
                let Some(id) = self.scheduler.ready.pop_front() else {
                    break;
                };
                // A stream that could not move (flow control, waiting for
                // trailers) leaves the list until a WINDOW_UPDATE or a
                // command schedules it again.
                if self.send_step(id, max) {
                    progressed = true;
                    self.schedule(id);
                }
            }
            if !progressed || self.scheduler.ready.is_empty() {
                return;
            }
        }
    }

    /// `fill_data` once priorities were signalled: a stream goes only when
    /// none of its ancestors can (RFC 7540 §5.3.1), and among those that
    /// may, the one with the least data sent per unit of weight (stride
    /// scheduling) — so siblings share in proportion to their weights.
    fn fill_data_by_priority(&mut self, max: usize) {
        // Streams that closed while listed (a reset, say) leave the list.
        let streams = &self.streams.live;
        self.scheduler.ready.retain(|id| streams.contains_key(id));
        while self.pending_output() < max {
            let mut best: Option<(u64, u32)> = None;
            for &id in &self.scheduler.ready {
                let Some(s) = self.streams.live.get(&id) else {
                    continue;
                };
                if self
                    .scheduler
                    .tree
                    .ancestors(id)
                    .any(|a| self.can_progress(a))
                {
                    continue;
                }
                if best.is_none_or(|b| (s.pass, id) < b) {
                    best = Some((s.pass, id));
                }
            }
            let Some((pass, id)) = best else {
                return;
            };
            self.scheduler.ready.retain(|&r| r != id);
            let before = self.pending_output();
            if !self.send_step(id, max) {
                continue;
            }
            let sent = (self.pending_output() - before) as u64;
            let weight = u64::from(self.scheduler.tree.weight(id));
            self.scheduler.vtime = pass;
            if let Some(s) = self.streams.live.get_mut(&id) {
                s.pass = pass.saturating_add((sent + 1) * 256 / weight);
            }
            self.schedule(id);
        }
    }

    /// `fill_data` once RFC 9218 priorities were signalled (§10): the
    /// most urgent streams that can send go first; among those, a
    /// non-incremental response goes whole before the next (lowest stream
    /// id first), and incremental ones share the connection in turns
    /// (the least sent so far goes next), after the non-incremental.
    fn fill_data_by_urgency(&mut self, max: usize) {
        let streams = &self.streams.live;
        self.scheduler.ready.retain(|id| streams.contains_key(id));
        while self.pending_output() < max {
            let best = self
                .scheduler
                .ready
                .iter()
                .filter_map(|&id| {
                    let s = self.streams.live.get(&id)?;
                    let order = if s.urgency.incremental {
                        s.pass
                    } else {
                        u64::from(id)
                    };
                    Some(((s.urgency.urgency, s.urgency.incremental, order), id))
                })
                .min();
            let Some(((_, incremental, pass), id)) = best else {
                return;
            };
            self.scheduler.ready.retain(|&r| r != id);
            let before = self.pending_output();
            if !self.send_step(id, max) {
                continue;
            }
            if incremental {
                let sent = (self.pending_output() - before) as u64;
                self.scheduler.vtime = pass;
                if let Some(s) = self.streams.live.get_mut(&id) {
                    s.pass = pass.saturating_add(sent + 1);
                }
            }
            self.schedule(id);
        }
    }

    /// Whether a stream could send something right now: output waiting and,
    /// for DATA, window at both levels.
    fn can_progress(&self, id: u32) -> bool {
        self.streams.live.get(&id).is_some_and(|s| {
            s.has_pending_output()
                && (s.send.is_empty()
                    || (s.send_window.available() > 0 && self.flow.send.available() > 0))
        })
    }

    /// Octets file bodies of streams other than `id` have read ahead.
    fn read_ahead_elsewhere(&self, id: u32) -> usize {
        self.streams
            .live
            .values()
            .filter(|s| s.id != id)
            .map(|s| s.send.read_ahead())
            .sum()
    }

    /// One scheduling step for one stream, toward a batch of `max`
    /// octets; true if anything was written.
    fn send_step(&mut self, id: u32, max: usize) -> bool {
        // File bodies share one read-ahead allowance per connection, so
        // many slow streams cannot each hold a large buffer.
        let file_room = match self.streams.live.get(&id) {
            Some(s) if s.send.has_file() => {
                CONNECTION_READ_AHEAD.saturating_sub(self.read_ahead_elsewhere(id))
            }
            _ => 0,
        };
        let conn_avail = self.flow.send.available();
        // A frame is as large as the peer allows, but no larger than what
        // is left of the batch (at least the smallest maximum frame size,
        // 16,384): what a peer that stops reading makes us hold stays
        // within one batch even where it allows 16 MiB frames.
        let batch_room = max
            .saturating_sub(self.pending_output())
            .max(crate::settings::MIN_MAX_FRAME_SIZE as usize);
        let frame_max = (self.settings.remote.max_frame_size as usize).min(batch_room);
        let hwm = self.opts.stream_high_water_mark as usize;
        let Some(s) = self.streams.live.get_mut(&id) else {
            return false;
        };
        s.scheduled = false;
        if !s.has_pending_output() {
            return false;
        }
        if !s.send.is_empty() {
            // Frames are not shrunk below 16,384 to fit the batch: the
            // output may run up to one such frame past it, and full frames
            // cost the peer less.
            let limit = s.send_window.available().min(conn_avail).min(frame_max);
            let n = s.send.len().min(limit);
            if n == 0 {
                // Blocked by flow control: a WINDOW_UPDATE reschedules it.
                return false;
            }
            let end = n == s.send.len()
                && s.send.end_requested
                && !s.send.wait_for_trailers
                && s.send.trailers.is_none();
            // Padding counts against flow control (§6.9.1) and the frame size.
            let pad = padding::choose(self.opts.padding_strategy, n, limit - n);
            let flow = n + pad.map_or(0, |p| 1 + usize::from(p));
            let frame_start = self.out.len();
            Data::encode_padded_header(id, n, pad, end, &mut self.out);
            let sendable = s.send_window.available().min(conn_avail).min(file_room);
            if s.send
                .take_into(n, sendable, &mut self.out, &mut self.payload)
                .is_err()
            {
                // A file body failed mid-way: what was promised cannot be
                // delivered, so the stream must not end cleanly. The frame
                // goes, with any references this frame had taken.
                self.out.truncate(frame_start);
                self.payload.truncate(frame_start);
                self.reset_stream(id, ErrorCode::INTERNAL_ERROR);
                return true;
            }
            s.send_window.consume(flow);
            s.last_activity = self.now;
            s.timing.first_byte_sent_at.get_or_insert(self.now);
            s.timing.bytes_written += n as u64;
            self.flow.send.consume(flow);
            pad_out(&mut self.out, pad);
            self.metrics.frames_sent += 1;
            if s.drain_wanted && s.send.len() < hwm {
                s.drain_wanted = false;
                self.events.push_back(Event::Drain { stream_id: id });
            }
            if end {
                self.apply_local(
                    id,
                    StateEvent::Send {
                        kind: FrameKind::Data,
                        end_stream: true,
                    },
                );
            }
            return true;
        }
        // All data is out and the application has ended the stream.
        if let Some(trailers) = s.send.trailers.take() {
            self.write_header_block(
                id,
                BlockFrame::Headers {
                    end_stream: true,
                    priority: None,
                },
                &trailers,
            );
            if let Some(s) = self.streams.live.get_mut(&id) {
                s.sent_trailers = Some(trailers);
            }
            self.apply_local(
                id,
                StateEvent::Send {
                    kind: FrameKind::Headers,
                    end_stream: true,
                },
            );
            return true;
        }
        if s.send.wait_for_trailers {
            if !s.send.want_trailers_emitted {
                s.send.want_trailers_emitted = true;
                self.events.push_back(Event::WantTrailers { stream_id: id });
            }
            // Nothing to send until `send_trailers`.
            return false;
        }
        Data::encode_header(id, 0, true, &mut self.out);
        self.metrics.frames_sent += 1;
        self.apply_local(
            id,
            StateEvent::Send {
                kind: FrameKind::Data,
                end_stream: true,
            },
        );
        true
    }
}

/// The pad octets (zeros, §6.1) after a padded frame's payload.
fn pad_out(out: &mut bytes::BytesMut, pad: Option<u8>) {
    if let Some(p) = pad {
        out.resize(out.len() + usize::from(p), 0);
    }
}

/// How header blocks are cut into frames for this peer.
struct Framing {
    frame_max: usize,
    padding: PaddingStrategy,
}

impl Framing {
    /// Writes an encoded block to `out` as HEADERS (or PUSH_PROMISE) plus
    /// CONTINUATIONs within the peer's frame size; returns the frames.
    fn write(&self, out: &mut BytesMut, stream_id: u32, start: BlockFrame, block: &[u8]) -> u64 {
        let frame_max = self.frame_max;
        let mut frames = 0;
        let mut rest = block;
        let first_len = match start {
            BlockFrame::Headers {
                end_stream,
                priority,
            } => {
                let first_room = frame_max
                    - if priority.is_some() {
                        PrioritySpec::LEN
                    } else {
                        0
                    };
                let first_len = rest.len().min(first_room);
                let pad = padding::choose(
                    self.padding,
                    first_len + frame_max - first_room,
                    first_room - first_len,
                );
                HeadersStart {
                    priority,
                    pad,
                    end_stream,
                    end_headers: first_len == rest.len(),
                }
                .encode(stream_id, first_len, out);
                out.extend_from_slice(&rest[..first_len]);
                pad_out(out, pad);
                first_len
            }
            BlockFrame::PushPromise { promised_id } => {
                let first_len = rest.len().min(frame_max - 4);
                let end_headers = first_len == rest.len();
                PushPromise::encode_header(stream_id, promised_id, first_len, end_headers, out);
                out.extend_from_slice(&rest[..first_len]);
                first_len
            }
        };
        frames += 1;
        rest = &rest[first_len..];
        while !rest.is_empty() {
            let n = rest.len().min(frame_max);
            Continuation::encode_header(stream_id, n, n == rest.len(), out);
            out.extend_from_slice(&rest[..n]);
            frames += 1;
            rest = &rest[n..];
        }
        frames
    }
}

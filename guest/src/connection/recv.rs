//! The receive path: preface, frame parsing, and one handler per frame type.

use super::held::{self, HeldSpan};
use super::input::{BlockStart, PartialBlock};
use super::{Connection, PREFACE, Phase};
use crate::error::{ConnectionError, ErrorCode, ProtocolError, StreamError};
use crate::events::{Event, Origin};
use crate::frame::{
    self, Continuation, Data, FRAME_HEADER_LEN, Frame, FrameHeader, GoAway, Headers, Ping,
    PrioritySpec, PriorityUpdate, PushPromise, RstStream, SettingsFrame, WindowUpdate,
};
use crate::headers::{self, BlockKind, HeaderField, HeaderList};
use crate::hpack::{DecodeError, DecodeLimits};
use crate::options::Role;
use crate::settings::Settings;
use crate::stream::state::{Event as StateEvent, FrameKind, Violation};
use crate::stream::{Cause, RecvPhase, State};
use crate::urgency::Urgency;
use bytes::{Bytes, BytesMut};

/// What we know about the stream a received frame names.
enum Known {
    Open,
    Closed(Cause),
    /// Closed long enough ago that we no longer remember how.
    Forgotten,
    Idle,
}

impl Connection {
    /// Feeds bytes read from the transport. Every complete frame is
    /// processed; a partial frame waits for more input. A connection error
    /// queues GOAWAY, ends the connection, and is also returned.
    pub fn receive(&mut self, now: u64, data: &[u8]) -> Result<(), ConnectionError> {
        if self.phase == Phase::Closed {
            return Ok(());
        }
        self.begin_input(now, data.len());
        // Every octet counts in `input_end`, the preface too: it is where
        // `inbuf` ends in what was received (and what held spans count).
        self.input.end += data.len() as u64;
        let mut data = data;
        if let Phase::AwaitMagic(matched) = self.phase {
            let want = &PREFACE[matched..];
            let n = want.len().min(data.len());
            if data[..n] != want[..n] {
                let err = ConnectionError::protocol("invalid connection preface");
                self.fail(&err);
                return Err(err);
            }
            data = &data[n..];
            self.phase = if matched + n == PREFACE.len() {
                Phase::AwaitSettings
            } else {
                Phase::AwaitMagic(matched + n)
            };
        }
        self.input.buf.extend_from_slice(data);
        self.process_input()
    }

    /// `receive` for input the caller gives up: the frames are parsed
    /// where they are, and DATA payloads are slices of `data`, not copies.
    /// A frame begun in earlier input is completed from the head of `data`
    /// first (a copy of the rest of that one frame), so reads that split
    /// frames, as reads of bulk DATA nearly always do, still leave the
    /// frames after it in place.
    pub fn receive_owned(&mut self, now: u64, data: Vec<u8>) -> Result<(), ConnectionError> {
        self.receive_held(now, data, &[])
    }

    /// `receive_owned` for input from which the host left out the
    /// payloads of some unpadded DATA frames, each whole in `data` (see
    /// `held`): those are reported as `HeldData` events. Spans that are
    /// out of order, or that do not fall where a DATA frame's payload
    /// starts and match its length, end the connection with
    /// INTERNAL_ERROR: the host passed them wrong.
    pub fn receive_held(
        &mut self,
        now: u64,
        data: Vec<u8>,
        held: &[HeldSpan],
    ) -> Result<(), ConnectionError> {
        if self.phase == Phase::Closed {
            return Ok(());
        }
        if self
            .input
            .held
            .begin(self.input.end, data.len(), held)
            .is_none()
        {
            return self.held_wrong();
        }
        self.receive_in_place(now, data)?;
        match self.input.held.left() && self.phase != Phase::Closed {
            true => self.held_wrong(),
            false => Ok(()),
        }
    }

    fn held_wrong(&mut self) -> Result<(), ConnectionError> {
        self.input.held.begin(self.input.end, 0, &[]);
        let err = held::bad_span();
        self.fail(&err);
        Err(err)
    }

    fn receive_in_place(&mut self, now: u64, data: Vec<u8>) -> Result<(), ConnectionError> {
        let head = match self.phase {
            Phase::AwaitSettings | Phase::Open => self.to_complete_frame(&data),
            _ => None,
        };
        let Some(head) = head else {
            return self.receive(now, &data);
        };
        self.begin_input(now, data.len());
        if head > 0 {
            self.input.buf.extend_from_slice(&data[..head]);
            self.input.end += head as u64;
            self.process_input()?;
            if !self.input.buf.is_empty() {
                // Not a whole frame after all: go on the copying way.
                self.input.buf.extend_from_slice(&data[head..]);
                self.input.end += (data.len() - head) as u64;
                return self.process_input();
            }
        }
        self.input.end += (data.len() - head) as u64;
        self.input.adopted = Some((data.as_ptr() as usize, data.len()));
        // A unique buffer becomes `BytesMut` without a copy, and
        // advancing past the head only moves where it starts.
        let mut inbuf = BytesMut::from(Bytes::from(data));
        bytes::Buf::advance(&mut inbuf, head);
        self.input.buf = inbuf;
        self.process_input()
    }

    /// How many octets at the start of `data` complete the frame left
    /// over in `inbuf` (0 when nothing is left over), or `None` when
    /// `data` does not complete it.
    fn to_complete_frame(&self, data: &[u8]) -> Option<usize> {
        let have = self.input.buf.len();
        if have == 0 {
            return Some(0);
        }
        let mut header = [0u8; FRAME_HEADER_LEN];
        let from_inbuf = have.min(FRAME_HEADER_LEN);
        header[..from_inbuf].copy_from_slice(&self.input.buf[..from_inbuf]);
        let from_data = FRAME_HEADER_LEN - from_inbuf;
        header[from_inbuf..].copy_from_slice(data.get(..from_data)?);
        let head = FrameHeader::parse(&header)?;
        let total = FRAME_HEADER_LEN + head.length as usize;
        let need = total.checked_sub(have)?;
        (need <= data.len()).then_some(need)
    }

    /// Where `data` (a DATA payload from an event) sits in the input of
    /// the last `receive_owned` call, if that input was parsed in place
    /// and `data` is a slice of it; asked before the next `receive`.
    ///
    /// The address check is sound because the adopted buffer stays
    /// alive until the next `receive` (`inbuf` holds it, and so does
    /// every payload sliced from it): a live slice whose address lies in
    /// its range can only be part of it.
    pub fn input_offset(&self, data: &[u8]) -> Option<usize> {
        let (base, len) = self.input.adopted?;
        let at = (data.as_ptr() as usize).checked_sub(base)?;
        (at.checked_add(data.len())? <= len).then_some(self.input.held.full_offset(at))
    }

    fn begin_input(&mut self, now: u64, len: usize) {
        self.input.adopted = None;
        self.now = self.now.max(now);
        self.clocks.last_activity = self.now;
        self.protections.memory_in_turn = None;
        self.metrics.bytes_read += len as u64;
    }

    /// Handles every complete frame in `inbuf`.
    fn process_input(&mut self) -> Result<(), ConnectionError> {
        let mut completed = false;
        while self.phase != Phase::Closed {
            match self.next_frame() {
                Ok(true) => completed = true,
                Ok(false) => break,
                Err(err) => {
                    self.fail(&err);
                    return Err(err);
                }
            }
        }
        // The frame timeout runs from a partial frame's first octet: a
        // frame left over after whole ones began in this input.
        self.input.frame_started_at = match (self.input.buf.is_empty(), completed) {
            (true, _) => None,
            (false, true) => Some(self.now),
            (false, false) => Some(self.input.frame_started_at.unwrap_or(self.now)),
        };
        Ok(())
    }

    /// Parses and handles one frame; `Ok(false)` when more input is needed.
    fn next_frame(&mut self) -> Result<bool, ConnectionError> {
        if matches!(self.phase, Phase::AwaitMagic(_)) {
            return Ok(false);
        }
        let Some(head) = FrameHeader::parse(&self.input.buf) else {
            return Ok(false);
        };
        if head.length > self.settings.max_recv_frame_size() {
            return Err(ConnectionError::frame_size(
                "frame larger than SETTINGS_MAX_FRAME_SIZE",
            ));
        }
        // Where this frame's payload starts in the octets received.
        let payload_at = self.input.end - self.input.buf.len() as u64 + FRAME_HEADER_LEN as u64;
        let held = self.input.held.take(payload_at);
        let payload = match held {
            Some((length, _)) => {
                if head.kind != frame::kind::DATA
                    || head.has(frame::flag::PADDED)
                    || head.length != length
                {
                    return Err(held::bad_span());
                }
                bytes::Buf::advance(&mut self.input.buf, FRAME_HEADER_LEN);
                Bytes::new()
            }
            None if self.input.held.missed(payload_at) => {
                return Err(held::bad_span());
            }
            None => {
                let total = FRAME_HEADER_LEN + head.length as usize;
                if self.input.buf.len() < total {
                    self.input.buf.reserve(total - self.input.buf.len());
                    return Ok(false);
                }
                let mut bytes = self.input.buf.split_to(total);
                bytes.split_off(FRAME_HEADER_LEN).freeze()
            }
        };
        self.metrics.frames_received += 1;

        if self.phase == Phase::AwaitSettings {
            if head.kind != frame::kind::SETTINGS || head.flags & frame::flag::ACK != 0 {
                return Err(ConnectionError::protocol("first frame is not SETTINGS"));
            }
            self.phase = Phase::Open;
        }
        // §6.10: nothing may interleave with a header block.
        if self.input.block.is_some() && head.kind != frame::kind::CONTINUATION {
            return Err(ConnectionError::protocol(
                "frame interleaved with header block",
            ));
        }
        let frame = match held {
            Some((_, at)) => Data::held(&head, at).map(Frame::Data),
            None => Frame::decode(&head, payload),
        };
        match frame {
            Ok(frame) => self.on_frame(frame),
            Err(ProtocolError::Connection(e)) => Err(e),
            Err(ProtocolError::Stream(e)) => self.stream_error(e),
        }
        .map(|()| true)
    }

    fn on_frame(&mut self, frame: Frame) -> Result<(), ConnectionError> {
        match frame {
            Frame::Data(d) => self.on_data(d),
            Frame::Headers(h) => self.on_headers(h),
            Frame::Priority(p) => self.on_priority(p.stream_id, p.spec),
            Frame::RstStream(r) => self.on_rst_stream(r),
            Frame::Settings(s) => self.on_settings(s),
            Frame::PushPromise(p) => self.on_push_promise(p),
            Frame::Ping(p) => self.on_ping(p),
            Frame::GoAway(g) => self.on_goaway(g),
            Frame::WindowUpdate(w) => self.on_window_update(w),
            Frame::Continuation(c) => self.on_continuation(c),
            Frame::AltSvc(f) => {
                self.on_altsvc(f);
                Ok(())
            }
            Frame::Origin(f) => {
                self.on_origin(f);
                Ok(())
            }
            Frame::PriorityUpdate(f) => self.on_priority_update(f),
            Frame::Unknown { .. } => Ok(()),
        }
    }

    /// A stream error: RST_STREAM, and a strike against the peer
    /// (`maxSessionInvalidFrames`).
    pub(super) fn stream_error(&mut self, e: StreamError) -> Result<(), ConnectionError> {
        self.reset_stream(e.stream_id, e.code);
        self.protections.invalid_frame()
    }

    fn classify(&self, id: u32) -> Known {
        if let Some(s) = self.streams.live.get(&id) {
            // A request still pending (past the peer's concurrency limit)
            // was never sent: to the peer the stream is idle (§5.1).
            if s.pending.is_some() {
                Known::Idle
            } else {
                Known::Open
            }
        } else if let Some(cause) = self.streams.closed.get(id) {
            Known::Closed(cause)
        } else if self.is_idle(id) {
            Known::Idle
        } else {
            Known::Forgotten
        }
    }

    /// Runs the state machine for a received frame. `Ok(true)` means the
    /// frame is for a live stream and should be processed further.
    fn recv_transition(
        &mut self,
        id: u32,
        kind: FrameKind,
        end_stream: bool,
    ) -> Result<bool, ConnectionError> {
        let event = StateEvent::Recv { kind, end_stream };
        let result = match self.classify(id) {
            Known::Open => match self
                .streams
                .live
                .get(&id)
                .map(|s| s.state.transition(event))
            {
                Some(Ok(_)) => return Ok(true),
                Some(Err(v)) => v,
                None => return Ok(false),
            },
            Known::Closed(cause) => match State::Closed(cause).transition(event) {
                Ok(_) => return Ok(false),
                Err(v) => v,
            },
            Known::Idle => match State::Idle.transition(event) {
                Ok(_) => return Ok(true),
                Err(v) => v,
            },
            // Closed and forgotten: treat as closed by an unknown cause.
            Known::Forgotten => match kind {
                // §5.1.1: a new stream id must exceed every earlier one.
                FrameKind::Headers => Violation::Connection(ErrorCode::PROTOCOL_ERROR),
                FrameKind::Data => Violation::Stream(ErrorCode::STREAM_CLOSED),
                _ => Violation::Ignore,
            },
        };
        match result {
            Violation::Connection(code) => Err(ConnectionError::new(
                code,
                "frame not allowed in stream state",
            )),
            Violation::Stream(code) => {
                self.stream_error(StreamError {
                    stream_id: id,
                    code,
                    reason: "frame not allowed in stream state",
                })?;
                Ok(false)
            }
            Violation::Ignore | Violation::NotAllowed => Ok(false),
        }
    }

    /// Commits a received frame's transition (already checked as allowed).
    fn commit_recv(&mut self, id: u32, kind: FrameKind, end_stream: bool) {
        if let Some(s) = self.streams.live.get_mut(&id) {
            s.last_activity = self.now;
            if kind == FrameKind::Headers {
                s.timing.first_header_at.get_or_insert(self.now);
            }
            let was_active = s.state.is_active();
            if let Ok(next) = s.state.transition(StateEvent::Recv { kind, end_stream }) {
                s.state = next;
            }
            self.after_transition(id, was_active);
        }
    }

    // ---- DATA -----------------------------------------------------------

    fn on_data(&mut self, d: Data) -> Result<(), ConnectionError> {
        let id = d.stream_id;
        if self.flow.recv.receive(d.flow_len).is_err() {
            return Err(ConnectionError::new(
                ErrorCode::FLOW_CONTROL_ERROR,
                "DATA exceeds connection window",
            ));
        }
        if !self.recv_transition(id, FrameKind::Data, d.end_stream)? {
            // Not delivered: the octets still count, so hand them back.
            self.consume_connection(d.flow_len);
            return Ok(());
        }
        let payload_len = u32::try_from(d.len()).unwrap_or(u32::MAX);
        let padding = d.flow_len.saturating_sub(payload_len);
        let Some(s) = self.streams.live.get_mut(&id) else {
            self.consume_connection(d.flow_len);
            return Ok(());
        };
        if s.recv_window.receive(d.flow_len).is_err() {
            self.consume_connection(d.flow_len);
            return self.stream_error(StreamError {
                stream_id: id,
                code: ErrorCode::FLOW_CONTROL_ERROR,
                reason: "DATA exceeds stream window",
            });
        }
        let malformed = if s.recv_phase != RecvPhase::Body {
            Some("DATA before headers or after trailers")
        } else {
            s.received_len += d.len() as u64;
            match s.expected_len {
                Some(n) if s.received_len > n => Some("DATA exceeds content-length"),
                Some(n) if d.end_stream && s.received_len != n => {
                    Some("DATA shorter than content-length")
                }
                _ => None,
            }
        };
        if let Some(reason) = malformed {
            // The reset closes the stream, which hands its unconsumed
            // octets (these included) back to the connection.
            return self.stream_error(StreamError {
                stream_id: id,
                code: ErrorCode::PROTOCOL_ERROR,
                reason,
            });
        }
        if !d.is_empty() {
            s.timing.first_byte_at.get_or_insert(self.now);
            s.timing.bytes_read += d.len() as u64;
        }
        // Padding is never delivered, so it is consumed at once.
        let auto = !s.manual_consume;
        let delivered = if auto { d.flow_len } else { padding };
        if d.end_stream {
            s.recv_phase = RecvPhase::Done;
        }
        if delivered > 0 {
            self.consume_stream(id, delivered);
        }
        if !d.is_empty() || d.end_stream {
            self.events.push_back(match d.held {
                Some(at) => Event::HeldData {
                    stream_id: id,
                    at,
                    length: d.flow_len,
                    end_stream: d.end_stream,
                },
                None => Event::Data {
                    stream_id: id,
                    data: d.payload,
                    end_stream: d.end_stream,
                },
            });
        }
        self.commit_recv(id, FrameKind::Data, d.end_stream);
        Ok(())
    }

    /// Consumed octets of a stream: window updates for both levels (no
    /// stream update once the peer has finished sending).
    /// Octets beyond what the stream received and has not consumed are
    /// ignored: the connection is credited exactly once per octet.
    pub(super) fn consume_stream(&mut self, id: u32, n: u32) {
        let Some(s) = self.streams.live.get_mut(&id) else {
            return;
        };
        let n = n.min(s.recv_window.unconsumed());
        let update = s.recv_window.consume(n);
        let inc = update.filter(|_| s.state.can_recv() && s.recv_phase != RecvPhase::Done);
        if let Some(inc) = inc {
            self.write_window_update(id, inc);
        }
        self.consume_connection(n);
    }

    // ---- HEADERS, PUSH_PROMISE, CONTINUATION -----------------------------

    fn on_headers(&mut self, h: Headers) -> Result<(), ConnectionError> {
        let start = BlockStart::Headers {
            end_stream: h.end_stream,
            priority: h.priority,
        };
        self.start_block(h.stream_id, start, h.fragment, h.end_headers)
    }

    fn on_push_promise(&mut self, p: PushPromise) -> Result<(), ConnectionError> {
        if self.role == Role::Server {
            return Err(ConnectionError::protocol("PUSH_PROMISE sent to a server"));
        }
        let start = BlockStart::PushPromise {
            promised_id: p.promised_id,
        };
        self.start_block(p.stream_id, start, p.fragment, p.end_headers)
    }

    fn start_block(
        &mut self,
        stream_id: u32,
        kind: BlockStart,
        fragment: Bytes,
        end_headers: bool,
    ) -> Result<(), ConnectionError> {
        if end_headers {
            return self.on_header_block(stream_id, kind, &fragment);
        }
        let mut buf = BytesMut::with_capacity(fragment.len() * 2);
        buf.extend_from_slice(&fragment);
        self.input.block = Some(PartialBlock {
            stream_id,
            kind,
            fragment: buf,
            continuations: 0,
            started_at: self.now,
        });
        self.check_block_size()
    }

    fn on_continuation(&mut self, c: Continuation) -> Result<(), ConnectionError> {
        let max_frames = self.opts.max_continuation_frames;
        let Some(block) = self.input.block.as_mut() else {
            return Err(ConnectionError::protocol(
                "CONTINUATION without a header block",
            ));
        };
        if block.stream_id != c.stream_id {
            return Err(ConnectionError::protocol("CONTINUATION on another stream"));
        }
        block.continuations += 1;
        // A CONTINUATION flood (many tiny or empty frames) costs us per frame.
        if block.continuations > max_frames {
            return Err(ConnectionError::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "too many CONTINUATION frames",
            ));
        }
        block.fragment.extend_from_slice(&c.fragment);
        self.check_block_size()?;
        if c.end_headers
            && let Some(block) = self.input.block.take()
        {
            let fragment = block.fragment.freeze();
            return self.on_header_block(block.stream_id, block.kind, &fragment);
        }
        Ok(())
    }

    /// Bounds the encoded size of a header block being assembled. Encoded
    /// fields are never much larger than their decoded size, so a block this
    /// large could never fit our SETTINGS_MAX_HEADER_LIST_SIZE.
    fn check_block_size(&self) -> Result<(), ConnectionError> {
        let limit = (self.settings.local.max_header_list_size.min(1 << 20) as usize) + 16 * 1024;
        match &self.input.block {
            Some(b) if b.fragment.len() > limit => Err(ConnectionError::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "header block too large",
            )),
            _ => Ok(()),
        }
    }

    fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_list_size: self.settings.local.max_header_list_size as usize,
            max_pairs: self.opts.max_header_list_pairs as usize,
        }
    }

    fn on_header_block(
        &mut self,
        stream_id: u32,
        kind: BlockStart,
        fragment: &[u8],
    ) -> Result<(), ConnectionError> {
        // Always decode first: the HPACK context is shared by the whole
        // connection, even when the stream itself is refused or ignored.
        let decoded = match self.hpack.decoder.decode(fragment, self.decode_limits()) {
            Err(DecodeError::Compression) => {
                return Err(ConnectionError::new(
                    ErrorCode::COMPRESSION_ERROR,
                    "HPACK decoding failed",
                ));
            }
            other => other,
        };
        match kind {
            BlockStart::Headers {
                end_stream,
                priority,
            } => self.on_headers_block(stream_id, end_stream, priority, decoded),
            BlockStart::PushPromise { promised_id } => {
                self.on_push_block(stream_id, promised_id, decoded)
            }
        }
    }

    fn on_headers_block(
        &mut self,
        id: u32,
        end_stream: bool,
        priority: Option<PrioritySpec>,
        decoded: Result<HeaderList, DecodeError>,
    ) -> Result<(), ConnectionError> {
        let known = self.classify(id);
        let opens_stream = matches!(known, Known::Idle);
        if opens_stream && (self.role == Role::Client || !self.is_peer_initiated(id)) {
            return Err(ConnectionError::protocol("HEADERS opened an idle stream"));
        }
        if !self.recv_transition(id, FrameKind::Headers, end_stream)? {
            return Ok(());
        }
        if priority.is_some_and(|p| p.dependency == id) {
            if opens_stream {
                self.counts.max_peer_id = id;
            }
            return self.stream_error(StreamError {
                stream_id: id,
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "stream depends on itself",
            });
        }
        if let Some(spec) = priority
            && !self.settings.remote.no_rfc7540_priorities
        {
            self.scheduler.tree.set(id, spec);
        }
        if opens_stream {
            return self.open_remote_stream(id, end_stream, decoded);
        }
        let fields = match decoded {
            Ok(fields) => fields,
            Err(_) => {
                return self.stream_error(StreamError {
                    stream_id: id,
                    code: ErrorCode::ENHANCE_YOUR_CALM,
                    reason: "header list too large",
                });
            }
        };
        let phase = self
            .streams
            .live
            .get(&id)
            .map_or(RecvPhase::Done, |s| s.recv_phase);
        match phase {
            RecvPhase::Headers => self.on_response_headers(id, end_stream, fields),
            RecvPhase::Body => self.on_trailers(id, end_stream, fields),
            RecvPhase::Done => self.stream_error(StreamError {
                stream_id: id,
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "HEADERS after trailers",
            }),
        }
    }

    /// Server: a new request stream.
    fn open_remote_stream(
        &mut self,
        id: u32,
        end_stream: bool,
        decoded: Result<HeaderList, DecodeError>,
    ) -> Result<(), ConnectionError> {
        self.counts.max_peer_id = id;
        // §6.8: streams above the last id of a GOAWAY we sent are ignored.
        if self.shutdown.ignores_peer_stream(id) {
            return Ok(());
        }
        let limit = self.settings.effective_local_max_concurrent();
        let refusal = if self.counts.remote_active >= limit || self.shutdown.is_closing() {
            Some(ErrorCode::REFUSED_STREAM)
        } else if self.session_memory_exceeded() {
            // Node's maxSessionMemory: existing streams go on, new ones wait.
            Some(ErrorCode::ENHANCE_YOUR_CALM)
        } else {
            None
        };
        if let Some(code) = refusal {
            self.protections.rejected_stream()?;
            self.reset_stream(id, code);
            return Ok(());
        }
        if self.protections.refusing_streams {
            // The host is short of memory: not the peer's doing, so not
            // counted against it; REFUSED_STREAM tells it to retry (§8.7).
            self.reset_stream(id, ErrorCode::REFUSED_STREAM);
            return Ok(());
        }
        self.protections.accepted_stream();
        let fields = match decoded {
            Ok(f) => f,
            Err(_) => {
                return self.stream_error(StreamError {
                    stream_id: id,
                    code: ErrorCode::ENHANCE_YOUR_CALM,
                    reason: "header list too large",
                });
            }
        };
        let info = match self
            .hpack
            .check_request(&fields, self.settings.local.enable_connect_protocol)
        {
            Ok(info) => info,
            Err(reason) => {
                return self.stream_error(StreamError {
                    stream_id: id,
                    code: ErrorCode::PROTOCOL_ERROR,
                    reason,
                });
            }
        };
        if end_stream && info.content_length.is_some_and(|n| n > 0) {
            return self.stream_error(StreamError {
                stream_id: id,
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "content-length with empty body",
            });
        }
        let mut stream = self.new_stream(id);
        stream.manual_consume = self.opts.manual_consume;
        stream.recv_phase = if end_stream {
            RecvPhase::Done
        } else {
            RecvPhase::Body
        };
        stream.expected_len = info.content_length;
        stream.end_after_headers = end_stream;
        // RFC 9218: the request's `priority` field, unless a
        // PRIORITY_UPDATE that came first says otherwise (§7.1).
        if let Some(early) = self.scheduler.take_early(id) {
            stream.urgency = early;
        } else if let Some(urgency) = info.priority {
            stream.urgency = urgency;
            self.scheduler.by_urgency = true;
        }
        self.streams.live.insert(id, Box::new(stream));
        self.opened_in_turn();
        let continue_now = !end_stream
            && self.opts.auto_continue
            && headers::find(&fields, "expect")
                .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"));
        self.events.push_back(Event::Request {
            stream_id: id,
            headers: fields,
            end_stream,
        });
        self.commit_recv(id, FrameKind::Headers, end_stream);
        if continue_now {
            // The stream was just opened, so this cannot be refused.
            let _ = self.additional_headers(id, vec![HeaderField::new(":status", "100")]);
        }
        Ok(())
    }

    /// Client: a response (1xx or final) on a stream we opened, or a pushed
    /// response on a reserved stream.
    fn on_response_headers(
        &mut self,
        id: u32,
        end_stream: bool,
        fields: HeaderList,
    ) -> Result<(), ConnectionError> {
        let info = match headers::check_received(&fields, BlockKind::Response, false) {
            Ok(info) => info,
            Err(reason) => {
                return self.stream_error(StreamError {
                    stream_id: id,
                    code: ErrorCode::PROTOCOL_ERROR,
                    reason,
                });
            }
        };
        let status = info.status.unwrap_or(0);
        if (100..200).contains(&status) {
            // §8.1: 1xx never ends a stream; 101 does not exist in HTTP/2.
            if end_stream || status == 101 {
                return self.stream_error(StreamError {
                    stream_id: id,
                    code: ErrorCode::PROTOCOL_ERROR,
                    reason: "invalid informational response",
                });
            }
            if status == 100 {
                // Node's `continue`: the server wants the request body.
                self.events.push_back(Event::Continue { stream_id: id });
            }
            self.events.push_back(Event::Informational {
                stream_id: id,
                headers: fields,
            });
            self.commit_recv(id, FrameKind::Headers, false);
            return Ok(());
        }
        let Some(s) = self.streams.live.get_mut(&id) else {
            return Ok(());
        };
        // HEAD responses and 204/304 carry no content whatever
        // content-length says (RFC 9110 §6.4.1).
        let bodyless = s.head_request || status == 204 || status == 304;
        s.expected_len = if bodyless {
            Some(0)
        } else {
            info.content_length
        };
        if end_stream && s.expected_len.is_some_and(|n| n > 0) {
            return self.stream_error(StreamError {
                stream_id: id,
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "content-length with empty body",
            });
        }
        s.end_after_headers = end_stream;
        s.recv_phase = if end_stream {
            RecvPhase::Done
        } else {
            RecvPhase::Body
        };
        self.events.push_back(Event::Response {
            stream_id: id,
            headers: fields,
            end_stream,
        });
        self.commit_recv(id, FrameKind::Headers, end_stream);
        Ok(())
    }

    fn on_trailers(
        &mut self,
        id: u32,
        end_stream: bool,
        fields: HeaderList,
    ) -> Result<(), ConnectionError> {
        let check = if !end_stream {
            Err("trailers without END_STREAM")
        } else {
            headers::check_received(&fields, BlockKind::Trailers, false).map(|_| ())
        };
        let short = self
            .streams
            .live
            .get(&id)
            .is_some_and(|s| s.expected_len.is_some_and(|n| n != s.received_len));
        let check = if short {
            check.and(Err("DATA shorter than content-length"))
        } else {
            check
        };
        if let Err(reason) = check {
            return self.stream_error(StreamError {
                stream_id: id,
                code: ErrorCode::PROTOCOL_ERROR,
                reason,
            });
        }
        if let Some(s) = self.streams.live.get_mut(&id) {
            s.recv_phase = RecvPhase::Done;
        }
        self.events.push_back(Event::Trailers {
            stream_id: id,
            headers: fields,
        });
        self.commit_recv(id, FrameKind::Headers, true);
        Ok(())
    }

    // ---- PRIORITY, RST_STREAM, WINDOW_UPDATE -----------------------------

    fn on_priority(&mut self, id: u32, spec: PrioritySpec) -> Result<(), ConnectionError> {
        // Valid in every state, including idle (§6.3); the decoder already
        // refused self-dependency. Closed streams are out of the tree.
        // RFC 9218 §2.1: a peer that said it sends no such signals is not
        // listened to if it does.
        if !matches!(self.classify(id), Known::Closed(_) | Known::Forgotten)
            && !self.settings.remote.no_rfc7540_priorities
        {
            self.scheduler.tree.set(id, spec);
        }
        Ok(())
    }

    /// PRIORITY_UPDATE (RFC 9218 §7.1): a client's new priority for a
    /// stream, open or not yet opened; one for a closed stream, or one
    /// whose value is no dictionary, changes nothing.
    fn on_priority_update(&mut self, f: PriorityUpdate) -> Result<(), ConnectionError> {
        if self.role == Role::Client {
            return Err(ConnectionError::protocol("PRIORITY_UPDATE from a server"));
        }
        let Some(urgency) = Urgency::parse(&f.value) else {
            return Ok(());
        };
        self.scheduler.by_urgency = true;
        match self.classify(f.prioritized) {
            Known::Open => {
                if let Some(s) = self.streams.live.get_mut(&f.prioritized) {
                    s.urgency = urgency;
                }
            }
            // A request to come (not a push: those are ours, never idle).
            Known::Idle if self.is_peer_initiated(f.prioritized) => {
                self.scheduler.keep_early(f.prioritized, urgency);
            }
            _ => {}
        }
        Ok(())
    }

    fn on_rst_stream(&mut self, r: RstStream) -> Result<(), ConnectionError> {
        let id = r.stream_id;
        match self.classify(id) {
            Known::Idle => Err(ConnectionError::protocol("RST_STREAM on an idle stream")),
            Known::Closed(_) | Known::Forgotten => Ok(()),
            Known::Open => {
                if self.role == Role::Server && self.is_peer_initiated(id) {
                    self.protections.peer_reset(self.now)?;
                }
                if let Some(s) = self.streams.live.get_mut(&id) {
                    s.send.clear(&mut self.payload);
                    let was_active = s.state.is_active();
                    if let Ok(next) = s.state.transition(StateEvent::RecvReset(r.code)) {
                        s.state = next;
                    }
                    self.events.push_back(Event::StreamReset {
                        stream_id: id,
                        code: r.code,
                        origin: Origin::Remote,
                    });
                    self.after_transition(id, was_active);
                }
                Ok(())
            }
        }
    }

    fn on_window_update(&mut self, w: WindowUpdate) -> Result<(), ConnectionError> {
        let id = w.stream_id;
        if id == 0 {
            if w.increment == 0 {
                return Err(ConnectionError::protocol("WINDOW_UPDATE increment 0"));
            }
            if self.flow.send.adjust(i64::from(w.increment)).is_err() {
                return Err(ConnectionError::new(
                    ErrorCode::FLOW_CONTROL_ERROR,
                    "connection window above 2^31-1",
                ));
            }
            self.schedule_all();
            return Ok(());
        }
        if !self.recv_transition(id, FrameKind::WindowUpdate, false)? {
            return Ok(());
        }
        if w.increment == 0 {
            return self.stream_error(StreamError {
                stream_id: id,
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "WINDOW_UPDATE increment 0",
            });
        }
        let overflow = self
            .streams
            .live
            .get_mut(&id)
            .is_some_and(|s| s.send_window.adjust(i64::from(w.increment)).is_err());
        if overflow {
            return self.stream_error(StreamError {
                stream_id: id,
                code: ErrorCode::FLOW_CONTROL_ERROR,
                reason: "stream window above 2^31-1",
            });
        }
        self.schedule(id);
        Ok(())
    }

    // ---- SETTINGS, PING, GOAWAY -------------------------------------------

    fn on_settings(&mut self, f: SettingsFrame) -> Result<(), ConnectionError> {
        if f.ack {
            return self.on_settings_ack();
        }
        if f.params.len() > self.opts.max_settings as usize {
            return Err(ConnectionError::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "too many settings in one frame",
            ));
        }
        let mut s = Settings::from_params(&f.params)?;
        // Settings we do not interpret are kept only where the
        // application asked for them (Node's `remoteCustomSettings`).
        let wanted = &self.opts.remote_custom_settings;
        s.custom.retain(|(id, _)| wanted.contains(id));
        if self.role == Role::Client && s.enable_push == Some(true) {
            return Err(ConnectionError::protocol("server sent ENABLE_PUSH 1"));
        }
        if self.settings.remote.enable_connect_protocol && s.enable_connect_protocol == Some(false)
        {
            return Err(ConnectionError::protocol(
                "ENABLE_CONNECT_PROTOCOL turned off",
            ));
        }
        // RFC 9218 §2.1: the value may not change once sent.
        if self.settings.remote.no_rfc7540_priorities && s.no_rfc7540_priorities == Some(false) {
            return Err(ConnectionError::protocol(
                "NO_RFC7540_PRIORITIES turned off",
            ));
        }
        if s.no_rfc7540_priorities == Some(true) {
            self.scheduler.by_urgency = true;
        }
        self.queue_control_ack()?;
        crate::frame::encode_settings_ack(&mut self.out);
        self.metrics.frames_sent += 1;
        if !self.settings.remote_seen {
            self.settings.remote_seen = true;
            // Node assumes `peerMaxConcurrentStreams` only until the peer
            // speaks; an absent value then means unlimited (§6.5.2).
            self.settings.remote.max_concurrent_streams = u32::MAX;
        }
        if let Some(new) = s.initial_window_size {
            // §6.9.2: shift every stream's send window by the difference.
            let delta = i64::from(new) - i64::from(self.settings.remote.initial_window_size);
            for stream in self.streams.live.values_mut() {
                if stream.send_window.adjust(delta).is_err() {
                    return Err(ConnectionError::new(
                        ErrorCode::FLOW_CONTROL_ERROR,
                        "INITIAL_WINDOW_SIZE change overflows a stream window",
                    ));
                }
            }
        }
        if let Some(size) = s.header_table_size {
            self.hpack.encoder.set_peer_table_size(size);
        }
        self.settings.remote.apply(&s);
        self.events.push_back(Event::RemoteSettings {
            settings: self.settings.remote.to_settings(),
        });
        self.start_pending_requests();
        self.schedule_all();
        Ok(())
    }

    fn on_settings_ack(&mut self) -> Result<(), ConnectionError> {
        let Some(s) = self.settings.pending.pop_front() else {
            // An ACK we never asked for changes nothing; ignore it.
            return Ok(());
        };
        if let Some(new) = s.initial_window_size {
            let delta = i64::from(new) - i64::from(self.settings.local.initial_window_size);
            for stream in self.streams.live.values_mut() {
                stream.recv_window.apply_initial_delta(delta);
            }
        }
        self.settings.local.apply(&s);
        self.hpack
            .decoder
            .set_max_allowed_table_size(self.settings.local.header_table_size);
        self.events.push_back(Event::LocalSettings {
            settings: self.settings.local.to_settings(),
        });
        Ok(())
    }

    /// Guards against a peer that makes us queue ACKs it never reads
    /// (SETTINGS and PING floods): past the bound, the connection ends.
    fn queue_control_ack(&self) -> Result<(), ConnectionError> {
        if self.out.len() > self.opts.max_outbound_control as usize {
            return Err(ConnectionError::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "peer is not reading our acknowledgements",
            ));
        }
        Ok(())
    }

    fn on_ping(&mut self, p: Ping) -> Result<(), ConnectionError> {
        if p.ack {
            if let Some(rtt_ns) = self.ping.acked(p.payload, self.now) {
                self.metrics.ping_rtt_ns = Some(rtt_ns);
                let payload = p.payload;
                self.events.push_back(Event::PingAck { payload, rtt_ns });
            }
            return Ok(());
        }
        self.queue_control_ack()?;
        Ping {
            ack: true,
            payload: p.payload,
        }
        .encode(&mut self.out);
        self.metrics.frames_sent += 1;
        self.events.push_back(Event::Ping { payload: p.payload });
        Ok(())
    }

    fn on_goaway(&mut self, g: GoAway) -> Result<(), ConnectionError> {
        let last = g.last_stream_id;
        self.shutdown.receive_goaway(last)?;
        self.events.push_back(Event::GoAway {
            code: g.code,
            last_stream_id: last,
            debug_data: g.debug_data,
            origin: Origin::Remote,
        });
        // Requests still waiting never went out: refused, safe to retry.
        for id in std::mem::take(&mut self.streams.pending) {
            self.drop_pending_request(id, ErrorCode::REFUSED_STREAM);
        }
        // Our streams above `last` were never processed: safe to retry.
        let mut refused: Vec<u32> = self
            .streams
            .live
            .keys()
            .copied()
            .filter(|&id| !self.is_peer_initiated(id) && id > last)
            .collect();
        refused.sort_unstable();
        for id in refused {
            if let Some(s) = self.streams.live.get_mut(&id) {
                s.send.clear(&mut self.payload);
                let was_active = s.state.is_active();
                let code = ErrorCode::REFUSED_STREAM;
                if let Ok(next) = s.state.transition(StateEvent::RecvReset(code)) {
                    s.state = next;
                }
                self.events.push_back(Event::StreamReset {
                    stream_id: id,
                    code,
                    origin: Origin::Remote,
                });
                self.after_transition(id, was_active);
            }
        }
        // Node closes the session once the peer says goodbye.
        self.shutdown.close();
        self.maybe_finish_closing();
        Ok(())
    }
}

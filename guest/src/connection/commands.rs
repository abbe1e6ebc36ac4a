//! Commands from the embedding application. Each validates its arguments
//! and the stream state, then queues frames; none of them can be triggered
//! by the peer, and misuse returns a `CommandError` instead of touching the
//! wire.

use super::prepared::{PreparedHeaders, final_response_headers};
use super::send::BlockFrame;
use super::{Connection, Phase};
use crate::error::{CommandError, ErrorCode};
use crate::events::Event;
use crate::frame::{MAX_STREAM_ID, Ping, Priority, PrioritySpec};
use crate::headers::{self, BlockKind, HeaderField};
use crate::options::Role;
use crate::settings::Settings;
use crate::stream::state::{Event as StateEvent, FrameKind};
use crate::stream::{Cause, PendingRequest, State, Stream};
use crate::urgency::Urgency;
use bytes::Bytes;
use std::sync::Arc;

/// Options for `request` (Node's `clientHttp2Session.request` options).
#[derive(Clone, Debug, Default)]
pub struct RequestOptions {
    /// Send END_STREAM with the headers (no body).
    pub end_stream: bool,
    /// Hold END_STREAM after the body and emit `WantTrailers`.
    pub wait_for_trailers: bool,
    /// The stream's dependency and weight (RFC 7540 §5.3), sent with
    /// the HEADERS.
    pub priority: Option<PrioritySpec>,
    /// Deliver DATA without consuming it; the application calls `consume`.
    pub manual_consume: bool,
}

/// Options for `respond` (Node's `http2stream.respond` options).
#[derive(Clone, Debug, Default)]
pub struct RespondOptions {
    /// Send END_STREAM with the headers (no body).
    pub end_stream: bool,
    /// Hold END_STREAM after the body and emit `WantTrailers`.
    pub wait_for_trailers: bool,
}

impl Connection {
    pub(super) fn check_open(&self) -> Result<(), CommandError> {
        if self.phase == Phase::Closed {
            Err(CommandError::SessionClosed)
        } else {
            Ok(())
        }
    }

    /// Client: opens a stream with a request. `:method` defaults to GET,
    /// `:path` to `/`, `:scheme` and `:authority` to the connection's.
    pub fn request(
        &mut self,
        fields: Vec<HeaderField>,
        opts: RequestOptions,
    ) -> Result<u32, CommandError> {
        self.check_open()?;
        if self.role != Role::Client {
            return Err(CommandError::WrongRole);
        }
        if !self.shutdown.may_open_streams() {
            return Err(CommandError::SessionClosed);
        }
        let id = self.counts.next_local_id;
        if id > MAX_STREAM_ID {
            return Err(CommandError::StreamIdsExhausted);
        }
        let mut fields = headers::prepare_outgoing(fields, BlockKind::Request)?;
        headers::apply_request_defaults(&mut fields, &self.opts.scheme, &self.opts.authority);
        let info =
            headers::check_outgoing_request(&fields, self.settings.remote.enable_connect_protocol)?;
        if let Some(p) = opts.priority
            && p.dependency == id
        {
            return Err(CommandError::InvalidArgument(
                "stream cannot depend on itself",
            ));
        }
        self.counts.take_local_id();
        if self.header_block_too_large(id, &fields) {
            // The id is spent (never seen by the peer, so implicitly closed).
            self.events.push_back(Event::StreamClosed {
                stream_id: id,
                code: ErrorCode::INTERNAL_ERROR,
                metrics: Default::default(),
            });
            return Ok(id);
        }
        let mut stream = self.new_stream(id);
        stream.head_request = info.head;
        stream.manual_consume = opts.manual_consume;
        stream.send.wait_for_trailers = opts.wait_for_trailers;
        stream.send.end_requested = opts.end_stream;
        stream.pending = Some(PendingRequest {
            fields,
            end_on_headers: opts.end_stream && !opts.wait_for_trailers,
            priority: opts.priority,
        });
        self.streams.live.insert(id, Box::new(stream));
        // Like Node, a request past the peer's MAX_CONCURRENT_STREAMS waits
        // (`pending`) instead of failing; ids stay in order because waiting
        // requests go out first come, first served.
        self.streams.pending.push_back(id);
        self.start_pending_requests();
        Ok(id)
    }

    /// Sends waiting requests while the peer's concurrency limit allows.
    pub(super) fn start_pending_requests(&mut self) {
        while self.counts.local_active < self.settings.remote.max_concurrent_streams {
            let Some(id) = self.streams.pending.pop_front() else {
                return;
            };
            let Some(pending) = self
                .streams
                .live
                .get_mut(&id)
                .and_then(|s| s.pending.take())
            else {
                continue;
            };
            if let Some(s) = self.streams.live.get_mut(&id) {
                s.headers_sent = true;
            }
            self.write_header_block(
                id,
                BlockFrame::Headers {
                    end_stream: pending.end_on_headers,
                    priority: pending.priority,
                },
                &pending.fields,
            );
            self.record_sent(id, pending.fields.into());
            if let Some(p) = pending.priority {
                self.scheduler.tree.set(id, p);
            }
            self.apply_local(
                id,
                StateEvent::Send {
                    kind: FrameKind::Headers,
                    end_stream: pending.end_on_headers,
                },
            );
            self.schedule(id);
        }
    }

    /// Drops requests that never went out (GOAWAY, or the application
    /// cancelling one), reporting them closed with `code`.
    pub(super) fn drop_pending_request(&mut self, id: u32, code: ErrorCode) {
        if self
            .streams
            .live
            .get(&id)
            .is_some_and(|s| s.pending.is_some())
        {
            self.streams.live.remove(&id);
            self.streams.pending.retain(|&p| p != id);
            self.streams.closed.insert(id, Cause::LocalReset(code));
            self.events.push_back(Event::StreamClosed {
                stream_id: id,
                code,
                metrics: Default::default(),
            });
        }
    }

    /// Server: sends the response headers (final status) on a request stream.
    pub fn respond(
        &mut self,
        stream_id: u32,
        fields: Vec<HeaderField>,
        opts: RespondOptions,
    ) -> Result<(), CommandError> {
        self.check_server()?;
        let fields = final_response_headers(fields)?;
        self.send_response(stream_id, &fields, None, opts)?;
        self.record_sent(stream_id, fields.into());
        Ok(())
    }

    /// Server: `respond` with headers checked once by `prepare_headers`.
    pub fn respond_prepared(
        &mut self,
        stream_id: u32,
        prepared: &PreparedHeaders,
        opts: RespondOptions,
    ) -> Result<(), CommandError> {
        self.check_server()?;
        self.send_response(stream_id, prepared.fields(), Some(prepared), opts)?;
        self.record_sent(stream_id, prepared.shared_fields());
        Ok(())
    }

    /// Checks final response headers once, for any number of
    /// `respond_prepared` calls on any connection.
    pub fn prepare_headers(
        &self,
        fields: Vec<HeaderField>,
    ) -> Result<PreparedHeaders, CommandError> {
        final_response_headers(fields).map(PreparedHeaders::new)
    }

    pub(super) fn check_server(&self) -> Result<(), CommandError> {
        self.check_open()?;
        if self.role != Role::Server {
            return Err(CommandError::WrongRole);
        }
        Ok(())
    }

    /// The final response on `stream_id`, from checked `fields`
    /// (`prepared` when they are a prepared list).
    fn send_response(
        &mut self,
        stream_id: u32,
        fields: &[HeaderField],
        prepared: Option<&PreparedHeaders>,
        opts: RespondOptions,
    ) -> Result<(), CommandError> {
        let s = self
            .streams
            .live
            .get_mut(&stream_id)
            .ok_or(CommandError::UnknownStream)?;
        if s.headers_sent {
            return Err(CommandError::InvalidState("response already sent"));
        }
        // A promised stream is answered from `reserved (local)`.
        if !s.state.can_send() && s.state != State::ReservedLocal {
            return Err(CommandError::InvalidState("stream cannot send"));
        }
        if self.header_block_too_large(stream_id, fields) {
            self.reset_stream(stream_id, ErrorCode::INTERNAL_ERROR);
            return Ok(());
        }
        let Some(s) = self.streams.live.get_mut(&stream_id) else {
            return Err(CommandError::UnknownStream);
        };
        s.headers_sent = true;
        // RFC 9218 §8: a response's own `priority` field is the server's
        // word on its priority, and orders its DATA from here.
        let urgency = match prepared {
            Some(p) => p.urgency(),
            None => headers::find(fields, "priority").and_then(|v| Urgency::parse(v)),
        };
        if let Some(urgency) = urgency {
            s.urgency = urgency;
            self.scheduler.by_urgency = true;
        }
        s.send.wait_for_trailers = opts.wait_for_trailers;
        s.send.end_requested = opts.end_stream;
        let end_on_headers = opts.end_stream && !opts.wait_for_trailers;
        let start = BlockFrame::Headers {
            end_stream: end_on_headers,
            priority: None,
        };
        match prepared {
            Some(p) => self.write_prepared_block(stream_id, start, p),
            None => self.write_header_block(stream_id, start, fields),
        }
        self.apply_local(
            stream_id,
            StateEvent::Send {
                kind: FrameKind::Headers,
                end_stream: end_on_headers,
            },
        );
        self.schedule(stream_id);
        Ok(())
    }

    /// Server: sends a 1xx informational response (Node's
    /// `additionalHeaders`) before the final one.
    pub fn additional_headers(
        &mut self,
        stream_id: u32,
        fields: Vec<HeaderField>,
    ) -> Result<(), CommandError> {
        self.check_open()?;
        if self.role != Role::Server {
            return Err(CommandError::WrongRole);
        }
        let fields = headers::prepare_outgoing(fields, BlockKind::Response)?;
        let status = headers::find(&fields, ":status")
            .cloned()
            .unwrap_or_default();
        if status.first() != Some(&b'1') || &status[..] == b"101" {
            return Err(CommandError::InvalidHeader(
                "additional headers need a 1xx status other than 101".into(),
            ));
        }
        let s = self
            .streams
            .live
            .get(&stream_id)
            .ok_or(CommandError::UnknownStream)?;
        if s.headers_sent || !s.state.can_send() {
            return Err(CommandError::InvalidState("final response already sent"));
        }
        if self.header_block_too_large(stream_id, &fields) {
            self.reset_stream(stream_id, ErrorCode::INTERNAL_ERROR);
            return Ok(());
        }
        self.write_header_block(
            stream_id,
            BlockFrame::Headers {
                end_stream: false,
                priority: None,
            },
            &fields,
        );
        if let Some(s) = self.streams.live.get_mut(&stream_id) {
            s.sent_info_headers.push(fields);
        }
        Ok(())
    }

    /// Keeps the final headers sent (Node's `sentHeaders`); prepared
    /// headers are shared, not copied.
    fn record_sent(&mut self, stream_id: u32, fields: Arc<[HeaderField]>) {
        if let Some(s) = self.streams.live.get_mut(&stream_id) {
            s.sent_headers = Some(fields);
        }
    }

    /// The stream `write` and `end` act on: open, headers sent (or a
    /// request still pending), its body not yet ended.
    fn body_stream(&mut self, stream_id: u32) -> Result<&mut Stream, CommandError> {
        self.check_open()?;
        let s = self
            .streams
            .live
            .get_mut(&stream_id)
            .ok_or(CommandError::UnknownStream)?;
        let pending = s.pending.is_some();
        if !s.headers_sent && !pending {
            return Err(CommandError::InvalidState("headers not sent"));
        }
        if (!s.state.can_send() && !pending) || s.send.end_requested {
            return Err(CommandError::InvalidState("stream already ended"));
        }
        Ok(s)
    }

    /// Queues body data. Returns `true` while the stream's queue is below
    /// the high-water mark; on `false` wait for `Event::Drain`.
    pub fn write(&mut self, stream_id: u32, data: Bytes) -> Result<bool, CommandError> {
        let hwm = self.opts.stream_high_water_mark as usize;
        let s = self.body_stream(stream_id)?;
        s.send.push(data);
        let below = s.send.len() < hwm;
        if !below {
            s.drain_wanted = true;
        }
        self.schedule(stream_id);
        Ok(below)
    }

    /// `write` for `length` octets the host holds, named `body`: queued in
    /// order with written data, sent as references (see
    /// [`Transmit`](crate::Transmit)) and released once wholly referenced
    /// or dropped. They count toward the high-water mark (the host holds
    /// them because the engine has not sent them), not toward the
    /// engine's memory. If this fails, nothing refers to `body`.
    pub fn write_payload(
        &mut self,
        stream_id: u32,
        body: u64,
        length: u64,
    ) -> Result<bool, CommandError> {
        let hwm = self.opts.stream_high_water_mark as usize;
        let s = self.body_stream(stream_id)?;
        let queued = s.send.push_host(body, length);
        let below = s.send.len() < hwm;
        if !below {
            s.drain_wanted = true;
        }
        if !queued {
            // Nothing to send: the host may let it go at once.
            self.payload.finish(body);
        }
        self.schedule(stream_id);
        Ok(below)
    }

    /// Ends the outgoing side (after any queued data). With
    /// `wait_for_trailers`, `WantTrailers` follows instead of END_STREAM.
    pub fn end(&mut self, stream_id: u32) -> Result<(), CommandError> {
        let s = self.body_stream(stream_id)?;
        s.send.end_requested = true;
        self.schedule(stream_id);
        Ok(())
    }

    /// Sends trailers: on a stream opened with `wait_for_trailers` (Node's
    /// way), or on any stream whose headers went out and whose body was
    /// not ended yet (a host streaming a body learns of trailers only as
    /// the body ends). They go after all queued data and end the stream.
    pub fn send_trailers(
        &mut self,
        stream_id: u32,
        fields: Vec<HeaderField>,
    ) -> Result<(), CommandError> {
        self.check_open()?;
        let fields = headers::prepare_outgoing(fields, BlockKind::Trailers)?;
        let s = self
            .streams
            .live
            .get_mut(&stream_id)
            .ok_or(CommandError::UnknownStream)?;
        let body_open = s.send.wait_for_trailers || !s.send.end_requested;
        if !body_open || !s.headers_sent || s.send.trailers.is_some() || !s.state.can_send() {
            return Err(CommandError::InvalidState(
                "trailers go once, after the headers and before the end",
            ));
        }
        if self.header_block_too_large(stream_id, &fields) {
            self.reset_stream(stream_id, ErrorCode::INTERNAL_ERROR);
            return Ok(());
        }
        let Some(s) = self.streams.live.get_mut(&stream_id) else {
            return Err(CommandError::UnknownStream);
        };
        s.send.trailers = Some(fields);
        s.send.end_requested = true;
        self.schedule(stream_id);
        Ok(())
    }

    /// Node's `maxSendHeaderBlockLength`. Checked against an upper bound of
    /// the encoded size before encoding (as nghttp2 does), so the encoder's
    /// table never records a block that was not sent. Over the limit, a
    /// frame-error event is queued and the caller drops the stream.
    pub(super) fn header_block_too_large(
        &mut self,
        stream_id: u32,
        fields: &[HeaderField],
    ) -> bool {
        // Representation octet(s) and two length prefixes per field; a
        // Huffman-coded string is never longer than its literal.
        let bound = fields.iter().fold(16usize, |n, f| {
            n.saturating_add(f.name.len() + f.value.len() + 12)
        });
        if bound <= self.opts.max_send_header_block_length as usize {
            return false;
        }
        self.events.push_back(Event::FrameError {
            frame_type: crate::frame::kind::HEADERS,
            code: ErrorCode::FRAME_SIZE_ERROR,
            stream_id,
        });
        true
    }

    /// Client: a new RFC 9218 priority for one of our requests, in a
    /// PRIORITY_UPDATE frame (§7.1).
    pub fn update_priority(
        &mut self,
        stream_id: u32,
        urgency: Urgency,
    ) -> Result<(), CommandError> {
        self.check_open()?;
        if self.role != Role::Client {
            return Err(CommandError::WrongRole);
        }
        if stream_id == 0 || stream_id > MAX_STREAM_ID {
            return Err(CommandError::InvalidArgument("no such stream"));
        }
        crate::frame::PriorityUpdate {
            prioritized: stream_id,
            value: Bytes::from(urgency.to_field()),
        }
        .encode(&mut self.out);
        self.metrics.frames_sent += 1;
        Ok(())
    }

    /// Node's `stream.priority({exclusive, parent, weight, silent})`:
    /// updates the dependency tree that orders our DATA and, unless
    /// `silent`, tells the peer in a PRIORITY frame.
    pub fn set_priority(
        &mut self,
        stream_id: u32,
        spec: PrioritySpec,
        silent: bool,
    ) -> Result<(), CommandError> {
        self.check_open()?;
        if spec.dependency == stream_id || !(1..=256).contains(&spec.weight) {
            return Err(CommandError::InvalidArgument(
                "a stream cannot depend on itself; weight is 1 to 256",
            ));
        }
        if !self.streams.live.contains_key(&stream_id) {
            return Err(CommandError::UnknownStream);
        }
        self.scheduler.tree.set(stream_id, spec);
        if !silent {
            Priority { stream_id, spec }.encode(&mut self.out);
            self.metrics.frames_sent += 1;
        }
        Ok(())
    }

    /// Counts `octets` the host holds for `stream_id` (a WebSocket's
    /// buffers, say) toward `maxSessionMemory` for as long as the stream
    /// lives, so that they limit what the peer may open as the engine's
    /// own memory does. Refused, with nothing counted, when the session
    /// has no room for them.
    pub fn reserve_memory(&mut self, stream_id: u32, octets: u32) -> Result<(), CommandError> {
        if !self.streams.live.contains_key(&stream_id) {
            return Err(CommandError::UnknownStream);
        }
        let used = self.session_memory().saturating_add(octets as usize);
        if used > self.session_memory_limit() {
            return Err(CommandError::SessionMemory);
        }
        if let Some(s) = self.streams.live.get_mut(&stream_id) {
            s.host_held = s.host_held.saturating_add(octets);
        }
        if let Some(in_turn) = &mut self.protections.memory_in_turn {
            *in_turn = in_turn.saturating_add(octets as usize);
        }
        Ok(())
    }

    /// Resets a stream with `code` (Node's `stream.close(code)`).
    pub fn close_stream(&mut self, stream_id: u32, code: ErrorCode) -> Result<(), CommandError> {
        self.check_open()?;
        let Some(s) = self.streams.live.get(&stream_id) else {
            return Err(CommandError::UnknownStream);
        };
        if s.pending.is_some() {
            // Never sent: nothing to tell the peer.
            self.drop_pending_request(stream_id, code);
        } else {
            self.reset_stream(stream_id, code);
        }
        Ok(())
    }

    /// Manual flow control: the application has processed `n` octets of a
    /// stream opened with `manual_consume`.
    pub fn consume(&mut self, stream_id: u32, n: u32) -> Result<(), CommandError> {
        self.check_open()?;
        if !self.streams.live.contains_key(&stream_id) {
            return Err(CommandError::UnknownStream);
        }
        self.consume_stream(stream_id, n);
        Ok(())
    }

    /// Sends a PING; `PingAck` reports the round trip. Node's
    /// `maxOutstandingPings` bounds how many may be unanswered.
    pub fn ping(&mut self, now: u64, payload: Option<[u8; 8]>) -> Result<[u8; 8], CommandError> {
        self.check_open()?;
        self.now = self.now.max(now);
        let max = self.opts.max_outstanding_pings as usize;
        let payload = self.ping.start(payload, self.now, max)?;
        Ping {
            ack: false,
            payload,
        }
        .encode(&mut self.out);
        self.metrics.frames_sent += 1;
        Ok(payload)
    }

    /// Sends new SETTINGS; they apply when the peer acknowledges them
    /// (`LocalSettings` event).
    pub fn settings(&mut self, settings: Settings) -> Result<(), CommandError> {
        self.check_open()?;
        settings
            .validate()
            .map_err(|e| CommandError::InvalidArgument(e.reason))?;
        if self.role == Role::Server && settings.enable_push == Some(true) {
            return Err(CommandError::InvalidArgument("a server cannot enable push"));
        }
        if settings.custom.len() > crate::settings::MAX_CUSTOM_SETTINGS {
            return Err(CommandError::InvalidArgument(
                "more than 10 custom settings",
            ));
        }
        if self.settings.local.enable_connect_protocol
            && settings.enable_connect_protocol == Some(false)
        {
            return Err(CommandError::InvalidArgument(
                "enableConnectProtocol cannot be turned off",
            ));
        }
        self.send_settings_frame(settings);
        Ok(())
    }

    /// Sends GOAWAY without closing (Node's `session.goaway`). The last
    /// stream id defaults to the last one the peer opened, and is never
    /// above an earlier GOAWAY's (§6.8).
    pub fn goaway(
        &mut self,
        code: ErrorCode,
        last_stream_id: Option<u32>,
        debug_data: Bytes,
    ) -> Result<(), CommandError> {
        self.check_open()?;
        let last = last_stream_id.unwrap_or(self.counts.max_peer_id);
        if last > MAX_STREAM_ID {
            return Err(CommandError::InvalidArgument("last stream id above 2^31-1"));
        }
        self.write_goaway(code, last, debug_data);
        Ok(())
    }

    /// Sets the connection receive window we keep open (Node's
    /// `setLocalWindowSize`).
    pub fn set_local_window_size(&mut self, size: u32) -> Result<(), CommandError> {
        self.check_open()?;
        if size > crate::settings::MAX_WINDOW_SIZE {
            return Err(CommandError::InvalidArgument("window size above 2^31-1"));
        }
        if let Some(inc) = self.flow.recv.set_target(size) {
            self.write_window_update(0, inc);
        }
        Ok(())
    }

    /// While on, streams the peer opens are refused with REFUSED_STREAM
    /// (safe to retry, RFC 9113 §8.7) and not counted against it: what a
    /// host does when it runs short of memory. Open streams go on.
    pub fn set_refusing_streams(&mut self, refusing: bool) {
        self.protections.refusing_streams = refusing;
    }

    /// Graceful close (Node's `session.close()`): GOAWAY, no new streams,
    /// open streams finish, then `Closed`.
    pub fn close(&mut self) {
        if self.phase == Phase::Closed {
            return;
        }
        self.shutdown.close();
        if !self.shutdown.goaway_sent() {
            self.write_goaway(ErrorCode::NO_ERROR, self.counts.max_peer_id, Bytes::new());
        }
        self.maybe_finish_closing();
    }

    /// Immediate close (Node's `session.destroy(code)`): GOAWAY with `code`,
    /// every stream closed, `Closed` emitted.
    pub fn destroy(&mut self, code: ErrorCode) {
        if self.phase == Phase::Closed {
            return;
        }
        self.write_goaway(code, self.counts.max_peer_id, Bytes::new());
        self.terminate(code);
    }
}

//! Server push (RFC 9113 §8.4): a server promises a request on a client's
//! stream, then answers it on the promised stream; a client accepts the
//! promise into `reserved (remote)` or refuses it.

use super::Connection;
use super::send::BlockFrame;
use crate::error::{CommandError, ConnectionError, ErrorCode, StreamError};
use crate::events::Event;
use crate::frame::MAX_STREAM_ID;
use crate::headers::{self, BlockKind, HeaderField, HeaderList};
use crate::hpack::DecodeError;
use crate::options::Role;
use crate::stream::state::{Event as StateEvent, FrameKind};
use crate::stream::{Cause, State};

/// Promised requests must be safe and cacheable (§8.4).
fn pushable_method(fields: &[HeaderField]) -> bool {
    matches!(
        headers::find(fields, ":method").map(|m| &m[..]),
        Some(b"GET" | b"HEAD")
    )
}

impl Connection {
    /// Server: whether the client accepts pushes (its ENABLE_PUSH; Node's
    /// `stream.pushAllowed`).
    pub fn push_allowed(&self) -> bool {
        self.role == Role::Server && self.settings.remote.enable_push
    }

    /// Server: promises the request `fields` on the client's stream
    /// `parent` (Node's `stream.pushStream`) and returns the promised
    /// stream, in `reserved (local)` until `respond` answers it.
    /// `:method` defaults to GET, `:scheme` and `:path` as for requests;
    /// `:authority` is required, as the server must be authoritative for
    /// what it pushes.
    pub fn push_stream(
        &mut self,
        parent: u32,
        fields: Vec<HeaderField>,
    ) -> Result<u32, CommandError> {
        self.check_open()?;
        if self.role != Role::Server {
            return Err(CommandError::WrongRole);
        }
        if !self.settings.remote.enable_push {
            return Err(CommandError::InvalidState("the client disabled push"));
        }
        if !self.shutdown.may_open_streams() {
            return Err(CommandError::SessionClosed);
        }
        let Some(p) = self.streams.live.get(&parent) else {
            return Err(CommandError::UnknownStream);
        };
        if !self.is_peer_initiated(parent) {
            return Err(CommandError::InvalidState("no push from a pushed stream"));
        }
        if !p.state.can_send() {
            return Err(CommandError::InvalidState(
                "the parent stream can no longer carry a push",
            ));
        }
        let id = self.counts.next_local_id;
        if id > MAX_STREAM_ID {
            return Err(CommandError::StreamIdsExhausted);
        }
        if self.counts.local_active >= self.settings.remote.max_concurrent_streams {
            return Err(CommandError::ConcurrencyLimit);
        }
        let mut fields = headers::prepare_outgoing(fields, BlockKind::Request)?;
        headers::apply_request_defaults(&mut fields, &self.opts.scheme, &self.opts.authority);
        let info = headers::check_outgoing_request(&fields, false)?;
        if !pushable_method(&fields) {
            return Err(CommandError::InvalidHeader(
                "pushed requests must be GET or HEAD".into(),
            ));
        }
        if headers::find(&fields, ":authority").is_none_or(|a| a.is_empty()) {
            return Err(CommandError::InvalidHeader(
                "pushed requests need :authority".into(),
            ));
        }
        if self.header_block_too_large(parent, &fields) {
            return Err(CommandError::InvalidHeader(
                "header block exceeds maxSendHeaderBlockLength".into(),
            ));
        }
        self.counts.take_local_id();
        let mut stream = self.new_stream(id);
        stream.head_request = info.head;
        stream.state = State::ReservedLocal;
        self.streams.live.insert(id, Box::new(stream));
        self.write_header_block(parent, BlockFrame::PushPromise { promised_id: id }, &fields);
        Ok(id)
    }

    /// Client: a complete PUSH_PROMISE block on stream `id`.
    pub(super) fn on_push_block(
        &mut self,
        id: u32,
        promised_id: u32,
        decoded: Result<HeaderList, DecodeError>,
    ) -> Result<(), ConnectionError> {
        if !self.settings.push_maybe_enabled() {
            return Err(ConnectionError::protocol(
                "PUSH_PROMISE when push is disabled",
            ));
        }
        if promised_id == 0 || !self.is_peer_initiated(promised_id) || !self.is_idle(promised_id) {
            return Err(ConnectionError::protocol("invalid promised stream id"));
        }
        // §5.1: a promise may still arrive after we reset its stream; the
        // promised stream is refused, the connection goes on.
        if matches!(self.streams.closed.get(id), Some(Cause::LocalReset(_))) {
            self.counts.max_peer_id = promised_id;
            self.write_rst(promised_id, ErrorCode::CANCEL);
            self.streams
                .closed
                .insert(promised_id, Cause::LocalReset(ErrorCode::CANCEL));
            return Ok(());
        }
        // The associated stream must be one we opened and the peer can still
        // send on (§6.6).
        let associated_ok = self
            .streams
            .live
            .get(&id)
            .is_some_and(|s| s.state.can_recv() && !self.is_peer_initiated(id));
        if !associated_ok {
            return Err(ConnectionError::protocol(
                "PUSH_PROMISE on a stream that cannot carry it",
            ));
        }
        self.counts.max_peer_id = promised_id;
        let reserved = self
            .streams
            .live
            .values()
            .filter(|s| s.state == State::ReservedRemote)
            .count();
        if self.shutdown.is_closing() || reserved >= self.opts.max_reserved_remote_streams as usize
        {
            self.write_rst(promised_id, ErrorCode::REFUSED_STREAM);
            self.streams
                .closed
                .insert(promised_id, Cause::LocalReset(ErrorCode::REFUSED_STREAM));
            return Ok(());
        }
        let refuse = |code, reason| StreamError {
            stream_id: promised_id,
            code,
            reason,
        };
        let fields = match decoded {
            Ok(f) => f,
            Err(_) => {
                return self.stream_error(refuse(
                    ErrorCode::ENHANCE_YOUR_CALM,
                    "header list too large",
                ));
            }
        };
        let info = match headers::check_received(&fields, BlockKind::Request, false) {
            Ok(info) => info,
            Err(reason) => return self.stream_error(refuse(ErrorCode::PROTOCOL_ERROR, reason)),
        };
        if !pushable_method(&fields) || info.content_length.is_some_and(|n| n > 0) {
            return self.stream_error(refuse(
                ErrorCode::PROTOCOL_ERROR,
                "promised request is not safe and cacheable",
            ));
        }
        let mut stream = self.new_stream(promised_id);
        stream.head_request = info.head;
        if let Ok(next) = stream.state.transition(StateEvent::Recv {
            kind: FrameKind::PushPromise,
            end_stream: false,
        }) {
            stream.state = next;
        }
        self.streams.live.insert(promised_id, Box::new(stream));
        self.events.push_back(Event::PushPromise {
            parent: id,
            stream_id: promised_id,
            headers: fields,
        });
        Ok(())
    }
}

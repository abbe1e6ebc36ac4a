//! The engine's events as WIT events: header blocks as one buffer and
//! spans when the host asked for them (`header-blocks`), data as a place
//! in `drive`'s input when it came from there (`input-data`).

use super::convert::fields_to_wit;
use super::exports::h2wasm::http2::types::{
    AltsvcEvent, CloseEvent, ConnectionError, DataEvent, Event, FieldSpan, FrameErrorEvent,
    GoawayEvent, HeaderBlock, HeaderBlockEvent, HeaderKind, HeadersEvent, InputDataEvent,
    PingAckEvent, PushPromiseEvent, RepeatedRequestEvent, ResetEvent,
};
use crate::events::Event as NativeEvent;
use crate::headers::{
    FieldSpan as NativeSpan, HeaderField as NativeField, RequestBlock, RequestMemory, flatten,
};

/// A header event as WIT: one buffer and its spans (`header-blocks`), or
/// a list of fields as the event of its kind.
fn headers_to_wit(
    kind: HeaderKind,
    stream_id: u32,
    headers: &[NativeField],
    end_stream: bool,
    as_block: bool,
) -> Event {
    if as_block {
        return header_block_event(kind, stream_id, headers, end_stream);
    }
    let event = headers_event(stream_id, headers, end_stream);
    match kind {
        HeaderKind::Request => Event::Request(event),
        HeaderKind::Response => Event::Response(event),
        HeaderKind::Informational => Event::Informational(event),
        HeaderKind::Trailers => Event::Trailers(event),
    }
}

fn headers_event(stream_id: u32, headers: &[NativeField], end_stream: bool) -> HeadersEvent {
    HeadersEvent {
        stream_id,
        headers: fields_to_wit(headers),
        end_stream,
    }
}

fn header_block_event(
    kind: HeaderKind,
    stream_id: u32,
    headers: &[NativeField],
    end_stream: bool,
) -> Event {
    let (octets, spans) = flatten(headers);
    block_event(kind, stream_id, octets, spans, end_stream)
}

fn block_event(
    kind: HeaderKind,
    stream_id: u32,
    octets: Vec<u8>,
    spans: Vec<NativeSpan>,
    end_stream: bool,
) -> Event {
    Event::HeaderBlock(HeaderBlockEvent {
        kind,
        stream_id,
        headers: HeaderBlock {
            octets,
            fields: spans
                .into_iter()
                .map(|s| FieldSpan {
                    name_len: s.name_len,
                    value_len: s.value_len,
                    sensitive: s.sensitive,
                })
                .collect(),
        },
        end_stream,
    })
}

/// A native event as WIT. `blocks`: headers as `header-block` events;
/// `at`: a data event's place in `drive`'s input, to report it there.
pub(super) fn event_to_wit(
    e: NativeEvent,
    blocks: Option<&mut RequestMemory>,
    at: Option<usize>,
) -> Event {
    let as_blocks = blocks.is_some();
    match e {
        NativeEvent::Request {
            stream_id,
            headers,
            end_stream,
        } => match blocks {
            Some(memory) => match memory.block(headers) {
                RequestBlock::Repeated => Event::RepeatedRequest(RepeatedRequestEvent {
                    stream_id,
                    end_stream,
                }),
                RequestBlock::Fresh(octets, spans) => {
                    block_event(HeaderKind::Request, stream_id, octets, spans, end_stream)
                }
            },
            None => headers_to_wit(HeaderKind::Request, stream_id, &headers, end_stream, false),
        },
        NativeEvent::Response {
            stream_id,
            headers,
            end_stream,
        } => headers_to_wit(
            HeaderKind::Response,
            stream_id,
            &headers,
            end_stream,
            as_blocks,
        ),
        NativeEvent::Informational { stream_id, headers } => headers_to_wit(
            HeaderKind::Informational,
            stream_id,
            &headers,
            false,
            as_blocks,
        ),
        NativeEvent::Trailers { stream_id, headers } => {
            headers_to_wit(HeaderKind::Trailers, stream_id, &headers, true, as_blocks)
        }
        NativeEvent::Data {
            stream_id,
            data,
            end_stream,
        } => match at {
            // Input is a list, so offsets and lengths fit in u32.
            Some(at) => Event::InputData(InputDataEvent {
                stream_id,
                at: u32::try_from(at).unwrap_or(u32::MAX),
                length: u32::try_from(data.len()).unwrap_or(u32::MAX),
                end_stream,
            }),
            None => Event::Data(DataEvent {
                stream_id,
                data: data.to_vec(),
                end_stream,
            }),
        },
        NativeEvent::HeldData {
            stream_id,
            at,
            length,
            end_stream,
        } => Event::InputData(InputDataEvent {
            stream_id,
            at,
            length,
            end_stream,
        }),
        NativeEvent::WantTrailers { stream_id } => Event::WantTrailers(stream_id),
        NativeEvent::Drain { stream_id } => Event::Drain(stream_id),
        NativeEvent::StreamReset {
            stream_id,
            code,
            origin: o,
        } => Event::StreamReset(ResetEvent {
            stream_id,
            code: code.0,
            origin: o.into(),
        }),
        NativeEvent::StreamClosed {
            stream_id,
            code,
            metrics: m,
        } => Event::StreamClosed(CloseEvent {
            stream_id,
            code: code.0,
            metrics: m.into(),
        }),
        NativeEvent::Ping { payload } => Event::Ping(u64::from_be_bytes(payload)),
        NativeEvent::PingAck { payload, rtt_ns } => Event::PingAck(PingAckEvent {
            payload: u64::from_be_bytes(payload),
            rtt_ns,
        }),
        NativeEvent::RemoteSettings { settings } => Event::RemoteSettings(settings.into()),
        NativeEvent::LocalSettings { settings } => Event::LocalSettings(settings.into()),
        NativeEvent::GoAway {
            code,
            last_stream_id,
            debug_data,
            origin: o,
        } => Event::Goaway(GoawayEvent {
            code: code.0,
            last_stream_id,
            opaque_data: debug_data.to_vec(),
            origin: o.into(),
        }),
        NativeEvent::FrameError {
            frame_type,
            code,
            stream_id,
        } => Event::FrameError(FrameErrorEvent {
            frame_type,
            code: code.0,
            stream_id,
        }),
        NativeEvent::ConnectionError { code, reason } => Event::ConnectionError(ConnectionError {
            code: code.0,
            reason,
        }),
        NativeEvent::Timeout => Event::Timeout,
        NativeEvent::StreamTimeout { stream_id } => Event::StreamTimeout(stream_id),
        NativeEvent::Continue { stream_id } => Event::Continue(stream_id),
        NativeEvent::Closed { code } => Event::Closed(code.0),
        NativeEvent::AltSvc {
            stream_id,
            origin,
            value,
        } => Event::Altsvc(AltsvcEvent {
            stream_id,
            origin,
            value,
        }),
        NativeEvent::Origin { origins } => Event::Origin(origins),
        NativeEvent::PushPromise {
            parent,
            stream_id,
            headers,
        } => Event::PushPromise(PushPromiseEvent {
            parent,
            stream_id,
            headers: fields_to_wit(&headers),
        }),
    }
}

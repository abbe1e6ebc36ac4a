//! Helpers shared by the integration tests: header shorthands, event
//! filters, and a raw-frame peer for sending hand-built (often malformed)
//! frames to an engine.
#![allow(dead_code)]

use bytes::{BufMut, Bytes, BytesMut};
use h2wasm_engine::connection::PREFACE;
use h2wasm_engine::wire::{FrameHeader, flag, kind};
use h2wasm_engine::{Connection, ErrorCode, Event, HeaderField, Options, RequestOptions, Role};

/// Opens `n` GETs of `path` with no body and runs the pair until the
/// server has them.
pub(crate) fn open_gets(
    p: &mut h2wasm_engine::pair::Pair,
    path: &'static str,
    n: usize,
) -> Vec<u32> {
    let ids = (0..n)
        .map(|_| {
            p.client
                .request(
                    get(path),
                    RequestOptions {
                        end_stream: true,
                        ..Default::default()
                    },
                )
                .expect("request accepted")
        })
        .collect();
    p.run().expect("the pair runs");
    ids
}

/// Opens a POST (body to follow) and runs the pair until the server has it.
pub(crate) fn open_post(p: &mut h2wasm_engine::pair::Pair) -> u32 {
    let id = p
        .client
        .request(post_fields(), RequestOptions::default())
        .expect("request accepted");
    p.run().expect("the pair runs");
    id
}

pub(crate) fn h(name: &'static str, value: &'static str) -> HeaderField {
    HeaderField::new(name, value)
}

pub(crate) fn get(path: &'static str) -> Vec<HeaderField> {
    vec![h(":method", "GET"), h(":path", path)]
}

pub(crate) fn status(code: &'static str) -> Vec<HeaderField> {
    vec![h(":status", code)]
}

/// Concatenated DATA payloads for a stream.
pub(crate) fn body(events: &[Event], stream: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        if let Event::Data {
            stream_id, data, ..
        } = e
            && *stream_id == stream
        {
            out.extend_from_slice(data);
        }
    }
    out
}

pub(crate) fn ended(events: &[Event], stream: u32) -> bool {
    events.iter().any(|e| match e {
        Event::Data {
            stream_id,
            end_stream,
            ..
        } => *stream_id == stream && *end_stream,
        Event::Request {
            stream_id,
            end_stream,
            ..
        }
        | Event::Response {
            stream_id,
            end_stream,
            ..
        } => *stream_id == stream && *end_stream,
        Event::Trailers { stream_id, .. } => *stream_id == stream,
        _ => false,
    })
}

/// A response header's value, as the client decoded it.
pub(crate) fn response_header(events: &[Event], stream: u32, name: &str) -> Option<String> {
    events.iter().find_map(|e| match e {
        Event::Response {
            stream_id, headers, ..
        } if *stream_id == stream => headers
            .iter()
            .find(|f| f.name == name.as_bytes())
            .map(|f| String::from_utf8_lossy(&f.value).into_owned()),
        _ => None,
    })
}

/// The response on `stream` was a 200 with this `content-length`, and
/// the stream closed cleanly.
pub(crate) fn assert_ok_response(events: &[Event], stream: u32, content_length: &str) {
    assert_eq!(
        response_header(events, stream, ":status").as_deref(),
        Some("200")
    );
    assert_eq!(
        response_header(events, stream, "content-length").as_deref(),
        Some(content_length)
    );
    assert_eq!(closed_code(events, stream), Some(ErrorCode::NO_ERROR));
}

pub(crate) fn closed_code(events: &[Event], stream: u32) -> Option<ErrorCode> {
    events.iter().find_map(|e| match e {
        Event::StreamClosed {
            stream_id, code, ..
        } if *stream_id == stream => Some(*code),
        _ => None,
    })
}

/// A frame as the raw peer saw it.
#[derive(Clone, Debug)]
pub(crate) struct RawFrame {
    pub head: FrameHeader,
    pub payload: Bytes,
}

impl RawFrame {
    pub(crate) fn goaway_code(&self) -> Option<ErrorCode> {
        (self.head.kind == kind::GOAWAY && self.payload.len() >= 8).then(|| {
            ErrorCode(u32::from_be_bytes([
                self.payload[4],
                self.payload[5],
                self.payload[6],
                self.payload[7],
            ]))
        })
    }
    pub(crate) fn rst_code(&self) -> Option<ErrorCode> {
        (self.head.kind == kind::RST_STREAM && self.payload.len() == 4).then(|| {
            ErrorCode(u32::from_be_bytes([
                self.payload[0],
                self.payload[1],
                self.payload[2],
                self.payload[3],
            ]))
        })
    }
}

/// A hand-driven peer: writes raw frames into an engine and parses what the
/// engine sends back, so tests can assert exact frames and error codes.
pub(crate) struct RawPeer {
    pub conn: Connection,
    pub encoder: hpack::Encoder<'static>,
    pub decoder: hpack::Decoder<'static>,
    pub received: Vec<RawFrame>,
    pub events: Vec<Event>,
    pending: BytesMut,
    pub now: u64,
}

impl RawPeer {
    /// An engine server with the client preface and an empty SETTINGS
    /// already exchanged (and the server's SETTINGS acknowledged).
    pub(crate) fn server() -> RawPeer {
        Self::server_with(Options::default())
    }

    pub(crate) fn server_with(opts: Options) -> RawPeer {
        let conn = Connection::new(Role::Server, opts, 0).unwrap();
        let mut p = RawPeer::new(conn);
        let mut hello = BytesMut::new();
        hello.put_slice(PREFACE);
        frame(&mut hello, kind::SETTINGS, 0, 0, &[]);
        frame(&mut hello, kind::SETTINGS, flag::ACK, 0, &[]);
        p.send_bytes(&hello);
        p
    }

    /// An engine client after the server's preface (empty SETTINGS + ACK).
    pub(crate) fn client() -> RawPeer {
        Self::client_with(Options {
            authority: "example.com".into(),
            ..Options::default()
        })
    }

    /// A client that sent a GET with END_STREAM; returns it and the id.
    pub(crate) fn client_with_request() -> (RawPeer, u32) {
        let mut p = RawPeer::client();
        let id = p
            .conn
            .request(
                get("/"),
                RequestOptions {
                    end_stream: true,
                    ..Default::default()
                },
            )
            .unwrap();
        p.pump();
        (p, id)
    }

    pub(crate) fn client_with(opts: Options) -> RawPeer {
        let mut conn = Connection::new(Role::Client, opts, 0).unwrap();
        // Strip the client magic so only frames remain to parse.
        let first = conn.poll_transmit(PREFACE.len()).unwrap();
        assert_eq!(&first.octets[..], &PREFACE[..]);
        let mut p = RawPeer::new(conn);
        let mut hello = BytesMut::new();
        frame(&mut hello, kind::SETTINGS, 0, 0, &[]);
        frame(&mut hello, kind::SETTINGS, flag::ACK, 0, &[]);
        p.send_bytes(&hello);
        p
    }

    pub(crate) fn new(conn: Connection) -> RawPeer {
        RawPeer {
            conn,
            encoder: hpack::Encoder::new(),
            decoder: hpack::Decoder::new(),
            received: Vec::new(),
            events: Vec::new(),
            pending: BytesMut::new(),
            now: 0,
        }
    }

    pub(crate) fn send_bytes(&mut self, bytes: &[u8]) {
        let _ = self.conn.receive(self.now, bytes);
        self.pump();
    }

    pub(crate) fn send_frame(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let mut buf = BytesMut::new();
        frame(&mut buf, kind, flags, stream, payload);
        self.send_bytes(&buf);
    }

    /// HPACK-encodes `fields` (keeping our encoder in sync with the engine).
    pub(crate) fn block(&mut self, fields: &[HeaderField]) -> Vec<u8> {
        encode_block(&mut self.encoder, fields)
    }

    pub(crate) fn send_headers(&mut self, stream: u32, fields: &[HeaderField], end_stream: bool) {
        let block = self.block(fields);
        let flags = flag::END_HEADERS | if end_stream { flag::END_STREAM } else { 0 };
        self.send_frame(kind::HEADERS, flags, stream, &block);
    }

    pub(crate) fn send_data(&mut self, stream: u32, data: &[u8], end_stream: bool) {
        let flags = if end_stream { flag::END_STREAM } else { 0 };
        self.send_frame(kind::DATA, flags, stream, data);
    }

    /// Drains the engine's output into `received` and events into `events`.
    pub(crate) fn pump(&mut self) {
        while let Some(bytes) = self.conn.poll_transmit(1 << 20) {
            self.pending.extend_from_slice(&bytes.octets);
        }
        while let Some(head) = FrameHeader::parse(&self.pending) {
            let total = 9 + head.length as usize;
            if self.pending.len() < total {
                break;
            }
            let mut f = self.pending.split_to(total);
            let payload = f.split_off(9).freeze();
            self.received.push(RawFrame { head, payload });
        }
        while let Some(e) = self.conn.poll_event() {
            self.events.push(e);
        }
    }

    pub(crate) fn take_frames(&mut self) -> Vec<RawFrame> {
        std::mem::take(&mut self.received)
    }

    /// The GOAWAY error code the engine sent, if any.
    pub(crate) fn goaway(&self) -> Option<ErrorCode> {
        self.received.iter().find_map(RawFrame::goaway_code)
    }

    /// The RST_STREAM code the engine sent on `stream`, if any.
    pub(crate) fn rst(&self, stream: u32) -> Option<ErrorCode> {
        self.received
            .iter()
            .filter(|f| f.head.stream_id == stream)
            .find_map(RawFrame::rst_code)
    }

    /// Decoded header blocks the engine sent on `stream` (HEADERS only, no
    /// CONTINUATION in these tests).
    pub(crate) fn header_blocks(&mut self, stream: u32) -> Vec<Vec<HeaderField>> {
        let frames: Vec<RawFrame> = self
            .received
            .iter()
            .filter(|f| f.head.kind == kind::HEADERS && f.head.stream_id == stream)
            .cloned()
            .collect();
        frames
            .iter()
            .map(|f| decode_block(&mut self.decoder, &f.payload).expect("a valid block"))
            .collect()
    }
}

/// HPACK-encodes `fields` with an encoder independent of the engine's
/// (loona-hpack), so the engine's decoder is checked against another
/// implementation.
pub(crate) fn encode_block(encoder: &mut hpack::Encoder<'_>, fields: &[HeaderField]) -> Vec<u8> {
    encoder.encode(fields.iter().map(|f| (&f.name[..], &f.value[..])))
}

/// Decodes a block the engine encoded, with loona-hpack.
pub(crate) fn decode_block(
    decoder: &mut hpack::Decoder<'_>,
    block: &[u8],
) -> Option<Vec<HeaderField>> {
    let fields = decoder.decode(block).ok()?;
    Some(
        fields
            .into_iter()
            .map(|(n, v)| HeaderField::new(n, v))
            .collect(),
    )
}

/// Appends one frame.
pub(crate) fn frame(buf: &mut BytesMut, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    FrameHeader::new(kind, flags, stream, payload.len()).encode(buf);
    buf.put_slice(payload);
}

pub(crate) fn request_fields(path: &'static str) -> Vec<HeaderField> {
    vec![
        h(":method", "GET"),
        h(":scheme", "https"),
        h(":authority", "example.com"),
        h(":path", path),
    ]
}

pub(crate) fn post_fields() -> Vec<HeaderField> {
    vec![
        h(":method", "POST"),
        h(":scheme", "https"),
        h(":authority", "example.com"),
        h(":path", "/upload"),
    ]
}

//! A hand-driven HTTP/2 client over a plain TCP socket: what the edge
//! tests need to act like idle, slow, flooding or greedy peers, and to see
//! exactly which frames the server sends back.
#![allow(dead_code)]

use h2wasm_engine::HeaderField;
use h2wasm_engine::connection::PREFACE;
use h2wasm_engine::wire::{FrameHeader, flag, kind};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub(crate) struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    /// GOAWAY's error code.
    pub(crate) fn goaway_code(&self) -> Option<u32> {
        (self.kind == kind::GOAWAY && self.payload.len() >= 8)
            .then(|| u32::from_be_bytes(self.payload[4..8].try_into().unwrap()))
    }

    /// RST_STREAM's error code.
    pub(crate) fn rst_code(&self) -> Option<u32> {
        (self.kind == kind::RST_STREAM && self.payload.len() == 4)
            .then(|| u32::from_be_bytes(self.payload[..4].try_into().unwrap()))
    }

    /// SETTINGS parameters.
    pub(crate) fn settings(&self) -> Vec<(u16, u32)> {
        self.payload
            .chunks_exact(6)
            .map(|c| {
                (
                    u16::from_be_bytes([c[0], c[1]]),
                    u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
                )
            })
            .collect()
    }
}

pub(crate) struct RawClient {
    pub tcp: TcpStream,
    encoder: hpack::Encoder<'static>,
    pending: Vec<u8>,
    /// Every frame read so far.
    pub frames: Vec<Frame>,
    /// Acknowledge the server's SETTINGS as they are read (as any client
    /// must); off for a peer that never does.
    pub acks_settings: bool,
}

impl RawClient {
    pub(crate) fn connect(addr: SocketAddr) -> RawClient {
        let tcp = TcpStream::connect(addr).expect("the server accepts");
        tcp.set_nodelay(true).unwrap();
        RawClient {
            tcp,
            encoder: hpack::Encoder::new(),
            pending: Vec::new(),
            frames: Vec::new(),
            acks_settings: true,
        }
    }

    /// Connects and sends the preface with an empty SETTINGS.
    pub(crate) fn hello(addr: SocketAddr) -> RawClient {
        let mut c = RawClient::connect(addr);
        c.send_preface(&[]);
        c
    }

    pub(crate) fn send_preface(&mut self, settings: &[(u16, u32)]) {
        let mut out = PREFACE.to_vec();
        out.extend(frame(kind::SETTINGS, 0, 0, &settings_payload(settings)));
        self.send(&out);
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).expect("the server reads");
    }

    /// Writes everything, or says why it could not (the server closed
    /// the connection, or stopped reading until the write timeout).
    pub(crate) fn try_send(&mut self, bytes: &[u8]) -> Result<(), std::io::ErrorKind> {
        self.tcp.write_all(bytes).map_err(|e| e.kind())
    }

    pub(crate) fn send_frame(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        self.send(&frame(kind, flags, stream, payload));
    }

    /// A request HEADERS frame (HPACK kept in step with the server).
    pub(crate) fn headers_frame(
        &mut self,
        stream: u32,
        fields: &[HeaderField],
        end: bool,
    ) -> Vec<u8> {
        // loona-hpack: an encoder independent of the server's engine.
        let block = self
            .encoder
            .encode(fields.iter().map(|f| (&f.name[..], &f.value[..])));
        let flags = flag::END_HEADERS | if end { flag::END_STREAM } else { 0 };
        frame(kind::HEADERS, flags, stream, &block)
    }

    pub(crate) fn get(&mut self, stream: u32, path: &'static str) {
        let f = self.headers_frame(stream, &request("GET", path), true);
        self.send(&f);
    }

    /// Reads frames until `done` says so, the server closes, or `timeout`.
    /// Returns whether `done` was satisfied.
    pub(crate) fn read_until(
        &mut self,
        timeout: Duration,
        done: impl Fn(&[Frame]) -> bool,
    ) -> bool {
        let end = Instant::now() + timeout;
        let mut buf = vec![0u8; 64 * 1024];
        while !done(&self.frames) {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.tcp.set_read_timeout(Some(left)).unwrap();
            match self.tcp.read(&mut buf) {
                Ok(0) | Err(_) => return done(&self.frames),
                Ok(n) => {
                    self.pending.extend_from_slice(&buf[..n]);
                    self.parse();
                }
            }
        }
        true
    }

    /// Reads until the server closes the connection (or `timeout`); true if
    /// it closed.
    pub(crate) fn read_to_close(&mut self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.tcp.set_read_timeout(Some(left)).unwrap();
            match self.tcp.read(&mut buf) {
                Ok(0) => return true,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return false;
                }
                Err(_) => return true,
                Ok(n) => {
                    self.pending.extend_from_slice(&buf[..n]);
                    self.parse();
                }
            }
        }
    }

    fn parse(&mut self) {
        while let Some(head) = FrameHeader::parse(&self.pending) {
            let total = 9 + head.length as usize;
            if self.pending.len() < total {
                break;
            }
            let payload = self.pending[9..total].to_vec();
            self.pending.drain(..total);
            if self.acks_settings && head.kind == kind::SETTINGS && head.flags & flag::ACK == 0 {
                // Acknowledge, as any client must.
                let _ = self
                    .tcp
                    .write_all(&frame(kind::SETTINGS, flag::ACK, 0, &[]));
            }
            self.frames.push(Frame {
                kind: head.kind,
                flags: head.flags,
                stream: head.stream_id,
                payload,
            });
        }
    }

    /// The response headers on `stream`, decoded.
    pub(crate) fn response(&self, stream: u32) -> Option<Vec<HeaderField>> {
        self.header_blocks(stream)?.into_iter().next()
    }

    /// Every header block on `stream` in order (informational responses,
    /// the response, trailers), decoded; `None` if one does not decode.
    pub(crate) fn header_blocks(&self, stream: u32) -> Option<Vec<Vec<HeaderField>>> {
        let blocks: Vec<Vec<u8>> = self
            .frames
            .iter()
            .filter(|f| f.kind == kind::HEADERS)
            .map(|f| f.payload.clone())
            .collect();
        let streams: Vec<u32> = self
            .frames
            .iter()
            .filter(|f| f.kind == kind::HEADERS)
            .map(|f| f.stream)
            .collect();
        // Every block goes through one decoder in order (its table).
        let mut decoder = hpack::Decoder::new();
        let mut found = Vec::new();
        for (block, id) in blocks.iter().zip(streams) {
            let fields = decoder.decode(block).ok()?;
            if id == stream {
                let fields = fields.into_iter().map(|(n, v)| HeaderField::new(n, v));
                found.push(fields.collect());
            }
        }
        Some(found)
    }

    pub(crate) fn goaway(&self) -> Option<u32> {
        self.frames.iter().find_map(Frame::goaway_code)
    }

    pub(crate) fn rst(&self, stream: u32) -> Option<u32> {
        self.frames
            .iter()
            .filter(|f| f.stream == stream)
            .find_map(Frame::rst_code)
    }

    /// The stream ended (END_STREAM on HEADERS or DATA).
    pub(crate) fn ended(&self, stream: u32) -> bool {
        ended(&self.frames, stream)
    }
}

pub(crate) fn ended(frames: &[Frame], stream: u32) -> bool {
    frames.iter().any(|f| {
        f.stream == stream
            && (f.kind == kind::HEADERS || f.kind == kind::DATA)
            && f.flags & flag::END_STREAM != 0
    })
}

pub(crate) fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + payload.len());
    FrameHeader::new(kind, flags, stream, payload.len()).encode(&mut out);
    out.extend_from_slice(payload);
    out
}

pub(crate) fn settings_payload(params: &[(u16, u32)]) -> Vec<u8> {
    params
        .iter()
        .flat_map(|(i, v)| {
            let mut b = i.to_be_bytes().to_vec();
            b.extend_from_slice(&v.to_be_bytes());
            b
        })
        .collect()
}

pub(crate) fn request(method: &'static str, path: &'static str) -> Vec<HeaderField> {
    vec![
        HeaderField::new(":method", method),
        HeaderField::new(":scheme", "http"),
        HeaderField::new(":authority", "127.0.0.1"),
        HeaderField::new(":path", path),
    ]
}

/// An HTTP/2 connection that has been admitted and served a GET, held to
/// take a connection slot. Connections that closed just before (curl's,
/// a start-up probe) may still hold theirs for a moment: a refused
/// attempt is retried until `timeout`.
pub(crate) fn hold_a_slot(addr: SocketAddr, timeout: Duration) -> RawClient {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let mut c = RawClient::hello(addr);
        c.get(1, "/");
        if c.read_until(Duration::from_secs(5), |f| {
            ended(f, 1) || f.iter().any(|f| f.kind == kind::GOAWAY)
        }) && c.ended(1)
        {
            return c;
        }
        assert!(std::time::Instant::now() < deadline, "no slot came free");
        std::thread::sleep(Duration::from_millis(100));
    }
}

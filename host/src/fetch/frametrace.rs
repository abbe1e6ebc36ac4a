//! `get -v`: prints every frame that crosses the wire, in both directions,
//! by reading frame headers from the byte streams (payloads of DATA and
//! header blocks are skipped, never buffered).

use crate::engine::convert::code_name;

pub(crate) struct FrameTrace {
    label: &'static str,
    /// Octets of the client preface still to skip.
    preface: usize,
    /// Header (and small control payload) of the frame being read.
    buf: Vec<u8>,
    /// Payload octets still to skip for the current frame.
    skip: usize,
}

const NAMES: [&str; 13] = [
    "DATA",
    "HEADERS",
    "PRIORITY",
    "RST_STREAM",
    "SETTINGS",
    "PUSH_PROMISE",
    "PING",
    "GOAWAY",
    "WINDOW_UPDATE",
    "CONTINUATION",
    "ALTSVC",
    "0xb",
    "ORIGIN",
];

impl FrameTrace {
    pub(crate) fn new(label: &'static str, preface: usize) -> Self {
        FrameTrace {
            label,
            preface,
            buf: Vec::new(),
            skip: 0,
        }
    }

    pub(crate) fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.preface > 0 {
                let n = self.preface.min(data.len());
                self.preface -= n;
                data = &data[n..];
                continue;
            }
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = &data[n..];
                continue;
            }
            let want = self.wanted();
            let n = want.saturating_sub(self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() == self.wanted() {
                self.emit();
            }
        }
    }

    /// How many octets of the current frame to collect: the 9-octet header,
    /// plus the payload for small control frames.
    fn wanted(&self) -> usize {
        if self.buf.len() < 9 {
            return 9;
        }
        let len = u32::from_be_bytes([0, self.buf[0], self.buf[1], self.buf[2]]) as usize;
        match self.buf[3] {
            0x3 | 0x4 | 0x6 | 0x7 | 0x8 => 9 + len.min(256),
            _ => 9,
        }
    }

    fn emit(&mut self) {
        let b = std::mem::take(&mut self.buf);
        let len = u32::from_be_bytes([0, b[0], b[1], b[2]]) as usize;
        let kind = b[3];
        let flags = b[4];
        let stream = u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff;
        let collected = b.len() - 9;
        self.skip = len - collected;
        let p = &b[9..];
        let name = match kind {
            0x10 => "PRIORITY_UPDATE",
            _ => NAMES.get(usize::from(kind)).copied().unwrap_or("UNKNOWN"),
        };
        let mut detail = String::new();
        let word = |i: usize| {
            p.get(i..i + 4)
                .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        };
        match kind {
            0x4 if flags & 1 == 1 => detail.push_str(" ACK"),
            0x4 => {
                for c in p.chunks_exact(6) {
                    let id = u16::from_be_bytes([c[0], c[1]]);
                    let v = u32::from_be_bytes([c[2], c[3], c[4], c[5]]);
                    detail.push_str(&format!(" {}={v}", setting_name(id)));
                }
            }
            0x3 => detail = format!(" {}", code_name(word(0).unwrap_or(0))),
            0x7 => {
                detail = format!(
                    " last_stream={} {}",
                    word(0).unwrap_or(0) & 0x7fff_ffff,
                    code_name(word(4).unwrap_or(0))
                )
            }
            0x8 => detail = format!(" increment={}", word(0).unwrap_or(0) & 0x7fff_ffff),
            0x6 if flags & 1 == 1 => detail.push_str(" ACK"),
            0x0 | 0x1 if flags & 1 == 1 => detail.push_str(" END_STREAM"),
            _ => {}
        }
        if matches!(kind, 0x1 | 0x5 | 0x9) && flags & 0x4 != 0 {
            detail.push_str(" END_HEADERS");
        }
        eprintln!(
            "* {} {name} stream={stream} length={len}{detail}",
            self.label
        );
    }
}

fn setting_name(id: u16) -> String {
    match id {
        1 => "HEADER_TABLE_SIZE".into(),
        2 => "ENABLE_PUSH".into(),
        3 => "MAX_CONCURRENT_STREAMS".into(),
        4 => "INITIAL_WINDOW_SIZE".into(),
        5 => "MAX_FRAME_SIZE".into(),
        6 => "MAX_HEADER_LIST_SIZE".into(),
        8 => "ENABLE_CONNECT_PROTOCOL".into(),
        9 => "NO_RFC7540_PRIORITIES".into(),
        other => format!("{other:#x}"),
    }
}

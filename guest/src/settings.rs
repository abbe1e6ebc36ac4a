//! HTTP/2 settings (RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1): the partial `Settings`
//! object Node uses everywhere (only the fields that are set), the concrete
//! values in force on each side, validation, and packing.

use crate::error::{ConnectionError, ErrorCode};
use crate::snapshot::{Corrupt, Reader, Writer};

/// Setting identifiers.
pub mod id {
    /// SETTINGS_HEADER_TABLE_SIZE: the HPACK decoding table's largest size.
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// SETTINGS_ENABLE_PUSH: whether the server may push.
    pub const ENABLE_PUSH: u16 = 0x2;
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams the sender lets the peer open.
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    /// SETTINGS_INITIAL_WINDOW_SIZE: each new stream's flow-control window.
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    /// SETTINGS_MAX_FRAME_SIZE: the largest frame payload the sender takes.
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    /// SETTINGS_MAX_HEADER_LIST_SIZE: the largest header list the sender takes.
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): extended CONNECT.
    pub const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;
    /// SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218 §2.1): the sender uses
    /// no RFC 7540 priority signals (only RFC 9218's).
    pub const NO_RFC7540_PRIORITIES: u16 = 0x9;
}

/// Every window's initial size (RFC 9113 §6.9.2).
pub const DEFAULT_WINDOW_SIZE: u32 = 65_535;
/// The largest window size (2^31 - 1).
pub const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;
/// The smallest (and initial) SETTINGS_MAX_FRAME_SIZE.
pub const MIN_MAX_FRAME_SIZE: u32 = 16_384;
/// The largest SETTINGS_MAX_FRAME_SIZE (2^24 - 1).
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// Node's limit on custom settings per SETTINGS frame.
pub const MAX_CUSTOM_SETTINGS: usize = 10;

/// A set of settings where each field may be absent: what a SETTINGS frame
/// carries, what `settings()` takes, and what packing serialises.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Node's `headerTableSize`.
    pub header_table_size: Option<u32>,
    /// Node's `enablePush`.
    pub enable_push: Option<bool>,
    /// Node's `maxConcurrentStreams`.
    pub max_concurrent_streams: Option<u32>,
    /// Node's `initialWindowSize`.
    pub initial_window_size: Option<u32>,
    /// Node's `maxFrameSize`.
    pub max_frame_size: Option<u32>,
    /// Node's `maxHeaderListSize`.
    pub max_header_list_size: Option<u32>,
    /// Node's `enableConnectProtocol`.
    pub enable_connect_protocol: Option<bool>,
    /// SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218; not in Node).
    pub no_rfc7540_priorities: Option<bool>,
    /// Settings this engine does not interpret, as (identifier, value).
    pub custom: Vec<(u16, u32)>,
}

impl Settings {
    /// Node's `getDefaultSettings()`.
    pub fn node_defaults() -> Settings {
        Settings {
            header_table_size: Some(4096),
            enable_push: Some(true),
            max_concurrent_streams: Some(u32::MAX),
            initial_window_size: Some(DEFAULT_WINDOW_SIZE),
            max_frame_size: Some(MIN_MAX_FRAME_SIZE),
            max_header_list_size: Some(65_535),
            enable_connect_protocol: Some(false),
            no_rfc7540_priorities: None,
            custom: Vec::new(),
        }
    }

    /// Checks every value against RFC 9113 ranges, as both a sender
    /// (before packing or sending) and a receiver must.
    pub fn validate(&self) -> Result<(), ConnectionError> {
        if self
            .initial_window_size
            .is_some_and(|v| v > MAX_WINDOW_SIZE)
        {
            return Err(ConnectionError::new(
                ErrorCode::FLOW_CONTROL_ERROR,
                "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
            ));
        }
        if self
            .max_frame_size
            .is_some_and(|v| !(MIN_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&v))
        {
            return Err(ConnectionError::protocol(
                "SETTINGS_MAX_FRAME_SIZE outside 16384..=16777215",
            ));
        }
        if self.custom.iter().any(|&(id, _)| id == 0) {
            return Err(ConnectionError::protocol("setting identifier 0"));
        }
        Ok(())
    }

    /// Parses SETTINGS parameters, validating each value. Unknown identifiers
    /// are kept in `custom` (ignored for protocol purposes, §6.5.2).
    pub fn from_params(params: &[(u16, u32)]) -> Result<Settings, ConnectionError> {
        let mut s = Settings::default();
        for &(ident, value) in params {
            let flag = |v: u32, what| match v {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(ConnectionError::protocol(what)),
            };
            match ident {
                id::HEADER_TABLE_SIZE => s.header_table_size = Some(value),
                id::ENABLE_PUSH => s.enable_push = Some(flag(value, "ENABLE_PUSH not 0 or 1")?),
                id::MAX_CONCURRENT_STREAMS => s.max_concurrent_streams = Some(value),
                id::INITIAL_WINDOW_SIZE => s.initial_window_size = Some(value),
                id::MAX_FRAME_SIZE => s.max_frame_size = Some(value),
                id::MAX_HEADER_LIST_SIZE => s.max_header_list_size = Some(value),
                id::ENABLE_CONNECT_PROTOCOL => {
                    s.enable_connect_protocol =
                        Some(flag(value, "ENABLE_CONNECT_PROTOCOL not 0 or 1")?)
                }
                id::NO_RFC7540_PRIORITIES => {
                    s.no_rfc7540_priorities = Some(flag(value, "NO_RFC7540_PRIORITIES not 0 or 1")?)
                }
                // §6.5.2: unknown identifiers (0 among them) are ignored;
                // up to ten are kept as custom settings, as Node does.
                0 => {}
                other => put_custom(&mut s.custom, other, value),
            }
        }
        s.validate()?;
        Ok(s)
    }

    /// The parameters in wire order, for a SETTINGS frame or packing.
    pub fn to_params(&self) -> Vec<(u16, u32)> {
        let mut out = Vec::with_capacity(8 + self.custom.len());
        let mut put = |ident, v: Option<u32>| {
            if let Some(v) = v {
                out.push((ident, v));
            }
        };
        put(id::HEADER_TABLE_SIZE, self.header_table_size);
        put(id::ENABLE_PUSH, self.enable_push.map(u32::from));
        put(id::MAX_CONCURRENT_STREAMS, self.max_concurrent_streams);
        put(id::INITIAL_WINDOW_SIZE, self.initial_window_size);
        put(id::MAX_FRAME_SIZE, self.max_frame_size);
        put(id::MAX_HEADER_LIST_SIZE, self.max_header_list_size);
        put(
            id::ENABLE_CONNECT_PROTOCOL,
            self.enable_connect_protocol.map(u32::from),
        );
        put(
            id::NO_RFC7540_PRIORITIES,
            self.no_rfc7540_priorities.map(u32::from),
        );
        out.extend(self.custom.iter().copied());
        out
    }

    /// Node's `getPackedSettings()`: the SETTINGS payload for these values.
    pub fn pack(&self) -> Result<Vec<u8>, ConnectionError> {
        self.validate()?;
        let mut out = Vec::new();
        for (ident, v) in self.to_params() {
            out.extend_from_slice(&ident.to_be_bytes());
            out.extend_from_slice(&v.to_be_bytes());
        }
        Ok(out)
    }

    /// Node's `getUnpackedSettings()`: the inverse of [`Settings::pack`].
    pub fn unpack(buf: &[u8]) -> Result<Settings, ConnectionError> {
        if !buf.len().is_multiple_of(6) {
            return Err(ConnectionError::frame_size(
                "packed settings length not a multiple of 6",
            ));
        }
        let params: Vec<(u16, u32)> = buf
            .chunks_exact(6)
            .map(|c| {
                (
                    u16::from_be_bytes([c[0], c[1]]),
                    u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
                )
            })
            .collect();
        Settings::from_params(&params)
    }
}

/// Sets a custom setting. At most [`MAX_CUSTOM_SETTINGS`] distinct ones
/// are kept (Node's limit); later new ones are ignored (§6.5.2), so a peer
/// cannot grow them without bound.
fn put_custom(custom: &mut Vec<(u16, u32)>, ident: u16, value: u32) {
    if let Some(slot) = custom.iter_mut().find(|(i, _)| *i == ident) {
        slot.1 = value;
    } else if custom.len() < MAX_CUSTOM_SETTINGS {
        custom.push((ident, value));
    }
}

/// The values in force for one side of the connection (RFC defaults until a
/// SETTINGS frame changes them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SettingsValues {
    pub header_table_size: u32,
    pub enable_push: bool,
    pub max_concurrent_streams: u32,
    pub initial_window_size: u32,
    pub max_frame_size: u32,
    pub max_header_list_size: u32,
    pub enable_connect_protocol: bool,
    pub no_rfc7540_priorities: bool,
    pub custom: Vec<(u16, u32)>,
}

impl Default for SettingsValues {
    /// The initial values of RFC 9113 §6.5.2 ("unlimited" as u32::MAX).
    fn default() -> Self {
        SettingsValues {
            header_table_size: 4096,
            enable_push: true,
            max_concurrent_streams: u32::MAX,
            initial_window_size: DEFAULT_WINDOW_SIZE,
            max_frame_size: MIN_MAX_FRAME_SIZE,
            max_header_list_size: u32::MAX,
            enable_connect_protocol: false,
            no_rfc7540_priorities: false,
            custom: Vec::new(),
        }
    }
}

impl SettingsValues {
    /// Applies a (validated) partial update.
    pub(crate) fn apply(&mut self, s: &Settings) {
        if let Some(v) = s.header_table_size {
            self.header_table_size = v;
        }
        if let Some(v) = s.enable_push {
            self.enable_push = v;
        }
        if let Some(v) = s.max_concurrent_streams {
            self.max_concurrent_streams = v;
        }
        if let Some(v) = s.initial_window_size {
            self.initial_window_size = v;
        }
        if let Some(v) = s.max_frame_size {
            self.max_frame_size = v;
        }
        if let Some(v) = s.max_header_list_size {
            self.max_header_list_size = v;
        }
        if let Some(v) = s.enable_connect_protocol {
            self.enable_connect_protocol = v;
        }
        if let Some(v) = s.no_rfc7540_priorities {
            self.no_rfc7540_priorities = v;
        }
        for &(ident, value) in &s.custom {
            put_custom(&mut self.custom, ident, value);
        }
    }

    /// For a hibernated connection's snapshot.
    pub(crate) fn write(&self, w: &mut Writer) {
        w.u32(self.header_table_size);
        w.bool(self.enable_push);
        w.u32(self.max_concurrent_streams);
        w.u32(self.initial_window_size);
        w.u32(self.max_frame_size);
        w.u32(self.max_header_list_size);
        w.bool(self.enable_connect_protocol);
        w.bool(self.no_rfc7540_priorities);
        w.len(self.custom.len());
        for &(ident, value) in &self.custom {
            w.u16(ident);
            w.u32(value);
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let mut v = SettingsValues {
            header_table_size: r.u32()?,
            enable_push: r.bool()?,
            max_concurrent_streams: r.u32()?,
            initial_window_size: r.u32()?,
            max_frame_size: r.u32()?,
            max_header_list_size: r.u32()?,
            enable_connect_protocol: r.bool()?,
            no_rfc7540_priorities: r.bool()?,
            custom: Vec::new(),
        };
        let n = r.len(6)?;
        if n > MAX_CUSTOM_SETTINGS
            || v.initial_window_size > MAX_WINDOW_SIZE
            || !(MIN_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&v.max_frame_size)
        {
            return Err(Corrupt);
        }
        for _ in 0..n {
            v.custom.push((r.u16()?, r.u32()?));
        }
        Ok(v)
    }

    /// Every value as a full `Settings` object (Node's `localSettings` /
    /// `remoteSettings`).
    pub(crate) fn to_settings(&self) -> Settings {
        Settings {
            header_table_size: Some(self.header_table_size),
            enable_push: Some(self.enable_push),
            max_concurrent_streams: Some(self.max_concurrent_streams),
            initial_window_size: Some(self.initial_window_size),
            max_frame_size: Some(self.max_frame_size),
            max_header_list_size: Some(self.max_header_list_size),
            enable_connect_protocol: Some(self.enable_connect_protocol),
            no_rfc7540_priorities: Some(self.no_rfc7540_priorities),
            custom: self.custom.clone(),
        }
    }
}

#[cfg(test)]
mod tests;

//! The SETTINGS exchange (RFC 9113 §6.5): ours as the peer acknowledged
//! them, ours sent and not yet acknowledged, and the peer's in force.

use crate::settings::{Settings, SettingsValues};
use crate::snapshot::{Corrupt, Reader, Writer};
use std::collections::VecDeque;

pub(super) struct SettingsState {
    /// Ours, as the peer acknowledged them (Node's `localSettings`).
    pub(super) local: SettingsValues,
    /// Ours sent and awaiting the peer's ACK, oldest first.
    pub(super) pending: VecDeque<Settings>,
    /// The peer's in force (Node's `remoteSettings`).
    pub(super) remote: SettingsValues,
    /// The peer's first SETTINGS has arrived.
    pub(super) remote_seen: bool,
}

impl SettingsState {
    /// Before any exchange: the protocol's defaults, with Node's
    /// `peerMaxConcurrentStreams` assumed until the peer speaks.
    pub(super) fn new(peer_max_concurrent_streams: u32) -> Self {
        SettingsState {
            local: SettingsValues::default(),
            pending: VecDeque::new(),
            remote: SettingsValues {
                max_concurrent_streams: peer_max_concurrent_streams,
                ..SettingsValues::default()
            },
            remote_seen: false,
        }
    }

    /// Our SETTINGS_MAX_FRAME_SIZE, counting values not yet acknowledged:
    /// the peer may use a larger size as soon as it has read our SETTINGS.
    pub(super) fn max_recv_frame_size(&self) -> u32 {
        self.pending
            .iter()
            .filter_map(|s| s.max_frame_size)
            .fold(self.local.max_frame_size, u32::max)
    }

    /// The smallest MAX_CONCURRENT_STREAMS we have announced, acknowledged
    /// or not: a peer that has not seen our ACK may use the older value, but
    /// refusing a little early is always safe.
    pub(super) fn effective_local_max_concurrent(&self) -> u32 {
        self.pending
            .iter()
            .filter_map(|s| s.max_concurrent_streams)
            .fold(self.local.max_concurrent_streams, u32::min)
    }

    /// Whether push may be enabled on our side, acknowledged or not: a
    /// peer may push as soon as it has read a SETTINGS that enables it.
    pub(super) fn push_maybe_enabled(&self) -> bool {
        self.local.enable_push || self.pending.iter().any(|s| s.enable_push == Some(true))
    }

    pub(super) fn write(&self, w: &mut Writer) {
        self.local.write(w);
        self.remote.write(w);
        w.bool(self.remote_seen);
        w.len(self.pending.len());
        for settings in &self.pending {
            let params = settings.to_params();
            w.len(params.len());
            for (id, value) in params {
                w.u16(id);
                w.u32(value);
            }
        }
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let local = SettingsValues::read(r)?;
        let remote = SettingsValues::read(r)?;
        let remote_seen = r.bool()?;
        let mut pending = VecDeque::new();
        for _ in 0..r.len(4)? {
            let mut params = Vec::new();
            for _ in 0..r.len(6)? {
                params.push((r.u16()?, r.u32()?));
            }
            pending.push_back(Settings::from_params(&params).map_err(|_| Corrupt)?);
        }
        Ok(SettingsState {
            local,
            pending,
            remote,
            remote_seen,
        })
    }
}

//! Node's session events for a server (`session`, `remoteSettings`,
//! `ping`, `goaway`, `frameError`, `timeout`, `sessionError`, `close`):
//! each HTTP/2 connection's, as they happen, to an application that wants
//! them beside its service (`ConnectionConfig::session_events`).

use crate::bindings::Settings;
use crate::service::ConnectionInfo;

/// Who sent a GOAWAY. Error codes below are RFC 9113's (§7), as numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sender {
    /// The client.
    Peer,
    /// This server.
    Us,
}

/// Receives a server's HTTP/2 session events. Each is called on the
/// connection's own task, in order: keep them short (hand them on to a
/// channel to do more). Every method does nothing unless implemented.
pub trait SessionEvents: Send + Sync {
    /// A connection began speaking HTTP/2 (Node's server `session`).
    fn session(&self, _info: &ConnectionInfo) {}
    /// The client's SETTINGS, as in force once applied (`remoteSettings`).
    fn remote_settings(&self, _info: &ConnectionInfo, _settings: &Settings) {}
    /// The client pinged (`ping`, its payload; answered already).
    fn ping(&self, _info: &ConnectionInfo, _payload: u64) {}
    /// A GOAWAY went one way or the other (`goaway`).
    fn goaway(
        &self,
        _info: &ConnectionInfo,
        _from: Sender,
        _code: u32,
        _last_stream_id: u32,
        _opaque_data: &[u8],
    ) {
    }
    /// A frame could not be sent (`frameError`).
    fn frame_error(&self, _info: &ConnectionInfo, _frame_type: u8, _code: u32, _stream_id: u32) {}
    /// The session's own timeout passed (`timeout`).
    fn timeout(&self, _info: &ConnectionInfo) {}
    /// The client broke the protocol and the connection ends with `code`
    /// (`sessionError`).
    fn session_error(&self, _info: &ConnectionInfo, _code: u32, _reason: &str) {}
    /// The connection has ended (`close`).
    fn close(&self, _info: &ConnectionInfo) {}
}

//! ALTSVC (RFC 7838) and ORIGIN (RFC 8336): servers advertise, clients
//! listen. Either frame reaching a server is ignored, as both RFCs say.

use super::Connection;
use crate::error::CommandError;
use crate::events::Event;
use crate::frame::{AltSvc, MAX_STREAM_ID, OriginFrame};
use crate::options::Role;
use bytes::Bytes;

/// Node's limit on origin plus Alt-Svc value, and on all origins of one
/// ORIGIN frame: what fits a default-sized frame with its length fields.
pub(super) const MAX_ADVERTISEMENT: usize = 16_382;

/// Where an ALTSVC advertisement applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AltSvcTarget {
    /// An origin (`https://example.org`), sent on stream 0.
    Origin(String),
    /// The origin of this stream's request.
    Stream(u32),
}

impl Connection {
    /// Server: advertises an alternative service (Node's `session.altsvc`).
    /// `value` is an Alt-Svc field value such as `h2=":8443"`.
    pub fn altsvc(&mut self, value: &str, target: AltSvcTarget) -> Result<(), CommandError> {
        self.check_open()?;
        if self.role != Role::Server {
            return Err(CommandError::WrongRole);
        }
        if !value.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(CommandError::InvalidArgument(
                "alt-svc value must be printable ASCII",
            ));
        }
        let (stream_id, origin) = match target {
            AltSvcTarget::Origin(o) => {
                if !valid_origin(&o) {
                    return Err(CommandError::InvalidArgument("invalid origin"));
                }
                (0, o)
            }
            AltSvcTarget::Stream(id) if id > 0 && id <= MAX_STREAM_ID => (id, String::new()),
            AltSvcTarget::Stream(_) => {
                return Err(CommandError::InvalidArgument("stream id out of range"));
            }
        };
        if origin.len() + value.len() > MAX_ADVERTISEMENT {
            return Err(CommandError::InvalidArgument(
                "origin and alt-svc value exceed 16382 octets",
            ));
        }
        AltSvc {
            stream_id,
            origin: Bytes::from(origin),
            value: Bytes::copy_from_slice(value.as_bytes()),
        }
        .encode(&mut self.out);
        self.metrics.frames_sent += 1;
        Ok(())
    }

    /// Server: sends an ORIGIN frame (Node's `session.origin`).
    pub fn origin(&mut self, origins: &[String]) -> Result<(), CommandError> {
        self.check_open()?;
        if self.role != Role::Server {
            return Err(CommandError::WrongRole);
        }
        check_origins(origins)?;
        self.write_origin(origins);
        Ok(())
    }

    pub(super) fn write_origin(&mut self, origins: &[String]) {
        OriginFrame {
            origins: origins
                .iter()
                .map(|o| Bytes::copy_from_slice(o.as_bytes()))
                .collect(),
        }
        .encode(&mut self.out);
        self.metrics.frames_sent += 1;
    }

    /// Client: the origins this connection may serve (Node's `originSet`):
    /// the one it was opened for, then any the server announced.
    pub fn origin_set(&self) -> &[String] {
        &self.origin_set
    }

    pub(super) fn on_altsvc(&mut self, f: AltSvc) {
        if self.role != Role::Client {
            return;
        }
        self.events.push_back(Event::AltSvc {
            stream_id: f.stream_id,
            origin: String::from_utf8_lossy(&f.origin).into_owned(),
            value: String::from_utf8_lossy(&f.value).into_owned(),
        });
    }

    pub(super) fn on_origin(&mut self, f: OriginFrame) {
        if self.role != Role::Client {
            return;
        }
        let origins: Vec<String> = f
            .origins
            .iter()
            .map(|o| String::from_utf8_lossy(o).into_owned())
            .collect();
        for o in &origins {
            // Bounded: the set holds what fits in frames the peer paid for,
            // but a peer repeating itself must not grow it.
            if !self.origin_set.contains(o) && self.origin_set.len() < MAX_ORIGIN_SET {
                self.origin_set.push(o.clone());
            }
        }
        self.events.push_back(Event::Origin { origins });
    }
}

/// Most origins a client remembers in its origin set.
const MAX_ORIGIN_SET: usize = 256;

/// Node's checks for `origins` and `session.origin`.
pub(super) fn check_origins(origins: &[String]) -> Result<(), CommandError> {
    if !origins.iter().all(|o| valid_origin(o)) {
        return Err(CommandError::InvalidArgument("invalid origin"));
    }
    if origins.iter().map(|o| o.len() + 2).sum::<usize>() > MAX_ADVERTISEMENT {
        return Err(CommandError::InvalidArgument("origins exceed 16382 octets"));
    }
    Ok(())
}

/// An ASCII serialised origin (RFC 6454): `scheme://host[:port]`, no path,
/// no user information.
pub fn valid_origin(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let (host, port) = match rest.rsplit_once(':') {
        // An IPv6 literal's colons are inside brackets.
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'@' | b'\\'));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok());
    scheme_ok && host_ok && port_ok
}

//! Header fields and the HTTP semantics of RFC 9113 §8: field validity,
//! pseudo-header rules per message kind, connection-specific fields, and
//! `content-length`.

// Headers as the WIT carries them (flattened blocks, repeated requests,
// Node's header object): only the component's glue uses these, so they
// are built for wasm32 (and tested natively).
#[cfg(any(target_arch = "wasm32", test))]
mod block;
mod list;
#[cfg(any(target_arch = "wasm32", test))]
mod node_view;

#[cfg(target_arch = "wasm32")]
pub(crate) use block::{FieldSpan, RequestBlock, RequestMemory, flatten};
pub use list::HeaderList;
#[cfg(target_arch = "wasm32")]
pub(crate) use node_view::{NodeValue, node_headers};

use crate::error::CommandError;
use bytes::Bytes;

/// One header field. `sensitive` asks HPACK for the never-indexed
/// representation (RFC 7541 §7.1.3).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HeaderField {
    /// The name, lowercase.
    pub name: Bytes,
    /// The value.
    pub value: Bytes,
    /// Never indexed by HPACK, on any hop (credentials, cookies).
    pub sensitive: bool,
}

impl HeaderField {
    /// A field HPACK may index.
    pub fn new(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        HeaderField {
            name: name.into(),
            value: value.into(),
            sensitive: false,
        }
    }

    /// A field HPACK must never index.
    pub fn sensitive(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        HeaderField {
            sensitive: true,
            ..HeaderField::new(name, value)
        }
    }

    /// Whether it is a pseudo-header (`:method`, `:status`...).
    pub fn is_pseudo(&self) -> bool {
        self.name.first() == Some(&b':')
    }

    /// Size as RFC 9113 §6.5.2 counts it for SETTINGS_MAX_HEADER_LIST_SIZE.
    pub fn list_size(&self) -> usize {
        self.name.len() + self.value.len() + 32
    }
}

impl std::fmt::Debug for HeaderField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}{}",
            String::from_utf8_lossy(&self.name),
            String::from_utf8_lossy(&self.value),
            if self.sensitive { " (sensitive)" } else { "" }
        )
    }
}

/// Finds the first value of `name` in a list of fields.
pub(crate) fn find<'a>(fields: &'a [HeaderField], name: &str) -> Option<&'a Bytes> {
    fields
        .iter()
        .find(|f| f.name == name.as_bytes())
        .map(|f| &f.value)
}

/// What kind of header block a message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockKind {
    Request,
    Response,
    Trailers,
}

/// Facts about a received block that the stream needs after validation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MessageInfo {
    /// `:status` of a response.
    pub status: Option<u16>,
    /// The request is CONNECT (classic or extended).
    pub connect: bool,
    /// The request is HEAD (its response carries no content).
    pub head: bool,
    pub content_length: Option<u64>,
    /// A request's `priority` field (RFC 9218), if it parses: found in
    /// the same pass, and kept with the rest for a repeated block.
    pub priority: Option<crate::urgency::Urgency>,
}

/// RFC 9110 `tchar`, lower-case only (RFC 9113 §8.2.1 forbids upper case).
const fn is_name_byte(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'0'..=b'9'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
        | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// `is_name_byte` for every octet: one load per octet on the hot path
/// (every received and sent name is checked).
static NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_name_byte(b as u8);
        b += 1;
    }
    table
};

pub(crate) fn valid_name(name: &[u8]) -> bool {
    let body = name.strip_prefix(b":").unwrap_or(name);
    !body.is_empty() && body.iter().all(|&b| NAME_BYTES[usize::from(b)])
}

/// RFC 9113 §8.2.1: no NUL, CR or LF, and no leading or trailing SP/HTAB.
pub(crate) fn valid_value(value: &[u8]) -> bool {
    let ws = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    !value.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n'))
        && !ws(value.first())
        && !ws(value.last())
}

/// Connection-specific fields that HTTP/2 forbids (§8.2.2).
pub(crate) fn is_connection_specific(name: &[u8]) -> bool {
    matches!(
        name,
        b"connection" | b"proxy-connection" | b"keep-alive" | b"transfer-encoding" | b"upgrade"
    )
}

const REQUEST_PSEUDO: [&[u8]; 5] = [
    b":method",
    b":scheme",
    b":authority",
    b":path",
    b":protocol",
];

/// Validates a received, decoded header block. An `Err` means the message is
/// malformed (§8.1.1): a stream error of type PROTOCOL_ERROR.
pub(crate) fn check_received(
    fields: &[HeaderField],
    kind: BlockKind,
    connect_protocol_enabled: bool,
) -> Result<MessageInfo, &'static str> {
    let mut info = MessageInfo::default();
    let mut seen_regular = false;
    let (mut method, mut scheme, mut path, mut authority, mut protocol) =
        (None, None, None, None, None);
    for f in fields {
        if !valid_name(&f.name) {
            return Err("invalid header field name");
        }
        if !valid_value(&f.value) {
            return Err("invalid header field value");
        }
        if f.is_pseudo() {
            if seen_regular {
                return Err("pseudo-header after regular field");
            }
            let slot = match (kind, &f.name[..]) {
                (BlockKind::Request, b":method") => &mut method,
                (BlockKind::Request, b":scheme") => &mut scheme,
                (BlockKind::Request, b":path") => &mut path,
                (BlockKind::Request, b":authority") => &mut authority,
                (BlockKind::Request, b":protocol") => &mut protocol,
                (BlockKind::Response, b":status") => {
                    if info.status.is_some() {
                        return Err("duplicate :status");
                    }
                    info.status = Some(parse_status(&f.value).ok_or("invalid :status")?);
                    continue;
                }
                (BlockKind::Trailers, _) => return Err("pseudo-header in trailers"),
                _ => return Err("unknown or misplaced pseudo-header"),
            };
            if slot.replace(&f.value).is_some() {
                return Err("duplicate pseudo-header");
            }
            continue;
        }
        seen_regular = true;
        if is_connection_specific(&f.name) {
            return Err("connection-specific header field");
        }
        if &f.name[..] == b"te" && &f.value[..] != b"trailers" {
            return Err("te header other than trailers");
        }
        if &f.name[..] == b"priority" && kind == BlockKind::Request {
            info.priority = crate::urgency::Urgency::parse(&f.value).or(info.priority);
        }
        if &f.name[..] == b"content-length" {
            let n = parse_content_length(&f.value).ok_or("invalid content-length")?;
            if info.content_length.is_some_and(|old| old != n) {
                return Err("conflicting content-length values");
            }
            info.content_length = Some(n);
        }
    }
    match kind {
        BlockKind::Request => {
            let method = method.ok_or("missing :method")?;
            info.connect = &method[..] == b"CONNECT";
            info.head = &method[..] == b"HEAD";
            if protocol.is_some() {
                // RFC 8441 §4: extended CONNECT needs our SETTINGS and a full
                // set of pseudo-headers.
                if !connect_protocol_enabled || !info.connect {
                    return Err(":protocol without extended CONNECT");
                }
                if scheme.is_none() || path.is_none() || authority.is_none() {
                    return Err("extended CONNECT missing pseudo-headers");
                }
            } else if info.connect {
                if scheme.is_some() || path.is_some() {
                    return Err("CONNECT with :scheme or :path");
                }
                if authority.is_none() {
                    return Err("CONNECT without :authority");
                }
            } else {
                if scheme.is_none() {
                    return Err("missing :scheme");
                }
                match path {
                    None => return Err("missing :path"),
                    Some(p) if p.is_empty() => return Err("empty :path"),
                    _ => {}
                }
            }
        }
        BlockKind::Response => {
            if info.status.is_none() {
                return Err("missing :status");
            }
        }
        BlockKind::Trailers => {}
    }
    Ok(info)
}

fn parse_status(v: &[u8]) -> Option<u16> {
    if v.len() != 3 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = v
        .iter()
        .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    (100..=999).contains(&n).then_some(n)
}

fn parse_content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Prepares fields an application wants to send: names lower-cased, every
/// name and value checked, pseudo-headers moved first, and the kind's rules
/// enforced. Node throws for the same inputs.
pub(crate) fn prepare_outgoing(
    mut fields: Vec<HeaderField>,
    kind: BlockKind,
) -> Result<Vec<HeaderField>, CommandError> {
    // Checked and fixed in place: the list is usually already in order.
    let mut seen_regular = false;
    let mut out_of_order = false;
    for i in 0..fields.len() {
        let Some(f) = fields.get_mut(i) else { break };
        if f.name.iter().any(u8::is_ascii_uppercase) {
            f.name = Bytes::from(f.name.to_ascii_lowercase());
        }
        if !valid_name(&f.name) {
            return Err(CommandError::InvalidHeader(format!(
                "invalid header name {:?}",
                String::from_utf8_lossy(&f.name)
            )));
        }
        if f.value.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n')) {
            return Err(CommandError::InvalidHeader(format!(
                "invalid value for header {:?}",
                String::from_utf8_lossy(&f.name)
            )));
        }
        if f.is_pseudo() {
            let allowed = match kind {
                BlockKind::Request => REQUEST_PSEUDO.contains(&&f.name[..]),
                BlockKind::Response => &f.name[..] == b":status",
                BlockKind::Trailers => false,
            };
            let name = f.name.clone();
            if !allowed || fields[..i].iter().any(|p| p.name == name) {
                return Err(CommandError::InvalidHeader(format!(
                    "pseudo-header {:?} not allowed here",
                    String::from_utf8_lossy(&name)
                )));
            }
            out_of_order |= seen_regular;
        } else {
            seen_regular = true;
            if is_connection_specific(&f.name)
                || (&f.name[..] == b"te" && !f.value.eq_ignore_ascii_case(b"trailers"))
            {
                return Err(CommandError::InvalidHeader(format!(
                    "connection-specific header {:?} is not allowed in HTTP/2",
                    String::from_utf8_lossy(&f.name)
                )));
            }
            // Node marks these never-indexed by default: credentials and short
            // cookies are the classic targets of compression-oracle attacks.
            if &f.name[..] == b"authorization"
                || &f.name[..] == b"proxy-authorization"
                || (&f.name[..] == b"cookie" && f.value.len() < 20)
            {
                f.sensitive = true;
            }
        }
    }
    if out_of_order {
        // Pseudo-headers first (§8.3), each group in its original order.
        fields.sort_by_key(|f| !f.is_pseudo());
    }
    if kind == BlockKind::Response {
        match fields.first() {
            Some(status) if status.is_pseudo() && parse_status(&status.value).is_some() => {}
            Some(status) if status.is_pseudo() => {
                return Err(CommandError::InvalidHeader("invalid :status".into()));
            }
            _ => return Err(CommandError::InvalidHeader("missing :status".into())),
        }
    }
    Ok(fields)
}

/// Fills in Node's request defaults (`:method` GET, `:path` /, `:scheme`,
/// `:authority`), and drops `:scheme`/`:path` defaults for CONNECT.
pub(crate) fn apply_request_defaults(fields: &mut Vec<HeaderField>, scheme: &str, authority: &str) {
    let take = |fields: &mut Vec<HeaderField>, n: &str| {
        let pos = fields.iter().position(|f| f.name == n.as_bytes())?;
        Some(fields.remove(pos))
    };
    let method = take(fields, ":method").unwrap_or_else(|| HeaderField::new(":method", "GET"));
    let connect = &method.value[..] == b"CONNECT";
    let protocol = take(fields, ":protocol");
    let mut scheme_f = take(fields, ":scheme");
    let mut path = take(fields, ":path");
    if !connect || protocol.is_some() {
        scheme_f = scheme_f.or_else(|| {
            Some(HeaderField::new(
                ":scheme",
                Bytes::copy_from_slice(scheme.as_bytes()),
            ))
        });
        path = path.or_else(|| Some(HeaderField::new(":path", "/")));
    }
    // Node: `:authority` from the `host` field when given, else the URL.
    let authority_f = take(fields, ":authority").or_else(|| {
        let value = find(fields, "host").cloned().or_else(|| {
            (!authority.is_empty()).then(|| Bytes::copy_from_slice(authority.as_bytes()))
        })?;
        Some(HeaderField::new(":authority", value))
    });
    let pseudo = [Some(method), protocol, scheme_f, authority_f, path];
    let regular = std::mem::take(fields);
    fields.extend(pseudo.into_iter().flatten());
    fields.extend(regular);
}

/// Checks an outgoing request after defaults were applied (the same rules a
/// receiver applies, so we never send what a peer must reject).
pub(crate) fn check_outgoing_request(
    fields: &[HeaderField],
    connect_protocol_enabled: bool,
) -> Result<MessageInfo, CommandError> {
    check_received(fields, BlockKind::Request, connect_protocol_enabled)
        .map_err(|e| CommandError::InvalidHeader(e.to_string()))
}

#[cfg(test)]
mod tests;

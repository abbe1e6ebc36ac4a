//! A request's head (method, target, headers) from its header block, as
//! `http` represents it, and the connection's memory of the last one for
//! requests the engine reports as repeating it; and the `http::Request` a
//! stream's service sees.

use super::context::StreamContext;
use crate::bindings::{FieldSpan, HeaderBlock};
use crate::engine::convert::shared_block_fields;
use crate::service::body::{BodyItem, Incoming};
use crate::service::{Http2Stream, Informational, Protocol};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use tokio::sync::mpsc;

/// What a request's header block says, parsed for `http`.
#[derive(Clone)]
pub(crate) struct RequestHead {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    protocol: Option<Protocol>,
}

pub(crate) enum RequestRefused {
    /// Not a request `http` can represent: PROTOCOL_ERROR.
    Malformed(String),
    /// A repeated block with no earlier one (the engine never sends it).
    NothingToRepeat,
}

/// Requests of at most this many octets (names and values) are the ones
/// an engine remembers to report repeats of: part of the WIT contract
/// (`repeated-request-event` in wit/types.wit), as fixed as a frame size,
/// since the component may be any build of the engine.
const REPEATABLE_OCTETS_MAX: usize = 512;

/// The connection's last request block, for blocks the engine reports as
/// repeating it (`repeated-request` events): parsed again only once,
/// then cloned. A fresh block costs nothing more than being kept.
#[derive(Default)]
pub(crate) struct LastRequest {
    octets: Bytes,
    spans: Vec<FieldSpan>,
    /// Set at the first repeat.
    head: Option<Result<RequestHead, String>>,
    known: bool,
}

impl LastRequest {
    pub(crate) fn fresh(&mut self, block: HeaderBlock) -> Result<RequestHead, RequestRefused> {
        let octets = Bytes::from(block.octets);
        let head = parse_head(&octets, &block.fields).map_err(RequestRefused::Malformed);
        // The engine compares only lists this small.
        self.known = octets.len() <= REPEATABLE_OCTETS_MAX;
        (self.octets, self.spans) = match self.known {
            true => (octets, block.fields),
            false => Default::default(),
        };
        self.head = None;
        head
    }

    pub(crate) fn repeated(&mut self) -> Result<RequestHead, RequestRefused> {
        if !self.known {
            return Err(RequestRefused::NothingToRepeat);
        }
        let (octets, spans) = (&self.octets, &self.spans);
        self.head
            .get_or_insert_with(|| parse_head(octets, spans))
            .clone()
            .map_err(RequestRefused::Malformed)
    }
}

fn parse_head(octets: &Bytes, spans: &[FieldSpan]) -> Result<RequestHead, String> {
    let mut method = Method::GET;
    let (mut scheme, mut authority, mut path, mut protocol) = (None, None, None, None);
    let mut headers = HeaderMap::with_capacity(spans.len());
    for (name, value, sensitive) in shared_block_fields(octets, spans) {
        match &name[..] {
            b":method" => {
                method = Method::from_bytes(&value).map_err(|e| format!(":method: {e}"))?
            }
            b":scheme" => scheme = Some(value),
            b":authority" => authority = Some(value),
            b":path" => path = Some(value),
            b":protocol" => protocol = Some(Protocol(String::from_utf8_lossy(&value).into_owned())),
            _ => {
                let name = HeaderName::from_bytes(&name).map_err(|e| format!("header: {e}"))?;
                let mut value = HeaderValue::from_maybe_shared(value)
                    .map_err(|e| format!("header {name}: {e}"))?;
                value.set_sensitive(sensitive);
                headers.append(name, value);
            }
        }
    }
    // The target's parts, parsed from the decoded octets without copies.
    let target = |e: http::uri::InvalidUri| format!("request target: {e}");
    let mut parts = http::uri::Parts::default();
    if let Some(s) = scheme {
        parts.scheme = Some(http::uri::Scheme::try_from(&s[..]).map_err(target)?);
    }
    let authority = match authority {
        Some(a) => Some(a),
        None => headers
            .get(http::header::HOST)
            .map(|h| Bytes::copy_from_slice(h.as_bytes())),
    };
    if let Some(a) = authority {
        parts.authority = Some(http::uri::Authority::from_maybe_shared(a).map_err(target)?);
    }
    if let Some(p) = path {
        parts.path_and_query = Some(http::uri::PathAndQuery::from_maybe_shared(p).map_err(target)?);
    }
    let uri = Uri::from_parts(parts).map_err(|e| format!("request target: {e}"))?;
    Ok(RequestHead {
        method,
        uri,
        headers,
        protocol,
    })
}

/// The request a stream's headers describe, with its body channel; its
/// extensions go in `extensions` (an empty map, perhaps one kept from an
/// earlier response for its allocations).
pub(crate) fn build_request(
    head: RequestHead,
    end_stream: bool,
    stream_id: u32,
    cx: &StreamContext<'_>,
    extensions: http::Extensions,
) -> (Request<Incoming>, Option<mpsc::UnboundedSender<BodyItem>>) {
    let (body, body_tx) = Incoming::http2(stream_id, end_stream, &head.headers, cx.consumed, true);
    let mut request = Request::new(body);
    let stream = Http2Stream::new(stream_id, cx.sink.push_allowed, cx.sink.clone());
    let stream = stream.with_origin(&head.uri);
    *request.method_mut() = head.method;
    *request.uri_mut() = head.uri;
    *request.version_mut() = http::Version::HTTP_2;
    *request.headers_mut() = head.headers;
    *request.extensions_mut() = extensions;
    let ext = request.extensions_mut();
    if let Some(p) = head.protocol {
        ext.insert(p);
    }
    ext.insert(cx.info.clone());
    ext.insert(stream);
    ext.insert(Informational::new(cx.sink.clone(), stream_id));
    (request, body_tx)
}

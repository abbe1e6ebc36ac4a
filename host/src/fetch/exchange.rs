//! What a fetch asks for and gets back: the server ([`Target`]), the
//! requests and responses, where bodies come from and go, and the
//! client's options. Both client drivers (HTTP/2 and HTTP/1.1) take these.

pub use crate::engine::convert::Header;
use crate::tls::Trust;
use anyhow::{Context, bail};
use bytes::Bytes;
use std::path::PathBuf;

/// Where a request body comes from.
#[derive(Clone, Debug)]
pub enum BodySource {
    /// These octets.
    Bytes(Bytes),
    /// Streamed from disk, never held whole in memory.
    File(PathBuf),
}

/// Where a response body goes.
#[derive(Clone, Debug)]
pub enum Output {
    /// Kept in memory and returned in [`Response::body`].
    Memory,
    /// Streamed to a file.
    File(PathBuf),
}

/// One request of `get`.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `POST`...
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Fields besides the pseudo-headers.
    pub headers: Vec<Header>,
    /// The body to send, if any.
    pub body: Option<BodySource>,
    /// Where the response body goes.
    pub output: Output,
    /// Stream weight 1..=256 sent in the HEADERS frame (Node's `weight`
    /// request option); `None` leaves the default (16).
    pub weight: Option<u16>,
}

/// What came back for one request.
#[derive(Debug, Default)]
pub struct Response {
    /// The final status.
    pub status: u16,
    /// Each 1xx response's fields, in order.
    pub informational: Vec<Vec<Header>>,
    /// The final response's fields.
    pub headers: Vec<Header>,
    /// The trailers, if any.
    pub trailers: Vec<Header>,
    /// The body, with `Output::Memory`.
    pub body: Vec<u8>,
    /// Body octets received, wherever they went.
    pub body_len: u64,
    /// RST_STREAM code if the stream was reset.
    pub reset: Option<u32>,
    /// Responses the server pushed on this request's stream.
    pub pushed: Vec<Pushed>,
}

/// A pushed response (RFC 9113 §8.4).
#[derive(Debug, Default)]
pub struct Pushed {
    /// The promised stream.
    pub stream_id: u32,
    /// The promised request.
    pub request: Vec<Header>,
    /// Its status.
    pub status: u16,
    /// Its fields.
    pub headers: Vec<Header>,
    /// The body, unless it was saved to `saved_to`.
    pub body: Vec<u8>,
    /// Body octets received.
    pub body_len: u64,
    /// The file its body was saved to.
    pub saved_to: Option<PathBuf>,
    /// RST_STREAM code if the stream was reset.
    pub reset: Option<u32>,
}

impl Pushed {
    /// The promised `:path`.
    pub fn path(&self) -> String {
        crate::engine::convert::find(&self.request, ":path")
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default()
    }
}

/// The server to talk to.
#[derive(Clone, Debug)]
pub struct Target {
    /// `https` (TLS with ALPN) rather than `http`.
    pub tls: bool,
    /// A name or an address.
    pub host: String,
    #[allow(missing_docs)]
    pub port: u16,
}

impl Target {
    /// Parses `http://host:port/path` or `https://…`; returns the target and
    /// the path (with query).
    pub fn parse(url: &str) -> anyhow::Result<(Target, String)> {
        let u = url::Url::parse(url).with_context(|| format!("invalid URL {url:?}"))?;
        let tls = match u.scheme() {
            "https" => true,
            "http" => false,
            other => bail!("unsupported URL scheme {other:?} (use http or https)"),
        };
        let host = u
            .host_str()
            .with_context(|| format!("URL {url:?} has no host"))?
            .to_string();
        let port = u
            .port_or_known_default()
            .with_context(|| format!("URL {url:?} has no port"))?;
        let mut path = u.path().to_string();
        if let Some(q) = u.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok((Target { tls, host, port }, path))
    }

    /// `host[:port]` as `:authority` carries it (the port only when not
    /// the scheme's default).
    pub fn authority(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// How `get` connects and what it reports.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// Which server certificates to accept.
    pub trust: Trust,
    /// Required for `http://` targets: speak HTTP/2 without negotiation.
    pub prior_knowledge: bool,
    /// Print events (settings, headers, GOAWAY, resets) to stderr.
    pub verbose: bool,
    /// Save pushed responses under this directory (and wait for them);
    /// without it they are kept in memory until the requests finish.
    pub save_pushed: Option<PathBuf>,
    /// Draw a progress meter on stderr for bodies written to files (for a
    /// terminal).
    pub progress: bool,
    /// When HTTP/1.1 is used.
    pub http1: Http1,
    /// How long opening the connection may take: the TCP connect (each
    /// one: the cleartext probe's too) and the TLS handshake.
    pub connect_timeout: std::time::Duration,
}

/// When the client speaks HTTP/1.1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Http1 {
    /// Over TLS, when the server does not offer `h2` by ALPN (it picks
    /// `http/1.1`, or nothing); cleartext is HTTP/2 with prior knowledge.
    #[default]
    Fallback,
    /// Always (`--http1.1`): over TLS `http/1.1` is the only ALPN offered.
    Force,
}

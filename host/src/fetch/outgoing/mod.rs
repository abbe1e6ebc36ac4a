//! Outgoing HTTP for wasi:http components (`wasi:http/outgoing-handler`):
//! over HTTP/2 when the origin speaks it — chosen by ALPN `h2` over TLS,
//! or by configuration for cleartext (h2c with prior knowledge) — on one
//! pooled connection per origin, driven by an engine instance, with every
//! request multiplexed on it; over HTTP/1.1 (hyper) otherwise, on
//! connections kept for reuse once their response is done.
//!
//! Every wait has a deadline: opening a connection (TCP and TLS) takes at
//! most [`OutgoingConfig::connect_timeout`], the response's head at most
//! [`OutgoingConfig::first_byte_timeout`], then its body at most
//! [`OutgoingConfig::between_bytes_timeout`] between frames (a component
//! may ask for less, never more), and a pooled HTTP/2 connection with no
//! request for
//! [`OutgoingConfig::idle_timeout`] is closed. Connections open at once
//! are capped at [`OutgoingConfig::max_connections`], apart from the
//! server's own (the HTTP/2 ones take their engine instances from the
//! runtime given to [`Outgoing::new`], which should be sized for them);
//! a request that finds the cap reached waits within its connect timeout.
//!
//! Nothing is reached that [`OutgoingConfig::policy`] does not allow
//! (nothing, by default): see [`policy`].

pub(crate) mod between_bytes;
mod http1;
pub mod policy;
mod upgrade;

pub use upgrade::UpgradeResponse;

use crate::engine::Runtime;
use crate::fetch::h2::{self, StreamError};
use crate::serve::limits::Warning;
use crate::serve::metrics::AppMetrics;
use crate::tls::{self, Trust};
use between_bytes::BetweenBytes;
use http_body_util::BodyExt;
use policy::{OutboundPolicy, UrlVerdict};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// Where and how components' requests go.
#[derive(Clone, Debug)]
pub struct OutgoingConfig {
    /// Where requests may go; the default allows nothing.
    pub policy: OutboundPolicy,
    /// Origins (`host:port`) spoken to in cleartext HTTP/2 with prior
    /// knowledge; every other `http://` origin gets HTTP/1.1.
    pub h2c: HashSet<String>,
    /// Certificates trusted for `https://` origins.
    pub trust: Trust,
    /// Longest a connection may take to open (TCP, TLS), waiting for a
    /// free connection slot included.
    pub connect_timeout: Duration,
    /// Longest a response's head may take once the request is sent.
    pub first_byte_timeout: Duration,
    /// Longest a response's body may go without a frame once the head has
    /// come (a component may ask for less, never more).
    pub between_bytes_timeout: Duration,
    /// Outgoing connections open at once (HTTP/2 and HTTP/1.1 together).
    pub max_connections: u32,
    /// A pooled HTTP/2 connection with no request in flight this long is
    /// closed.
    pub idle_timeout: Duration,
    /// Where the app's requests are counted (sent, denied); `None`: not
    /// counted.
    pub metrics: Option<AppMetrics>,
}

impl Default for OutgoingConfig {
    fn default() -> Self {
        OutgoingConfig {
            policy: OutboundPolicy::default(),
            h2c: HashSet::new(),
            trust: Trust::default(),
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(30),
            between_bytes_timeout: Duration::from_secs(60),
            max_connections: 64,
            idle_timeout: Duration::from_secs(30),
            metrics: None,
        }
    }
}

/// Sends components' requests; one per server, shared by every instance.
pub struct Outgoing {
    runtime: Arc<Runtime>,
    config: OutgoingConfig,
    tls: Arc<rustls::ClientConfig>,
    /// The same, offering only `http/1.1` (upgrades).
    tls_http1: Arc<rustls::ClientConfig>,
    /// The engine's client options, asked of it once.
    options: tokio::sync::OnceCell<crate::bindings::Options>,
    /// The live HTTP/2 connection of each origin (`scheme://host:port`).
    pool: Mutex<HashMap<String, h2::Connection>>,
    /// Idle HTTP/1.1 connections by origin.
    http1: Arc<http1::Pool>,
    /// One permit per open connection (`max_connections`).
    connections: Arc<Semaphore>,
    /// Requests that found every connection slot taken.
    at_capacity: Warning,
    /// Destinations already logged as denied: each is logged once.
    denied: Mutex<DeniedLog>,
}

/// The destinations logged as denied, at most [`DENIED_LOGGED_MAX`].
#[derive(Default)]
struct DeniedLog {
    logged: HashSet<String>,
    /// Past the bound: said once, nothing more logged.
    full: bool,
}

/// Denied destinations logged one by one; past this many, one more line
/// says that further ones are not (a component can make up names without
/// end, and each would otherwise be remembered).
const DENIED_LOGGED_MAX: usize = 1024;

/// An outgoing request's destination, allowed by the policy.
struct Destination {
    tls: bool,
    host: String,
    port: u16,
    /// `host:port`.
    authority: String,
    /// `scheme://host:port`.
    origin: String,
    /// A policy entry names the host (so it may be a private address).
    named: bool,
}

/// What a component asks for, within the server's own limit.
fn within(asked: Option<Duration>, most: Duration) -> Duration {
    asked.map_or(most, |t| t.min(most))
}

/// What a request turned into, with the outcome of sending its body.
pub(crate) type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

impl Outgoing {
    /// Outgoing requests with `config`, their HTTP/2 connections on
    /// engine instances from `runtime`.
    pub fn new(runtime: Arc<Runtime>, config: OutgoingConfig) -> anyhow::Result<Arc<Outgoing>> {
        let tls = tls::client_config(&config.trust, true)?;
        let mut only_http1 = (*tls).clone();
        only_http1.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(Outgoing {
            runtime,
            tls,
            tls_http1: Arc::new(only_http1),
            options: tokio::sync::OnceCell::new(),
            pool: Mutex::new(HashMap::new()),
            http1: Arc::default(),
            connections: Arc::new(Semaphore::new(config.max_connections.max(1) as usize)),
            at_capacity: Warning::default(),
            denied: Mutex::new(DeniedLog::default()),
            config,
        }))
    }

    /// The longest a response's body may go without a frame.
    pub fn between_bytes_timeout(&self) -> Duration {
        self.config.between_bytes_timeout
    }

    /// Sends `request` (its URI is absolute: scheme and authority).
    pub async fn send(
        self: Arc<Self>,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<Sent, Error> {
        let between_bytes = within(
            options.as_ref().and_then(|o| o.between_bytes_timeout),
            self.config.between_bytes_timeout,
        );
        let metrics = self.config.metrics.clone();
        let exchanged = self.exchange(request, options).await;
        if let Some(m) = metrics
            && !matches!(exchanged, Err(Error::HttpRequestDenied))
        {
            m.allowed.inc();
        }
        let (response, sent) = exchanged?;
        let response = response.map(|body| BetweenBytes::new(body, between_bytes).boxed_unsync());
        Ok((response, sent))
    }

    /// Sends `request`; the response's body as it comes.
    async fn exchange(
        self: Arc<Self>,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<Sent, Error> {
        let Destination {
            tls,
            host,
            port,
            authority,
            origin,
            named,
        } = self.destination(request.uri())?;
        let connect_timeout = within(
            options.as_ref().and_then(|o| o.connect_timeout),
            self.config.connect_timeout,
        );
        let first_byte = within(
            options.as_ref().and_then(|o| o.first_byte_timeout),
            self.config.first_byte_timeout,
        );

        let pooled = self.pooled(&origin);
        let connection = match pooled {
            Some(c) => c,
            None if let Some(c) = self.http1.take(&origin, self.config.idle_timeout) => {
                return http1::send(c, self.http1.clone(), origin, request, first_byte).await;
            }
            None => {
                let opened = tokio::time::timeout(
                    connect_timeout,
                    self.open(&host, port, tls, named, &authority, &origin),
                )
                .await
                .map_err(|_| Error::ConnectionTimeout)??;
                match opened {
                    Opened::Http2(c) => c,
                    Opened::Idle(c) => {
                        return http1::send(c, self.http1.clone(), origin, request, first_byte)
                            .await;
                    }
                    Opened::Http1(io, permit) => {
                        let c = tokio::time::timeout(connect_timeout, http1::handshake(io, permit))
                            .await
                            .map_err(|_| Error::ConnectionTimeout)??;
                        return http1::send(c, self.http1.clone(), origin, request, first_byte)
                            .await;
                    }
                }
            }
        };
        let (reply_tx, reply) = oneshot::channel();
        let (sent_tx, sent) = oneshot::channel();
        let exchange = h2::Exchange {
            request: request.map(crate::service::box_body),
            priority: None,
            reply: reply_tx,
            sent: Some(sent_tx),
        };
        if connection.send(exchange).await.is_err() {
            return Err(Error::ConnectionTerminated);
        }
        let response = tokio::time::timeout(first_byte, reply)
            .await
            .map_err(|_| Error::ConnectionReadTimeout)?
            .map_err(|_| Error::ConnectionTerminated)?
            .map_err(wasi_error)?;
        let response = response.map(|body| {
            body.map_err(|e| Error::InternalError(Some(e.to_string())))
                .boxed_unsync()
        });
        let sent = Box::new(async move {
            match sent.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(wasi_error(e)),
                Err(_) => Err(Error::ConnectionTerminated),
            }
        });
        Ok((response, sent))
    }

    /// Where `uri` leads, if the policy allows it (a denial is logged).
    fn destination(&self, uri: &http::Uri) -> Result<Destination, Error> {
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(Error::HttpProtocolError),
        };
        let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?.to_string();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let authority = format!("{host}:{port}");
        let origin = format!("{}://{authority}", if tls { "https" } else { "http" });
        match self.config.policy.check_url(tls, &host, port) {
            UrlVerdict::Allowed { named } => Ok(Destination {
                tls,
                host,
                port,
                authority,
                origin,
                named,
            }),
            UrlVerdict::Denied => {
                self.log_denied(&origin, "no --app-allow-outbound entry allows it");
                Err(Error::HttpRequestDenied)
            }
        }
    }

    /// A usable pooled HTTP/2 connection to `origin`.
    fn pooled(&self, origin: &str) -> Option<h2::Connection> {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        match pool.get(origin) {
            Some(c) if c.usable() => Some(c.clone()),
            Some(_) => {
                pool.remove(origin);
                None
            }
            None => None,
        }
    }

    /// Logs a denied destination at warn, once (and counts it, every
    /// time).
    fn log_denied(&self, origin: &str, why: &str) {
        if let Some(m) = &self.config.metrics {
            m.denied.inc();
        }
        let mut denied = self.denied.lock().unwrap_or_else(|p| p.into_inner());
        if denied.full || denied.logged.contains(origin) {
            return;
        }
        if denied.logged.len() == DENIED_LOGGED_MAX {
            denied.full = true;
            tracing::warn!(
                "the app's outgoing requests were denied for {DENIED_LOGGED_MAX} \
                 destinations; further ones are not logged"
            );
            return;
        }
        denied.logged.insert(origin.to_string());
        tracing::warn!("outgoing request to {origin} denied: {why}");
    }

    /// A TCP connection to `host:port` at an address the policy allows
    /// (`named`: an entry names the host): resolved once, and the address
    /// checked is the one connected to.
    async fn connect(
        &self,
        host: &str,
        port: u16,
        named: bool,
        origin: &str,
    ) -> Result<tokio::net::TcpStream, Error> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let resolved: Vec<std::net::SocketAddr> = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| Error::DnsError {
                rcode: Some(e.to_string()),
                info_code: None,
            })?
            .collect();
        let allowed: Vec<_> = resolved
            .iter()
            .copied()
            .filter(|a| self.config.policy.address_allowed(*a, named))
            .collect();
        if allowed.is_empty() {
            if resolved.is_empty() {
                return Err(Error::DestinationNotFound);
            }
            self.log_denied(
                origin,
                "it resolves to a loopback, private, link-local or the server's own \
                 address, which only an entry naming the host allows",
            );
            return Err(Error::HttpRequestDenied);
        }
        let mut last = Error::DestinationUnavailable;
        for address in allowed {
            match tokio::net::TcpStream::connect(address).await {
                Ok(tcp) => return Ok(tcp),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    last = Error::ConnectionRefused;
                }
                Err(e) => last = Error::Connect(e),
            }
        }
        Err(last)
    }

    async fn open(
        &self,
        host: &str,
        port: u16,
        tls: bool,
        named: bool,
        authority: &str,
        origin: &str,
    ) -> Result<Opened, Error> {
        let permit = match self.connections.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if let Some(count) = self.at_capacity.due() {
                    tracing::warn!(
                        "all {} outgoing connections in use (--app-max-outgoing); {count} \
                         requests waited for one since the last warning",
                        self.config.max_connections
                    );
                }
                // Within the caller's connect timeout: a slot, or one of
                // this origin's HTTP/1.1 connections done with its
                // response, whichever comes first.
                loop {
                    let returned = self.http1.returned();
                    tokio::pin!(returned);
                    returned.as_mut().enable();
                    if let Some(c) = self.http1.take(origin, self.config.idle_timeout) {
                        return Ok(Opened::Idle(c));
                    }
                    // Another origin's idle connection gives its slot up.
                    self.http1.close_oldest_except(origin);
                    tokio::select! {
                        permit = self.connections.clone().acquire_owned() => {
                            break permit.map_err(|_| Error::ConnectionLimitReached)?;
                        }
                        _ = returned => {}
                    }
                }
            }
        };
        let tcp = self.connect(host, port, named, origin).await?;
        let _ = tcp.set_nodelay(true);
        if !tls {
            if !self.config.h2c.contains(authority) {
                return Ok(Opened::Http1(Box::new(tcp), permit));
            }
            let options = self.h2_options(false, authority).await?;
            let c = self.h2_start(options, origin, tcp, permit).await?;
            return Ok(Opened::Http2(self.pool_insert(origin, c)));
        }
        let name = tls::server_name(host).map_err(|_| Error::HttpRequestUriInvalid)?;
        let stream = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(Error::Tls)?;
        match stream.get_ref().1.alpn_protocol() {
            Some(tls::ALPN_H2) => {
                let options = self.h2_options(true, authority).await?;
                let c = self.h2_start(options, origin, stream, permit).await?;
                Ok(Opened::Http2(self.pool_insert(origin, c)))
            }
            _ => Ok(Opened::Http1(Box::new(stream), permit)),
        }
    }

    /// The engine's options for a client connection to `authority`.
    async fn h2_options(
        &self,
        tls: bool,
        authority: &str,
    ) -> Result<crate::bindings::Options, Error> {
        let defaults = self
            .options
            .get_or_try_init(|| self.runtime.default_options())
            .await
            .map_err(|e| Error::InternalError(Some(format!("{e:#}"))))?;
        let mut options = defaults.clone();
        options.scheme = if tls { "https" } else { "http" }.into();
        options.authority = authority.to_string();
        options.settings.enable_push = Some(false);
        options.header_blocks = true;
        // Windows large enough that a fast origin is not held to round
        // trips; a component that reads slowly holds back one stream's.
        options.connection_window_size = 16 << 20;
        options.settings.initial_window_size = Some(1 << 20);
        Ok(options)
    }

    /// A pooled HTTP/2 connection to `origin` on `io`, driven in a task of
    /// its own that holds `permit` while it lives.
    async fn h2_start<IO>(
        &self,
        options: crate::bindings::Options,
        origin: &str,
        io: IO,
        permit: OwnedSemaphorePermit,
    ) -> Result<h2::Connection, Error>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        let setup = h2::Setup {
            origin: origin.to_string(),
            idle_timeout: Some(self.config.idle_timeout),
            // Push is off in our SETTINGS; one that comes anyway is refused.
            pushes: None,
            verbose: false,
            await_settings: true,
        };
        h2::Connection::start(&self.runtime, &options, setup, io, permit)
            .await
            .map_err(|e| Error::InternalError(Some(format!("{e:#}"))))
    }

    /// Pools `c` for `origin`, unless a request that raced this one pooled
    /// a connection first: then that one is used, and `c` closes once idle.
    fn pool_insert(&self, origin: &str, c: h2::Connection) -> h2::Connection {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        match pool.get(origin) {
            Some(existing) if existing.usable() => existing.clone(),
            _ => {
                pool.insert(origin.to_string(), c.clone());
                c
            }
        }
    }
}

/// What a stream's failure is to wasi:http.
fn wasi_error(e: StreamError) -> Error {
    match e {
        // Nothing was processed: the component may send it again.
        StreamError::Refused(_) => Error::ConnectionLimitReached,
        StreamError::ConnectionEnded(_) => Error::ConnectionTerminated,
        e => Error::InternalError(Some(e.to_string())),
    }
}

enum Opened {
    Http2(h2::Connection),
    /// An HTTP/1.1 connection to the origin, idle again.
    Idle(http1::Connection),
    /// The transport, and the connection slot it holds until it closes.
    Http1(Box<dyn crate::fetch::Transport>, OwnedSemaphorePermit),
}

/// The hooks an instance's wasi:http uses: its outgoing requests go
/// through the server's [`Outgoing`], each carrying the `CDN-Loop` entries
/// of the request the instance serves plus one of ours (RFC 8586), so that
/// a request that comes back to this server is counted.
pub struct Hooks {
    outgoing: Arc<Outgoing>,
    cdn_loop: http::HeaderValue,
}

impl Hooks {
    /// Sends through `outgoing`, adding `cdn_loop` (the incoming request's
    /// CDN-Loop entries and ours) to every request.
    pub fn new(outgoing: Arc<Outgoing>, cdn_loop: http::HeaderValue) -> Hooks {
        Hooks { outgoing, cdn_loop }
    }
}

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Result<Sent, Error>> + Send> {
        // Set, not appended to what the component sent: a component cannot
        // drop the count.
        request
            .headers_mut()
            .insert("cdn-loop", self.cdn_loop.clone());
        let outgoing = self.outgoing.clone();
        Box::new(outgoing.send(request, options))
    }
}

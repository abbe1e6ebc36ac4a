//! The HTTP/2 client driver: one connection, driven by an engine instance
//! in a task of its own, carrying every request given to it as a stream.
//! `h2wasm get`, CONNECT tunnels and the outgoing requests of wasi:http
//! components all go through it. Requests come in on a channel as
//! `http::Request`s; request bodies are pulled as flow control allows;
//! responses go back as `http::Response`s whose bodies open the stream
//! window only as they are read (a reader that stalls holds at most one
//! stream window of data). Pushed responses go to whoever asked for them.

use crate::bindings::{Event, HeaderKind, Options, Priority, RequestOptions, Role};
use crate::engine::clock::{instant_at, now_ns};
use crate::engine::convert::codes::{CANCEL, INTERNAL_ERROR, REFUSED_STREAM};
use crate::engine::convert::{code_name, field, header_fields, header_map, response_head};
use crate::engine::io::{IO_CHUNK, flush, trap};
use crate::engine::{EngineConnection, Runtime};
use crate::fetch::frametrace::FrameTrace;
use crate::service::ResponseBody;
use crate::service::body::{BodyItem, BodyNote, Incoming};
use bytes::Bytes;
use futures_util::FutureExt;
use http::{HeaderMap, Response};
use http_body::Body;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio_stream::{Stream, StreamExt, StreamMap};

/// Why a request got no response (or its body no end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StreamError {
    /// REFUSED_STREAM on this stream before anything came back: nothing
    /// was processed, so the request may be sent again (RFC 9113 §8.7).
    Refused(u32),
    /// The stream was reset with this code.
    Reset(u32),
    /// The engine would not open the stream (a malformed request, say).
    NotSent(String),
    /// The connection ended first (why, in words).
    ConnectionEnded(String),
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::Refused(id) => {
                write!(f, "the server refused stream {id} (REFUSED_STREAM)")
            }
            StreamError::Reset(code) => write!(f, "stream reset ({})", code_name(*code)),
            StreamError::NotSent(why) => write!(f, "the request was not sent: {why}"),
            StreamError::ConnectionEnded(why) => write!(f, "the connection ended: {why}"),
        }
    }
}

impl std::error::Error for StreamError {}

/// A response head and its streaming body, or why there is none.
pub(crate) type Reply = Result<Response<Incoming>, StreamError>;

/// The stream a response came on, in its extensions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StreamId(pub u32);

/// The 1xx responses that came before a final response, in its
/// extensions.
#[derive(Clone, Debug, Default)]
pub(crate) struct InformationalHeads(pub Vec<(http::StatusCode, HeaderMap)>);

/// A request for the connection.
pub(crate) struct Exchange {
    pub request: http::Request<ResponseBody>,
    /// Its weight and dependency, sent in the HEADERS frame.
    pub priority: Option<Priority>,
    pub reply: oneshot::Sender<Reply>,
    /// How the request body went: `Ok` once it was all sent.
    pub sent: Option<oneshot::Sender<Result<(), StreamError>>>,
}

/// A response the server pushed (RFC 9113 §8.4).
pub(crate) struct Promise {
    /// The stream of the request it was promised on.
    pub parent: u32,
    pub stream_id: u32,
    /// The promised request's fields, pseudo-headers included.
    pub request: Vec<(String, Vec<u8>)>,
    pub response: oneshot::Receiver<Reply>,
}

/// What a connection is driven with.
pub(crate) struct Setup {
    /// `scheme://host:port`, for log lines.
    pub origin: String,
    /// With no request in flight this long, it closes; `None`: it stays
    /// open until its handle is dropped.
    pub idle_timeout: Option<Duration>,
    /// Where pushed responses go; `None` refuses them (CANCEL).
    pub pushes: Option<mpsc::UnboundedSender<Promise>>,
    /// Hold requests until the server's SETTINGS arrive, so that none is
    /// sent past a concurrency limit it has yet to announce (a pooled
    /// connection many callers share, whose refused requests cannot be
    /// sent again). Without it the first requests go with the preface, a
    /// round trip sooner, and a refused one comes back as
    /// [`StreamError::Refused`] for the caller to send again.
    pub await_settings: bool,
    /// Print streams, resets, GOAWAY and every frame to stderr (`get -v`).
    pub verbose: bool,
}

/// A live connection's handle.
#[derive(Clone)]
pub(crate) struct Connection {
    tx: mpsc::Sender<Exchange>,
    /// No new streams: the peer sent GOAWAY, or the connection ended.
    done: Arc<AtomicBool>,
}

/// Requests queued for one connection before the driver takes them.
const QUEUE: usize = 256;

/// How often streams are checked for requesters that gave up on them.
const ABANDONED_SWEEP: Duration = Duration::from_secs(1);

impl Connection {
    /// A connection over `io` (TLS with ALPN h2, or h2c) in `conn`'s
    /// instance: its handle, and the future that drives it until the
    /// handle is dropped and nothing is in flight, or the connection ends.
    pub(crate) fn new<IO>(
        conn: EngineConnection,
        setup: Setup,
        io: IO,
    ) -> (Connection, impl std::future::Future<Output = ()> + Send)
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin,
    {
        let (tx, rx) = mpsc::channel(QUEUE);
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let driving = async move {
            let origin = setup.origin.clone();
            if let Err(e) = Driver::new(conn, setup).run(io, rx, &flag).await {
                tracing::debug!(%origin, "HTTP/2 client connection ended: {e:#}");
            }
            flag.store(true, Ordering::Relaxed);
        };
        (Connection { tx, done }, driving)
    }

    /// As [`Connection::new`], with an instance from `runtime` and the
    /// driving in a task of its own, which holds `permit` (a connection
    /// slot) until the connection ends.
    pub(crate) async fn start<IO>(
        runtime: &Runtime,
        options: &Options,
        setup: Setup,
        io: IO,
        permit: OwnedSemaphorePermit,
    ) -> anyhow::Result<Connection>
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let conn = runtime
            .connect(Role::Client, options, now_ns())
            .await
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let (connection, driving) = Connection::new(conn, setup, io);
        tokio::spawn(async move {
            let _slot = permit;
            driving.await;
        });
        Ok(connection)
    }

    /// Can it take another request?
    pub(crate) fn usable(&self) -> bool {
        !self.done.load(Ordering::Relaxed) && !self.tx.is_closed()
    }

    /// Hands a request to the connection; gives it back if the connection
    /// ended meanwhile.
    pub(crate) async fn send(&self, exchange: Exchange) -> Result<(), Exchange> {
        self.tx.send(exchange).await.map_err(|e| e.0)
    }
}

/// A request stream in flight.
struct InFlight {
    reply: Option<oneshot::Sender<Reply>>,
    sent: Option<oneshot::Sender<Result<(), StreamError>>>,
    /// The response body's feed, once the response came.
    body: Option<mpsc::UnboundedSender<BodyItem>>,
    /// 1xx responses so far.
    informational: Vec<(http::StatusCode, HeaderMap)>,
}

/// A request body as the driver pulls it.
enum Upload {
    Data(Bytes),
    Trailers(HeaderMap),
    Failed(String),
    End,
}

type UploadStream = Pin<Box<dyn Stream<Item = Upload> + Send>>;

fn upload_stream(body: ResponseBody) -> UploadStream {
    let frames = futures_util::stream::unfold(Some(body), |body| async move {
        let mut body = body?;
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let item = match frame {
            None => return Some((Upload::End, None)),
            Some(Err(e)) => return Some((Upload::Failed(e.to_string()), None)),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(d) => Upload::Data(d),
                Err(frame) => match frame.into_trailers() {
                    Ok(t) => return Some((Upload::Trailers(t), None)),
                    Err(_) => Upload::Data(Bytes::new()),
                },
            },
        };
        Some((item, Some(body)))
    });
    Box::pin(frames)
}

/// Header fields of a request: the pseudo-headers from its URI, then its
/// fields less the connection-specific ones HTTP/2 forbids (RFC 9113
/// §8.2.2; `host` becomes `:authority`). A CONNECT names only its
/// authority (§8.5).
fn request_fields(
    parts: &http::request::Parts,
) -> Result<Vec<crate::bindings::HeaderField>, StreamError> {
    let uri = &parts.uri;
    let authority = match uri.authority() {
        Some(a) => a.as_str().to_string(),
        None => parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| StreamError::NotSent("the request names no authority".into()))?
            .to_string(),
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut pseudo = vec![(":method", parts.method.as_str())];
    if parts.method != http::Method::CONNECT {
        pseudo.push((":scheme", uri.scheme_str().unwrap_or("https")));
    }
    pseudo.push((":authority", authority.as_str()));
    if parts.method != http::Method::CONNECT {
        pseudo.push((":path", path));
    }
    let mut fields: Vec<crate::bindings::HeaderField> = pseudo
        .iter()
        .map(|(n, v)| field(n, v.as_bytes(), false))
        .collect();
    let carried = parts.headers.iter().filter(|(n, v)| carried_by_http2(n, v));
    fields.extend(carried.map(|(n, v)| field(n.as_str(), v.as_bytes(), v.is_sensitive())));
    Ok(fields)
}

/// Whether HTTP/2 carries a request field (RFC 9113 §8.2.2): not the
/// connection-specific ones, `te` only as `trailers`, and `host` as
/// `:authority` instead.
fn carried_by_http2(name: &http::HeaderName, value: &http::HeaderValue) -> bool {
    match name.as_str() {
        "host" | "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding"
        | "upgrade" => false,
        "te" => value.as_bytes() == b"trailers",
        _ => true,
    }
}

/// The driver's state.
struct Driver {
    conn: EngineConnection,
    setup: Setup,
    streams: HashMap<u32, InFlight>,
    uploads: StreamMap<u32, UploadStream>,
    /// Bodies of congested uploads, waiting for `Drain`.
    parked: HashMap<u32, UploadStream>,
    consumed_tx: mpsc::UnboundedSender<BodyNote>,
    /// `get -v`: every frame sent and received.
    trace: Option<(FrameTrace, FrameTrace)>,
    /// The first connection error, to tell requests left in flight.
    error: Option<String>,
}

impl Driver {
    fn new(conn: EngineConnection, setup: Setup) -> Driver {
        let (consumed_tx, _) = mpsc::unbounded_channel();
        Driver {
            conn,
            trace: setup
                .verbose
                .then(|| (FrameTrace::new("send", 24), FrameTrace::new("recv", 0))),
            setup,
            streams: HashMap::new(),
            uploads: StreamMap::new(),
            parked: HashMap::new(),
            consumed_tx,
            error: None,
        }
    }

    fn say(&self, line: impl FnOnce() -> String) {
        if self.setup.verbose {
            eprintln!("* {}", line());
        }
    }

    async fn run<IO>(
        mut self,
        io: IO,
        mut requests: mpsc::Receiver<Exchange>,
        done: &AtomicBool,
    ) -> anyhow::Result<()>
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin,
    {
        let (mut rd, mut wr) = tokio::io::split(io);
        let (consumed_tx, mut consumed) = mpsc::unbounded_channel::<BodyNote>();
        self.consumed_tx = consumed_tx;
        let mut buf = vec![0u8; IO_CHUNK];
        // See `Setup::await_settings`.
        let mut settled = !self.setup.await_settings;
        // Since when no request has been in flight.
        let mut idle_since = Some(tokio::time::Instant::now());
        // The requester let go of the connection: finish, then close.
        let mut let_go = false;
        let ended = loop {
            flush(
                &mut self.conn,
                &mut wr,
                self.trace.as_mut().map(|t| &mut t.0),
            )
            .await?;
            let events = trap(self.conn.poll_events().await)?;
            let quiet = events.is_empty();
            for event in events {
                if matches!(event, Event::RemoteSettings(_)) {
                    settled = true;
                }
                if matches!(event, Event::Goaway(_)) {
                    done.store(true, Ordering::Relaxed);
                }
                self.on_event(event).await?;
            }
            if trap(self.conn.is_closed().await)? {
                break "the connection closed".to_string();
            }
            if !quiet {
                continue;
            }
            if (let_go || done.load(Ordering::Relaxed)) && self.streams.is_empty() {
                break String::new();
            }
            let deadline = trap(self.conn.poll_timeout().await)?;
            let accepting = settled && !let_go && !done.load(Ordering::Relaxed);
            match (self.streams.is_empty(), idle_since) {
                (true, None) => idle_since = Some(tokio::time::Instant::now()),
                (false, Some(_)) => idle_since = None,
                _ => {}
            }
            let idle_until = self
                .setup
                .idle_timeout
                .zip(idle_since)
                .map(|(t, since)| since + t);
            tokio::select! {
                read = rd.read(&mut buf) => {
                    // A failed read ends every stream with its reason (a
                    // server that answered in HTTP/1.x, a reset).
                    let n = match read {
                        Ok(n) => n,
                        Err(e) => break e.to_string(),
                    };
                    if n == 0 {
                        break "the server closed the connection".to_string();
                    }
                    if let Some((_, recv)) = self.trace.as_mut() {
                        recv.feed(&buf[..n]);
                    }
                    if let Err(e) = trap(self.conn.receive(now_ns(), &buf[..n]).await)? {
                        self.connection_error(e.code, &e.reason);
                    }
                }
                exchange = requests.recv(), if accepting => match exchange {
                    Some(exchange) => self.start(exchange).await?,
                    // The requester let go of the connection: finish what
                    // is in flight, then close.
                    None => let_go = true,
                },
                Some(note) = consumed.recv() => {
                    // A response body asks for nothing but credit.
                    if let BodyNote::Read(id, n) = note {
                        let _ = trap(self.conn.consume(id, n).await)?;
                    }
                }
                Some((id, upload)) = self.uploads.next(), if !self.uploads.is_empty() => {
                    self.upload(id, upload).await?;
                }
                _ = tokio::time::sleep_until(deadline.map_or_else(
                    || tokio::time::Instant::now() + Duration::from_secs(86_400),
                    |d| instant_at(d).into())), if deadline.is_some() => {
                    trap(self.conn.handle_timeout(now_ns()).await)?;
                }
                _ = tokio::time::sleep(ABANDONED_SWEEP), if !self.streams.is_empty() => {
                    self.cancel_abandoned().await?;
                }
                _ = tokio::time::sleep_until(idle_until.unwrap_or_else(tokio::time::Instant::now)), if idle_until.is_some() => {
                    // Nothing asked of it for a while: no new streams, and
                    // the pool lets it go (GOAWAY and close follow).
                    tracing::debug!(origin = %self.setup.origin, "outgoing HTTP/2 connection idle; closing");
                    done.store(true, Ordering::Relaxed);
                }
            }
            // Upload pieces ready now go with this flush: a body's end
            // rides on its last DATA frame, not a frame of its own.
            while !self.uploads.is_empty() {
                match self.uploads.next().now_or_never() {
                    Some(Some((id, upload))) => self.upload(id, upload).await?,
                    _ => break,
                }
            }
        };
        done.store(true, Ordering::Relaxed);
        let why = self.error.clone().unwrap_or(ended);
        for (_, s) in self.streams.drain() {
            fail(s, StreamError::ConnectionEnded(why.clone()));
        }
        // Requests not yet started end with the same reason.
        requests.close();
        while let Ok(exchange) = requests.try_recv() {
            let _ = exchange
                .reply
                .send(Err(StreamError::ConnectionEnded(why.clone())));
        }
        let _ = trap(self.conn.close().await);
        let _ = flush(
            &mut self.conn,
            &mut wr,
            self.trace.as_mut().map(|t| &mut t.0),
        )
        .await;
        let _ = wr.shutdown().await;
        if self.setup.verbose {
            trap(self.conn.handle_timeout(now_ns()).await)?;
            let metrics = trap(self.conn.metrics().await)?;
            eprintln!(
                "* session: {}",
                crate::fetch::report::session_summary(&metrics)
            );
        }
        Ok(())
    }

    fn connection_error(&mut self, code: u32, reason: &str) {
        tracing::debug!(origin = %self.setup.origin, "connection error {}: {reason}", code_name(code));
        self.error
            .get_or_insert_with(|| format!("connection error {}: {reason}", code_name(code)));
    }

    async fn on_event(&mut self, event: Event) -> anyhow::Result<()> {
        match event {
            Event::HeaderBlock(h) if h.kind == HeaderKind::Response => {
                let Some(s) = self.streams.get_mut(&h.stream_id) else {
                    return Ok(());
                };
                let (status, headers) = response_head(h.headers);
                let status = status.unwrap_or(http::StatusCode::BAD_GATEWAY);
                let (body, feed) = Incoming::http2(
                    h.stream_id,
                    h.end_stream,
                    &headers,
                    &self.consumed_tx,
                    false,
                );
                let mut response = Response::new(body);
                *response.status_mut() = status;
                *response.version_mut() = http::Version::HTTP_2;
                *response.headers_mut() = headers;
                response.extensions_mut().insert(StreamId(h.stream_id));
                response
                    .extensions_mut()
                    .insert(InformationalHeads(std::mem::take(&mut s.informational)));
                s.body = feed;
                if let Some(reply) = s.reply.take() {
                    let _ = reply.send(Ok(response));
                }
                self.say(|| format!("stream {}: response {}", h.stream_id, status.as_u16()));
            }
            Event::HeaderBlock(h) if h.kind == HeaderKind::Informational => {
                if let Some(s) = self.streams.get_mut(&h.stream_id) {
                    let (status, headers) = response_head(h.headers);
                    if let Some(status) = status {
                        s.informational.push((status, headers));
                    }
                }
            }
            Event::HeaderBlock(t) if t.kind == HeaderKind::Trailers => {
                if let Some(body) = self
                    .streams
                    .get_mut(&t.stream_id)
                    .and_then(|s| s.body.take())
                {
                    let _ = body.send(BodyItem::Trailers(header_map(t.headers)));
                }
            }
            Event::Data(d) => {
                let n = u32::try_from(d.data.len()).unwrap_or(u32::MAX);
                let fed = self
                    .streams
                    .get(&d.stream_id)
                    .and_then(|s| s.body.as_ref())
                    .is_some_and(|b| b.send(BodyItem::Data(Bytes::from(d.data))).is_ok());
                if !fed && n > 0 {
                    // Nobody reads it: keep the connection's window open.
                    let _ = trap(self.conn.consume(d.stream_id, n).await)?;
                }
                if d.end_stream
                    && let Some(s) = self.streams.get_mut(&d.stream_id)
                {
                    s.body = None;
                }
            }
            Event::Drain(id) => {
                if let Some(upload) = self.parked.remove(&id) {
                    self.uploads.insert(id, upload);
                }
            }
            Event::PushPromise(p) => self.promised(p.parent, p.stream_id, p.headers).await?,
            Event::StreamReset(r) => {
                self.say(|| {
                    format!(
                        "stream {}: reset {:?} {}",
                        r.stream_id,
                        r.origin,
                        code_name(r.code)
                    )
                });
            }
            Event::StreamClosed(c) => {
                self.say(|| {
                    format!(
                        "stream {}: {}",
                        c.stream_id,
                        crate::fetch::report::stream_summary(&c.metrics)
                    )
                });
                self.uploads.remove(&c.stream_id);
                self.parked.remove(&c.stream_id);
                if let Some(s) = self.streams.remove(&c.stream_id) {
                    closed(c.stream_id, s, c.code);
                }
            }
            Event::Goaway(g) => {
                self.say(|| {
                    format!(
                        "GOAWAY {:?} {} last stream {}",
                        g.origin,
                        code_name(g.code),
                        g.last_stream_id
                    )
                });
            }
            Event::Altsvc(a) => {
                self.say(|| {
                    format!(
                        "ALTSVC stream {} origin {:?}: {}",
                        a.stream_id, a.origin, a.value
                    )
                });
            }
            Event::Origin(origins) => self.say(|| format!("ORIGIN {}", origins.join(" "))),
            Event::ConnectionError(e) => self.connection_error(e.code, &e.reason),
            _ => {}
        }
        Ok(())
    }

    /// A push promise: handed to whoever takes pushes, or refused.
    async fn promised(
        &mut self,
        parent: u32,
        stream_id: u32,
        fields: Vec<crate::bindings::HeaderField>,
    ) -> anyhow::Result<()> {
        let request: Vec<(String, Vec<u8>)> = crate::engine::convert::from_fields(fields);
        let (reply, response) = oneshot::channel();
        let taken = match &self.setup.pushes {
            Some(pushes) if self.streams.contains_key(&parent) => pushes
                .send(Promise {
                    parent,
                    stream_id,
                    request: request.clone(),
                    response,
                })
                .is_ok(),
            _ => false,
        };
        if !taken {
            // CANCEL: nothing here asked for it.
            let _ = trap(self.conn.close_stream(stream_id, CANCEL).await)?;
            return Ok(());
        }
        self.say(|| {
            let path = crate::engine::convert::find(&request, ":path")
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default();
            format!("stream {parent}: push promise, stream {stream_id} for {path}")
        });
        self.streams.insert(
            stream_id,
            InFlight {
                reply: Some(reply),
                sent: None,
                body: None,
                informational: Vec::new(),
            },
        );
        Ok(())
    }

    /// Opens a stream for `exchange`.
    async fn start(&mut self, exchange: Exchange) -> anyhow::Result<()> {
        let Exchange {
            request,
            priority,
            reply,
            sent,
        } = exchange;
        let (parts, body) = request.into_parts();
        let fields = match request_fields(&parts) {
            Ok(f) => f,
            Err(e) => {
                let _ = reply.send(Err(e));
                return Ok(());
            }
        };
        let empty = body.is_end_stream();
        let options = RequestOptions {
            end_stream: empty,
            wait_for_trailers: false,
            priority,
            // The window opens as the response body is read.
            manual_consume: true,
        };
        match trap(self.conn.request(&fields, options).await)? {
            Ok(id) => {
                self.say(|| {
                    let target = match parts.method {
                        http::Method::CONNECT => parts.uri.to_string(),
                        _ => parts
                            .uri
                            .path_and_query()
                            .map_or("/", |p| p.as_str())
                            .to_string(),
                    };
                    format!("stream {id}: {} {target}", parts.method)
                });
                if !empty {
                    self.uploads.insert(id, upload_stream(body));
                }
                let sent = match (sent, empty) {
                    (Some(sent), true) => {
                        let _ = sent.send(Ok(()));
                        None
                    }
                    (sent, _) => sent,
                };
                self.streams.insert(
                    id,
                    InFlight {
                        reply: Some(reply),
                        sent,
                        body: None,
                        informational: Vec::new(),
                    },
                );
            }
            Err(e) => {
                let _ = reply.send(Err(StreamError::NotSent(format!("{e:?}"))));
            }
        }
        Ok(())
    }

    /// The next piece of a request body, into the engine.
    async fn upload(&mut self, id: u32, upload: Upload) -> anyhow::Result<()> {
        match upload {
            Upload::Data(chunk) => {
                if chunk.is_empty() {
                    return Ok(());
                }
                match trap(self.conn.write(id, &chunk).await)? {
                    Ok(true) => {}
                    Ok(false) => {
                        // Congested: pull no more until Drain.
                        if let Some(upload) = self.uploads.remove(&id) {
                            self.parked.insert(id, upload);
                        }
                    }
                    Err(e) => {
                        tracing::debug!(stream_id = id, "write refused: {e:?}");
                        self.uploads.remove(&id);
                    }
                }
            }
            Upload::Trailers(t) => {
                self.uploads.remove(&id);
                let _ = trap(self.conn.send_trailers(id, &header_fields(&t)).await)?;
                self.body_sent(id);
            }
            Upload::End => {
                self.uploads.remove(&id);
                let _ = trap(self.conn.end(id).await)?;
                self.body_sent(id);
            }
            Upload::Failed(why) => {
                self.uploads.remove(&id);
                tracing::debug!(stream_id = id, "request body failed: {why}");
                let _ = trap(self.conn.close_stream(id, CANCEL).await)?;
            }
        }
        Ok(())
    }

    fn body_sent(&mut self, id: u32) {
        if let Some(sent) = self.streams.get_mut(&id).and_then(|s| s.sent.take()) {
            let _ = sent.send(Ok(()));
        }
    }

    /// Resets (CANCEL) the streams whose requester stopped waiting for the
    /// response (its first-byte timeout, its instance dropped) or dropped
    /// the response body: an origin that never answers them no longer
    /// keeps the connection busy.
    async fn cancel_abandoned(&mut self) -> anyhow::Result<()> {
        let abandoned: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| match (&s.reply, &s.body) {
                (Some(reply), _) => reply.is_closed(),
                (None, Some(body)) => body.is_closed(),
                (None, None) => false,
            })
            .map(|(&id, _)| id)
            .collect();
        for id in abandoned {
            self.streams.remove(&id);
            let _ = trap(self.conn.close_stream(id, CANCEL).await)?;
        }
        Ok(())
    }
}

/// Stream `id` closed with `code`: its requester learns how.
fn closed(id: u32, mut s: InFlight, code: u32) {
    if code == 0 {
        if let Some(sent) = s.sent.take() {
            let _ = sent.send(Ok(()));
        }
        return;
    }
    if let Some(sent) = s.sent.take() {
        let _ = sent.send(Err(StreamError::Reset(code)));
    }
    match (s.reply.take(), s.body.take()) {
        // REFUSED_STREAM: nothing was processed.
        (Some(reply), _) if code == REFUSED_STREAM => {
            let _ = reply.send(Err(StreamError::Refused(id)));
        }
        (Some(reply), _) => {
            let _ = reply.send(Err(StreamError::Reset(code)));
        }
        (None, Some(body)) => {
            let _ = body.send(BodyItem::Reset(code));
        }
        (None, None) => {}
    }
}

/// The connection ended with the stream in flight.
fn fail(s: InFlight, why: StreamError) {
    if let Some(reply) = s.reply {
        let _ = reply.send(Err(why));
    } else if let Some(body) = s.body {
        let _ = body.send(BodyItem::Reset(INTERNAL_ERROR));
    }
}

//! One pooled HTTP/2 connection to an origin, driven by an engine
//! instance in a task of its own. Requests come in on a channel and are
//! multiplexed as streams; request bodies are pulled as flow control
//! allows, and response bodies are handed out with the window opened only
//! as they are read (so a reader that stalls holds at most one stream
//! window of data).

use crate::bindings::{Event, HeaderKind, Options, RequestOptions, Role};
use crate::engine::clock::{instant_at, now_ns};
use crate::engine::convert::code_name;
use crate::engine::convert::codes::{CANCEL, INTERNAL_ERROR, REFUSED_STREAM};
use crate::engine::convert::{header_fields, header_map, response_head};
use crate::engine::io::{IO_CHUNK, flush, trap};
use crate::engine::{EngineConnection, Runtime};
use crate::service::body::{BodyItem, Incoming};
use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio_stream::{Stream, StreamExt, StreamMap};
use wasmtime_wasi_http::{Error, WasiBody};

/// What a request gets back: the response head with its body, or why
/// there is none.
pub(crate) type Reply = Result<Response<WasiBody>, Error>;

pub(crate) struct Exchange {
    pub request: http::Request<WasiBody>,
    pub reply: oneshot::Sender<Reply>,
    /// How the request body went: `Ok` once it was all sent.
    pub sent: oneshot::Sender<Result<(), Error>>,
}

/// A live connection's handle, kept in the pool.
#[derive(Clone)]
pub(crate) struct Connection {
    tx: mpsc::Sender<Exchange>,
    /// No new streams: the peer sent GOAWAY, or the connection ended.
    done: Arc<AtomicBool>,
}

/// Requests queued for one connection before the driver takes them.
const QUEUE: usize = 256;

/// What a connection is started with.
pub(crate) struct Setup {
    /// Where its engine instance comes from.
    pub runtime: Arc<Runtime>,
    pub options: Options,
    /// `scheme://host:port`, for log lines.
    pub origin: String,
    /// With no request in flight this long, it closes.
    pub idle_timeout: Duration,
}

impl Connection {
    /// Starts driving a connection over `io` (TLS with ALPN h2, or h2c),
    /// which holds its connection slot (`permit`) until it ends.
    pub(crate) async fn start<IO>(
        setup: Setup,
        io: IO,
        permit: OwnedSemaphorePermit,
    ) -> Result<Connection, Error>
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let conn = setup
            .runtime
            .connect(Role::Client, &setup.options, now_ns())
            .await
            .map_err(|e| Error::InternalError(Some(format!("{e:#}"))))?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let (origin, idle) = (setup.origin, setup.idle_timeout);
        tokio::spawn(async move {
            let _slot = permit;
            if let Err(e) = drive(conn, io, rx, &flag, idle).await {
                tracing::debug!(%origin, "outgoing HTTP/2 connection ended: {e:#}");
            }
            flag.store(true, Ordering::Relaxed);
        });
        Ok(Connection { tx, done })
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
    sent: Option<oneshot::Sender<Result<(), Error>>>,
    /// The response body's feed, once the response came.
    body: Option<mpsc::UnboundedSender<BodyItem>>,
}

/// A request body as the driver pulls it.
enum Upload {
    Data(Bytes),
    Trailers(HeaderMap),
    Failed(String),
    End,
}

type UploadStream = Pin<Box<dyn Stream<Item = Upload> + Send>>;

fn upload_stream(body: WasiBody) -> UploadStream {
    let frames = futures_util::stream::unfold(Some(body), |body| async move {
        let mut body = body?;
        let item = match body.frame().await {
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
/// §8.2.2; `host` becomes `:authority`).
fn request_fields(
    parts: &http::request::Parts,
) -> Result<Vec<crate::bindings::HeaderField>, Error> {
    let uri = &parts.uri;
    let authority = match uri.authority() {
        Some(a) => a.as_str().to_string(),
        None => parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or(Error::HttpRequestUriInvalid)?
            .to_string(),
    };
    let pseudo = [
        (":method", parts.method.as_str()),
        (":scheme", uri.scheme_str().unwrap_or("https")),
        (":authority", authority.as_str()),
        (":path", uri.path_and_query().map_or("/", |p| p.as_str())),
    ];
    let mut fields: Vec<crate::bindings::HeaderField> = pseudo
        .iter()
        .map(|(n, v)| crate::bindings::HeaderField {
            name: (*n).to_string(),
            value: v.as_bytes().to_vec(),
            sensitive: false,
        })
        .collect();
    let mut rest = parts.headers.clone();
    for name in [
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
    ] {
        rest.remove(name);
    }
    if rest
        .get(http::header::TE)
        .is_some_and(|te| te.as_bytes() != b"trailers")
    {
        rest.remove(http::header::TE);
    }
    fields.extend(header_fields(&rest));
    Ok(fields)
}

/// The response for a response HEADERS block; its body is fed later.
fn response(
    stream_id: u32,
    fields: crate::bindings::HeaderBlock,
    end_stream: bool,
    consumed: &mpsc::UnboundedSender<(u32, u32)>,
) -> (Response<WasiBody>, Option<mpsc::UnboundedSender<BodyItem>>) {
    let (status, headers) = response_head(fields);
    let status = status.unwrap_or(StatusCode::BAD_GATEWAY);
    let (body, feed) = Incoming::http2(stream_id, end_stream, &headers, consumed);
    let mut response = Response::new(
        body.map_err(|e| Error::InternalError(Some(e.to_string())))
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    (response, feed)
}

async fn drive<IO>(
    mut conn: EngineConnection,
    io: IO,
    mut requests: mpsc::Receiver<Exchange>,
    done: &AtomicBool,
    idle_timeout: Duration,
) -> anyhow::Result<()>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let (consumed_tx, mut consumed) = mpsc::unbounded_channel::<(u32, u32)>();
    let mut streams: HashMap<u32, InFlight> = HashMap::new();
    let mut uploads: StreamMap<u32, UploadStream> = StreamMap::new();
    let mut parked: HashMap<u32, UploadStream> = HashMap::new();
    let mut buf = vec![0u8; IO_CHUNK];
    // Requests wait for the server's SETTINGS, so that none is sent past
    // a concurrency limit the server has yet to announce (and refused).
    let mut settled = false;
    // Since when no request has been in flight.
    let mut idle_since = Some(tokio::time::Instant::now());
    let fail = |s: InFlight, why: Error| {
        if let Some(reply) = s.reply {
            let _ = reply.send(Err(why));
        } else if let Some(body) = s.body {
            let _ = body.send(BodyItem::Reset(INTERNAL_ERROR));
        }
    };
    loop {
        flush(&mut conn, &mut wr, None).await?;
        let events = trap(conn.poll_events().await)?;
        let quiet = events.is_empty();
        for event in events {
            match event {
                Event::HeaderBlock(h) if h.kind == HeaderKind::Response => {
                    if let Some(s) = streams.get_mut(&h.stream_id) {
                        let (response, feed) =
                            response(h.stream_id, h.headers, h.end_stream, &consumed_tx);
                        s.body = feed;
                        if let Some(reply) = s.reply.take() {
                            let _ = reply.send(Ok(response));
                        }
                    }
                }
                Event::Data(d) => {
                    let n = u32::try_from(d.data.len()).unwrap_or(u32::MAX);
                    let fed = streams
                        .get(&d.stream_id)
                        .and_then(|s| s.body.as_ref())
                        .is_some_and(|b| b.send(BodyItem::Data(Bytes::from(d.data))).is_ok());
                    if !fed && n > 0 {
                        // Nobody reads it: keep the connection's window open.
                        let _ = trap(conn.consume(d.stream_id, n).await)?;
                    }
                    if d.end_stream
                        && let Some(s) = streams.get_mut(&d.stream_id)
                    {
                        s.body = None;
                    }
                }
                Event::HeaderBlock(t) if t.kind == HeaderKind::Trailers => {
                    if let Some(body) = streams.get_mut(&t.stream_id).and_then(|s| s.body.take()) {
                        let _ = body.send(BodyItem::Trailers(header_map(t.headers)));
                    }
                }
                Event::Drain(id) => {
                    if let Some(upload) = parked.remove(&id) {
                        uploads.insert(id, upload);
                    }
                }
                Event::StreamClosed(c) => {
                    uploads.remove(&c.stream_id);
                    parked.remove(&c.stream_id);
                    if let Some(mut s) = streams.remove(&c.stream_id) {
                        if c.code == 0 {
                            if let Some(sent) = s.sent.take() {
                                let _ = sent.send(Ok(()));
                            }
                            continue;
                        }
                        let why = format!("stream reset: {}", code_name(c.code));
                        if let Some(sent) = s.sent.take() {
                            let _ = sent.send(Err(Error::InternalError(Some(why.clone()))));
                        }
                        match (s.reply.take(), s.body.take()) {
                            (Some(reply), _) => {
                                // REFUSED_STREAM: nothing was processed.
                                let _ = reply.send(Err(if c.code == REFUSED_STREAM {
                                    Error::ConnectionLimitReached
                                } else {
                                    Error::InternalError(Some(why))
                                }));
                            }
                            (None, Some(body)) => {
                                let _ = body.send(BodyItem::Reset(c.code));
                            }
                            (None, None) => {}
                        }
                    }
                }
                Event::RemoteSettings(_) => settled = true,
                Event::PushPromise(p) => {
                    // Push is off in our SETTINGS; refuse one anyway.
                    let _ = trap(conn.close_stream(p.stream_id, CANCEL).await)?;
                }
                Event::Goaway(_) => done.store(true, Ordering::Relaxed),
                Event::ConnectionError(e) => {
                    tracing::debug!(
                        "outgoing connection error {}: {}",
                        code_name(e.code),
                        e.reason
                    );
                }
                _ => {}
            }
        }
        if trap(conn.is_closed().await)? {
            break;
        }
        if !quiet {
            continue;
        }
        let deadline = trap(conn.poll_timeout().await)?;
        let accepting = settled && !done.load(Ordering::Relaxed);
        match (streams.is_empty(), idle_since) {
            (true, None) => idle_since = Some(tokio::time::Instant::now()),
            (false, Some(_)) => idle_since = None,
            _ => {}
        }
        let idle_until = idle_since.map(|since| since + idle_timeout);
        tokio::select! {
            read = rd.read(&mut buf) => {
                let n = read?;
                if n == 0 {
                    break;
                }
                if let Err(e) = trap(conn.receive(now_ns(), &buf[..n]).await)? {
                    tracing::debug!("outgoing connection error {}: {}", code_name(e.code), e.reason);
                }
            }
            exchange = requests.recv(), if accepting => {
                let Some(exchange) = exchange else {
                    // The pool let go of this connection: finish what is
                    // in flight, then close.
                    if streams.is_empty() {
                        break;
                    }
                    done.store(true, Ordering::Relaxed);
                    continue;
                };
                start(&mut conn, exchange, &mut streams, &mut uploads).await?;
            }
            Some((id, n)) = consumed.recv() => {
                let _ = trap(conn.consume(id, n).await)?;
            }
            Some((id, upload)) = uploads.next(), if !uploads.is_empty() => {
                match upload {
                    Upload::Data(chunk) => {
                        if chunk.is_empty() {
                            continue;
                        }
                        match trap(conn.write(id, &chunk).await)? {
                            Ok(true) => {}
                            Ok(false) => {
                                // Congested: pull no more until Drain.
                                if let Some(upload) = uploads.remove(&id) {
                                    parked.insert(id, upload);
                                }
                            }
                            Err(e) => {
                                tracing::debug!(stream_id = id, "write refused: {e:?}");
                                uploads.remove(&id);
                            }
                        }
                    }
                    Upload::Trailers(t) => {
                        uploads.remove(&id);
                        let _ = trap(conn.send_trailers(id, &header_fields(&t)).await)?;
                    }
                    Upload::End => {
                        uploads.remove(&id);
                        let _ = trap(conn.end(id).await)?;
                    }
                    Upload::Failed(why) => {
                        uploads.remove(&id);
                        tracing::debug!(stream_id = id, "request body failed: {why}");
                        let _ = trap(conn.close_stream(id, CANCEL).await)?;
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline.map_or_else(
                || tokio::time::Instant::now() + std::time::Duration::from_secs(86_400),
                |d| instant_at(d).into())), if deadline.is_some() => {
                trap(conn.handle_timeout(now_ns()).await)?;
            }
            _ = tokio::time::sleep(ABANDONED_SWEEP), if !streams.is_empty() => {
                cancel_abandoned(&mut conn, &mut streams).await?;
            }
            _ = tokio::time::sleep_until(idle_until.unwrap_or_else(tokio::time::Instant::now)), if idle_until.is_some() => {
                // Nothing asked of it for a while: no new streams, and
                // the pool lets it go (GOAWAY and close follow).
                tracing::debug!("outgoing HTTP/2 connection idle; closing");
                done.store(true, Ordering::Relaxed);
            }
        }
        if done.load(Ordering::Relaxed) && streams.is_empty() {
            break;
        }
    }
    done.store(true, Ordering::Relaxed);
    for (_, s) in streams.drain() {
        fail(s, Error::ConnectionTerminated);
    }
    let _ = trap(conn.close().await);
    let _ = flush(&mut conn, &mut wr, None).await;
    Ok(())
}

/// How often streams are checked for requesters that gave up on them.
const ABANDONED_SWEEP: Duration = Duration::from_secs(1);

/// Resets (CANCEL) the streams whose requester stopped waiting for the
/// response (its first-byte timeout, its instance dropped) or dropped the
/// response body: an origin that never answers them no longer keeps the
/// connection busy.
async fn cancel_abandoned(
    conn: &mut EngineConnection,
    streams: &mut HashMap<u32, InFlight>,
) -> anyhow::Result<()> {
    let abandoned: Vec<u32> = streams
        .iter()
        .filter(|(_, s)| match (&s.reply, &s.body) {
            (Some(reply), _) => reply.is_closed(),
            (None, Some(body)) => body.is_closed(),
            (None, None) => false,
        })
        .map(|(&id, _)| id)
        .collect();
    for id in abandoned {
        streams.remove(&id);
        let _ = trap(conn.close_stream(id, CANCEL).await)?;
    }
    Ok(())
}

/// Opens a stream for `exchange`.
async fn start(
    conn: &mut EngineConnection,
    exchange: Exchange,
    streams: &mut HashMap<u32, InFlight>,
    uploads: &mut StreamMap<u32, UploadStream>,
) -> anyhow::Result<()> {
    let Exchange {
        request,
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
        priority: None,
        // The window opens as the component reads the response body.
        manual_consume: true,
    };
    match trap(conn.request(&fields, options).await)? {
        Ok(id) => {
            if !empty {
                uploads.insert(id, upload_stream(body));
            }
            streams.insert(
                id,
                InFlight {
                    reply: Some(reply),
                    sent: Some(sent),
                    body: None,
                },
            );
        }
        Err(e) => {
            let _ = reply.send(Err(Error::InternalError(Some(format!(
                "the request was refused: {e:?}"
            )))));
        }
    }
    Ok(())
}

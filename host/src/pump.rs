//! The server side of one connection: moves bytes between a transport and
//! the engine instance, hands request streams to the application, and feeds
//! response bodies back as flow control allows.

use crate::app::{
    Body, BodyItem, Command, FileSource, Header, Request, Responder, Response, ResponseHeaders,
    SharedApp, SharedHeaders,
};
use crate::bindings::{
    AltsvcTarget, CommandError, Event, Options, PreparedResponse, RespondOptions, Role,
};
use crate::clock::{instant_at, now_ns};
use crate::convert::{code_name, find, from_fields, into_fields, status_of, to_fields};
pub use crate::io::Trap;
use crate::io::{IO_CHUNK, flush, trap};
use crate::runtime::{EngineConnection, Runtime};
use bytes::Bytes;
use futures_util::FutureExt;
use std::collections::HashMap;
use std::pin::Pin;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt, StreamMap};
use wasmtime::component::ResourceAny;

/// A response body as the pump sees it: chunks, then `None` at the end.
type BodyStream = Pin<Box<dyn Stream<Item = Option<Bytes>> + Send>>;

/// What the server knows about one stream (for the handler and the log).
struct StreamIo {
    body_tx: Option<mpsc::UnboundedSender<BodyItem>>,
    method: String,
    path: String,
    status: u16,
    bytes_out: u64,
    started: Instant,
    /// Trailers the handler sent before the engine asked for them.
    trailers: Option<Vec<crate::app::Header>>,
}

impl StreamIo {
    /// For a stream opened by `headers`; `prefix` marks the log's method
    /// (pushed streams show as "PUSH GET"). `:method` defaults to GET.
    fn new(
        headers: &[Header],
        prefix: &str,
        body_tx: Option<mpsc::UnboundedSender<BodyItem>>,
    ) -> Self {
        let text = |n: &str| find(headers, n).map(|v| String::from_utf8_lossy(v).into_owned());
        StreamIo {
            body_tx,
            method: format!(
                "{prefix}{}",
                text(":method").unwrap_or_else(|| "GET".into())
            ),
            path: text(":path").unwrap_or_default(),
            status: 0,
            bytes_out: 0,
            started: Instant::now(),
            trailers: None,
        }
    }
}

/// Everything the pump tracks besides the engine itself.
struct PumpState {
    streams: HashMap<u32, StreamIo>,
    /// Response bodies the pump pulls from.
    bodies: StreamMap<u32, BodyStream>,
    /// Bodies of congested streams, waiting for `Drain`.
    parked: HashMap<u32, BodyStream>,
    /// The engine reported `closed`: flush and stop.
    closed: bool,
    /// Shared response headers this connection's engine has prepared, by
    /// [`SharedHeaders::id`].
    prepared: HashMap<u64, ResourceAny>,
    /// Whole responses with prepared headers, sent in one call before the
    /// next `drive` (see `flush_batch`), and their statuses for the log.
    batch: Vec<PreparedResponse>,
    batch_status: Vec<u16>,
}

/// Prepared header lists kept per connection; past this the handles are
/// released and prepared again as needed (a site's hot files fit easily).
const PREPARED_PER_CONNECTION: usize = 256;

impl PumpState {
    fn body_pending(&self, id: u32) -> bool {
        self.bodies.contains_key(&id) || self.parked.contains_key(&id)
    }
}

/// Summary of a finished connection.
#[derive(Debug, Default)]
pub struct ConnectionSummary {
    pub streams: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

/// What a server does on each connection beyond answering requests.
#[derive(Clone, Debug, Default)]
pub struct ConnectionConfig {
    /// An Alt-Svc value (RFC 7838, e.g. `h2=":8443"; ma=3600`) advertised
    /// in an ALTSVC frame on the first request stream of each connection.
    pub altsvc: Option<String>,
}

/// Serves one HTTP/2 connection on `io` until it closes. `shutdown` turns
/// true for a graceful close (GOAWAY, open streams finish). An `Err` means
/// the transport failed or the instance trapped; either way only this
/// connection is affected.
pub async fn serve_connection<IO>(
    runtime: &Runtime,
    options: &Options,
    io: IO,
    app: SharedApp,
    peer: &str,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<ConnectionSummary>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin,
{
    let config = ConnectionConfig::default();
    serve_connection_with(runtime, options, &config, io, app, peer, shutdown).await
}

/// As [`serve_connection`], with per-connection extras.
pub async fn serve_connection_with<IO>(
    runtime: &Runtime,
    options: &Options,
    config: &ConnectionConfig,
    io: IO,
    app: SharedApp,
    peer: &str,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<ConnectionSummary>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin,
{
    let mut altsvc_pending = config.altsvc.clone();
    let mut options = options.clone();
    options.manual_consume = true;
    let mut conn = runtime
        .connect(Role::Server, &options, now_ns())
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let (mut rd, mut wr) = tokio::io::split(io);
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<Command>(1024);
    let mut st = PumpState {
        streams: HashMap::new(),
        bodies: StreamMap::new(),
        parked: HashMap::new(),
        closed: false,
        prepared: HashMap::new(),
        batch: Vec::new(),
        batch_status: Vec::new(),
    };
    let mut summary = ConnectionSummary::default();
    let mut buf = vec![0u8; IO_CHUNK];
    let mut shutting_down = *shutdown.borrow();
    let mut deadline: Option<u64>;
    if shutting_down {
        trap(conn.close().await)?;
    }
    // Octets read from the transport and not yet given to the engine.
    let mut input_len = 0usize;
    loop {
        // One `drive` feeds input, takes output and events. Handling events
        // can queue more output, and sending can raise events (want-trailers,
        // drain): go round until a call brings nothing new.
        let mut input = &buf[..input_len];
        let mut wrote = false;
        loop {
            flush_batch(&mut conn, &mut st).await?;
            let r = trap(conn.drive(now_ns(), input, IO_CHUNK as u32).await)?;
            input = &[];
            if let Some(e) = r.error {
                tracing::debug!(%peer, "connection error {}: {}", code_name(e.code), e.reason);
            }
            deadline = r.timeout;
            if !r.output.is_empty() {
                wr.write_all(&r.output).await?;
                summary.bytes_written += r.output.len() as u64;
                wrote = true;
            }
            let quiet = r.events.is_empty() && r.output.len() < IO_CHUNK;
            for event in r.events {
                if let (Event::Request(h), Some(value)) = (&event, &altsvc_pending) {
                    let target = AltsvcTarget::Stream(h.stream_id);
                    if let Err(e) = trap(conn.altsvc(value, &target).await)? {
                        tracing::debug!(%peer, "ALTSVC refused: {e:?}");
                    }
                    altsvc_pending = None;
                }
                on_event(event, &mut conn, &mut st, &app, &cmd_tx, peer).await?;
            }
            if quiet {
                break;
            }
        }
        input_len = 0;
        if wrote {
            wr.flush().await?;
        }
        if st.closed {
            break;
        }
        tokio::select! {
            biased;
            Some(cmd) = cmd_rx.recv() => {
                apply(cmd, &mut conn, &mut st).await?;
            }
            Some((id, item)) = st.bodies.next(), if !st.bodies.is_empty() => {
                write_body(id, item, &mut conn, &mut st).await?;
            }
            read = rd.read(&mut buf) => {
                let n = match read {
                    Ok(n) => n,
                    // TLS peers that close without close_notify: an ordinary end.
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                    Err(e) => return Err(e.into()),
                };
                if n == 0 {
                    // The peer closed its side: nothing more can arrive.
                    trap(conn.destroy(0).await)?;
                    let _ = flush(&mut conn, &mut wr, None).await;
                    break;
                }
                summary.bytes_read += n as u64;
                input_len = n;
            }
            _ = tokio::time::sleep_until(deadline.map_or_else(far_future, |d| instant_at(d).into())), if deadline.is_some() => {
                trap(conn.handle_timeout(now_ns()).await)?;
            }
            _ = shutdown.changed(), if !shutting_down => {
                shutting_down = true;
                trap(conn.close().await)?;
            }
        }
        // Take whatever else is ready now, so one flush (one syscall) carries
        // the output of many commands and body chunks.
        loop {
            if let Ok(cmd) = cmd_rx.try_recv() {
                apply(cmd, &mut conn, &mut st).await?;
                continue;
            }
            if st.bodies.is_empty() {
                break;
            }
            match st.bodies.next().now_or_never() {
                Some(Some((id, item))) => write_body(id, item, &mut conn, &mut st).await?,
                _ => break,
            }
        }
    }
    let _ = wr.shutdown().await;
    summary.streams = trap(conn.state().await)?
        .last_proc_stream_id
        .div_ceil(2)
        .into();
    if tracing::enabled!(target: "h2wasm::session", tracing::Level::INFO) {
        trap(conn.handle_timeout(now_ns()).await)?;
        let m = trap(conn.metrics().await)?;
        tracing::info!(target: "h2wasm::session", "{peer} {}", crate::report::session_summary(&m));
    }
    Ok(summary)
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(86_400)
}

async fn on_event(
    event: Event,
    conn: &mut EngineConnection,
    st: &mut PumpState,
    app: &SharedApp,
    cmd_tx: &mpsc::Sender<Command>,
    peer: &str,
) -> anyhow::Result<()> {
    tracing::trace!("event {event:?}");
    match event {
        Event::Request(h) => {
            let sensitive = h
                .headers
                .iter()
                .filter(|f| f.sensitive)
                .map(|f| f.name.clone())
                .collect();
            let headers = from_fields(h.headers);
            let log = tracing::enabled!(target: "h2wasm::access", tracing::Level::INFO);
            let io = |body_tx| StreamIo::new(&headers, "", body_tx);
            if h.end_stream
                && let Some(response) = app.respond_now(&headers)
            {
                if log {
                    st.streams.insert(h.stream_id, io(None));
                }
                return send_whole(conn, st, h.stream_id, response).await;
            }
            let (body_tx, body_rx) = mpsc::unbounded_channel();
            st.streams
                .insert(h.stream_id, io((!h.end_stream).then_some(body_tx)));
            let request = Request {
                headers,
                sensitive,
                body: Body {
                    stream_id: h.stream_id,
                    rx: body_rx,
                    commands: cmd_tx.clone(),
                },
                responder: Responder {
                    stream_id: h.stream_id,
                    commands: cmd_tx.clone(),
                },
            };
            tokio::spawn(app.handle(request));
        }
        Event::Data(d) => {
            if let Some(s) = st.streams.get_mut(&d.stream_id) {
                if let Some(tx) = &s.body_tx
                    && !d.data.is_empty()
                {
                    let _ = tx.send(BodyItem::Data(Bytes::from(d.data)));
                }
                if d.end_stream {
                    s.body_tx = None;
                }
            }
        }
        Event::Trailers(t) => {
            if let Some(s) = st.streams.get_mut(&t.stream_id)
                && let Some(tx) = s.body_tx.take()
            {
                let _ = tx.send(BodyItem::Trailers(from_fields(t.headers)));
            }
        }
        Event::WantTrailers(id) => {
            if let Some(trailers) = st.streams.get_mut(&id).and_then(|s| s.trailers.take()) {
                let _ = trap(conn.send_trailers(id, &to_fields(&trailers)).await)?;
            }
        }
        Event::Drain(id) => {
            if let Some(body) = st.parked.remove(&id) {
                st.bodies.insert(id, body);
            }
        }
        Event::StreamClosed(c) => {
            st.bodies.remove(&c.stream_id);
            st.parked.remove(&c.stream_id);
            if let Some(s) = st.streams.remove(&c.stream_id) {
                let outcome = if c.code == 0 {
                    String::new()
                } else {
                    format!(" reset={}", code_name(c.code))
                };
                tracing::info!(
                    target: "h2wasm::access",
                    "{peer} \"{} {}\" {} {}B {:.1}ms{outcome}",
                    s.method,
                    s.path,
                    s.status,
                    s.bytes_out,
                    s.started.elapsed().as_secs_f64() * 1000.0
                );
            }
        }
        Event::Goaway(g) => {
            tracing::debug!(%peer, "GOAWAY {:?} code {} last {}", g.origin, code_name(g.code), g.last_stream_id);
        }
        Event::Closed(_) => st.closed = true,
        Event::ConnectionError(e) => {
            tracing::warn!(%peer, "connection error {}: {}", code_name(e.code), e.reason);
        }
        _ => {}
    }
    Ok(())
}

async fn apply(
    cmd: Command,
    conn: &mut EngineConnection,
    st: &mut PumpState,
) -> anyhow::Result<()> {
    tracing::trace!("command {cmd:?}");
    match cmd {
        Command::Respond {
            stream_id,
            headers,
            body,
            whole,
            trailers,
        } => {
            if body.is_none() && !trailers {
                let body = whole.unwrap_or_default();
                return send_whole(
                    conn,
                    st,
                    stream_id,
                    Response {
                        headers: headers.into(),
                        body,
                    },
                )
                .await;
            }
            // A body follows, or trailers do.
            let fields = to_fields(&headers);
            let opts = RespondOptions {
                end_stream: false,
                wait_for_trailers: trailers,
            };
            match trap(conn.respond(stream_id, &fields, opts).await)? {
                Ok(()) => {
                    if let Some(s) = st.streams.get_mut(&stream_id) {
                        s.status = status_of(&headers);
                    }
                    if let Some(data) = whole {
                        if let Some(s) = st.streams.get_mut(&stream_id) {
                            s.bytes_out += data.len() as u64;
                        }
                        let _ = trap(conn.write(stream_id, &data).await)?;
                        let _ = trap(conn.end(stream_id).await)?;
                    }
                    match body {
                        Some(rx) => {
                            let stream: BodyStream = Box::pin(
                                ReceiverStream::new(rx)
                                    .map(Some)
                                    .chain(tokio_stream::once(None)),
                            );
                            st.bodies.insert(stream_id, stream);
                        }
                        None if trailers => {
                            let _ = trap(conn.end(stream_id).await)?;
                        }
                        None => {}
                    }
                }
                Err(e) => {
                    tracing::debug!(stream_id, "respond refused: {e:?}");
                }
            }
        }
        Command::Informational { stream_id, headers } => {
            let fields = to_fields(&headers);
            let _ = trap(conn.additional_headers(stream_id, &fields).await)?;
        }
        Command::Trailers { stream_id, headers } => {
            // Trailers go after the whole body: while the pump still holds
            // body chunks, keep them until the engine asks (WantTrailers).
            if st.body_pending(stream_id) {
                if let Some(s) = st.streams.get_mut(&stream_id) {
                    s.trailers = Some(headers);
                }
            } else {
                let fields = to_fields(&headers);
                let _ = trap(conn.send_trailers(stream_id, &fields).await)?;
            }
        }
        Command::Reset { stream_id, code } => {
            st.bodies.remove(&stream_id);
            let _ = trap(conn.close_stream(stream_id, code).await)?;
        }
        Command::Consumed { stream_id, n } => {
            let _ = trap(conn.consume(stream_id, n).await)?;
        }
        Command::RespondWithFile {
            stream_id,
            headers,
            file,
            offset,
            length,
        } => {
            let fields = to_fields(&headers);
            let result = match file {
                FileSource::Path(path) => {
                    conn.respond_with_file(stream_id, &fields, &path, offset, length)
                        .await
                }
                FileSource::Open(file) => {
                    conn.respond_with_fd(stream_id, file, &fields, offset, length)
                        .await
                }
            };
            match trap(result)? {
                Ok(stat) => {
                    if let Some(s) = st.streams.get_mut(&stream_id) {
                        s.status = status_of(&headers);
                        let available = stat.size.saturating_sub(offset);
                        s.bytes_out += length.map_or(available, |l| l.min(available));
                    }
                }
                Err(e) => {
                    tracing::debug!(stream_id, "respond-with-file refused: {e:?}");
                    let _ = trap(conn.close_stream(stream_id, 2).await)?;
                }
            }
        }
        Command::Push {
            stream_id,
            headers,
            reply,
        } => {
            let promised = match trap(conn.push_stream(stream_id, &to_fields(&headers)).await)? {
                Ok(id) => {
                    st.streams
                        .insert(id, StreamIo::new(&headers, "PUSH ", None));
                    Some(id)
                }
                Err(e) => {
                    tracing::debug!(stream_id, "push refused: {e:?}");
                    None
                }
            };
            let _ = reply.send(promised);
        }
    }
    Ok(())
}

/// Headers, the whole body and the end of the stream, in one call.
async fn send_whole(
    conn: &mut EngineConnection,
    st: &mut PumpState,
    stream_id: u32,
    response: Response,
) -> anyhow::Result<()> {
    let status = status_of(response.headers.as_slice());
    let result = match response.headers {
        // Queued: every such answer of this pass goes in one call.
        ResponseHeaders::Shared(shared) => match prepared(conn, st, &shared).await? {
            Ok(headers) => {
                let response = PreparedResponse {
                    stream_id,
                    headers,
                    body: response.body.to_vec(),
                };
                st.batch.push(response);
                st.batch_status.push(status);
                return Ok(());
            }
            Err(e) => Err(e),
        },
        ResponseHeaders::Owned(headers) => {
            let fields = into_fields(headers);
            if response.body.is_empty() {
                let opts = RespondOptions {
                    end_stream: true,
                    wait_for_trailers: false,
                };
                trap(conn.respond(stream_id, &fields, opts).await)?
            } else {
                trap(
                    conn.respond_with_body(stream_id, &fields, &response.body)
                        .await,
                )?
            }
        }
    };
    match result {
        Ok(()) => responded(st, stream_id, status, response.body.len()),
        Err(e) => tracing::debug!(stream_id, "respond refused: {e:?}"),
    }
    Ok(())
}

/// Sends the queued whole responses in one call.
async fn flush_batch(conn: &mut EngineConnection, st: &mut PumpState) -> anyhow::Result<()> {
    if st.batch.is_empty() {
        return Ok(());
    }
    let refused = trap(conn.respond_prepared_batch(&st.batch).await)?;
    let batch = std::mem::take(&mut st.batch);
    let statuses = std::mem::take(&mut st.batch_status);
    for (response, status) in batch.iter().zip(statuses) {
        match refused.iter().find(|(id, _)| *id == response.stream_id) {
            None => responded(st, response.stream_id, status, response.body.len()),
            Some((id, e)) => tracing::debug!(stream_id = id, "respond refused: {e:?}"),
        }
    }
    Ok(())
}

/// Notes a sent response for the access log.
fn responded(st: &mut PumpState, stream_id: u32, status: u16, body_len: usize) {
    if let Some(s) = st.streams.get_mut(&stream_id) {
        s.status = status;
        s.bytes_out += body_len as u64;
    }
}

/// This connection's handle for `shared`, prepared on first use.
async fn prepared(
    conn: &mut EngineConnection,
    st: &mut PumpState,
    shared: &SharedHeaders,
) -> anyhow::Result<Result<ResourceAny, CommandError>> {
    if let Some(&handle) = st.prepared.get(&shared.id()) {
        return Ok(Ok(handle));
    }
    if st.prepared.len() >= PREPARED_PER_CONNECTION {
        // Queued answers borrow these handles: send them first.
        flush_batch(conn, st).await?;
        for (_, handle) in st.prepared.drain() {
            trap(conn.drop_prepared(handle).await)?;
        }
    }
    let fields = to_fields(shared.headers());
    let handle = trap(conn.prepare_headers(&fields).await)?;
    if let Ok(h) = handle {
        st.prepared.insert(shared.id(), h);
    }
    Ok(handle)
}

async fn write_body(
    id: u32,
    item: Option<Bytes>,
    conn: &mut EngineConnection,
    st: &mut PumpState,
) -> anyhow::Result<()> {
    tracing::trace!(
        stream_id = id,
        "body item {:?}",
        item.as_ref().map(|b| b.len())
    );
    match item {
        Some(chunk) => {
            let len = chunk.len() as u64;
            let result = trap(conn.write(id, &chunk).await)?;
            tracing::trace!(stream_id = id, "write {len} -> {result:?}");
            match result {
                Ok(true) => {}
                Ok(false) => {
                    // Congested: stop pulling until the engine says Drain.
                    if let Some(body) = st.bodies.remove(&id) {
                        st.parked.insert(id, body);
                    }
                }
                Err(e) => {
                    tracing::debug!(stream_id = id, "write refused: {e:?}");
                    st.bodies.remove(&id);
                }
            }
            if let Some(s) = st.streams.get_mut(&id) {
                s.bytes_out += len;
            }
        }
        None => {
            if let Err(e) = trap(conn.end(id).await)? {
                tracing::debug!(stream_id = id, "end refused: {e:?}");
            }
        }
    }
    Ok(())
}

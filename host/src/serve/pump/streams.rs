//! Streams between the engine and the service: a request stream becomes an
//! `http::Request` for the service; its response goes back to the engine
//! as headers, then a body pulled as flow control allows, then trailers.
//! A response that is ready at once (a cached file, a fixed page) is sent
//! in the same pass that read its request, with no task and no channel.

use super::context::StreamContext;
use super::control::StreamCommand;
use super::request::{LastRequest, RequestHead, RequestRefused, build_request};
use crate::bindings::{
    BodyChunk, CommandError, Event, HeaderField, HeaderKind, Origin, Priority, RespondOptions,
    StreamCredit, StreamWrite,
};
use crate::engine::EngineConnection;
use crate::engine::convert::codes::{INTERNAL_ERROR, PROTOCOL_ERROR};
use crate::engine::convert::{
    code_name, field, header_fields, header_map, parts_fields, response_fields,
};
use crate::engine::io::trap;
use crate::serve::access_log::{AccessLog, ClientFields, Entry, LoggedMethod, Protocol, epoch_ms};
use crate::serve::date;
use crate::serve::metrics::{Direction, Metrics, Tally};
use crate::serve::session_events::{Sender, SessionEvents};
use crate::service::body::{BodyItem, BodyNote, Incoming, expects_continue};
use crate::service::files::Trailing;
use crate::service::tunnel::HeldByHost;
use crate::service::{
    BoxError, ConnectionInfo, PreparedHeaders, Reset, ResponseBody, ServeFile, SharedService,
    box_body,
};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body::Body as _;
use rustc_hash::FxHashMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_stream::{Stream, StreamMap};
use tower::{Service, ServiceExt};
use wasmtime::component::ResourceAny;

/// A response body as the pump pulls it.
pub(crate) enum BodyEvent {
    Data(Bytes),
    Trailers(HeaderMap),
    Failed(BoxError),
    End,
}

pub(crate) type BodyStream = Pin<Box<dyn Stream<Item = BodyEvent> + Send>>;

/// The body's frames, then `End`.
fn body_stream(body: ResponseBody) -> BodyStream {
    let frames = futures_util::stream::unfold(Some(body), |body| async move {
        let mut body = body?;
        let event = match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            None => return Some((BodyEvent::End, None)),
            Some(Err(e)) => return Some((BodyEvent::Failed(e), None)),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(d) => BodyEvent::Data(d),
                Err(frame) => match frame.into_trailers() {
                    Ok(t) => BodyEvent::Trailers(t),
                    Err(_) => BodyEvent::Data(Bytes::new()),
                },
            },
        };
        Some((event, Some(body)))
    });
    Box::pin(frames)
}

/// What the pump knows about one stream (for its request body, the
/// access log and the metrics).
struct StreamIo {
    body_tx: Option<mpsc::UnboundedSender<BodyItem>>,
    /// What the access log and the metrics need (none: neither is kept).
    logged: Option<Logged>,
    status: u16,
    bytes_out: u64,
    /// When the response's head went out, in µs after the request's.
    first_byte_us: Option<u64>,
    /// The client holds its body back until `100 Continue`
    /// (`expect: 100-continue`), which has not gone out yet (see
    /// [`body_read`]).
    awaiting_continue: bool,
}

impl StreamIo {
    /// A stream with nothing sent yet.
    fn new(body_tx: Option<mpsc::UnboundedSender<BodyItem>>, logged: Option<Logged>) -> StreamIo {
        StreamIo {
            body_tx,
            logged,
            status: 0,
            bytes_out: 0,
            first_byte_us: None,
            awaiting_continue: false,
        }
    }
}

/// A logged request answered whole into the batch: what its line needs
/// once the batch's drive sent the answer (which ends the stream).
struct Answered {
    stream_id: u32,
    logged: Logged,
    status: u16,
    body_length: u32,
}

/// A request's facts for its access log line and its metrics, from its
/// head. Its times are the turn's (see [`PumpState::tick`]): no clock is
/// read per request.
struct Logged {
    /// When the request's head came, as [`PumpState::now`] has it.
    started_us: u64,
    /// What only the access log needs (none: metrics only).
    line: Option<Line>,
}

/// A request's facts for its access log line.
struct Line {
    method: LoggedMethod,
    target: Option<http::uri::PathAndQuery>,
    fields: Option<Box<ClientFields>>,
}

impl Logged {
    /// `log`: the access log is kept; `fields`: it wants `Referer` and
    /// `User-Agent`.
    fn of<B>(request: &Request<B>, log: bool, fields: bool, now: u64) -> Logged {
        let headers = request.headers();
        Logged {
            started_us: now,
            line: log.then(|| Line {
                method: LoggedMethod::of(request.method()),
                target: request.uri().path_and_query().cloned(),
                fields: fields.then(|| {
                    Box::new(ClientFields {
                        referer: headers.get(http::header::REFERER).cloned(),
                        user_agent: headers.get(http::header::USER_AGENT).cloned(),
                    })
                }),
            }),
        }
    }
}

/// Everything the pump tracks besides the engine itself, while the
/// connection has an instance. Maps by stream id (and by prepared-headers
/// id, a process counter) use rustc-hash's multiplicative hash: SipHash
/// on every request's several lookups showed in the profile of small
/// files, and ids are few (bounded by the streams a connection may open).
#[derive(Default)]
pub(crate) struct PumpState {
    /// The time of this turn: what the access log and the metrics give
    /// requests that begin and end in it (set at each turn and after each
    /// wait; read per turn, not per request).
    /// In µs since `base` (monotonic).
    clock: Option<u64>,
    /// What `clock` counts from: the first turn's time.
    base: Option<Instant>,
    /// The coarse wall clock in this turn, in ms since the Unix epoch
    /// (read when a line first needs it).
    wall_ms: Option<u64>,
    /// Access log entries of this turn, handed to the log together
    /// ([`PumpState::flush_observed`], and when the state goes).
    log_batch: Vec<Entry>,
    /// The access log (none: no access log), and the client's address
    /// its lines show.
    log: Option<(AccessLog, Arc<str>)>,
    /// The log wants `Referer` and `User-Agent` (kept here: read per
    /// request).
    log_fields: bool,
    /// This connection's counts for the server's metrics (none: not
    /// kept), handed over with the log's entries.
    tally: Option<Tally>,
    streams: FxHashMap<u32, StreamIo>,
    /// The facts of the request being dispatched, while it is: taken by
    /// `queue_prepared` when its answer joins the batch.
    dispatching: Option<(u32, Logged)>,
    /// Logged requests answered whole into `batch`, in stream order: at
    /// most one per response there. They end when its drive takes it.
    answered: Vec<Answered>,
    /// Response bodies the pump pulls from.
    pub bodies: StreamMap<u32, BodyStream>,
    /// Bodies of congested streams, waiting for `Drain`.
    pub parked: FxHashMap<u32, BodyStream>,
    /// The engine reported `closed`: flush and stop.
    pub closed: bool,
    /// Prepared response headers this connection's engine holds, by
    /// [`PreparedHeaders::id`], with their index in `batch_headers` while
    /// the batch uses them.
    prepared: FxHashMap<u64, PreparedSlot>,
    /// Whole responses with prepared headers, for the next `drive`.
    pub batch: super::batch::ResponseBatch,
    /// Files and body chunks being sent as host payload.
    pub host_bodies: super::payload::HostBodies,
    /// For requests that repeat the previous one.
    last_request: LastRequest,
    /// Emptied extension maps of responses sent, for the next requests:
    /// a map kept is two allocations (the map and its table) fewer for a
    /// request, whose own map leaves with it. At most
    /// [`SPARE_EXTENSIONS`].
    spare_extensions: Vec<http::Extensions>,
    /// Request-body octets read by the service (or dropped unread), per
    /// stream, not yet handed back to the engine as credit: they go with
    /// the next `drive`. At most one entry per stream with a body in
    /// flight (bounded by `max-concurrent-streams`).
    pub credits: Vec<StreamCredit>,
    /// Body chunks for the next `drive`, at most one per stream: until
    /// that drive says whether the stream has room for more (its body goes
    /// back to `bodies`) or is full (to `parked`, until `Drain`), the body
    /// waits in `writing`, entry for entry.
    pub writes: Vec<StreamWrite>,
    writing: Vec<(u32, BodyStream)>,
    /// PINGs services sent, by payload, waiting for their ACK: at most
    /// the engine's `max-outstanding-pings`.
    pings: Vec<(u64, tokio::sync::oneshot::Sender<Option<Duration>>)>,
    /// Services waiting for a stream's timeout: one per stream at most
    /// (a new wait replaces the old), gone when the stream closes.
    timeouts: Vec<(u32, tokio::sync::oneshot::Sender<()>)>,
    /// Where the session's events go (`ConnectionConfig::session_events`).
    session_events: Option<Arc<dyn SessionEvents>>,
}

/// Extension maps kept per connection for requests (see
/// `PumpState::spare_extensions`): a turn's responses hand theirs to the
/// requests of the next.
const SPARE_EXTENSIONS: usize = 4;

/// Prepared header lists kept per connection; past this the handles are
/// released and prepared again as needed (a site's hot files fit easily).
const PREPARED_PER_CONNECTION: usize = 256;

/// A prepared header list this connection's engine holds.
struct PreparedSlot {
    handle: ResourceAny,
    /// The second of the `date` in its block: a block a second old is
    /// prepared again (once a second per list per connection).
    second: u64,
    /// Its index in `PumpState::batch_headers`, while the batch uses it.
    in_batch: Option<u32>,
}

/// A whole body is taken at once up to this size; past it the rest
/// streams as flow control allows.
const TAKE_AT_ONCE: usize = 64 * 1024;

pub(crate) fn on_event(
    event: Event,
    st: &mut PumpState,
    cx: &StreamContext<'_>,
) -> Option<Deferred> {
    tracing::trace!("event {event:?}");
    if let Some(events) = &st.session_events {
        tell(events.as_ref(), &event, cx.info);
    }
    match event {
        Event::HeaderBlock(h) if h.kind == HeaderKind::Request => {
            let head = st.last_request.fresh(h.headers);
            return request(h.stream_id, head, h.end_stream, st, cx);
        }
        Event::RepeatedRequest(r) => {
            let head = st.last_request.repeated();
            return request(r.stream_id, head, r.end_stream, st, cx);
        }
        Event::Data(d) => {
            let len = u32::try_from(d.data.len()).unwrap_or(u32::MAX);
            let mut unread = len > 0;
            if let Some(s) = st.streams.get_mut(&d.stream_id) {
                if let Some(tx) = &s.body_tx
                    && len > 0
                {
                    // Delivered: the service consumes it as it reads.
                    unread = tx.send(BodyItem::Data(Bytes::from(d.data))).is_err();
                }
                if d.end_stream {
                    s.body_tx = None;
                }
            }
            if unread {
                // Nobody will read it (the service dropped the body, or
                // answered without one): hand the credit back now so
                // the upload runs to its end instead of stalling.
                st.credit(d.stream_id, len);
            }
        }
        Event::HeaderBlock(t) if t.kind == HeaderKind::Trailers => {
            if let Some(s) = st.streams.get_mut(&t.stream_id)
                && let Some(tx) = s.body_tx.take()
            {
                let _ = tx.send(BodyItem::Trailers(header_map(t.headers)));
            }
        }
        Event::Drain(id) => {
            if let Some(body) = st.parked.remove(&id) {
                st.bodies.insert(id, body);
            }
        }
        Event::StreamClosed(c) => {
            st.timeouts.retain(|(id, _)| *id != c.stream_id);
            st.bodies.remove(&c.stream_id);
            st.parked.remove(&c.stream_id);
            if let Some(s) = st.streams.remove(&c.stream_id) {
                if let Some(tx) = &s.body_tx {
                    // The client's side never ended (a reset, or the
                    // half-closed timeout's RST_STREAM NO_ERROR): the
                    // service sees a failed body, not a short one.
                    let _ = tx.send(BodyItem::Reset(c.code));
                }
                if let Some(l) = s.logged {
                    st.ended(l, s.status, s.bytes_out, s.first_byte_us, c.code);
                }
            } else if let Some(a) = st.unanswered(c.stream_id) {
                // Closed (the client reset it) before the drive that
                // would have sent its answer: nothing of it went out.
                st.ended(a.logged, 0, 0, None, c.code);
            }
        }
        Event::StreamReset(r) => {
            if let Some(t) = &st.tally {
                t.metrics().reset(r.code, direction(r.origin));
            }
        }
        Event::Goaway(g) => {
            if let Some(t) = &st.tally {
                t.metrics().goaway(g.code, direction(g.origin));
            }
            tracing::debug!(peer = %cx.info.peer, "GOAWAY {:?} code {} last {}", g.origin, code_name(g.code), g.last_stream_id);
        }
        Event::PingAck(ack) => {
            if let Some(i) = st.pings.iter().position(|(p, _)| *p == ack.payload) {
                let (_, reply) = st.pings.swap_remove(i);
                let _ = reply.send(Some(Duration::from_nanos(ack.rtt_ns)));
            }
        }
        Event::StreamTimeout(id) => {
            if let Some(i) = st.timeouts.iter().position(|(s, _)| *s == id) {
                let (_, reply) = st.timeouts.swap_remove(i);
                let _ = reply.send(());
            }
        }
        Event::Closed(_) => st.closed = true,
        Event::ConnectionError(e) => {
            tracing::warn!(peer = %cx.info.peer, "connection error {}: {}", code_name(e.code), e.reason);
        }
        _ => {}
    }
    None
}

/// Hands `event` to the session's observer, if it is one of Node's
/// session events.
fn tell(events: &dyn SessionEvents, event: &Event, info: &ConnectionInfo) {
    match event {
        Event::RemoteSettings(settings) => events.remote_settings(info, settings),
        Event::Ping(payload) => events.ping(info, *payload),
        Event::Goaway(g) => {
            let from = match g.origin {
                crate::bindings::Origin::Remote => Sender::Peer,
                crate::bindings::Origin::Local => Sender::Us,
            };
            events.goaway(info, from, g.code, g.last_stream_id, &g.opaque_data);
        }
        Event::FrameError(f) => events.frame_error(info, f.frame_type, f.code, f.stream_id),
        Event::Timeout => events.timeout(info),
        Event::ConnectionError(e) => events.session_error(info, e.code, &e.reason),
        _ => {}
    }
}

/// A request stream: its head as parsed (or refused), then the request
/// for the service, which is called.
fn request(
    id: u32,
    head: Result<RequestHead, RequestRefused>,
    end_stream: bool,
    st: &mut PumpState,
    cx: &StreamContext<'_>,
) -> Option<Deferred> {
    let head = match head {
        Ok(head) => head,
        Err(RequestRefused::Malformed(why)) => {
            tracing::debug!(stream_id = id, "request refused: {why}");
            return Some(Deferred::Reset(id, PROTOCOL_ERROR));
        }
        Err(RequestRefused::NothingToRepeat) => {
            tracing::warn!(
                stream_id = id,
                "the engine reported a repeated request before any: resetting it"
            );
            return Some(Deferred::Reset(id, INTERNAL_ERROR));
        }
    };
    let extensions = st.spare_extensions.pop().unwrap_or_default();
    let (request, body_tx) = build_request(head, end_stream, id, cx, extensions);
    let logged = st.observe(&request);
    if end_stream && body_tx.is_none() {
        // A whole request: when its answer joins the batch, its facts go
        // with it (`queue_prepared`) and it needs no entry in `streams`.
        st.dispatching = logged.map(|l| (id, l));
        let deferred = dispatch(id, request, st, cx);
        if let Some((id, logged)) = st.dispatching.take() {
            st.streams.insert(id, StreamIo::new(None, Some(logged)));
        }
        return deferred;
    }
    if logged.is_some() || body_tx.is_some() {
        let awaiting_continue = body_tx.is_some() && expects_continue(request.headers());
        let io = StreamIo {
            awaiting_continue,
            ..StreamIo::new(body_tx, logged)
        };
        st.streams.insert(id, io);
    }
    dispatch(id, request, st, cx)
}

/// What handling an event left for the engine: `on_event` itself never
/// waits (its common work, a request answered from memory, needs no call
/// of its own), so only this part is a future. (Before, every event built
/// the whole 3 KiB future of `on_event` and moved it: `bench/cpu` small
/// 2.21 -> 2.06 µs per request, nghttpd 1.51 in the same run.)
// Returned once per event, in place: boxing the answer would cost every
// response that takes the slow path an allocation instead.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Deferred {
    /// Reset the stream with this code.
    Reset(u32, u32),
    /// Send this answer.
    Answer(u32, Answer),
}

/// Does what `on_event` left.
pub(crate) async fn finish(
    deferred: Deferred,
    conn: &mut EngineConnection,
    st: &mut PumpState,
) -> anyhow::Result<()> {
    match deferred {
        Deferred::Reset(stream_id, code) => {
            let _ = trap(conn.close_stream(stream_id, code).await)?;
            Ok(())
        }
        Deferred::Answer(stream_id, answer) => send_answer(conn, st, stream_id, answer).await,
    }
}

/// Calls the service. A response ready at once is answered now; otherwise
/// the call goes on in a task of its own, which hands the response back.
fn dispatch(
    stream_id: u32,
    request: Request<Incoming>,
    st: &mut PumpState,
    cx: &StreamContext<'_>,
) -> Option<Deferred> {
    let head = request.method() == Method::HEAD;
    match call_now(cx.service, request) {
        Call::Answered(result) => {
            let answer = answer(st, cx.files_root, stream_id, head, result)?;
            Some(Deferred::Answer(stream_id, answer))
        }
        Call::Later(call) => {
            let commands = cx.commands.clone();
            tokio::spawn(async move {
                let response = call.await;
                let _ = commands
                    .send(StreamCommand::Respond {
                        stream_id,
                        head,
                        response,
                    })
                    .await;
            });
            None
        }
    }
}

type Pending = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, BoxError>> + Send>>;

enum Call {
    Answered(Result<Response<ResponseBody>, BoxError>),
    Later(Pending),
}

/// Polls the service, and its call, once (a noop waker: nothing is
/// waited for here).
fn call_now(service: &std::sync::Mutex<SharedService>, request: Request<Incoming>) -> Call {
    let mut polled = Context::from_waker(Waker::noop());
    let mut service = service.lock().unwrap_or_else(|p| p.into_inner());
    match service.poll_ready(&mut polled) {
        Poll::Ready(Ok(())) => {
            let mut call = service.call(request);
            drop(service);
            match call.as_mut().poll(&mut polled) {
                Poll::Ready(result) => Call::Answered(result),
                Poll::Pending => Call::Later(call),
            }
        }
        Poll::Ready(Err(e)) => Call::Answered(Err(e)),
        Poll::Pending => {
            let service = service.clone();
            Call::Later(Box::pin(async move { service.oneshot(request).await }))
        }
    }
}

pub(crate) async fn apply(
    cmd: StreamCommand,
    conn: &mut EngineConnection,
    st: &mut PumpState,
    cx: &StreamContext<'_>,
) -> anyhow::Result<()> {
    match cmd {
        StreamCommand::Respond {
            stream_id,
            head,
            response,
        } => respond(conn, st, cx.files_root, stream_id, head, response).await?,
        StreamCommand::Informational {
            stream_id,
            status,
            headers,
            done,
        } => {
            let mut fields = vec![field(":status", status.as_str().as_bytes(), false)];
            fields.extend(header_fields(&headers));
            let sent = trap(conn.additional_headers(stream_id, &fields).await)?;
            if sent.is_ok()
                && status == http::StatusCode::CONTINUE
                && let Some(s) = st.streams.get_mut(&stream_id)
            {
                // The service said it: reading the body says it no more.
                s.awaiting_continue = false;
            }
            let _ = done.send(sent.is_ok());
        }
        StreamCommand::Push {
            stream_id,
            request,
            reply,
        } => {
            let fields = promise_fields(&request);
            let promised = match trap(conn.push_stream(stream_id, &fields).await)? {
                Ok(id) => {
                    // Node's pushStream `parent` and `exclusive`: where
                    // the stream sits in our tree (PUSH_PROMISE carries no
                    // priority, so the client is not told).
                    if let Some(priority) = request.extensions().get::<Priority>() {
                        let placed = trap(conn.set_priority(id, *priority, true).await)?;
                        if let Err(e) = placed {
                            tracing::debug!(stream_id = id, "push priority refused: {e:?}");
                        }
                    }
                    if let Some(logged) = st.observe(&request) {
                        st.streams.insert(id, StreamIo::new(None, Some(logged)));
                    }
                    Some(id)
                }
                Err(e) => {
                    tracing::debug!(stream_id, "push refused: {e:?}");
                    None
                }
            };
            let _ = reply.send(promised);
        }
        StreamCommand::Priority {
            stream_id,
            priority,
            reply,
        } => {
            let done = trap(conn.set_priority(stream_id, priority, false).await)?;
            let _ = reply.send(done.is_ok());
        }
        StreamCommand::StreamState { stream_id, reply } => {
            let _ = reply.send(trap(conn.stream_state(stream_id).await)?);
        }
        StreamCommand::SessionState { reply } => {
            let _ = reply.send(trap(conn.state().await)?);
        }
        StreamCommand::SetTimeout {
            stream_id,
            timeout,
            reply,
        } => {
            let now = crate::engine::clock::now_ns();
            let ns = timeout.map(|t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX));
            let done = trap(conn.set_stream_timeout(stream_id, now, ns).await)?;
            let _ = reply.send(done.is_ok());
        }
        StreamCommand::TimedOut { stream_id, reply } => {
            // A closed stream never times out: the reply is dropped.
            if st.streams.contains_key(&stream_id) {
                st.timeouts.retain(|(id, _)| *id != stream_id);
                st.timeouts.push((stream_id, reply));
            }
        }
        StreamCommand::RemoteSettings { reply } => {
            let _ = reply.send(trap(conn.remote_settings().await)?);
        }
        StreamCommand::Ping { payload, reply } => {
            let now = crate::engine::clock::now_ns();
            match trap(conn.ping(now, payload).await)? {
                // Answered when its ACK comes (`Event::PingAck`); at most
                // the engine's `max-outstanding-pings` wait.
                Ok(sent) => st.pings.push((sent, reply)),
                Err(e) => {
                    tracing::debug!("PING refused: {e:?}");
                    let _ = reply.send(None);
                }
            }
        }
        StreamCommand::Settings { settings, reply } => {
            let done = trap(conn.settings(&settings).await)?;
            if let Err(e) = &done {
                tracing::debug!("SETTINGS refused: {e:?}");
            }
            let _ = reply.send(done.is_ok());
        }
        StreamCommand::Goaway {
            code,
            opaque_data,
            reply,
        } => {
            let done = trap(conn.goaway(code, None, &opaque_data).await)?;
            let _ = reply.send(done.is_ok());
        }
        StreamCommand::LocalWindow { size, reply } => {
            let done = trap(conn.set_local_window_size(size).await)?;
            let _ = reply.send(done.is_ok());
        }
    }
    let _ = cx;
    Ok(())
}

/// The request fields of a promise: `:method`, `:scheme`, `:authority`,
/// `:path`, then the headers.
fn promise_fields(request: &Request<()>) -> Vec<HeaderField> {
    let uri = request.uri();
    let mut fields = vec![field(
        ":method",
        request.method().as_str().as_bytes(),
        false,
    )];
    if let Some(s) = uri.scheme_str() {
        fields.push(field(":scheme", s.as_bytes(), false));
    }
    if let Some(a) = uri.authority() {
        fields.push(field(":authority", a.as_str().as_bytes(), false));
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    fields.push(field(":path", path.as_bytes(), false));
    fields.extend(header_fields(request.headers()));
    fields
}

/// A service's answer to a stream: headers, then the body (at once when
/// it is whole already, else pulled as flow control allows), then
/// trailers. A failed service gets 500 (RST_STREAM INTERNAL_ERROR once
/// the response began).
async fn respond(
    conn: &mut EngineConnection,
    st: &mut PumpState,
    files_root: Option<&Path>,
    stream_id: u32,
    head: bool,
    response: Result<Response<ResponseBody>, BoxError>,
) -> anyhow::Result<()> {
    match answer(st, files_root, stream_id, head, response) {
        Some(answer) => send_answer(conn, st, stream_id, answer).await,
        None => Ok(()),
    }
}

/// A response as it will be sent, decided without the engine.
pub(crate) struct Answer {
    status: u16,
    how: Sending,
}

enum Sending {
    /// A file or a large body, held here and framed by the engine as
    /// references.
    Held(Vec<HeaderField>, (u64, u64)),
    /// A file, held here, then trailers (`ServeFile::trailers`) as the
    /// body yields them.
    HeldThen(Vec<HeaderField>, (u64, u64), ResponseBody),
    /// Whole, with headers prepared: joins the batch once the connection
    /// has a handle for them.
    Prepared(PreparedHeaders, Bytes),
    /// Whole.
    Whole(http::response::Parts, Bytes),
    /// Its first part, and the trailers if they came; without trailers the
    /// rest comes as the body yields it.
    Partly(
        http::response::Parts,
        Bytes,
        Option<HeaderMap>,
        ResponseBody,
    ),
}

/// What `respond` decides before it needs the engine; `None` when that is
/// all (a whole response with headers this connection has prepared joins
/// the batch here, and most answers from memory are that).
fn answer(
    st: &mut PumpState,
    files_root: Option<&Path>,
    stream_id: u32,
    head: bool,
    response: Result<Response<ResponseBody>, BoxError>,
) -> Option<Answer> {
    let mut response = match response {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(stream_id, "the service failed: {e}");
            crate::service::text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        }
    };
    if let Some(file_response) = response.extensions().get::<ServeFile>().cloned() {
        match file_response.open_host(files_root) {
            // HEAD: the file's length, no content (the engine does not
            // know a server stream's method).
            Ok((_, _, count)) if head => {
                let status = response.status().as_u16();
                let length = http::HeaderValue::from(count);
                response
                    .headers_mut()
                    .insert(http::header::CONTENT_LENGTH, length);
                let (parts, _) = response.into_parts();
                let how = Sending::Whole(parts, Bytes::new());
                return Some(Answer { status, how });
            }
            Ok((file, start, count)) => {
                let status = response.status().as_u16();
                let mut fields = response_fields(&response);
                date::add(&mut fields, response.headers());
                let id = st.host_bodies.add_file(file, start);
                let how = match file_response.take_trailers() {
                    Some(trailers) => {
                        let trailing = box_body(Trailing::new(trailers));
                        Sending::HeldThen(fields, (id, count), trailing)
                    }
                    None => Sending::Held(fields, (id, count)),
                };
                return Some(Answer { status, how });
            }
            Err(e) => response = crate::service::file_failure(&e),
        }
    }
    let status = response.status().as_u16();
    let prepared = response
        .extensions()
        .get::<PreparedHeaders>()
        .filter(|p| p.matches(&response))
        .cloned();
    let (parts, mut body) = response.into_parts();
    // A response to HEAD has no content (RFC 9110 §9.3.2) whatever body
    // the service gave it, as hyper does over HTTP/1.1.
    let taken = match head {
        true => Taken::Whole(Bytes::new()),
        false => take_now(&mut body),
    };
    let how = match (prepared, taken) {
        (_, Taken::Whole(data)) if data.len() >= super::payload::MIN_CHUNK => {
            let mut fields = parts_fields(&parts);
            date::add(&mut fields, &parts.headers);
            let count = data.len() as u64;
            let id = st.host_bodies.add_buffer(data);
            Sending::Held(fields, (id, count))
        }
        (Some(prepared), Taken::Whole(data)) => match st.prepared.get(&prepared.id()) {
            // Its block carries this second's date (or the batch already
            // uses it: a date a second old is still the response's).
            Some(slot) if slot.second == date::second() || slot.in_batch.is_some() => {
                let handle = slot.handle;
                st.queue_prepared(stream_id, &prepared, handle, &data, status);
                prepared.recycle(parts.headers);
                st.keep_extensions(parts.extensions);
                return None;
            }
            _ => Sending::Prepared(prepared, data),
        },
        (_, Taken::Whole(data)) => Sending::Whole(parts, data),
        (_, Taken::Partly(data, trailers)) => Sending::Partly(parts, data, trailers, body),
    };
    Some(Answer { status, how })
}

/// Sends what `answer` decided.
async fn send_answer(
    conn: &mut EngineConnection,
    st: &mut PumpState,
    stream_id: u32,
    Answer { status, how }: Answer,
) -> anyhow::Result<()> {
    if (200..300).contains(&status) {
        continue_now(conn, st, stream_id).await?;
    }
    match how {
        Sending::Held(fields, held) => {
            respond_with_held(conn, st, stream_id, &fields, held, status).await
        }
        Sending::HeldThen(fields, held, trailing) => {
            respond_with_held_then(conn, st, stream_id, fields, held, status, trailing).await
        }
        Sending::Prepared(prepared, data) => {
            match prepared_handle(conn, st, &prepared).await? {
                Ok(handle) => st.queue_prepared(stream_id, &prepared, handle, &data, status),
                Err(e) => refused(conn, stream_id, e).await?,
            }
            Ok(())
        }
        Sending::Whole(parts, data) => {
            let mut fields = parts_fields(&parts);
            date::add(&mut fields, &parts.headers);
            let result = if data.is_empty() {
                let opts = RespondOptions {
                    end_stream: true,
                    wait_for_trailers: false,
                };
                trap(conn.respond(stream_id, &fields, opts).await)?
            } else {
                trap(conn.respond_with_body(stream_id, &fields, &data).await)?
            };
            match result {
                Ok(()) => responded(st, stream_id, status, data.len()),
                Err(e) => refused(conn, stream_id, e).await?,
            }
            Ok(())
        }
        Sending::Partly(parts, data, trailers, body) => {
            if let Some(&HeldByHost(octets)) = parts.extensions.get::<HeldByHost>()
                && !reserve(conn, stream_id, octets).await?
            {
                // `body` (the tunnel's end) goes: its handler ends.
                return refuse_for_memory(conn, st, stream_id, octets).await;
            }
            let mut fields = parts_fields(&parts);
            date::add(&mut fields, &parts.headers);
            let opts = RespondOptions {
                end_stream: false,
                wait_for_trailers: false,
            };
            if let Err(e) = trap(conn.respond(stream_id, &fields, opts).await)? {
                // `body` goes: its producer sees the stream gone.
                return refused(conn, stream_id, e).await;
            }
            responded(st, stream_id, status, data.len());
            if !data.is_empty() {
                let _ = write_chunk(conn, st, stream_id, data).await?;
            }
            match trailers {
                Some(t) => {
                    let _ = trap(conn.send_trailers(stream_id, &header_fields(&t)).await)?;
                }
                // The rest comes as the body yields it.
                None => {
                    st.bodies.insert(stream_id, body_stream(body));
                }
            }
            Ok(())
        }
    }
}

/// The engine refused a stream's response. A stream gone (the client
/// reset it, the session closed) needs nothing more; any other refusal
/// (headers HTTP/2 does not allow, a final 1xx status) would leave the
/// client waiting for an answer that cannot come: the stream is reset
/// with INTERNAL_ERROR, as for a service that failed mid-response.
async fn refused(
    conn: &mut EngineConnection,
    stream_id: u32,
    e: CommandError,
) -> anyhow::Result<()> {
    match e {
        CommandError::UnknownStream | CommandError::SessionClosed => {
            tracing::debug!(stream_id, "respond refused: {e:?}");
        }
        e => {
            tracing::warn!(
                stream_id,
                "the service's response cannot be sent ({e:?}); resetting the stream"
            );
            let _ = trap(conn.close_stream(stream_id, INTERNAL_ERROR).await)?;
        }
    }
    Ok(())
}

/// Counts `octets` the host holds for `stream_id` toward the session's
/// memory; false when the session has no room (nothing counted).
async fn reserve(conn: &mut EngineConnection, stream_id: u32, octets: u32) -> anyhow::Result<bool> {
    Ok(trap(conn.reserve_memory(stream_id, octets).await)?.is_ok())
}

/// 503 for a tunnel (a WebSocket, a CONNECT) whose buffers the session's
/// `maxSessionMemory` has no room for; the client may try again on
/// another connection.
async fn refuse_for_memory(
    conn: &mut EngineConnection,
    st: &mut PumpState,
    stream_id: u32,
    octets: u32,
) -> anyhow::Result<()> {
    tracing::warn!(
        stream_id,
        octets,
        "tunnel refused with 503: the session's memory (max-session-memory) has no room for its buffers"
    );
    let body = Bytes::from_static(b"the connection's memory is spent; try another connection\n");
    let mut refusal = crate::service::text(StatusCode::SERVICE_UNAVAILABLE, body.clone());
    let retry = http::HeaderValue::from_static("1");
    refusal
        .headers_mut()
        .insert(http::header::RETRY_AFTER, retry);
    let (parts, _) = refusal.into_parts();
    let mut fields = parts_fields(&parts);
    date::add(&mut fields, &parts.headers);
    match trap(conn.respond_with_body(stream_id, &fields, &body).await)? {
        Ok(()) => responded(st, stream_id, 503, body.len()),
        Err(e) => tracing::debug!(stream_id, "respond refused: {e:?}"),
    }
    Ok(())
}

/// What could be taken of a body without waiting.
enum Taken {
    /// All of it.
    Whole(Bytes),
    /// Some data, and the trailers if they came; without trailers the body
    /// has more to give.
    Partly(Bytes, Option<HeaderMap>),
}

/// Polls a body without waiting: a body in memory (`Full`, `Empty`) gives
/// everything at once.
fn take_now(body: &mut ResponseBody) -> Taken {
    if body.is_end_stream() {
        return Taken::Whole(Bytes::new());
    }
    let mut cx = Context::from_waker(Waker::noop());
    let mut data: Option<Bytes> = None;
    let mut more = bytes::BytesMut::new();
    loop {
        match Pin::new(&mut *body).poll_frame(&mut cx) {
            Poll::Ready(None) => return Taken::Whole(joined(data, more)),
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(d) => {
                    match &data {
                        None if more.is_empty() => data = Some(d),
                        _ => {
                            if let Some(first) = data.take() {
                                more.extend_from_slice(&first);
                            }
                            more.extend_from_slice(&d);
                        }
                    }
                    let len = data.as_ref().map_or(0, Bytes::len) + more.len();
                    if len >= TAKE_AT_ONCE {
                        // A large body in memory (a cached file) is whole.
                        return match body.is_end_stream() {
                            true => Taken::Whole(joined(data, more)),
                            false => Taken::Partly(joined(data, more), None),
                        };
                    }
                }
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        return Taken::Partly(joined(data, more), Some(t));
                    }
                }
            },
            // The stream reports an error found now, after the data before
            // it (a body need not repeat an error when polled again).
            Poll::Ready(Some(Err(e))) => {
                let failed = futures_util::stream::once(std::future::ready(Err::<
                    http_body::Frame<Bytes>,
                    _,
                >(e)));
                *body = crate::service::box_body(http_body_util::StreamBody::new(failed));
                return Taken::Partly(joined(data, more), None);
            }
            Poll::Pending => return Taken::Partly(joined(data, more), None),
        }
    }
}

fn joined(data: Option<Bytes>, more: bytes::BytesMut) -> Bytes {
    match data {
        Some(d) => d,
        None => more.freeze(),
    }
}

/// A response whose body the host holds (`id`, `count` octets: a file it
/// opened, a buffer): the engine sends it as host payload
/// (`respond-with-payload`); one it refuses resets the stream
/// (INTERNAL_ERROR).
async fn respond_with_held(
    conn: &mut EngineConnection,
    st: &mut PumpState,
    stream_id: u32,
    fields: &[HeaderField],
    (id, count): (u64, u64),
    status: u16,
) -> anyhow::Result<()> {
    match trap(
        conn.respond_with_payload(stream_id, fields, id, count)
            .await,
    )? {
        Ok(()) => responded(st, stream_id, status, count as usize),
        Err(e) => {
            st.host_bodies.remove(id);
            tracing::debug!(stream_id, "respond-with-payload refused: {e:?}");
            let _ = trap(conn.close_stream(stream_id, 2).await)?;
        }
    }
    Ok(())
}

/// A file's response whose trailers follow it: the headers (with the
/// file's length) without END_STREAM, the file's octets as references,
/// then the trailers when `trailing` gives them (`write_body`).
async fn respond_with_held_then(
    conn: &mut EngineConnection,
    st: &mut PumpState,
    stream_id: u32,
    mut fields: Vec<HeaderField>,
    (id, count): (u64, u64),
    status: u16,
    trailing: ResponseBody,
) -> anyhow::Result<()> {
    fields.retain(|f| !f.name.eq_ignore_ascii_case("content-length"));
    fields.push(field("content-length", count.to_string().as_bytes(), false));
    let opts = RespondOptions {
        end_stream: false,
        wait_for_trailers: false,
    };
    if let Err(e) = trap(conn.respond(stream_id, &fields, opts).await)? {
        st.host_bodies.remove(id);
        return refused(conn, stream_id, e).await;
    }
    responded(st, stream_id, status, count as usize);
    let written = match count {
        0 => {
            st.host_bodies.remove(id);
            Ok(true)
        }
        _ => trap(conn.write_payload(stream_id, id, count).await)?,
    };
    match written {
        Ok(_) => {
            st.bodies.insert(stream_id, body_stream(trailing));
        }
        Err(e) => {
            st.host_bodies.remove(id);
            tracing::debug!(stream_id, "write-payload refused: {e:?}");
            let _ = trap(conn.close_stream(stream_id, INTERNAL_ERROR).await)?;
        }
    }
    Ok(())
}

/// After a `drive` took the batch: its header lists are free to go, and
/// the responses it sent are noted (before the drive's events, which may
/// close their streams).
pub(crate) fn batch_taken(st: &mut PumpState, refused: &[(u32, CommandError)]) {
    {
        let (ids, sent) = st.batch.taken(refused);
        for id in ids {
            if let Some(slot) = st.prepared.get_mut(&id) {
                slot.in_batch = None;
            }
        }
        // (Answers of `answered` have no entry there.)
        if !st.streams.is_empty() {
            for s in sent {
                if let Some(io) = st.streams.get_mut(&s.stream_id) {
                    noted(io, st.clock, s.status, s.body_length as usize);
                }
            }
        }
    }
    for (id, e) in refused {
        tracing::debug!(stream_id = id, "respond refused: {e:?}");
    }
    // Logged requests whose answers went out whole: ended now (a whole
    // answer to a whole request closes the stream).
    let mut answered = std::mem::take(&mut st.answered);
    for a in answered.drain(..) {
        if refused.iter().any(|(id, _)| *id == a.stream_id) {
            // The stream closed before this drive (the engine takes the
            // batch before the input), and its close is among this
            // drive's events: logged there.
            st.streams
                .insert(a.stream_id, StreamIo::new(None, Some(a.logged)));
        } else {
            let first_byte_us = st.clock.map(|now| now.saturating_sub(a.logged.started_us));
            st.ended(a.logged, a.status, a.body_length.into(), first_byte_us, 0);
        }
    }
    st.answered = answered;
}

/// Notes a sent response for the access log and the metrics.
fn responded(st: &mut PumpState, stream_id: u32, status: u16, body_len: usize) {
    if let Some(s) = st.streams.get_mut(&stream_id) {
        noted(s, st.clock, status, body_len);
    }
}

/// `responded`, for a stream's entry and this turn's time.
fn noted(s: &mut StreamIo, now: Option<u64>, status: u16, body_len: usize) {
    s.status = status;
    s.bytes_out += body_len as u64;
    if let (Some(now), Some(l)) = (now, &s.logged) {
        s.first_byte_us = Some(now.saturating_sub(l.started_us));
    }
}

/// Who sent a frame the engine reports.
fn direction(origin: Origin) -> Direction {
    match origin {
        Origin::Local => Direction::Sent,
        Origin::Remote => Direction::Received,
    }
}

/// This connection's handle for `prepared`, prepared on first use.
async fn prepared_handle(
    conn: &mut EngineConnection,
    st: &mut PumpState,
    prepared: &PreparedHeaders,
) -> anyhow::Result<Result<ResourceAny, CommandError>> {
    let (second, date) = date::now();
    match st.prepared.get(&prepared.id()) {
        Some(slot) if slot.second == second || slot.in_batch.is_some() => {
            return Ok(Ok(slot.handle));
        }
        Some(_) => {
            // Its date is past: the list is prepared again.
            if let Some(stale) = st.prepared.remove(&prepared.id()) {
                trap(conn.drop_prepared(stale.handle).await)?;
            }
        }
        None => {}
    }
    if st.prepared.len() >= PREPARED_PER_CONNECTION {
        // Lists the batch uses stay until its drive: at most one per
        // response in it, so the table stays within this bound plus the
        // streams a turn can answer.
        let stale: Vec<u64> = st
            .prepared
            .iter()
            .filter(|(_, slot)| slot.in_batch.is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            if let Some(slot) = st.prepared.remove(&id) {
                trap(conn.drop_prepared(slot.handle).await)?;
            }
        }
    }
    let mut fields = vec![field(
        ":status",
        prepared.status().as_str().as_bytes(),
        false,
    )];
    fields.extend(header_fields(prepared.headers()));
    if !prepared.headers().contains_key(http::header::DATE) {
        fields.push(field("date", date.as_bytes(), false));
    }
    let handle = trap(conn.prepare_headers(&fields).await)?;
    if let Ok(handle) = handle {
        let slot = PreparedSlot {
            handle,
            second,
            in_batch: None,
        };
        st.prepared.insert(prepared.id(), slot);
    }
    Ok(handle)
}

pub(crate) async fn write_body(
    id: u32,
    event: BodyEvent,
    conn: &mut EngineConnection,
    st: &mut PumpState,
) -> anyhow::Result<()> {
    match event {
        BodyEvent::Data(chunk) => {
            if !chunk.is_empty() {
                st.queue_write(id, chunk);
            }
        }
        BodyEvent::Trailers(t) => {
            st.bodies.remove(&id);
            if let Err(e) = trap(conn.send_trailers(id, &header_fields(&t)).await)? {
                tracing::debug!(stream_id = id, "trailers refused: {e:?}");
            }
        }
        BodyEvent::Failed(e) => {
            st.bodies.remove(&id);
            tracing::debug!(stream_id = id, "response body failed: {e}");
            let code = e.downcast_ref::<Reset>().map_or(INTERNAL_ERROR, |r| r.0);
            let _ = trap(conn.close_stream(id, code).await)?;
        }
        BodyEvent::End => {
            st.bodies.remove(&id);
            if let Err(e) = trap(conn.end(id).await)? {
                tracing::debug!(stream_id = id, "end refused: {e:?}");
            }
        }
    }
    Ok(())
}

/// Writes a chunk of a stream's body now (see `HostBodies::chunk`).
async fn write_chunk(
    conn: &mut EngineConnection,
    st: &mut PumpState,
    id: u32,
    chunk: Bytes,
) -> anyhow::Result<Result<bool, CommandError>> {
    match st.host_bodies.chunk(chunk) {
        BodyChunk::Octets(data) => trap(conn.write(id, &data).await),
        BodyChunk::Payload((body, len)) => {
            let written = trap(conn.write_payload(id, body, len).await)?;
            if written.is_err() {
                st.host_bodies.remove(body);
            }
            Ok(written)
        }
    }
}

/// What a request body said as the service read it: credit for the
/// client, or, at the first read of a body whose client waits for `100
/// Continue` (`expect: 100-continue`), that 100 (see [`continue_now`]).
pub(crate) async fn body_read(
    note: BodyNote,
    conn: &mut EngineConnection,
    st: &mut PumpState,
) -> anyhow::Result<()> {
    match note {
        BodyNote::Read(id, n) => st.credit(id, n),
        BodyNote::Wanted(id) => continue_now(conn, st, id).await?,
    }
    Ok(())
}

/// Sends `100 Continue` on `stream_id` if its client still waits for it:
/// when the service first reads the body, or just before a 2xx response
/// that comes first (a service that streams the body back answers before
/// it reads). A service that answers unread with an error (417, 401,
/// 413) sends none, and the client keeps its body: Node's
/// `checkContinue`, and what hyper does over HTTP/1.1.
async fn continue_now(
    conn: &mut EngineConnection,
    st: &mut PumpState,
    stream_id: u32,
) -> anyhow::Result<()> {
    let Some(s) = st.streams.get_mut(&stream_id) else {
        return Ok(());
    };
    if !s.awaiting_continue || s.status != 0 {
        // Said already, or the final response is under way.
        return Ok(());
    }
    s.awaiting_continue = false;
    let fields = [field(":status", b"100", false)];
    if let Err(e) = trap(conn.additional_headers(stream_id, &fields).await)? {
        tracing::debug!(stream_id, "100 Continue refused: {e:?}");
    }
    Ok(())
}

impl Drop for PumpState {
    /// However the connection's turn ended (an error included), its
    /// requests are logged.
    fn drop(&mut self) {
        self.flush_observed();
    }
}

impl PumpState {
    /// A connection's state, its requests logged to `log` and counted in
    /// `metrics`.
    pub(crate) fn observed_by(
        log: Option<AccessLog>,
        metrics: Option<Metrics>,
        session_events: Option<Arc<dyn SessionEvents>>,
        peer: &Arc<str>,
    ) -> PumpState {
        let mut st = PumpState::default();
        st.session_events = session_events;
        st.log_fields = log.as_ref().is_some_and(AccessLog::wants_fields);
        st.log = log.map(|log| (log, peer.clone()));
        st.tally = metrics.map(|m| m.tally(Protocol::Http2));
        st
    }

    /// A stream opened with `request`: what its log line and metrics will
    /// need, if either is kept.
    fn observe<B>(&mut self, request: &Request<B>) -> Option<Logged> {
        if let Some(t) = &mut self.tally {
            t.stream_opened();
        } else if self.log.is_none() {
            return None;
        }
        let (log, fields) = (self.log.is_some(), self.log_fields);
        Some(Logged::of(request, log, fields, self.now()))
    }

    /// Keeps a sent response's extension map, emptied, for a request.
    fn keep_extensions(&mut self, mut extensions: http::Extensions) {
        if self.spare_extensions.len() < SPARE_EXTENSIONS {
            extensions.clear();
            self.spare_extensions.push(extensions);
        }
    }

    /// This turn's time, in µs since the connection's first turn (taken
    /// now if no turn set it).
    fn now(&mut self) -> u64 {
        match self.clock {
            Some(turn) => turn,
            None => {
                let turn = self.turn_at(Instant::now());
                self.clock = Some(turn);
                turn
            }
        }
    }

    /// The coarse wall clock in this turn.
    fn wall_ms(&mut self) -> u64 {
        *self
            .wall_ms
            .get_or_insert_with(|| epoch_ms(date::wall_now()))
    }

    /// The turn at `at`, in µs since the first.
    fn turn_at(&mut self, at: Instant) -> u64 {
        self.wall_ms = None;
        let base = *self.base.get_or_insert(at);
        let us = at.saturating_duration_since(base).as_micros();
        u64::try_from(us).unwrap_or(u64::MAX)
    }

    /// Hands this turn's access log entries to the log and its counts to
    /// the metrics (before the connection waits, hibernates or ends).
    pub(crate) fn flush_observed(&mut self) {
        if let Some((log, peer)) = &self.log {
            log.record_all(peer, Protocol::Http2, &mut self.log_batch);
        }
        if let Some(t) = &mut self.tally {
            t.flush();
        }
    }

    /// A new turn, or a wake-up, at `at`: the time moves on (kept only
    /// when requests are logged or measured).
    pub(crate) fn tick(&mut self, at: Instant) {
        if self.log.is_some() || self.tally.is_some() {
            self.clock = Some(self.turn_at(at));
        }
    }

    /// The index in this batch's header lists of the prepared list `id`
    /// (held as `handle`), added on its first use in the batch.
    fn batch_index(&mut self, id: u64, handle: ResourceAny) -> u32 {
        match self.prepared.get_mut(&id) {
            Some(PreparedSlot {
                in_batch: Some(i), ..
            }) => *i,
            slot => {
                let i = self.batch.add_headers(id, handle);
                if let Some(slot) = slot {
                    slot.in_batch = Some(i);
                }
                i
            }
        }
    }

    /// Queues a whole response with prepared headers (held as `handle`)
    /// for the batch: every such answer of a pass goes in one call.
    fn queue_prepared(
        &mut self,
        stream_id: u32,
        prepared: &PreparedHeaders,
        handle: ResourceAny,
        data: &[u8],
        status: u16,
    ) {
        let headers = self.batch_index(prepared.id(), handle);
        self.batch.push(stream_id, headers, data, status);
        if let Some((id, logged)) = self.dispatching.take_if(|(id, _)| *id == stream_id) {
            self.answered.push(Answered {
                stream_id: id,
                logged,
                status,
                body_length: u32::try_from(data.len()).unwrap_or(u32::MAX),
            });
        }
    }

    /// A logged request answered into the batch, taken from it if its
    /// stream is `id` (it closed before the batch went).
    fn unanswered(&mut self, id: u32) -> Option<Answered> {
        // Stream ids only grow, and so does `answered`: a stream closing
        // in the usual way is older than every answer still waiting.
        if self.answered.first()?.stream_id > id {
            return None;
        }
        let i = self.answered.iter().position(|a| a.stream_id == id)?;
        Some(self.answered.remove(i))
    }

    /// A logged request ended (`code`: the reset's, 0 if none): counted
    /// for the metrics, and its line queued for the log.
    fn ended(&mut self, l: Logged, status: u16, bytes: u64, first_byte_us: Option<u64>, code: u32) {
        let took_us = self.now().saturating_sub(l.started_us);
        if let Some(t) = &mut self.tally {
            t.request(
                status,
                Duration::from_micros(took_us),
                first_byte_us.map(Duration::from_micros),
            );
        }
        // Metrics only: no line to log.
        let Some(line) = l.line else {
            return;
        };
        // Its start, from its end: one wall clock read per turn, none per
        // request.
        let started_ms = self.wall_ms().saturating_sub(took_us / 1000);
        self.log_batch.push(Entry {
            method: line.method,
            target: line.target,
            status,
            reset: code,
            bytes,
            started_ms,
            duration_us: u32::try_from(took_us).unwrap_or(u32::MAX),
            fields: line.fields,
        });
    }

    /// Queues a chunk of a stream's body for the next `drive` (see
    /// `HostBodies::chunk`), and holds the body until then.
    fn queue_write(&mut self, id: u32, chunk: Bytes) {
        let Some(body) = self.bodies.remove(&id) else {
            return;
        };
        if let Some(s) = self.streams.get_mut(&id) {
            s.bytes_out += chunk.len() as u64;
        }
        let chunk = self.host_bodies.chunk(chunk);
        self.writes.push(StreamWrite {
            stream_id: id,
            chunk,
        });
        self.writing.push((id, body));
    }

    /// What the drive that took `writes` said of each: room for more (the
    /// body is pulled again), full (parked until `Drain`), or refused (the
    /// body is dropped, and its payload with it). Called before that
    /// drive's events are handled: a `Drain` or a close among them then
    /// finds the body where it now is.
    pub(crate) fn written(&mut self, results: Vec<Result<bool, CommandError>>) {
        let mut results = results.into_iter();
        for (write, (id, body)) in self.writes.drain(..).zip(self.writing.drain(..)) {
            let refused = match results.next() {
                Some(Ok(true)) => {
                    self.bodies.insert(id, body);
                    continue;
                }
                Some(Ok(false)) => {
                    // Congested: stop pulling until the engine says Drain.
                    self.parked.insert(id, body);
                    continue;
                }
                Some(Err(e)) => format!("{e:?}"),
                None => "no result for it".to_string(),
            };
            tracing::debug!(stream_id = id, "write refused: {refused}");
            if let BodyChunk::Payload((payload, _)) = write.chunk {
                self.host_bodies.remove(payload);
            }
        }
    }

    /// Notes credit for `n` request-body octets of a stream (see
    /// `credits`).
    pub(crate) fn credit(&mut self, stream_id: u32, n: u32) {
        match self.credits.iter_mut().find(|c| c.stream_id == stream_id) {
            Some(c) => c.octets = c.octets.saturating_add(n),
            None => self.credits.push(StreamCredit {
                stream_id,
                octets: n,
            }),
        }
    }
}

//! wit-bindgen glue: the exported resources call the native engine, and
//! `convert` and `events` turn its types into WIT's and back (each pair
//! once). No protocol logic lives here.

mod convert;
mod events;

use crate::connection::{
    BatchedResponse, Connection as Engine, FileStat as NativeFileStat, HeldSpan as NativeHeldSpan,
    PreparedHeaders as NativePrepared, body_length,
};
use crate::error::ErrorCode;
use crate::events::Event as NativeEvent;
use crate::frame::PrioritySpec;
use crate::headers::{NodeValue, RequestMemory};
use crate::options::{Options as NativeOptions, Role as NativeRole};
use crate::settings::Settings as NativeSettings;
use bytes::Bytes;
use std::cell::RefCell;

wit_bindgen::generate!({
    world: "engine",
    path: "../wit",
    // The wasi:filesystem interfaces `respond-with-fd` takes a descriptor
    // from (and the io and clocks types they use).
    generate_all,
});

use exports::h2wasm::http2::session::{
    self as wit_session, BodyChunk, DriveResult, GuestConnection, GuestPreparedHeaders, HeldSpan,
    PayloadRef, PreparedHeaders, PreparedHeadersBorrow, PreparedResponse,
    RequestOptions as WitRequestOptions, RespondOptions as WitRespondOptions, StreamCredit,
    StreamWrite, Transmit,
};
use exports::h2wasm::http2::types::{
    AltsvcTarget, CommandError, ConnectionError, ConstantTable, Event, FileStat, HeaderField,
    KnownErrorCode, Metrics, NodeHeader, NodeHeaderValue, Options, Priority, Role, SessionState,
    Settings, StreamState,
};
use wasi::filesystem::types::{Descriptor, DescriptorType};

struct Component;

export!(Component);

/// Talc instead of wasi-libc's dlmalloc: a Rust allocator the engine's
/// allocations inline (dlmalloc was four calls deep, each wasm function
/// entry an epoch check). `bench/cpu`: 2.33 -> 2.24 µs per small request,
/// with the same memory per connection in `bench/conns` (README).
#[cfg(not(target_feature = "atomics"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

impl wit_session::Guest for Component {
    type Connection = ConnectionResource;
    type PreparedHeaders = PreparedResource;

    fn default_settings() -> Settings {
        Settings::from(NativeSettings::node_defaults())
    }

    fn default_options() -> Options {
        Options::from(NativeOptions::default())
    }

    fn packed_settings(settings: Settings) -> Result<Vec<u8>, ConnectionError> {
        NativeSettings::from(settings)
            .pack()
            .map_err(ConnectionError::from)
    }

    fn unpacked_settings(packed: Vec<u8>) -> Result<Settings, ConnectionError> {
        NativeSettings::unpack(&packed)
            .map(Settings::from)
            .map_err(ConnectionError::from)
    }

    fn node_headers(headers: Vec<HeaderField>) -> Vec<NodeHeader> {
        crate::headers::node_headers(&convert::fields_from_wit(headers))
            .into_iter()
            .map(|(name, value)| NodeHeader {
                name,
                value: match value {
                    NodeValue::Text(t) => NodeHeaderValue::Text(t),
                    NodeValue::List(l) => NodeHeaderValue::Values(l),
                    NodeValue::Number(n) => NodeHeaderValue::Number(n),
                },
            })
            .collect()
    }

    fn stat_file(path: String) -> Result<FileStat, CommandError> {
        crate::connection::stat_file(&path)
            .map(FileStat::from)
            .map_err(CommandError::from)
    }

    fn constants() -> ConstantTable {
        ConstantTable {
            numbers: crate::constants::numbers()
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
            strings: crate::constants::STRINGS
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn error_code_value(code: KnownErrorCode) -> u32 {
        code as u32
    }

    fn error_code_from_value(code: u32) -> Option<KnownErrorCode> {
        const ALL: [KnownErrorCode; 14] = [
            KnownErrorCode::NoError,
            KnownErrorCode::ProtocolError,
            KnownErrorCode::InternalError,
            KnownErrorCode::FlowControlError,
            KnownErrorCode::SettingsTimeout,
            KnownErrorCode::StreamClosed,
            KnownErrorCode::FrameSizeError,
            KnownErrorCode::RefusedStream,
            KnownErrorCode::Cancel,
            KnownErrorCode::CompressionError,
            KnownErrorCode::ConnectError,
            KnownErrorCode::EnhanceYourCalm,
            KnownErrorCode::InadequateSecurity,
            KnownErrorCode::Http11Required,
        ];
        usize::try_from(code).ok().and_then(|i| ALL.get(i)).copied()
    }
}

/// The `connection` resource: the native engine behind a RefCell, since
/// WIT methods take `&self`. Calls never nest, so borrows never overlap.
pub(crate) struct PreparedResource(NativePrepared);

/// A descriptor handed over by `respond-with-fd`, read in order from where
/// the body starts.
struct DescriptorReader {
    fd: Descriptor,
    pos: u64,
}

impl std::fmt::Debug for DescriptorReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DescriptorReader at {}", self.pos)
    }
}

impl std::io::Read for DescriptorReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        let (data, _end) = self
            .fd
            .read(want, self.pos)
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        let n = data.len().min(buf.len());
        buf.get_mut(..n)
            .zip(data.get(..n))
            .map(|(to, from)| to.copy_from_slice(from))
            .ok_or_else(|| std::io::Error::other("short buffer"))?;
        self.pos = self.pos.saturating_add(n as u64);
        Ok(n)
    }
}

/// Test builds only (feature `hang-for-tests`, never in a shipped
/// component): input containing `HANGHANG` spins forever, so the host's
/// per-call time budget can be shown to end just that connection.
#[cfg(feature = "hang-for-tests")]
fn hang_on_magic(data: &[u8]) {
    if data.windows(8).any(|w| w == b"HANGHANG") {
        loop {
            std::hint::black_box(());
        }
    }
}

impl GuestPreparedHeaders for PreparedResource {}

pub(crate) struct ConnectionResource {
    inner: RefCell<Engine>,
    /// `options.header-blocks`: how received headers are reported.
    header_blocks: bool,
    /// Tells repeated requests (`repeated-request` events).
    requests: RefCell<RequestMemory>,
    /// `options.input-data`: `drive` reports data parsed in place out of
    /// its input as `input-data` events.
    input_data: bool,
}

impl ConnectionResource {
    /// How header events are reported: as `header-block` events (with
    /// the memory of the last request) or field by field.
    fn blocks(&self) -> Option<std::cell::RefMut<'_, RequestMemory>> {
        self.header_blocks.then(|| self.requests.borrow_mut())
    }
}

impl GuestConnection for ConnectionResource {
    fn create(
        role: Role,
        options: Options,
        now: u64,
    ) -> Result<wit_session::Connection, ConnectionError> {
        let role = match role {
            Role::Client => NativeRole::Client,
            Role::Server => NativeRole::Server,
        };
        let (header_blocks, input_data) = (options.header_blocks, options.input_data);
        let engine =
            Engine::new(role, NativeOptions::from(options), now).map_err(ConnectionError::from)?;
        Ok(wit_session::Connection::new(ConnectionResource {
            inner: RefCell::new(engine),
            header_blocks,
            requests: RefCell::default(),
            input_data,
        }))
    }

    fn resume(
        options: Options,
        snapshot: Vec<u8>,
        now: u64,
    ) -> Result<wit_session::Connection, CommandError> {
        let (header_blocks, input_data) = (options.header_blocks, options.input_data);
        let engine = Engine::resume(NativeOptions::from(options), &snapshot, now)
            .map_err(CommandError::from)?;
        Ok(wit_session::Connection::new(ConnectionResource {
            inner: RefCell::new(engine),
            header_blocks,
            requests: RefCell::default(),
            input_data,
        }))
    }

    fn hibernate(&self) -> Result<Vec<u8>, CommandError> {
        self.inner.borrow().hibernate().map_err(CommandError::from)
    }

    fn receive(&self, now: u64, data: Vec<u8>) -> Result<(), ConnectionError> {
        #[cfg(feature = "hang-for-tests")]
        hang_on_magic(&data);
        self.inner
            .borrow_mut()
            .receive_owned(now, data)
            .map_err(ConnectionError::from)
    }

    fn handle_timeout(&self, now: u64) {
        self.inner.borrow_mut().handle_timeout(now);
    }

    fn poll_transmit(&self, max: u32) -> Transmit {
        let mut engine = self.inner.borrow_mut();
        let max = max as usize;
        let mut out = Transmit {
            octets: Vec::new(),
            payload: Vec::new(),
            released: Vec::new(),
        };
        let mut len = 0;
        // Gather several chunks into one list so a call moves a full
        // buffer; the first is usually all of it, and becomes the list
        // without a copy.
        while len < max {
            let Some(t) = engine.poll_transmit(max - len) else {
                break;
            };
            len += t.len();
            let base = out.octets.len();
            out.payload.extend(t.payload.iter().map(|r| PayloadRef {
                at: u32::try_from(base + r.at).unwrap_or(u32::MAX),
                body: r.body,
                offset: r.offset,
                length: u32::try_from(r.length).unwrap_or(u32::MAX),
            }));
            out.released.extend(t.released);
            if out.octets.is_empty() {
                out.octets = t.octets.into();
            } else {
                out.octets.extend_from_slice(&t.octets);
            }
        }
        out
    }

    fn poll_timeout(&self) -> Option<u64> {
        self.inner.borrow().poll_timeout()
    }

    fn poll_events(&self) -> Vec<Event> {
        let mut engine = self.inner.borrow_mut();
        std::iter::from_fn(|| engine.poll_event())
            .map(|e| events::event_to_wit(e, self.blocks().as_deref_mut(), None))
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn drive(
        &self,
        now: u64,
        headers: Option<Vec<PreparedHeadersBorrow<'_>>>,
        responses: Option<Vec<PreparedResponse>>,
        bodies: Option<Vec<u8>>,
        credits: Option<Vec<StreamCredit>>,
        writes: Option<Vec<StreamWrite>>,
        input: Option<Vec<u8>>,
        held: Option<Vec<HeldSpan>>,
        max: u32,
    ) -> DriveResult {
        // An absent list and an empty one mean the same.
        let (headers, bodies) = (headers.unwrap_or_default(), bodies.unwrap_or_default());
        let (credits, writes) = (credits.unwrap_or_default(), writes.unwrap_or_default());
        let (input, held) = (input.unwrap_or_default(), held.unwrap_or_default());
        let (refused, written) = {
            let mut engine = self.inner.borrow_mut();
            let refused = match responses {
                Some(responses) if !responses.is_empty() => {
                    let prepared =
                        |i: usize| headers.get(i).map(|h| &h.get::<PreparedResource>().0);
                    let responses = responses.into_iter().map(BatchedResponse::from);
                    engine
                        .respond_prepared_batch(prepared, responses, &bodies)
                        .into_iter()
                        .map(|(id, e)| (id, CommandError::from(e)))
                        .collect()
                }
                _ => Vec::new(),
            };
            for c in credits {
                // A stream gone since: its credit went back when it closed.
                let _ = engine.consume(c.stream_id, c.octets);
            }
            let written = writes
                .into_iter()
                .map(|w| match w.chunk {
                    BodyChunk::Octets(data) => engine.write(w.stream_id, Bytes::from(data)),
                    BodyChunk::Payload((body, length)) => {
                        engine.write_payload(w.stream_id, body, length)
                    }
                })
                .map(|r| r.map_err(CommandError::from))
                .collect();
            (refused, written)
        };
        // Offsets mean something only for this call's own input.
        let in_input = self.input_data && !input.is_empty();
        let error = if input.is_empty() && held.is_empty() {
            None
        } else {
            #[cfg(feature = "hang-for-tests")]
            hang_on_magic(&input);
            let held: Vec<NativeHeldSpan> = held
                .into_iter()
                .map(|h| NativeHeldSpan {
                    at: h.at,
                    length: h.length,
                })
                .collect();
            let mut engine = self.inner.borrow_mut();
            engine
                .receive_held(now, input, &held)
                .map_err(ConnectionError::from)
                .err()
        };
        let output = self.poll_transmit(max);
        let mut engine = self.inner.borrow_mut();
        let events = std::iter::from_fn(|| {
            let e = engine.poll_event()?;
            let at = match &e {
                NativeEvent::Data { data, .. } if in_input => engine.input_offset(data),
                _ => None,
            };
            Some((e, at))
        })
        .map(|(e, at)| events::event_to_wit(e, self.blocks().as_deref_mut(), at))
        .collect();
        DriveResult {
            error,
            output,
            queued: u32::try_from(engine.outbound_queue_size()).unwrap_or(u32::MAX),
            written,
            refused,
            events,
            open_streams: u32::try_from(engine.open_streams()).unwrap_or(u32::MAX),
            timeout: engine.poll_timeout(),
        }
    }

    fn respond_with_body(
        &self,
        stream_id: u32,
        headers: Vec<HeaderField>,
        body: Vec<u8>,
    ) -> Result<(), CommandError> {
        let fields = convert::fields_from_wit(headers);
        self.inner
            .borrow_mut()
            .respond_with_body(stream_id, fields, Bytes::from(body))
            .map_err(CommandError::from)
    }

    fn prepare_headers(&self, headers: Vec<HeaderField>) -> Result<PreparedHeaders, CommandError> {
        let engine = self.inner.borrow();
        let prepared = engine
            .prepare_headers(convert::fields_from_wit(headers))
            .map_err(CommandError::from)?;
        Ok(PreparedHeaders::new(PreparedResource(prepared)))
    }

    fn respond_prepared(
        &self,
        stream_id: u32,
        headers: PreparedHeadersBorrow<'_>,
        body: Vec<u8>,
    ) -> Result<(), CommandError> {
        let prepared = &headers.get::<PreparedResource>().0;
        self.inner
            .borrow_mut()
            .respond_prepared_with_body(stream_id, prepared, Bytes::from(body))
            .map_err(CommandError::from)
    }

    fn request(
        &self,
        headers: Vec<HeaderField>,
        options: WitRequestOptions,
    ) -> Result<u32, CommandError> {
        self.inner
            .borrow_mut()
            .request(convert::fields_from_wit(headers), options.into())
            .map_err(CommandError::from)
    }

    fn respond(
        &self,
        stream_id: u32,
        headers: Vec<HeaderField>,
        options: WitRespondOptions,
    ) -> Result<(), CommandError> {
        self.inner
            .borrow_mut()
            .respond(stream_id, convert::fields_from_wit(headers), options.into())
            .map_err(CommandError::from)
    }

    fn additional_headers(
        &self,
        stream_id: u32,
        headers: Vec<HeaderField>,
    ) -> Result<(), CommandError> {
        self.inner
            .borrow_mut()
            .additional_headers(stream_id, convert::fields_from_wit(headers))
            .map_err(CommandError::from)
    }

    fn write(&self, stream_id: u32, data: Vec<u8>) -> Result<bool, CommandError> {
        self.inner
            .borrow_mut()
            .write(stream_id, Bytes::from(data))
            .map_err(CommandError::from)
    }

    fn write_payload(&self, stream_id: u32, body: u64, length: u64) -> Result<bool, CommandError> {
        self.inner
            .borrow_mut()
            .write_payload(stream_id, body, length)
            .map_err(CommandError::from)
    }

    fn end(&self, stream_id: u32) -> Result<(), CommandError> {
        self.inner
            .borrow_mut()
            .end(stream_id)
            .map_err(CommandError::from)
    }

    fn send_trailers(&self, stream_id: u32, headers: Vec<HeaderField>) -> Result<(), CommandError> {
        self.inner
            .borrow_mut()
            .send_trailers(stream_id, convert::fields_from_wit(headers))
            .map_err(CommandError::from)
    }

    fn close_stream(&self, stream_id: u32, code: u32) -> Result<(), CommandError> {
        self.inner
            .borrow_mut()
            .close_stream(stream_id, ErrorCode(code))
            .map_err(CommandError::from)
    }

    fn consume(&self, stream_id: u32, n: u32) -> Result<(), CommandError> {
        self.inner
            .borrow_mut()
            .consume(stream_id, n)
            .map_err(CommandError::from)
    }

    fn ping(&self, now: u64, payload: Option<u64>) -> Result<u64, CommandError> {
        self.inner
            .borrow_mut()
            .ping(now, payload.map(u64::to_be_bytes))
            .map(u64::from_be_bytes)
            .map_err(CommandError::from)
    }

    fn settings(&self, settings: Settings) -> Result<(), CommandError> {
        self.inner
            .borrow_mut()
            .settings(NativeSettings::from(settings))
            .map_err(CommandError::from)
    }

    fn goaway(
        &self,
        code: u32,
        last_stream_id: Option<u32>,
        opaque_data: Vec<u8>,
    ) -> Result<(), CommandError> {
        self.inner
            .borrow_mut()
            .goaway(ErrorCode(code), last_stream_id, Bytes::from(opaque_data))
            .map_err(CommandError::from)
    }

    fn set_local_window_size(&self, size: u32) -> Result<(), CommandError> {
        self.inner
            .borrow_mut()
            .set_local_window_size(size)
            .map_err(CommandError::from)
    }

    fn set_timeout(&self, now: u64, timeout_ns: Option<u64>) {
        self.inner.borrow_mut().set_timeout(now, timeout_ns);
    }

    fn close(&self) {
        self.inner.borrow_mut().close();
    }

    fn destroy(&self, code: u32) {
        self.inner.borrow_mut().destroy(ErrorCode(code));
    }

    fn state(&self) -> SessionState {
        SessionState::from(self.inner.borrow().session_state())
    }

    fn stream_state(&self, stream_id: u32) -> Option<StreamState> {
        self.inner
            .borrow()
            .stream_state(stream_id)
            .map(StreamState::from)
    }

    fn priority(
        &self,
        stream_id: u32,
        priority: Priority,
        silent: bool,
    ) -> Result<(), CommandError> {
        self.inner
            .borrow_mut()
            .set_priority(stream_id, PrioritySpec::from(priority), silent)
            .map_err(CommandError::from)
    }

    fn set_stream_timeout(
        &self,
        stream_id: u32,
        now: u64,
        timeout_ns: Option<u64>,
    ) -> Result<(), CommandError> {
        self.inner
            .borrow_mut()
            .set_stream_timeout(stream_id, now, timeout_ns)
            .map_err(CommandError::from)
    }

    fn local_settings(&self) -> Settings {
        Settings::from(self.inner.borrow().local_settings())
    }

    fn remote_settings(&self) -> Settings {
        Settings::from(self.inner.borrow().remote_settings())
    }

    fn pending_settings_ack(&self) -> bool {
        self.inner.borrow().pending_settings_acks() > 0
    }

    fn metrics(&self) -> Metrics {
        Metrics::from(self.inner.borrow().metrics())
    }

    fn set_refusing_streams(&self, refusing: bool) {
        self.inner.borrow_mut().set_refusing_streams(refusing);
    }

    fn is_closed(&self) -> bool {
        self.inner.borrow().is_closed()
    }

    fn respond_with_file(
        &self,
        stream_id: u32,
        headers: Vec<HeaderField>,
        path: String,
        offset: u64,
        length: Option<u64>,
    ) -> Result<FileStat, CommandError> {
        self.inner
            .borrow_mut()
            .respond_with_file(
                stream_id,
                convert::fields_from_wit(headers),
                &path,
                offset,
                length,
            )
            .map(FileStat::from)
            .map_err(CommandError::from)
    }

    fn respond_with_payload(
        &self,
        stream_id: u32,
        headers: Vec<HeaderField>,
        body: u64,
        length: u64,
    ) -> Result<(), CommandError> {
        self.inner
            .borrow_mut()
            .respond_with_payload(stream_id, convert::fields_from_wit(headers), body, length)
            .map_err(CommandError::from)
    }

    fn respond_with_fd(
        &self,
        stream_id: u32,
        fd: Descriptor,
        headers: Vec<HeaderField>,
        offset: u64,
        length: Option<u64>,
    ) -> Result<FileStat, CommandError> {
        let stat = fd
            .stat()
            .map_err(|e| CommandError::File(format!("{e:?}")))?;
        if stat.type_ != DescriptorType::RegularFile {
            return Err(CommandError::File("not a regular file".into()));
        }
        let native = NativeFileStat {
            size: stat.size,
            modified_ns: stat.data_modification_timestamp.and_then(|t| {
                t.seconds
                    .checked_mul(1_000_000_000)?
                    .checked_add(t.nanoseconds.into())
            }),
        };
        let len = body_length(native, offset, length).map_err(CommandError::from)?;
        let reader = DescriptorReader { fd, pos: offset };
        self.inner
            .borrow_mut()
            .respond_with_reader(
                stream_id,
                convert::fields_from_wit(headers),
                Box::new(reader),
                len,
            )
            .map_err(CommandError::from)?;
        Ok(FileStat::from(native))
    }

    fn push_allowed(&self) -> bool {
        self.inner.borrow().push_allowed()
    }

    fn push_stream(&self, parent: u32, headers: Vec<HeaderField>) -> Result<u32, CommandError> {
        self.inner
            .borrow_mut()
            .push_stream(parent, convert::fields_from_wit(headers))
            .map_err(CommandError::from)
    }

    fn reserve_memory(&self, stream_id: u32, octets: u32) -> Result<(), CommandError> {
        self.inner
            .borrow_mut()
            .reserve_memory(stream_id, octets)
            .map_err(CommandError::from)
    }

    fn session_memory(&self) -> u64 {
        self.inner.borrow().session_memory() as u64
    }

    fn altsvc(&self, value: String, target: AltsvcTarget) -> Result<(), CommandError> {
        self.inner
            .borrow_mut()
            .altsvc(&value, target.into())
            .map_err(CommandError::from)
    }

    fn origin(&self, origins: Vec<String>) -> Result<(), CommandError> {
        self.inner
            .borrow_mut()
            .origin(&origins)
            .map_err(CommandError::from)
    }

    fn origin_set(&self) -> Vec<String> {
        self.inner.borrow().origin_set().to_vec()
    }
}

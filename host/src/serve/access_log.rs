//! The access log: one line per request, in the common or combined log
//! format or as JSON, written off the serving path. A request's end keeps
//! its facts (no text; its times are its connection's turn's, so no clock
//! is read per request) with its connection, which hands a turn's worth
//! to the queue as one [`Batch`] under one lock (the vector itself moves,
//! and an empty one from the writer's spares takes its place, so entries
//! are not copied and no vector is allocated per turn); a thread of the
//! log's own takes the queue whole every 100 ms (or sooner, when it fills
//! past [`BATCH`] entries), formats the lines and writes them in one
//! `write`. Formatting repeats little: a batch's client address is found
//! once, the time once a second, and a request line once for a run of
//! equal ones. A connection never formats, never writes and never waits
//! for the disk.
//!
//! Bounded: at most [`MAX_QUEUED`] entries wait; past that (a disk that
//! cannot keep up) entries are dropped and counted, and the count is
//! logged at warn once per batch. Spare vectors kept for connections hold
//! at most [`SPARE_ENTRIES`] entries' room in all. The file is opened for appending and
//! opened again on [`AccessLog::reopen`] (SIGUSR1 in the CLI), for
//! rotation: rename the file, signal, and the next batch goes to a new
//! one.

use crate::engine::convert::code_name;
use http::{HeaderValue, Method};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Entries that may wait for the writer.
pub const MAX_QUEUED: usize = 65_536;
/// Entries that wake the writer before its tick.
pub const BATCH: usize = 4096;
/// Room, in entries, of the empty vectors kept for connections' next
/// batches (a larger vector is dropped rather than kept).
pub const SPARE_ENTRIES: usize = 8192;
/// How often the writer takes the queue.
const TICK: Duration = Duration::from_millis(100);

/// How a line reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// NCSA common: `host - - [time] "request" status bytes`.
    Common,
    /// Common, then `"referer" "user-agent"`.
    Combined,
    /// One JSON object per line.
    Json,
}

/// Where lines go.
#[derive(Clone, Debug)]
pub enum Destination {
    /// The process's stderr.
    Stderr,
    /// A file, appended to, opened again on [`AccessLog::reopen`].
    File(PathBuf),
}

/// What is known of a request when it ends: small (it is moved a few
/// times per request), nothing formatted. Its client and protocol are its
/// [`Batch`]'s.
pub struct Entry {
    /// The request's method.
    pub method: LoggedMethod,
    /// The request target (path and query; shares the request's bytes).
    pub target: Option<http::uri::PathAndQuery>,
    /// The response's status (0: none was sent).
    pub status: u16,
    /// The HTTP/2 error code the stream was reset with; 0: not reset.
    pub reset: u32,
    /// Body octets sent.
    pub bytes: u64,
    /// When the request began, in ms since the Unix epoch.
    pub started_ms: u64,
    /// How long it took, to the end of its response, in µs.
    pub duration_us: u32,
    /// `Referer` and `User-Agent`, for the combined and JSON formats only
    /// (see [`AccessLog::wants_fields`]).
    pub fields: Option<Box<ClientFields>>,
}

/// A request's method as its line shows it: a standard one by its name
/// (two words, nothing to drop: entries are moved several times per
/// request), any other as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoggedMethod {
    /// `GET`, `HEAD`, `POST` and the other methods RFC 9110 and RFC 5789
    /// define.
    Standard(&'static str),
    /// An extension method.
    Other(Box<Method>),
}

impl LoggedMethod {
    /// `method`, as logged.
    pub fn of(method: &Method) -> LoggedMethod {
        let name = match *method {
            Method::GET => "GET",
            Method::HEAD => "HEAD",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::DELETE => "DELETE",
            Method::CONNECT => "CONNECT",
            Method::OPTIONS => "OPTIONS",
            Method::TRACE => "TRACE",
            Method::PATCH => "PATCH",
            _ => return LoggedMethod::Other(Box::new(method.clone())),
        };
        LoggedMethod::Standard(name)
    }

    fn as_str(&self) -> &str {
        match self {
            LoggedMethod::Standard(name) => name,
            LoggedMethod::Other(method) => method.as_str(),
        }
    }
}

/// The client's own fields a combined or JSON line shows.
pub struct ClientFields {
    /// `Referer`.
    pub referer: Option<HeaderValue>,
    /// `User-Agent`.
    pub user_agent: Option<HeaderValue>,
}

/// The protocol a request came over, as a request line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `HTTP/2.0`.
    Http2,
    /// `HTTP/1.1`.
    Http11,
    /// `HTTP/1.0`.
    Http10,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Protocol::Http2 => "HTTP/2.0",
            Protocol::Http11 => "HTTP/1.1",
            Protocol::Http10 => "HTTP/1.0",
        }
    }
}

/// `time` in ms since the Unix epoch, as [`Entry::started_ms`] has it.
pub fn epoch_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One connection's entries, handed over together.
struct Batch {
    /// The client's address (`ip:port`).
    peer: Arc<str>,
    /// The protocol they came over.
    protocol: Protocol,
    entries: Vec<Entry>,
}

/// What waits for the writer.
#[derive(Default)]
struct Queue {
    batches: Vec<Batch>,
    /// Entries in `batches`.
    entries: usize,
    /// Emptied vectors for connections' next batches, and their room.
    spare: Vec<Vec<Entry>>,
    spare_room: usize,
}

impl Queue {
    /// An empty vector for a connection's next batch.
    fn take_spare(&mut self) -> Vec<Entry> {
        let v = self.spare.pop().unwrap_or_default();
        self.spare_room -= v.capacity();
        v
    }

    /// Keeps `v`, emptied, for a connection's next batch, if there is
    /// room for it.
    fn give_spare(&mut self, mut v: Vec<Entry>) {
        v.clear();
        if v.capacity() > 0 && self.spare_room + v.capacity() <= SPARE_ENTRIES {
            self.spare_room += v.capacity();
            self.spare.push(v);
        }
    }
}

/// The access log (cheap to clone): each connection holds one.
#[derive(Clone)]
pub struct AccessLog(Arc<Shared>);

struct Shared {
    format: Format,
    queue: Mutex<Queue>,
    wake: Condvar,
    dropped: AtomicU64,
    /// Entries queued so far (what [`AccessLog::flush`] waits for).
    recorded: AtomicU64,
    reopen: AtomicBool,
    destination: Destination,
    /// Entries written so far.
    written: Mutex<u64>,
    written_cv: Condvar,
}

impl AccessLog {
    /// A log in `format` to `destination` (a file is created if missing
    /// and appended to), with its writer thread started.
    pub fn start(format: Format, destination: Destination) -> std::io::Result<AccessLog> {
        let out = open(&destination)?;
        let shared = Arc::new(Shared {
            format,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            dropped: AtomicU64::new(0),
            recorded: AtomicU64::new(0),
            reopen: AtomicBool::new(false),
            destination,
            written: Mutex::new(0),
            written_cv: Condvar::new(),
        });
        let writer = shared.clone();
        std::thread::Builder::new()
            .name("h2wasm-access-log".into())
            .spawn(move || writer.run(out))?;
        Ok(AccessLog(shared))
    }

    /// Whether entries should carry `Referer` and `User-Agent`.
    pub fn wants_fields(&self) -> bool {
        self.0.format != Format::Common
    }

    /// Queues `entry`, a request of the client `peer` over `protocol`,
    /// for the writer (dropped, and counted, when [`MAX_QUEUED`] wait
    /// already): in a vector from the spares, as a batch of one.
    pub fn record(&self, peer: &Arc<str>, protocol: Protocol, entry: Entry) {
        self.enqueue(peer, protocol, 1, |mut spare, _| {
            spare.push(entry);
            spare
        });
    }

    /// Queues every entry of `entries` (a connection's turn's worth, of
    /// the client `peer` over `protocol`) under one lock, leaving in its
    /// place an empty vector (one the writer is done with, when it has
    /// one). Past [`MAX_QUEUED`] the rest are dropped and counted.
    pub fn record_all(&self, peer: &Arc<str>, protocol: Protocol, entries: &mut Vec<Entry>) {
        let n = entries.len();
        if n == 0 {
            return;
        }
        self.enqueue(peer, protocol, n, |spare, taken| {
            entries.truncate(taken);
            std::mem::replace(entries, spare)
        });
        entries.clear();
    }

    /// Queues a batch of `n` entries as far as [`MAX_QUEUED`] allows:
    /// `batch` makes it from a spare vector and the number taken (not
    /// called when none is); the rest are dropped and counted.
    fn enqueue(
        &self,
        peer: &Arc<str>,
        protocol: Protocol,
        n: usize,
        batch: impl FnOnce(Vec<Entry>, usize) -> Vec<Entry>,
    ) {
        let mut queue = self.0.queue.lock().unwrap_or_else(|p| p.into_inner());
        let before = queue.entries;
        let taken = n.min(MAX_QUEUED.saturating_sub(before));
        if taken > 0 {
            let spare = queue.take_spare();
            queue.batches.push(Batch {
                peer: peer.clone(),
                protocol,
                entries: batch(spare, taken),
            });
            queue.entries += taken;
        }
        let wake = before < BATCH && queue.entries >= BATCH;
        drop(queue);
        self.0.recorded.fetch_add(taken as u64, Ordering::Relaxed);
        if taken < n {
            self.0
                .dropped
                .fetch_add((n - taken) as u64, Ordering::Relaxed);
        }
        if wake {
            self.0.wake.notify_one();
        }
    }

    /// Opens the file again at the next batch (after a rotation renamed
    /// it).
    pub fn reopen(&self) {
        self.0.reopen.store(true, Ordering::Relaxed);
        self.0.wake.notify_one();
    }

    /// Waits (at most `within`) until everything recorded so far is
    /// written: at shutdown.
    pub fn flush(&self, within: Duration) {
        let target = self.0.recorded.load(Ordering::Relaxed);
        self.0.wake.notify_one();
        let written = self.0.written.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self
            .0
            .written_cv
            .wait_timeout_while(written, within, |w| *w < target);
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        // The writer holds one more: this is the last handle, and the
        // writer writes what is left and ends.
        if Arc::strong_count(&self.0) == 2 {
            self.0.wake.notify_one();
        }
    }
}

fn open(destination: &Destination) -> std::io::Result<Box<dyn Write + Send>> {
    Ok(match destination {
        Destination::Stderr => Box::new(std::io::stderr()),
        Destination::File(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?,
        ),
    })
}

impl Shared {
    /// The writer: takes the queue whole, formats it, writes it.
    fn run(self: Arc<Self>, mut out: Box<dyn Write + Send>) {
        let mut text = Vec::new();
        let mut batches = Vec::new();
        let mut memo = Memo::default();
        loop {
            {
                let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                let (mut queue, _) = self
                    .wake
                    .wait_timeout_while(queue, TICK, |q| {
                        q.entries < BATCH
                            && !self.reopen.load(Ordering::Relaxed)
                            && Arc::strong_count(&self) > 1
                    })
                    .unwrap_or_else(|p| p.into_inner());
                std::mem::swap(&mut queue.batches, &mut batches);
                queue.entries = 0;
            }
            if self.reopen.swap(false, Ordering::Relaxed) {
                match open(&self.destination) {
                    Ok(o) => out = o,
                    Err(e) => tracing::error!("access log: cannot reopen: {e}"),
                }
            }
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                tracing::warn!(
                    "access log: {dropped} lines dropped (more than {MAX_QUEUED} waited for the writer)"
                );
            }
            text.clear();
            memo.new_buffer();
            let mut n = 0;
            for batch in &batches {
                memo.client(host_of(&batch.peer), batch.protocol);
                for entry in &batch.entries {
                    self.format.line(entry, &mut text, &mut memo);
                }
                n += batch.entries.len() as u64;
            }
            if !text.is_empty()
                && let Err(e) = out.write_all(&text).and_then(|()| out.flush())
            {
                tracing::error!("access log: {e}");
            }
            // A buffer that grew large is not kept at that size.
            if text.capacity() > 1 << 20 {
                text = Vec::new();
            }
            if !batches.is_empty() {
                let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                for batch in batches.drain(..) {
                    queue.give_spare(batch.entries);
                }
            }
            if batches.capacity() > BATCH {
                batches = Vec::new();
            }
            {
                let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
                *written += n;
                self.written_cv.notify_all();
            }
            // No handle left: nothing more can come.
            if Arc::strong_count(&self) == 1 {
                let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                if queue.batches.is_empty() {
                    return;
                }
            }
        }
    }
}

/// What the writer formatted last, to format it once for the lines that
/// repeat it: the client and its protocol (per batch), the time (per
/// second) and the request line (per run of equal ones, as a client's
/// repeated requests are).
#[derive(Default)]
struct Memo {
    client: String,
    protocol: Option<Protocol>,
    /// The second of `prefix`'s time.
    second: Option<u64>,
    /// `client - - [time] "`.
    prefix: Vec<u8>,
    /// The method and target of `request`.
    method: Option<LoggedMethod>,
    target: Vec<u8>,
    /// `METHOD target PROTOCOL" `.
    request: Vec<u8>,
    /// `prefix` or `request` was made again by the last [`Memo::refresh`].
    changed: bool,
    /// Where in the writer's buffer the last common-format line is, and
    /// its status and size: a line equal to it (a client asking for the
    /// same thing again, within the second) is copied whole.
    last: Option<(std::ops::Range<usize>, u16, u64)>,
}

impl Memo {
    /// The next lines are of `client` over `protocol`.
    fn client(&mut self, client: &str, protocol: Protocol) {
        if self.client != client {
            self.client.clear();
            self.client.push_str(client);
            self.second = None;
            self.last = None;
        }
        if self.protocol != Some(protocol) {
            self.protocol = Some(protocol);
            self.method = None;
            self.last = None;
        }
    }

    /// The writer's buffer was emptied: no earlier line is in it.
    fn new_buffer(&mut self) {
        self.last = None;
    }

    /// Makes `prefix` and `request` those of `e`; true if either changed.
    fn refresh(&mut self, e: &Entry) -> bool {
        self.changed = false;
        self.prefix(e.started_ms);
        self.request(e);
        self.changed
    }

    /// `client - - [time] "` for a request begun at `ms`.
    fn prefix(&mut self, ms: u64) -> &[u8] {
        let second = ms / 1000;
        if self.second != Some(second) {
            self.second = Some(second);
            self.changed = true;
            self.prefix.clear();
            self.prefix.extend_from_slice(self.client.as_bytes());
            self.prefix.extend_from_slice(b" - - [");
            self.prefix.extend_from_slice(clf_time(second).as_bytes());
            self.prefix.extend_from_slice(b"] \"");
        }
        &self.prefix
    }

    /// `METHOD target PROTOCOL" ` for `e`.
    fn request(&mut self, e: &Entry) -> &[u8] {
        let target = target(e).as_bytes();
        if self.method.as_ref() != Some(&e.method) || self.target != target {
            self.method = Some(e.method.clone());
            self.changed = true;
            self.target.clear();
            self.target.extend_from_slice(target);
            self.request.clear();
            self.request.extend_from_slice(e.method.as_str().as_bytes());
            self.request.push(b' ');
            push_escaped(&mut self.request, target);
            self.request.push(b' ');
            let protocol = self.protocol.unwrap_or(Protocol::Http2);
            self.request.extend_from_slice(protocol.as_str().as_bytes());
            self.request.extend_from_slice(b"\" ");
        }
        &self.request
    }
}

impl Format {
    /// Appends `entry`'s line to `out` (pieces copied in, no formatting
    /// machinery: the writer does this for every request).
    fn line(self, e: &Entry, out: &mut Vec<u8>, memo: &mut Memo) {
        let mut digits = itoa::Buffer::new();
        match self {
            Format::Common | Format::Combined => {
                let changed = memo.refresh(e);
                if self == Format::Common
                    && !changed
                    && let Some((line, status, bytes)) = &memo.last
                    && (*status, *bytes) == (e.status, e.bytes)
                    && line.end <= out.len()
                {
                    out.extend_from_within(line.clone());
                    return;
                }
                let start = out.len();
                out.extend_from_slice(&memo.prefix);
                out.extend_from_slice(&memo.request);
                out.extend_from_slice(digits.format(e.status).as_bytes());
                out.push(b' ');
                if e.bytes == 0 {
                    out.push(b'-');
                } else {
                    out.extend_from_slice(digits.format(e.bytes).as_bytes());
                }
                if self == Format::Combined {
                    let (referer, user_agent) = match &e.fields {
                        Some(f) => (f.referer.as_ref(), f.user_agent.as_ref()),
                        None => (None, None),
                    };
                    for field in [referer, user_agent] {
                        out.extend_from_slice(b" \"");
                        match field {
                            Some(v) => push_escaped(out, v.as_bytes()),
                            None => out.push(b'-'),
                        }
                        out.push(b'"');
                    }
                }
                out.push(b'\n');
                if self == Format::Common {
                    memo.last = Some((start..out.len(), e.status, e.bytes));
                }
            }
            Format::Json => {
                let text = |v: Option<&HeaderValue>| {
                    v.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                };
                let fields = e.fields.as_deref();
                let value = serde_json::json!({
                    "time": rfc3339(e.started_ms),
                    "client": memo.client,
                    "method": e.method.as_str(),
                    "target": target(e),
                    "protocol": memo.protocol.unwrap_or(Protocol::Http2).as_str(),
                    "status": e.status,
                    "bytes": e.bytes,
                    "duration_ms": f64::from(e.duration_us) / 1e3,
                    "referer": text(fields.and_then(|f| f.referer.as_ref())),
                    "user_agent": text(fields.and_then(|f| f.user_agent.as_ref())),
                    "reset": (e.reset != 0).then(|| code_name(e.reset)),
                });
                out.extend_from_slice(value.to_string().as_bytes());
                out.push(b'\n');
            }
        }
    }
}

/// The request target as logged (`/` if the request had none).
fn target(e: &Entry) -> &str {
    e.target.as_ref().map_or("/", |t| t.as_str())
}

/// The client's address without its port.
fn host_of(peer: &str) -> &str {
    match peer.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
            host.trim_start_matches('[').trim_end_matches(']')
        }
        _ => peer,
    }
}

/// Appends client-sent text for a quoted log field: `"` and `\\` escaped,
/// and octets outside printable ASCII as `\\xHH`, so no client can write
/// a line of its own.
fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes
        .iter()
        .all(|&b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
    {
        // The usual case: printable ASCII, as it is.
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x20..=0x7e => out.push(b),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\x");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
            }
        }
    }
}

/// (year, month, day, hour, minute, second) of a second since the Unix
/// epoch, in UTC.
fn civil(secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Days to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The common log format's time: `05/Dec/2026:23:41:10 +0000`.
fn clf_time(second: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s) = civil(second);
    let month = MONTHS[(mo as usize).saturating_sub(1).min(11)];
    format!("{d:02}/{month}/{y}:{h:02}:{mi:02}:{s:02} +0000")
}

/// RFC 3339, to the millisecond: `2026-12-05T23:41:10.123Z`.
fn rfc3339(epoch_ms: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(epoch_ms / 1000);
    let ms = epoch_ms % 1000;
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            method: LoggedMethod::of(&http::Method::GET),
            target: Some(http::uri::PathAndQuery::from_static("/a?b=1")),
            status: 200,
            reset: 0,
            bytes: 1234,
            started_ms: 1_796_514_070_000,
            duration_us: 1500,
            fields: Some(Box::new(ClientFields {
                referer: Some(HeaderValue::from_static("https://example.org/")),
                user_agent: Some(HeaderValue::from_bytes(b"x\"y\xff").unwrap()),
            })),
        }
    }

    /// `e`'s line in `format`, from the client 192.0.2.7 over HTTP/2.
    fn line(format: Format, e: &Entry, memo: &mut Memo) -> String {
        let mut out = Vec::new();
        memo.new_buffer();
        memo.client(host_of("192.0.2.7:50123"), Protocol::Http2);
        format.line(e, &mut out, memo);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lines_in_each_format() {
        let mut memo = Memo::default();
        let s = line(Format::Common, &entry(), &mut memo);
        assert_eq!(
            s,
            "192.0.2.7 - - [05/Dec/2026:23:41:10 +0000] \"GET /a?b=1 HTTP/2.0\" 200 1234\n"
        );
        let s = line(Format::Combined, &entry(), &mut memo);
        assert!(
            s.ends_with(" 200 1234 \"https://example.org/\" \"x\\\"y\\xff\"\n"),
            "{s}"
        );
        let s = line(Format::Json, &entry(), &mut memo);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["time"], "2026-12-05T23:41:10.000Z");
        assert_eq!(v["client"], "192.0.2.7");
        assert_eq!(v["protocol"], "HTTP/2.0");
        assert_eq!(v["status"], 200);
        assert_eq!(v["duration_ms"], 1.5);
        assert_eq!(v["user_agent"], "x\"y\u{fffd}");
        // A target with a quote or a control octet cannot end the field.
        let mut forged = entry();
        forged.target = Some(http::uri::PathAndQuery::from_static("/a%22"));
        forged.fields = Some(Box::new(ClientFields {
            referer: None,
            user_agent: Some(HeaderValue::from_static("x\" 200 1")),
        }));
        let s = line(Format::Combined, &forged, &mut memo);
        assert!(s.ends_with(" \"x\\\" 200 1\"\n"), "{s}");
        assert_eq!(s.lines().count(), 1);
    }

    #[test]
    fn what_is_formatted_once_follows_each_change() {
        // The writer reuses the client, time and request line it
        // formatted last: each must change when its part changes.
        let mut memo = Memo::default();
        let mut out = Vec::new();
        let mut e = entry();
        memo.client("192.0.2.7", Protocol::Http2);
        Format::Common.line(&e, &mut out, &mut memo);
        // The same again: the line is copied.
        Format::Common.line(&e, &mut out, &mut memo);
        e.status = 304;
        Format::Common.line(&e, &mut out, &mut memo);
        e.bytes = 0;
        Format::Common.line(&e, &mut out, &mut memo);
        Format::Common.line(&e, &mut out, &mut memo);
        (e.status, e.bytes) = (200, 1234);
        e.started_ms += 1000;
        Format::Common.line(&e, &mut out, &mut memo);
        e.target = Some(http::uri::PathAndQuery::from_static("/b"));
        Format::Common.line(&e, &mut out, &mut memo);
        e.method = LoggedMethod::of(&http::Method::HEAD);
        Format::Common.line(&e, &mut out, &mut memo);
        memo.client("2001:db8::1", Protocol::Http11);
        Format::Common.line(&e, &mut out, &mut memo);
        memo.client("2001:db8::1", Protocol::Http10);
        Format::Common.line(&e, &mut out, &mut memo);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "192.0.2.7 - - [05/Dec/2026:23:41:10 +0000] \"GET /a?b=1 HTTP/2.0\" 200 1234",
                "192.0.2.7 - - [05/Dec/2026:23:41:10 +0000] \"GET /a?b=1 HTTP/2.0\" 200 1234",
                "192.0.2.7 - - [05/Dec/2026:23:41:10 +0000] \"GET /a?b=1 HTTP/2.0\" 304 1234",
                "192.0.2.7 - - [05/Dec/2026:23:41:10 +0000] \"GET /a?b=1 HTTP/2.0\" 304 -",
                "192.0.2.7 - - [05/Dec/2026:23:41:10 +0000] \"GET /a?b=1 HTTP/2.0\" 304 -",
                "192.0.2.7 - - [05/Dec/2026:23:41:11 +0000] \"GET /a?b=1 HTTP/2.0\" 200 1234",
                "192.0.2.7 - - [05/Dec/2026:23:41:11 +0000] \"GET /b HTTP/2.0\" 200 1234",
                "192.0.2.7 - - [05/Dec/2026:23:41:11 +0000] \"HEAD /b HTTP/2.0\" 200 1234",
                "2001:db8::1 - - [05/Dec/2026:23:41:11 +0000] \"HEAD /b HTTP/1.1\" 200 1234",
                "2001:db8::1 - - [05/Dec/2026:23:41:11 +0000] \"HEAD /b HTTP/1.0\" 200 1234",
            ]
        );
    }

    #[test]
    fn spare_vectors_are_bounded_by_their_room() {
        let mut queue = Queue::default();
        queue.give_spare(Vec::with_capacity(SPARE_ENTRIES + 1));
        queue.give_spare(Vec::new());
        assert!(queue.spare.is_empty());
        for _ in 0..3 {
            queue.give_spare(Vec::with_capacity(SPARE_ENTRIES / 2));
        }
        assert_eq!(queue.spare.len(), 2);
        assert!(queue.spare_room <= SPARE_ENTRIES);
        let v = queue.take_spare();
        assert!(v.capacity() >= SPARE_ENTRIES / 2 && v.is_empty());
        assert_eq!(
            queue.spare_room,
            queue.spare.iter().map(Vec::capacity).sum::<usize>()
        );
        queue.take_spare();
        assert_eq!(queue.take_spare().capacity(), 0);
        assert_eq!(queue.spare_room, 0);
    }

    #[test]
    fn dates_and_addresses() {
        assert_eq!(clf_time(0), "01/Jan/1970:00:00:00 +0000");
        // 2024-02-29, a leap day.
        assert_eq!(rfc3339(1_709_164_800_123), "2024-02-29T00:00:00.123Z");
        assert_eq!(host_of("[::1]:443"), "::1");
        assert_eq!(host_of("127.0.0.1:80"), "127.0.0.1");
    }

    #[test]
    fn a_file_gets_every_line_and_is_reopened_after_a_rename() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let log = AccessLog::start(Format::Common, Destination::File(path.clone())).unwrap();
        let (a, b): (Arc<str>, Arc<str>) = ("192.0.2.7:50123".into(), "[::1]:443".into());
        // Two connections' turns, interleaved, and a single entry.
        let mut turn = Vec::new();
        for round in 0..3 {
            for peer in [&a, &b] {
                turn.extend((0..3).map(|_| entry()));
                log.record_all(peer, Protocol::Http2, &mut turn);
                assert!(turn.is_empty());
            }
            if round == 0 {
                log.record(&b, Protocol::Http11, entry());
            }
        }
        log.flush(Duration::from_secs(5));
        let rotated = dir.path().join("access.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        log.reopen();
        log.record(&a, Protocol::Http10, entry());
        log.flush(Duration::from_secs(5));
        let text = std::fs::read_to_string(&rotated).unwrap();
        let from = |client: &str, protocol: &str| {
            text.lines()
                .filter(|l| l.starts_with(&format!("{client} ")) && l.contains(protocol))
                .count()
        };
        assert_eq!(text.lines().count(), 19);
        assert_eq!(from("192.0.2.7", "HTTP/2.0"), 9);
        assert_eq!(from("::1", "HTTP/2.0"), 9);
        assert_eq!(from("::1", "HTTP/1.1"), 1);
        let reopened = std::fs::read_to_string(&path).unwrap();
        assert_eq!(reopened.lines().count(), 1);
        assert!(reopened.starts_with("192.0.2.7 - - ["), "{reopened}");
        assert!(reopened.contains("HTTP/1.0"), "{reopened}");
    }
}

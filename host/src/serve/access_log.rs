//! The access log: one line per request, in the common or combined log
//! format or as JSON, written off the serving path. A request's end keeps
//! its facts (no text; its times are its connection's turn's, so no clock
//! is read per request) with its connection, which hands a turn's worth
//! to the queue under one lock; a thread of the log's own takes the queue
//! whole every 100 ms (or sooner, when it fills past a batch), formats the
//! lines (each second's time once) and writes them in one `write`. A
//! connection never formats, never writes and never waits for the disk.
//!
//! Bounded: at most [`MAX_QUEUED`] entries wait; past that (a disk that
//! cannot keep up) entries are dropped and counted, and the count is
//! logged at warn once per batch. The file is opened for appending and
//! opened again on [`AccessLog::reopen`] (SIGUSR1 in the CLI), for
//! rotation: rename the file, signal, and the next batch goes to a new
//! one.

use crate::engine::convert::code_name;
use http::HeaderValue;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Entries that may wait for the writer.
pub const MAX_QUEUED: usize = 65_536;
/// Entries that wake the writer before its tick.
const BATCH: usize = 4096;
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
/// times per request), nothing formatted.
pub struct Entry {
    /// The client's address (`ip:port`).
    pub peer: Arc<str>,
    /// The request's method.
    pub method: http::Method,
    /// The request target (path and query; shares the request's bytes).
    pub target: Option<http::uri::PathAndQuery>,
    /// The protocol it came over.
    pub protocol: Protocol,
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

/// The access log (cheap to clone): each connection holds one.
#[derive(Clone)]
pub struct AccessLog(Arc<Shared>);

struct Shared {
    format: Format,
    queue: Mutex<Vec<Entry>>,
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
            queue: Mutex::new(Vec::new()),
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

    /// Queues `entry` for the writer (dropped, and counted, when
    /// [`MAX_QUEUED`] wait already).
    pub fn record(&self, entry: Entry) {
        self.enqueue(std::iter::once(entry), 1);
    }

    /// Queues every entry of `entries` (a connection's turn's worth),
    /// leaving it empty: one lock for them all.
    pub fn record_all(&self, entries: &mut Vec<Entry>) {
        let n = entries.len();
        if n > 0 {
            self.enqueue(entries.drain(..), n);
        }
    }

    /// Queues the `n` `entries` as far as [`MAX_QUEUED`] allows; the rest
    /// are dropped and counted.
    fn enqueue(&self, entries: impl Iterator<Item = Entry>, n: usize) {
        let mut queue = self.0.queue.lock().unwrap_or_else(|p| p.into_inner());
        let before = queue.len();
        let taken = n.min(MAX_QUEUED.saturating_sub(before));
        queue.extend(entries.take(taken));
        let wake = before < BATCH && queue.len() >= BATCH;
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
        let mut text = String::new();
        let mut batch = Vec::new();
        let mut clock = TimeCache::default();
        loop {
            {
                let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                let (mut queue, _) = self
                    .wake
                    .wait_timeout_while(queue, TICK, |q| {
                        q.len() < BATCH
                            && !self.reopen.load(Ordering::Relaxed)
                            && Arc::strong_count(&self) > 1
                    })
                    .unwrap_or_else(|p| p.into_inner());
                std::mem::swap(&mut *queue, &mut batch);
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
            for entry in &batch {
                self.format.line(entry, &mut text, &mut clock);
            }
            if !text.is_empty()
                && let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
            {
                tracing::error!("access log: {e}");
            }
            let n = batch.len() as u64;
            batch.clear();
            // A batch that grew large is not kept at that size.
            if batch.capacity() > BATCH * 2 {
                batch = Vec::new();
            }
            {
                let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
                *written += n;
                self.written_cv.notify_all();
            }
            // No handle left: nothing more can come.
            if Arc::strong_count(&self) == 1 {
                let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                if queue.is_empty() {
                    return;
                }
            }
        }
    }
}

/// The common log format's time of the last second formatted: lines
/// come in seconds, so each second is formatted once.
#[derive(Default)]
struct TimeCache {
    second: Option<u64>,
    text: String,
}

impl TimeCache {
    fn clf(&mut self, ms: u64) -> &str {
        let second = ms / 1000;
        if self.second != Some(second) {
            self.second = Some(second);
            self.text = clf_time(second);
        }
        &self.text
    }
}

impl Format {
    /// Appends `entry`'s line to `out` (pieces copied in, no formatting
    /// machinery: the writer does this for every request).
    fn line(self, e: &Entry, out: &mut String, clock: &mut TimeCache) {
        let host = host_of(&e.peer);
        let mut digits = itoa::Buffer::new();
        match self {
            Format::Common | Format::Combined => {
                out.push_str(host);
                out.push_str(" - - [");
                out.push_str(clock.clf(e.started_ms));
                out.push_str("] \"");
                out.push_str(e.method.as_str());
                out.push(' ');
                push_escaped(out, target(e).as_bytes());
                out.push(' ');
                out.push_str(e.protocol.as_str());
                out.push_str("\" ");
                out.push_str(digits.format(e.status));
                out.push(' ');
                if e.bytes == 0 {
                    out.push('-');
                } else {
                    out.push_str(digits.format(e.bytes));
                }
                if self == Format::Combined {
                    let (referer, user_agent) = match &e.fields {
                        Some(f) => (f.referer.as_ref(), f.user_agent.as_ref()),
                        None => (None, None),
                    };
                    for field in [referer, user_agent] {
                        out.push_str(" \"");
                        match field {
                            Some(v) => push_escaped(out, v.as_bytes()),
                            None => out.push('-'),
                        }
                        out.push('"');
                    }
                }
                out.push('\n');
            }
            Format::Json => {
                let text = |v: Option<&HeaderValue>| {
                    v.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                };
                let fields = e.fields.as_deref();
                let value = serde_json::json!({
                    "time": rfc3339(e.started_ms),
                    "client": host,
                    "method": e.method.as_str(),
                    "target": target(e),
                    "protocol": e.protocol.as_str(),
                    "status": e.status,
                    "bytes": e.bytes,
                    "duration_ms": f64::from(e.duration_us) / 1e3,
                    "referer": text(fields.and_then(|f| f.referer.as_ref())),
                    "user_agent": text(fields.and_then(|f| f.user_agent.as_ref())),
                    "reset": (e.reset != 0).then(|| code_name(e.reset)),
                });
                out.push_str(&value.to_string());
                out.push('\n');
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
fn push_escaped(out: &mut String, bytes: &[u8]) {
    if bytes
        .iter()
        .all(|&b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
    {
        // The usual case: printable ASCII, as it is.
        out.push_str(std::str::from_utf8(bytes).unwrap_or_default());
        return;
    }
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\x");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
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
            peer: "192.0.2.7:50123".into(),
            method: http::Method::GET,
            target: Some(http::uri::PathAndQuery::from_static("/a?b=1")),
            protocol: Protocol::Http2,
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

    #[test]
    fn lines_in_each_format() {
        let mut s = String::new();
        let mut clock = TimeCache::default();
        Format::Common.line(&entry(), &mut s, &mut clock);
        assert_eq!(
            s,
            "192.0.2.7 - - [05/Dec/2026:23:41:10 +0000] \"GET /a?b=1 HTTP/2.0\" 200 1234\n"
        );
        s.clear();
        Format::Combined.line(&entry(), &mut s, &mut clock);
        assert!(
            s.ends_with(" 200 1234 \"https://example.org/\" \"x\\\"y\\xff\"\n"),
            "{s}"
        );
        s.clear();
        Format::Json.line(&entry(), &mut s, &mut clock);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["time"], "2026-12-05T23:41:10.000Z");
        assert_eq!(v["client"], "192.0.2.7");
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
        s.clear();
        Format::Combined.line(&forged, &mut s, &mut clock);
        assert!(s.ends_with(" \"x\\\" 200 1\"\n"), "{s}");
        assert_eq!(s.lines().count(), 1);
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
        for _ in 0..10 {
            log.record(entry());
        }
        log.flush(Duration::from_secs(5));
        let rotated = dir.path().join("access.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        log.reopen();
        log.record(entry());
        log.flush(Duration::from_secs(5));
        let count = |p: &std::path::Path| std::fs::read_to_string(p).unwrap().lines().count();
        assert_eq!(count(&rotated), 10);
        assert_eq!(count(&path), 1);
    }
}

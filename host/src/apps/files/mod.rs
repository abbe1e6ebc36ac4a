//! Static files from a directory: index.html, content types, HEAD, single
//! byte ranges (206/416), ETag and Last-Modified validators (304), and
//! content codings (`coding`): precompressed siblings (`name.br`,
//! `name.zst`, `name.gz`) and, for text up to [`SMALL`], brotli and gzip
//! made once when the file is cached, chosen by `Accept-Encoding`. Paths
//! that would leave the directory are refused, and every file is opened
//! beneath the directory itself (cap-std: `openat2` with RESOLVE_BENEATH
//! where the kernel has it), so a symlink swapped in later cannot lead a
//! request, or a cached entry being checked again, out of it.

mod coding;

use crate::engine::clock::coarse_now;
use crate::service::body::Incoming;
use crate::service::{Http2Stream, PreparedHeaders, ResponseBody, ServeFile, empty, full, text};
use bytes::Bytes;
use coding::{Coding, MIN_COMPRESS, choose, compress, compressible};
use futures_util::future::{BoxFuture, Either, Ready, ready};
use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Files up to this size are kept in memory whole and answered at once
/// (no task, no open/read/close per request). Over HTTP/2 their octets
/// then go from this memory to the socket by vectored writes: one copy,
/// by the kernel, where a file read per request costs a second one.
const SMALL: u64 = 1024 * 1024;
/// How long cached facts about a file are trusted before its metadata is
/// checked again: a changed file is served at most this late.
const REVALIDATE: Duration = Duration::from_secs(1);
/// Bounds on the cache: entries (request paths) and cached body octets.
const CACHE_ENTRIES: usize = 4096;
const CACHE_BYTES: usize = 64 << 20;

/// What the cache knows about one file. Its path is relative to the
/// root and opened beneath it every time it is checked or read, so a
/// later symlink change cannot redirect a cached entry outside the root.
#[derive(Clone)]
struct FileInfo {
    /// The file, relative to the root (`index.html` added for a
    /// directory).
    path: String,
    len: u64,
    mtime: SystemTime,
    etag: String,
    last_modified: String,
    content_type: &'static str,
    /// The whole content, for files up to [`SMALL`].
    body: Option<Bytes>,
    /// The headers of a 200 for the whole file (and of a HEAD).
    whole: PreparedHeaders,
    /// Its encoded forms (at most one per coding); when there are any,
    /// every response for it says `Vary: Accept-Encoding`.
    variants: Vec<Arc<Variant>>,
    /// When the metadata was last read ([`coarse_now`]).
    checked: Duration,
}

/// One encoded form of a file: a precompressed sibling, or compressed
/// here when the file was cached. Never used for ranges.
struct Variant {
    coding: Coding,
    /// The sibling's path under the root, when it is one.
    sibling: Option<String>,
    len: u64,
    /// The encoded octets, when they are kept in memory (made here, or a
    /// sibling up to [`SMALL`]).
    body: Option<Bytes>,
    /// Strong, and its own: a cache keeps each coding apart.
    etag: String,
    /// The headers of a 200 (and of a HEAD).
    whole: PreparedHeaders,
}

/// Cached files by their request path made canonical (decoded, with `.`
/// and empty segments gone: see [`StaticFiles::resolve`]), so that every
/// spelling of one path shares one entry.
#[derive(Default)]
struct Cache {
    entries: HashMap<String, Arc<FileInfo>>,
    body_bytes: usize,
}

/// The static file service: a directory served with validators, ranges
/// and a cache of small files.
#[derive(Clone)]
pub struct StaticFiles {
    /// The served directory, open: every file is opened beneath it.
    root: Arc<cap_std::fs::Dir>,
    cache: Arc<Mutex<Cache>>,
    /// Page path → assets pushed with it.
    push: Arc<HashMap<String, Vec<String>>>,
    compression: Compression,
}

/// Which encoded forms of its files a [`StaticFiles`] sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// Precompressed siblings, and brotli and gzip made here for text up
    /// to 1 MiB (the default).
    #[default]
    On,
    /// Precompressed siblings only.
    Static,
    /// None: every file as it is.
    Off,
}

/// Pages with server push wait for their promises; everything else is
/// answered at once.
type Answer = Either<
    Ready<Result<Response<ResponseBody>, Infallible>>,
    BoxFuture<'static, Result<Response<ResponseBody>, Infallible>>,
>;

impl tower::Service<Request<Incoming>> for StaticFiles {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Answer {
        let page = req.uri().path();
        let pushes = req.method() == Method::GET
            && !self.push.is_empty()
            && self.push.contains_key(page)
            && req
                .extensions()
                .get::<Http2Stream>()
                .is_some_and(Http2Stream::push_allowed);
        if pushes {
            let files = self.clone();
            Either::Right(Box::pin(
                async move { Ok(files.serve_with_pushes(req).await) },
            ))
        } else {
            Either::Left(ready(Ok(self.reply(
                req.method(),
                req.uri(),
                req.headers(),
            ))))
        }
    }
}

impl StaticFiles {
    /// Serves `root`, which must be an existing directory.
    pub fn new(root: &Path) -> anyhow::Result<StaticFiles> {
        if !root.is_dir() {
            anyhow::bail!("cannot serve {}: not a directory", root.display());
        }
        let dir = cap_std::fs::Dir::open_ambient_dir(root, cap_std::ambient_authority())
            .map_err(|e| anyhow::anyhow!("cannot serve {}: {e}", root.display()))?;
        Ok(StaticFiles {
            root: Arc::new(dir),
            cache: Arc::default(),
            push: Arc::default(),
            compression: Compression::default(),
        })
    }

    /// Which encoded forms it sends ([`Compression::On`] unless told).
    pub fn with_compression(mut self, compression: Compression) -> StaticFiles {
        self.compression = compression;
        self
    }

    /// Server push: a GET for a page path (no query) in `rules` first
    /// pushes its assets (paths under the same root), as `h2wasm serve
    /// --push /=/style.css,/app.js` configures.
    pub fn with_push(mut self, rules: HashMap<String, Vec<String>>) -> StaticFiles {
        self.push = Arc::new(rules);
        self
    }

    /// Pushes the assets configured for this page (see
    /// [`StaticFiles::with_push`]), then answers the request.
    async fn serve_with_pushes(&self, req: Request<Incoming>) -> Response<ResponseBody> {
        let page = req.uri().path().to_string();
        if let (Some(stream), Some(assets)) =
            (req.extensions().get::<Http2Stream>(), self.push.get(&page))
        {
            for asset in assets.iter() {
                let mut uri = http::Uri::builder().path_and_query(asset.as_str());
                if let Some(s) = req.uri().scheme() {
                    uri = uri.scheme(s.clone());
                }
                if let Some(a) = req.uri().authority() {
                    uri = uri.authority(a.clone());
                }
                let Ok(uri) = uri.build() else { continue };
                let reply = self.reply(&Method::GET, &uri, &HeaderMap::new());
                // Only what exists is worth promising.
                if reply.status() != StatusCode::OK {
                    continue;
                }
                let promise = Request::get(uri).body(()).expect("a GET with a valid URI");
                if let Some(pushed) = stream.push(promise).await {
                    pushed.respond(reply).await;
                }
            }
        }
        self.reply(req.method(), req.uri(), req.headers())
    }

    /// The answer to a request, computed at once: cached files and their
    /// headers come from memory; larger files are read as they are sent.
    pub fn reply(
        &self,
        method: &Method,
        uri: &http::Uri,
        req: &HeaderMap,
    ) -> Response<ResponseBody> {
        if method != Method::GET && method != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        }
        let Some(info) = self.lookup(uri.path()) else {
            return text(StatusCode::NOT_FOUND, "not found\n");
        };
        // A range is always of the file as it is (RFC 9110 §14.1.1 lets
        // us choose; so do h2o and nginx).
        if !info.variants.is_empty()
            && !req.contains_key(header::RANGE)
            && let Some(coding) = choose(req.get(header::ACCEPT_ENCODING), |c| {
                info.variants.iter().any(|v| v.coding == c)
            })
            && let Some(variant) = info.variants.iter().find(|v| v.coding == coding)
            && let Some(response) = self.reply_encoded(method, req, &info, variant)
        {
            return response;
        }
        let len = info.len;
        if not_modified(req, &info.etag, info.mtime) {
            let mut h = HeaderMap::new();
            info.validators(&mut h);
            return with(StatusCode::NOT_MODIFIED, h, empty());
        }
        let (status, headers, start, count) = match req
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .map(|r| parse_range(r, len))
        {
            // The whole file's headers are prepared: not copied here.
            None | Some(RangeResult::Ignore) => (StatusCode::OK, None, 0, len),
            Some(RangeResult::Unsatisfiable) => {
                let mut h = HeaderMap::new();
                h.insert(header::CONTENT_RANGE, value(&format!("bytes */{len}")));
                return with(StatusCode::RANGE_NOT_SATISFIABLE, h, empty());
            }
            Some(RangeResult::Range(a, b)) => {
                let count = b - a + 1;
                let mut h = HeaderMap::new();
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(info.content_type),
                );
                info.validators(&mut h);
                h.insert(
                    header::CONTENT_RANGE,
                    value(&format!("bytes {a}-{b}/{len}")),
                );
                (StatusCode::PARTIAL_CONTENT, Some(h), a, count)
            }
        };
        let whole = start == 0 && count == len && status == StatusCode::OK;
        let prepared = &info.whole;
        let headers = move || headers.unwrap_or_else(|| prepared.headers().clone());
        if method == Method::HEAD || count == 0 {
            return match whole {
                true => info.whole.response(empty()),
                false => with(status, headers(), empty()),
            };
        }
        let range = usize::try_from(start)
            .ok()
            .zip(usize::try_from(start + count).ok());
        match (&info.body, range) {
            (Some(body), Some((a, b))) if b <= body.len() => {
                let body = full(body.slice(a..b));
                match whole {
                    // Prepared once per connection: see `PreparedHeaders`.
                    true => info.whole.response(body),
                    false => with(status, headers(), body),
                }
            }
            // Large files: over HTTP/2 the engine frames them and the pump
            // reads them straight into its output (host payload); over
            // HTTP/1.1 they are the body.
            _ => match self.root.open(&info.path) {
                Ok(file) => {
                    let file = file.into_std();
                    let mut headers = headers();
                    headers.remove(header::CONTENT_LENGTH);
                    ServeFile::open(file)
                        .range(start, Some(count))
                        .response(status, headers)
                }
                Err(e) => crate::service::file_failure(&e),
            },
        }
    }

    /// The whole file in `variant`'s coding; `None` if a sibling kept on
    /// disk has gone (the file is then sent as it is).
    fn reply_encoded(
        &self,
        method: &Method,
        req: &HeaderMap,
        info: &FileInfo,
        variant: &Variant,
    ) -> Option<Response<ResponseBody>> {
        if not_modified(req, &variant.etag, info.mtime) {
            let mut h = HeaderMap::new();
            h.insert(header::ETAG, value(&variant.etag));
            h.insert(header::LAST_MODIFIED, value(&info.last_modified));
            h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            return Some(with(StatusCode::NOT_MODIFIED, h, empty()));
        }
        if method == Method::HEAD {
            return Some(variant.whole.response(empty()));
        }
        if let Some(body) = &variant.body {
            return Some(variant.whole.response(full(body.clone())));
        }
        let file = self.root.open(variant.sibling.as_deref()?).ok()?.into_std();
        let mut headers = variant.whole.headers().clone();
        headers.remove(header::CONTENT_LENGTH);
        Some(
            ServeFile::open(file)
                .range(0, Some(variant.len))
                .response(StatusCode::OK, headers),
        )
    }

    /// The file for a request path, through the cache.
    fn lookup(&self, request_path: &str) -> Option<Arc<FileInfo>> {
        let key = Self::resolve(request_path)?;
        let now = coarse_now();
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.entries.get(key.as_ref()).cloned());
        if let Some(info) = &cached
            && now.saturating_sub(info.checked) < REVALIDATE
        {
            return Some(info.clone());
        }
        // Opened afresh beneath the root each time it is checked: what the
        // path leads to now, never outside the root.
        let (path, file, meta) = self.open(&key)?;
        let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
        let info = match cached {
            Some(old) if old.path == path && old.len == meta.len() && old.mtime == mtime => {
                FileInfo {
                    checked: now,
                    ..(*old).clone()
                }
            }
            _ => FileInfo::load(
                &self.root,
                self.compression,
                path,
                file,
                meta.len(),
                mtime,
                now,
            )?,
        };
        let info = Arc::new(info);
        if let Ok(mut c) = self.cache.lock() {
            c.insert(&key, info.clone());
        }
        Some(info)
    }

    /// Opens the file `rel` names beneath the root (`index.html` for a
    /// directory): its path, the open file and its metadata, or `None` if
    /// there is none or reaching it would leave the root (`..` through a
    /// symlink, a symlink to an absolute path).
    fn open(&self, rel: &str) -> Option<(String, std::fs::File, std::fs::Metadata)> {
        let open = |path: &str| {
            let file = self.root.open(path).ok()?.into_std();
            let meta = file.metadata().ok()?;
            Some((file, meta))
        };
        let index = match rel.is_empty() {
            // The root itself.
            true => "index.html".to_string(),
            false => {
                let (file, meta) = open(rel)?;
                if meta.is_file() {
                    return Some((rel.to_string(), file, meta));
                }
                if !meta.is_dir() {
                    return None;
                }
                format!("{rel}/index.html")
            }
        };
        let (file, meta) = open(&index)?;
        meta.is_file().then_some((index, file, meta))
    }

    /// A request path made canonical and relative to the root: decoded,
    /// without empty and `.` segments (`//a/./b` and `/a/b` are one
    /// file), or `None` if it is malformed or has a `..` segment. Where it
    /// leads on disk is for [`StaticFiles::open`] to find out.
    fn resolve(request_path: &str) -> Option<Cow<'_, str>> {
        // Most paths are canonical already: then the key is the path
        // itself, found without decoding or allocating.
        if let Some(rel) = request_path.strip_prefix('/')
            && is_canonical(rel)
        {
            return Some(Cow::Borrowed(rel));
        }
        let path = request_path.split(['?', '#']).next().unwrap_or("/");
        let decoded = percent_decode(path)?;
        let mut rel = String::with_capacity(decoded.len());
        for part in decoded.split('/') {
            match part {
                "" | "." => {}
                ".." => return None,
                p if p.contains('\\') || p.contains('\0') => return None,
                p => {
                    if !rel.is_empty() {
                        rel.push('/');
                    }
                    rel.push_str(p);
                }
            }
        }
        Some(Cow::Owned(rel))
    }
}

/// Whether `rel` (a request path without its leading `/`) is already
/// what [`StaticFiles::resolve`] would make of it: segments that are not
/// empty, `.` or `..`, with nothing to decode and nothing to refuse.
fn is_canonical(rel: &str) -> bool {
    if rel.is_empty() {
        return true;
    }
    rel.split('/').all(|segment| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && !segment
                .bytes()
                .any(|b| matches!(b, b'%' | b'?' | b'#' | b'\\' | 0))
    })
}

impl FileInfo {
    /// What to cache about `file` (open, at `path` under the root): its
    /// validators and headers, and its content if it is small. Read from
    /// the handle that was checked, not by path again.
    fn load(
        root: &cap_std::fs::Dir,
        compression: Compression,
        path: String,
        mut file: std::fs::File,
        len: u64,
        mtime: SystemTime,
        now: Duration,
    ) -> Option<FileInfo> {
        let mtime_ns = mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let body = if len <= SMALL {
            let mut buf = Vec::with_capacity(usize::try_from(len).ok()?);
            file.read_to_end(&mut buf).ok()?;
            // Changed while we read: the next request looks again.
            (buf.len() as u64 == len).then(|| Bytes::from(buf))
        } else {
            None
        };
        let etag = format!("\"{len:x}-{mtime_ns:x}\"");
        let last_modified = httpdate::fmt_http_date(mtime);
        let content_type = content_type(Path::new(&path));
        let encoded = Encoded {
            content_type,
            last_modified: &last_modified,
            mtime,
        };
        let mut variants = Vec::new();
        for coding in Coding::ALL {
            if compression == Compression::Off {
                break;
            }
            let variant = match encoded.sibling(root, &path, coding) {
                Some(v) => Some(v),
                None if compression == Compression::On => body
                    .as_ref()
                    .and_then(|b| encoded.made(coding, b, &etag, len)),
                None => None,
            };
            variants.extend(variant.map(Arc::new));
        }
        let mut whole = HeaderMap::new();
        whole.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        whole.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        validator_headers(&etag, &last_modified, &mut whole);
        if !variants.is_empty() {
            whole.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        Some(FileInfo {
            content_type,
            path,
            len,
            mtime,
            etag,
            last_modified,
            body,
            whole: PreparedHeaders::new(StatusCode::OK, whole),
            variants,
            checked: now,
        })
    }

    /// ETag, Last-Modified and Accept-Ranges (and Vary, when the file has
    /// encoded forms): sent with 200, 206 and 304.
    fn validators(&self, headers: &mut HeaderMap) {
        validator_headers(&self.etag, &self.last_modified, headers);
        if !self.variants.is_empty() {
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
    }

    /// Octets it keeps in memory: the file's and its encoded forms'.
    fn kept(&self) -> usize {
        let variants: usize = self
            .variants
            .iter()
            .filter_map(|v| v.body.as_ref().map(Bytes::len))
            .sum();
        self.body.as_ref().map_or(0, Bytes::len) + variants
    }
}

/// What every encoded form of one file shares.
struct Encoded<'a> {
    content_type: &'static str,
    last_modified: &'a str,
    mtime: SystemTime,
}

impl Encoded<'_> {
    /// `path`'s precompressed sibling in `coding`, if there is one no
    /// older than the file (an older one is stale: the file was rebuilt
    /// and its sibling not).
    fn sibling(&self, root: &cap_std::fs::Dir, path: &str, coding: Coding) -> Option<Variant> {
        let sibling = format!("{path}{}", coding.suffix());
        let mut file = root.open(&sibling).ok()?.into_std();
        let meta = file.metadata().ok()?;
        let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
        if !meta.is_file() || mtime < self.mtime {
            return None;
        }
        let len = meta.len();
        let body = if len <= SMALL {
            let mut buf = Vec::with_capacity(usize::try_from(len).ok()?);
            file.read_to_end(&mut buf).ok()?;
            Some(Bytes::from(buf)).filter(|b| b.len() as u64 == len)
        } else {
            None
        };
        let mtime_ns = mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let etag = format!("\"{len:x}-{mtime_ns:x}-{}\"", coding.token());
        Some(self.variant(coding, Some(sibling), len, body, etag))
    }

    /// `body` (the file, `len` octets, tagged `etag`) compressed here in
    /// `coding`, if the type is text, the file not tiny, and the result
    /// at least 5% smaller.
    fn made(&self, coding: Coding, body: &Bytes, etag: &str, len: u64) -> Option<Variant> {
        if !coding.made_here() || !compressible(self.content_type) || len < MIN_COMPRESS {
            return None;
        }
        let encoded = compress(coding, body)?;
        if encoded.len() as u64 > len - len / 20 {
            return None;
        }
        let tag = format!("{}-{}\"", etag.trim_end_matches('"'), coding.token());
        let n = encoded.len() as u64;
        Some(self.variant(coding, None, n, Some(Bytes::from(encoded)), tag))
    }

    fn variant(
        &self,
        coding: Coding,
        sibling: Option<String>,
        len: u64,
        body: Option<Bytes>,
        etag: String,
    ) -> Variant {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        h.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static(coding.token()),
        );
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        h.insert(header::ETAG, value(&etag));
        h.insert(header::LAST_MODIFIED, value(self.last_modified));
        Variant {
            coding,
            sibling,
            len,
            body,
            etag,
            whole: PreparedHeaders::new(StatusCode::OK, h),
        }
    }
}

fn validator_headers(etag: &str, last_modified: &str, headers: &mut HeaderMap) {
    headers.insert(header::ETAG, value(etag));
    headers.insert(header::LAST_MODIFIED, value(last_modified));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
}

/// A header value made of text we built (dates, tags, ranges): always
/// valid.
fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn with(status: StatusCode, headers: HeaderMap, body: ResponseBody) -> Response<ResponseBody> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r
}

impl Cache {
    fn insert(&mut self, request_path: &str, info: Arc<FileInfo>) {
        let size = FileInfo::kept;
        let added = size(&info);
        if let Some(old) = self.entries.remove(request_path) {
            self.body_bytes = self.body_bytes.saturating_sub(size(&old));
        }
        if self.entries.len() >= CACHE_ENTRIES || self.body_bytes + added > CACHE_BYTES {
            self.entries.clear();
            self.body_bytes = 0;
        }
        self.body_bytes += added;
        self.entries.insert(request_path.to_string(), info);
    }
}

fn not_modified(req: &HeaderMap, etag: &str, mtime: SystemTime) -> bool {
    let header = |name: HeaderName| req.get(name).and_then(|v| v.to_str().ok());
    if let Some(inm) = header(header::IF_NONE_MATCH) {
        return inm
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag);
    }
    match header(header::IF_MODIFIED_SINCE).and_then(|v| httpdate::parse_http_date(v).ok()) {
        // HTTP dates have one-second resolution.
        Some(since) => mtime
            .duration_since(UNIX_EPOCH)
            .ok()
            .zip(since.duration_since(UNIX_EPOCH).ok())
            .is_some_and(|(m, s)| m.as_secs() <= s.as_secs()),
        None => false,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum RangeResult {
    /// Serve the whole file (no range, several ranges, or a syntax we do
    /// not support — all allowed by RFC 9110 §14.2).
    Ignore,
    Unsatisfiable,
    /// Inclusive first and last byte.
    Range(u64, u64),
}

fn parse_range(value: &str, len: u64) -> RangeResult {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeResult::Ignore;
    };
    if spec.contains(',') {
        return RangeResult::Ignore;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeResult::Ignore;
    };
    let num = |s: &str| s.trim().parse::<u64>().ok();
    match (a.trim().is_empty(), num(a), num(b)) {
        // bytes=-N: the last N bytes.
        (true, _, Some(n)) => {
            if n == 0 || len == 0 {
                RangeResult::Unsatisfiable
            } else {
                RangeResult::Range(len.saturating_sub(n), len - 1)
            }
        }
        (false, Some(start), end) if b.trim().is_empty() || end.is_some() => {
            if start >= len {
                return RangeResult::Unsatisfiable;
            }
            let last = end.map_or(len - 1, |e| e.min(len - 1));
            if last < start {
                RangeResult::Ignore
            } else {
                RangeResult::Range(start, last)
            }
        }
        _ => RangeResult::Ignore,
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "mp4" => "video/mp4",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeResult::Range(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), RangeResult::Range(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), RangeResult::Range(90, 99));
        assert_eq!(parse_range("bytes=-500", 100), RangeResult::Range(0, 99));
        assert_eq!(parse_range("bytes=50-500", 100), RangeResult::Range(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeResult::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeResult::Ignore);
        assert_eq!(parse_range("items=0-1", 100), RangeResult::Ignore);
        assert_eq!(parse_range("bytes=9-3", 100), RangeResult::Ignore);
        assert_eq!(parse_range("bytes=-0", 100), RangeResult::Unsatisfiable);
    }

    #[test]
    fn request_paths_are_made_canonical_and_dot_dot_is_refused() {
        let r = StaticFiles::resolve;
        for alias in [
            "/one.bin",
            "//one.bin",
            "/./one.bin",
            "/%6fne.bin",
            "/one.bin?x=1",
        ] {
            assert_eq!(r(alias).as_deref(), Some("one.bin"), "{alias}");
        }
        assert_eq!(r("/a//b/./c/").as_deref(), Some("a/b/c"));
        assert_eq!(r("/").as_deref(), Some(""));
        for bad in [
            "/../etc/passwd",
            "/a/../b",
            "/%2e%2e/x",
            "/a%5cb",
            "/%00",
            "/%zz",
        ] {
            assert_eq!(r(bad), None, "{bad}");
        }
    }

    #[test]
    fn files_open_beneath_the_root_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.txt"), "a").unwrap();
        std::fs::write(root.join("index.html"), "i").unwrap();
        std::fs::write(dir.path().join("outside.txt"), "secret").unwrap();
        std::os::unix::fs::symlink("../outside.txt", root.join("up")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.txt"), root.join("abs")).unwrap();
        std::os::unix::fs::symlink("sub/a.txt", root.join("inside")).unwrap();
        let files = StaticFiles::new(&root).unwrap();
        let path = |p: &str| files.open(p).map(|(path, _, _)| path);
        assert_eq!(path("sub/a.txt").as_deref(), Some("sub/a.txt"));
        assert_eq!(path("").as_deref(), Some("index.html"));
        assert_eq!(
            path("inside").as_deref(),
            Some("inside"),
            "a link within the root"
        );
        assert_eq!(path("up"), None, "a relative link out of the root");
        assert_eq!(path("abs"), None, "an absolute link");
        assert_eq!(path("missing"), None);
        assert_eq!(path("sub"), None, "a directory without index.html");
    }

    /// Every spelling of one path is one cache entry: 1,000 distinct
    /// aliases of a 1 MB file read and keep it once.
    #[test]
    fn aliases_of_one_file_share_one_cache_entry() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("one.bin"), vec![7u8; 1_000_000]).unwrap();
        let files = StaticFiles::new(dir.path()).unwrap();
        for i in 0..1000 {
            let alias = match i % 4 {
                0 => format!("{}one.bin", "/".repeat(1 + i / 4)),
                1 => format!("{}one.bin", "/.".repeat(1 + i / 4) + "/"),
                2 => format!("/%6fne.bin?v={i}"),
                _ => format!("/{}one.bin", "./".repeat(i / 4)),
            };
            let uri: http::Uri = alias.parse().unwrap();
            let r = files.reply(&Method::HEAD, &uri, &HeaderMap::new());
            assert_eq!(r.status(), StatusCode::OK, "{alias}");
        }
        let cache = files.cache.lock().unwrap();
        assert_eq!(cache.entries.len(), 1);
        assert_eq!(cache.body_bytes, 1_000_000);
    }

    /// After `/sub/secret.txt` is cached, `sub/` is replaced by a symlink
    /// to a directory outside the root: once the entry is checked again,
    /// the path is refused, never served from outside (small files are
    /// cached whole, large ones opened per request).
    #[test]
    fn a_cached_path_never_follows_a_swapped_symlink_out_of_the_root() {
        for len in [6, 2 << 20] {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("root");
            let outside = dir.path().join("outside");
            std::fs::create_dir_all(root.join("sub")).unwrap();
            std::fs::create_dir_all(&outside).unwrap();
            std::fs::write(root.join("sub/secret.txt"), vec![b'i'; len]).unwrap();
            std::fs::write(outside.join("secret.txt"), vec![b'o'; len + 1]).unwrap();
            let files = StaticFiles::new(&root).unwrap();
            let uri: http::Uri = "/sub/secret.txt".parse().unwrap();
            let get = || files.reply(&Method::GET, &uri, &HeaderMap::new());
            assert_eq!(get().status(), StatusCode::OK);
            std::fs::rename(root.join("sub"), dir.path().join("old-sub")).unwrap();
            std::os::unix::fs::symlink(&outside, root.join("sub")).unwrap();
            // Past the revalidation interval.
            std::thread::sleep(REVALIDATE + Duration::from_millis(100));
            let r = get();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{len} octets");
            // A fresh alias is refused as well.
            let alias: http::Uri = "//sub/./secret.txt".parse().unwrap();
            let r = files.reply(&Method::GET, &alias, &HeaderMap::new());
            assert_eq!(r.status(), StatusCode::NOT_FOUND);
        }
    }

    /// Encoded forms are made when the file is cached, kept with it and
    /// counted toward the cache's bytes; `Off` makes none (and says no
    /// `Vary`), `Static` only takes siblings.
    #[test]
    fn encoded_forms_are_made_once_and_counted_in_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let css: String = (0..2000)
            .map(|i| format!(".c{i} {{ margin: {}px }}\n", i % 9))
            .collect();
        std::fs::write(dir.path().join("a.css"), &css).unwrap();
        let uri: http::Uri = "/a.css".parse().unwrap();
        let mut accept = HeaderMap::new();
        accept.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("br"));
        let encoding = |r: &Response<ResponseBody>| {
            r.headers()
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let files = StaticFiles::new(dir.path()).unwrap();
        for _ in 0..3 {
            let r = files.reply(&Method::GET, &uri, &accept);
            assert_eq!(encoding(&r).as_deref(), Some("br"));
        }
        let cache = files.cache.lock().unwrap();
        let info = cache.entries.get("a.css").unwrap();
        let codings: Vec<_> = info.variants.iter().map(|v| v.coding).collect();
        assert_eq!(codings, [Coding::Br, Coding::Gzip]);
        let encoded: usize = info
            .variants
            .iter()
            .map(|v| v.body.as_ref().unwrap().len())
            .sum();
        assert!(encoded < css.len() / 4, "{encoded} of {}", css.len());
        assert_eq!(cache.body_bytes, css.len() + encoded);
        drop(cache);
        for mode in [Compression::Off, Compression::Static] {
            let files = StaticFiles::new(dir.path()).unwrap().with_compression(mode);
            let r = files.reply(&Method::GET, &uri, &accept);
            assert_eq!(encoding(&r), None, "{mode:?}");
            assert_eq!(r.headers().get(header::VARY), None, "{mode:?}");
            assert_eq!(files.cache.lock().unwrap().body_bytes, css.len());
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(percent_decode("/a%2"), None);
        assert_eq!(percent_decode("/a%zz"), None);
    }
}

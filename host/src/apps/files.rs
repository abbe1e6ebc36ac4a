//! Static files from a directory: index.html, content types, HEAD, single
//! byte ranges (206/416), ETag and Last-Modified validators (304). Paths
//! that would leave the directory are refused.

use crate::app::{Header, Request, Responder, headers};
use bytes::BytesMut;
use std::io::{Read, Seek};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

const CHUNK: usize = 64 * 1024;

/// Resolved paths kept per request path: resolving canonicalises (several
/// syscalls per component), which would otherwise dominate small files.
/// Cached targets are canonical, so later symlink changes cannot redirect
/// them outside the root; a vanished file falls back to resolving again.
const RESOLVE_CACHE: usize = 4096;

#[derive(Clone)]
pub struct StaticFiles {
    root: Arc<PathBuf>,
    resolved: Arc<std::sync::Mutex<std::collections::HashMap<String, PathBuf>>>,
}

impl StaticFiles {
    /// Serves `root`, which must be an existing directory.
    pub fn new(root: &Path) -> anyhow::Result<StaticFiles> {
        let root = root
            .canonicalize()
            .map_err(|e| anyhow::anyhow!("cannot serve {}: {e}", root.display()))?;
        if !root.is_dir() {
            anyhow::bail!("cannot serve {}: not a directory", root.display());
        }
        Ok(StaticFiles {
            root: Arc::new(root),
            resolved: Arc::default(),
        })
    }

    pub async fn handle(&self, req: Request) {
        let method = req.method().to_string();
        if method != "GET" && method != "HEAD" {
            return simple(&req.responder, "405", "method not allowed\n").await;
        }
        // Plain blocking calls: for files in the page cache they cost far
        // less than a hop through tokio's blocking thread pool.
        let Some((path, meta)) = self.lookup(req.path()) else {
            return simple(&req.responder, "404", "not found\n").await;
        };
        let len = meta.len();
        let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
        let mtime_ns = mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let etag = format!("\"{len:x}-{mtime_ns:x}\"");
        let last_modified = httpdate::fmt_http_date(mtime);
        let mut h = headers([("content-type", content_type(&path))]);
        h.push(("etag".into(), etag.clone().into_bytes()));
        h.push(("last-modified".into(), last_modified.into_bytes()));
        h.push(("accept-ranges".into(), b"bytes".to_vec()));
        if not_modified(&req, &etag, mtime) {
            let mut r = headers([(":status", "304")]);
            r.extend(h.into_iter().filter(|(n, _)| n != "content-type"));
            return req.responder.respond_empty(r).await;
        }
        let (status, start, count) = match req.header("range").map(|r| parse_range(r, len)) {
            None | Some(RangeResult::Ignore) => ("200", 0, len),
            Some(RangeResult::Unsatisfiable) => {
                let mut r = headers([(":status", "416")]);
                r.push((
                    "content-range".into(),
                    format!("bytes */{len}").into_bytes(),
                ));
                return req.responder.respond_empty(r).await;
            }
            Some(RangeResult::Range(a, b)) => {
                h.push((
                    "content-range".into(),
                    format!("bytes {a}-{b}/{len}").into_bytes(),
                ));
                ("206", a, b - a + 1)
            }
        };
        let mut response: Vec<Header> = headers([(":status", status)]);
        response.push(("content-length".into(), count.to_string().into_bytes()));
        response.extend(h);
        if method == "HEAD" || count == 0 {
            return req.responder.respond_empty(response).await;
        }
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(_) => return simple(&req.responder, "404", "not found\n").await,
        };
        if start > 0 && file.seek(std::io::SeekFrom::Start(start)).is_err() {
            return req.responder.reset(2).await;
        }
        if count <= CHUNK as u64 {
            // Small files go out as one command: headers, body, end.
            let mut buf = BytesMut::zeroed(count as usize);
            if file.read_exact(&mut buf).is_err() {
                return req.responder.reset(2).await;
            }
            return req.responder.respond_bytes(response, buf.freeze()).await;
        }
        let mut writer = req.responder.respond(response, false).await;
        let mut left = count;
        while left > 0 {
            let want = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
            let mut buf = BytesMut::zeroed(want);
            match file.read(&mut buf) {
                Ok(0) | Err(_) => {
                    // The file shrank or failed under us: the promised
                    // length cannot be met, so the stream must not end cleanly.
                    drop(writer);
                    return req.responder.reset(2).await;
                }
                Ok(n) => {
                    buf.truncate(n);
                    left -= n as u64;
                    if !writer.write(buf.freeze()).await {
                        return;
                    }
                }
            }
        }
    }

    /// The file for a request path and its metadata, through the cache.
    fn lookup(&self, request_path: &str) -> Option<(PathBuf, std::fs::Metadata)> {
        let cached = self
            .resolved
            .lock()
            .ok()
            .and_then(|m| m.get(request_path).cloned());
        if let Some(path) = cached
            && let Ok(meta) = std::fs::metadata(&path)
            && meta.is_file()
        {
            return Some((path, meta));
        }
        let path = self.resolve(request_path)?;
        let meta = std::fs::metadata(&path).ok()?;
        if let Ok(mut m) = self.resolved.lock() {
            if m.len() >= RESOLVE_CACHE {
                m.clear();
            }
            m.insert(request_path.to_string(), path.clone());
        }
        Some((path, meta))
    }

    /// Maps a request path onto a file under the root, or `None` if it
    /// would escape it (`..`, symlinks out) or is malformed.
    fn resolve(&self, request_path: &str) -> Option<PathBuf> {
        let path = request_path.split(['?', '#']).next().unwrap_or("/");
        let decoded = percent_decode(path)?;
        let mut rel = PathBuf::new();
        for part in decoded.split('/') {
            match part {
                "" | "." => {}
                ".." => return None,
                p if p.contains('\\') || p.contains('\0') => return None,
                p => rel.push(p),
            }
        }
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return None;
        }
        let mut full = self.root.join(&rel);
        if full.is_dir() {
            full.push("index.html");
        }
        let canon = full.canonicalize().ok()?;
        (canon.starts_with(self.root.as_ref()) && canon.is_file()).then_some(canon)
    }
}

async fn simple(responder: &Responder, status: &str, body: &'static str) {
    let len = body.len().to_string();
    responder
        .respond_bytes(
            headers([
                (":status", status),
                ("content-type", "text/plain"),
                ("content-length", &len),
            ]),
            bytes::Bytes::from_static(body.as_bytes()),
        )
        .await;
}

fn not_modified(req: &Request, etag: &str, mtime: SystemTime) -> bool {
    if let Some(inm) = req.header("if-none-match") {
        return inm
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag);
    }
    match req
        .header("if-modified-since")
        .and_then(|v| httpdate::parse_http_date(v).ok())
    {
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
    fn paths_cannot_escape() {
        let dir = std::env::temp_dir().join(format!("h2wasm-files-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/a.txt"), "a").unwrap();
        std::fs::write(dir.join("index.html"), "i").unwrap();
        let files = StaticFiles::new(&dir).unwrap();
        assert!(files.resolve("/sub/a.txt").is_some());
        assert!(files.resolve("/sub/%61.txt").is_some());
        assert!(files.resolve("/").unwrap().ends_with("index.html"));
        assert!(files.resolve("/../etc/passwd").is_none());
        assert!(files.resolve("/sub/../../etc/passwd").is_none());
        assert!(files.resolve("/%2e%2e/etc/passwd").is_none());
        assert!(files.resolve("/sub/%00").is_none());
        assert!(files.resolve("/missing").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(percent_decode("/a%2"), None);
        assert_eq!(percent_decode("/a%zz"), None);
    }
}

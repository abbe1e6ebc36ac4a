//! Static files in content codings: precompressed siblings (`.br`,
//! `.zst`, `.gz`) and brotli/gzip made once for text, chosen by
//! `Accept-Encoding` with its q-values; `Vary`, distinct strong ETags,
//! no coding for ranges, tiny files or compressed types, HEAD as GET.
//! Seen by curl (h2c and HTTP/1.1) and by headless Chromium over h2.

mod common;

use common::*;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

/// Text that compresses as real CSS or JS does (not a single repeat).
fn text(lines: usize, word: &str) -> String {
    (0..lines)
        .map(|i| {
            format!(
                ".{word}-{i} {{ margin: {}px; color: #{:06x}; }}\n",
                i % 17,
                i * 7919 % 0xffffff
            )
        })
        .collect()
}

/// Text that gzip cannot shrink much: 2 MiB of pseudo-random letters.
fn noisy(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 80 == 79 {
                b'\n'
            } else {
                b'a' + (x % 26) as u8
            }
        })
        .collect()
}

fn brotli(data: &[u8], quality: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, quality, 22);
        w.write_all(data).unwrap();
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

fn unbrotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(data, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn ungzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// A response as curl saw it: status, headers (lower-case names), body.
struct Seen {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `curl` with `args` (no decoding unless asked), headers and body apart.
fn curl(args: &[&str]) -> Seen {
    let dir = scratch_dir("h2wasm-curl-");
    let head = dir.path().join("head");
    let body = dir.path().join("body");
    let o = run(Command::new("curl")
        .args(["-sS", "--max-time", "20", "-D"])
        .arg(&head)
        .arg("-o")
        .arg(&body)
        .args(args));
    assert!(o.status.success(), "curl {args:?}: {}", stderr(&o));
    let head = std::fs::read_to_string(&head).unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Seen {
        status,
        headers,
        body: std::fs::read(&body).unwrap_or_default(),
    }
}

fn site(dir: &Path) {
    let css = text(400, "box");
    std::fs::write(dir.join("style.css"), &css).unwrap();
    std::fs::write(dir.join("tiny.txt"), "small\n").unwrap();
    // A PNG's worth of octets: never compressed, whatever they hold.
    std::fs::write(dir.join("image.png"), text(100, "png")).unwrap();
    // A sibling made ahead at quality 11 (not what the server makes).
    let js = text(300, "js");
    std::fs::write(dir.join("pre.js"), &js).unwrap();
    std::fs::write(dir.join("pre.js.br"), brotli(js.as_bytes(), 11)).unwrap();
    // A zstd sibling: served as it is (the server makes no zstd).
    std::fs::write(dir.join("pre.js.zst"), b"(zstd octets)").unwrap();
    // A stale sibling, older than its file: ignored.
    let old = text(200, "old");
    std::fs::write(dir.join("stale.css"), &old).unwrap();
    let stale = dir.join("stale.css.gz");
    std::fs::write(&stale, gzip(b"not the file")).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    // Over 1 MiB: nothing made here, but its .gz sibling (also over
    // 1 MiB) is sent from disk.
    let big = noisy(2 << 20);
    std::fs::write(dir.join("big.txt"), &big).unwrap();
    std::fs::write(dir.join("big.txt.gz"), gzip(&big)).unwrap();
}

#[test]
fn codings_follow_accept_encoding_over_h2_and_http1() {
    let dir = scratch_dir("h2wasm-coding-");
    site(dir.path());
    let server = ServeProcess::start(
        &["--h2c", "--access-log", "off", dir.path().to_str().unwrap()],
        false,
    );
    let url = |p: &str| format!("http://{}{p}", server.addr);
    let css = std::fs::read(dir.path().join("style.css")).unwrap();
    for proto in ["--http2-prior-knowledge", "--http1.1"] {
        let get = |path: &str, accept: &str, extra: &[&str]| {
            let mut args = vec![proto, "-H"];
            let h = format!("accept-encoding: {accept}");
            args.push(&h);
            args.extend_from_slice(extra);
            let u = url(path);
            args.push(&u);
            curl(&args)
        };
        // Chromium's field: br.
        let br = get("/style.css", "gzip, deflate, br, zstd", &[]);
        assert_eq!(br.status, 200);
        assert_eq!(br.header("content-encoding"), Some("br"), "{proto}");
        assert_eq!(br.header("vary"), Some("accept-encoding"));
        assert_eq!(unbrotli(&br.body), css);
        assert!(
            br.body.len() < css.len() / 4,
            "{} of {}",
            br.body.len(),
            css.len()
        );
        assert_eq!(
            br.header("content-length"),
            Some(br.body.len().to_string().as_str())
        );
        // q-values: gzip preferred.
        let gz = get("/style.css", "br;q=0.5, gzip;q=0.9", &[]);
        assert_eq!(gz.header("content-encoding"), Some("gzip"));
        assert_eq!(ungzip(&gz.body), css);
        // Only identity: the file as it is, still with Vary.
        let plain = get("/style.css", "identity", &[]);
        assert_eq!(plain.header("content-encoding"), None);
        assert_eq!(plain.header("vary"), Some("accept-encoding"));
        assert_eq!(plain.body, css);
        // Three representations, three strong tags.
        let tags = [&br, &gz, &plain].map(|s| s.header("etag").unwrap().to_string());
        assert!(tags.iter().all(|t| t.starts_with('"')), "{tags:?}");
        assert!(
            tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2],
            "{tags:?}"
        );
        // Revalidation per coding.
        let inm = format!("if-none-match: {}", tags[0]);
        assert_eq!(get("/style.css", "br", &["-H", &inm]).status, 304);
        assert_eq!(get("/style.css", "gzip", &["-H", &inm]).status, 200);
        // HEAD says what GET sends.
        let head = get("/style.css", "br", &["-I"]);
        assert_eq!(head.header("content-encoding"), Some("br"));
        assert_eq!(head.header("content-length"), br.header("content-length"));
        // A range is of the file itself.
        let range = get("/style.css", "br, gzip", &["-H", "range: bytes=0-9"]);
        assert_eq!(range.status, 206);
        assert_eq!(range.header("content-encoding"), None);
        assert_eq!(range.header("vary"), Some("accept-encoding"));
        assert_eq!(range.body, css[..10]);
        // Not worth it: a tiny file, an image.
        for path in ["/tiny.txt", "/image.png"] {
            let s = get(path, "br, gzip", &[]);
            assert_eq!(s.header("content-encoding"), None, "{path}");
            assert_eq!(s.header("vary"), None, "{path}");
        }
        // Siblings: the .br as it is on disk, the .zst for zstd alone.
        let pre = get("/pre.js", "br, gzip", &[]);
        assert_eq!(pre.header("content-encoding"), Some("br"));
        assert_eq!(
            pre.body,
            std::fs::read(dir.path().join("pre.js.br")).unwrap()
        );
        let zst = get("/pre.js", "zstd", &[]);
        assert_eq!(zst.header("content-encoding"), Some("zstd"));
        assert_eq!(zst.body, b"(zstd octets)");
        // A stale sibling is passed over: gzip made here instead.
        let stale = get("/stale.css", "gzip", &[]);
        assert_eq!(stale.header("content-encoding"), Some("gzip"));
        assert_eq!(
            ungzip(&stale.body),
            std::fs::read(dir.path().join("stale.css")).unwrap()
        );
        // Over 1 MiB: the sibling from disk; no brotli made.
        let big = get("/big.txt", "gzip", &[]);
        assert_eq!(big.header("content-encoding"), Some("gzip"));
        assert_eq!(
            big.body,
            std::fs::read(dir.path().join("big.txt.gz")).unwrap()
        );
        let big = get("/big.txt", "br", &[]);
        assert_eq!(big.header("content-encoding"), None);
        assert_eq!(big.body.len(), 2 << 20);
    }
    // curl --compressed decodes what it asked for.
    let o = run(Command::new("curl")
        .args(["-sS", "--compressed", "--http2-prior-knowledge"])
        .arg(url("/style.css")));
    assert_eq!(o.stdout, css);
}

/// Headless Chromium loads a page over h2 (TLS): its stylesheet and
/// script arrive compressed (resource timing's encoded size is below the
/// decoded one) and work (the script sees the stylesheet's colour).
#[test]
fn chromium_gets_css_and_js_compressed_and_renders() {
    let dir = scratch_dir("h2wasm-coding-page-");
    let d = dir.path();
    std::fs::write(
        d.join("index.html"),
        "<!doctype html><html><head><link rel=stylesheet href=/style.css></head>\
         <body><p id=probe class=probe>probe</p><p id=out>waiting</p>\
         <script src=/app.js></script></body></html>\n",
    )
    .unwrap();
    let mut css = text(300, "rule");
    css.push_str(".probe { color: rgb(1, 2, 3); }\n");
    std::fs::write(d.join("style.css"), css).unwrap();
    let mut js = String::from("// padding\n");
    js.push_str(
        &text(200, "js")
            .lines()
            .map(|l| format!("// {l}\n"))
            .collect::<String>(),
    );
    js.push_str(
        "window.addEventListener('load', () => {\n\
           const seen = performance.getEntriesByType('resource')\n\
             .filter(e => /style.css|app.js/.test(e.name))\n\
             .map(e => e.name.split('/').pop() + (e.encodedBodySize < e.decodedBodySize ? ' compressed' : ' plain'))\n\
             .sort().join(', ');\n\
           const color = getComputedStyle(document.getElementById('probe')).color;\n\
           document.getElementById('out').textContent = seen + '; ' + color;\n\
         });\n",
    );
    std::fs::write(d.join("app.js"), js).unwrap();
    let server = ServeProcess::start(&["--access-log", "common", d.to_str().unwrap()], true);
    let browser = chromium();
    let profile = tempfile::tempdir().unwrap();
    let o = run(Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--ignore-certificate-errors",
            "--timeout=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("https://localhost:{}/", server.addr.port())));
    let dom = stdout(&o);
    assert!(
        dom.contains("<p id=\"out\">app.js compressed, style.css compressed; rgb(1, 2, 3)</p>"),
        "{dom}\n{}",
        stderr(&o)
    );
    // Over HTTP/2, and fewer octets sent than the files hold.
    let log = String::from_utf8_lossy(&server.stop().stderr).into_owned();
    for file in ["style.css", "app.js"] {
        let len = std::fs::metadata(d.join(file)).unwrap().len();
        let line = log
            .lines()
            .find(|l| l.contains(&format!("\"GET /{file} HTTP/2.0\" 200 ")))
            .unwrap_or_else(|| panic!("{file} in {log}"));
        let sent: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(sent < len / 2, "{file}: {sent} of {len} octets\n{line}");
    }
}

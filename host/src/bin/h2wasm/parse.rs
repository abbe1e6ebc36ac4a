//! Parsers for command-line values: each says what it expected.

use anyhow::bail;

/// A size in bytes, with an optional K, M, G or T suffix (powers of 1024).
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let usage = || format!("expected a size such as 512M or 4G, got {s:?}");
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(usage()),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = digits.parse().map_err(|_| usage())?;
    n.checked_mul(1u64 << shift).ok_or_else(usage)
}

/// `--max-memory`: a size of at least 16M.
pub(crate) fn parse_server_memory(s: &str) -> Result<u64, String> {
    let bytes = parse_size(s)?;
    if bytes < 16 << 20 {
        return Err(format!("{s:?} is too small: the server needs at least 16M"));
    }
    Ok(bytes)
}

/// `--app-memory`: a size of at least 1M, whole 64 KiB wasm pages.
pub(crate) fn parse_app_memory(s: &str) -> Result<u64, String> {
    let bytes = parse_size(s)?;
    if bytes < 1 << 20 {
        return Err(format!("{s:?} is too small: a component needs at least 1M"));
    }
    if bytes > 4 << 30 {
        return Err(format!(
            "{s:?} is too large: a 32-bit memory holds at most 4G"
        ));
    }
    Ok(bytes)
}

pub(crate) fn parse_push(s: &str) -> Result<(String, Vec<String>), String> {
    let usage = "expected PAGE=ASSET[,ASSET...] with absolute paths, e.g. /=/style.css,/app.js";
    let (page, assets) = s.split_once('=').ok_or(usage)?;
    let assets: Vec<String> = assets.split(',').map(str::to_string).collect();
    if !page.starts_with('/') || assets.iter().any(|a| !a.starts_with('/')) {
        return Err(usage.into());
    }
    Ok((page.to_string(), assets))
}

pub(crate) fn parse_host_port(s: &str) -> Result<String, String> {
    let usage = || format!("expected HOST:PORT, got {s:?}");
    let (host, port) = s.rsplit_once(':').ok_or_else(usage)?;
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(usage());
    }
    Ok(s.to_string())
}

pub(crate) fn parse_host_ports(s: &str) -> Result<Vec<String>, String> {
    s.split(',').map(parse_host_port).collect()
}

/// `--app-config KEY=VALUE`.
pub(crate) fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!(
            "expected KEY=VALUE with a non-empty KEY, got {s:?}"
        )),
    }
}

/// `--app-secret KEY=ENV`: the key and the name of the environment
/// variable its value is read from (never the value: an error may be
/// printed).
pub(crate) fn parse_secret(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, var)) if !key.is_empty() && !var.is_empty() => {
            Ok((key.to_string(), var.to_string()))
        }
        _ => Err(format!(
            "expected KEY=ENV (a key and the environment variable holding its value), got {s:?}"
        )),
    }
}

/// `--app-keyvalue NAME=LOCATION`: a bucket's name and where it is kept
/// (checked further when the bucket is opened).
pub(crate) fn parse_bucket(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, location)) if !name.is_empty() && !location.is_empty() => {
            Ok((name.to_string(), location.to_string()))
        }
        _ => Err(format!(
            "expected NAME=LOCATION (a bucket's name, and a redis:// URL or a database \
             file's path), got {s:?}"
        )),
    }
}

/// An `--app-config-file`: `KEY=VALUE` lines; blank lines and lines
/// starting with `#` are skipped. An error names the file and the line.
pub(crate) fn read_config_file(path: &std::path::Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--app-config-file {}: {e}", path.display()))?;
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let pair = parse_key_value(line).map_err(|e| {
            anyhow::anyhow!("--app-config-file {} line {}: {e}", path.display(), n + 1)
        })?;
        pairs.push(pair);
    }
    Ok(pairs)
}

/// `--app-allow-outbound`: `SCHEME://HOST[:PORT]` entries, comma-separated.
pub(crate) fn parse_outbound(
    s: &str,
) -> Result<Vec<h2wasm::fetch::outgoing::policy::OutboundEntry>, String> {
    s.split(',')
        .map(h2wasm::fetch::outgoing::policy::OutboundEntry::parse)
        .collect()
}

pub(crate) fn parse_altsvc(s: &str) -> Result<String, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic() || b == b' ') || s.len() > 16_000 {
        return Err(
            "expected an Alt-Svc field value in printable ASCII, e.g. 'h2=\":443\"'".into(),
        );
    }
    Ok(s.to_string())
}

pub(crate) fn parse_origin(s: &str) -> Result<String, String> {
    if h2wasm_engine::connection::valid_origin(s) {
        Ok(s.to_string())
    } else {
        Err("expected scheme://host[:port] with no path, e.g. https://example.org".into())
    }
}

pub(crate) fn parse_header(h: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let Some((name, value)) = h.split_once(':') else {
        bail!("invalid header {h:?}: expected 'name: value'");
    };
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        bail!("invalid header name in {h:?}");
    }
    let value = value.trim();
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        bail!("invalid header value in {h:?}");
    }
    Ok((name, value.as_bytes().to_vec()))
}

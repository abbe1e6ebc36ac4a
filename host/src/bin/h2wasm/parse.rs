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

//! Content codings for static files (RFC 9110 §8.4): which ones a
//! request accepts (`Accept-Encoding`, q-values honoured), which types
//! are worth compressing, and compressing a file once, with the crates
//! async-compression wraps (brotli, flate2). zstd is served only from
//! precompressed siblings (`name.zst`): its encoder is C.

use http::HeaderValue;

/// The codings served, best first: with equal q-values a client gets the
/// first one that is available.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Coding {
    Br,
    Zstd,
    Gzip,
}

impl Coding {
    pub(super) const ALL: [Coding; 3] = [Coding::Br, Coding::Zstd, Coding::Gzip];

    /// Its token in `Accept-Encoding` and `Content-Encoding`.
    pub(super) fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    /// The suffix of a precompressed sibling (`app.js.br`).
    pub(super) fn suffix(self) -> &'static str {
        match self {
            Coding::Br => ".br",
            Coding::Zstd => ".zst",
            Coding::Gzip => ".gz",
        }
    }

    /// Whether it is made here from the file, when no sibling has it.
    pub(super) fn made_here(self) -> bool {
        !matches!(self, Coding::Zstd)
    }
}

/// Files smaller than this are sent as they are: the coding's own
/// overhead eats what it saves.
pub(super) const MIN_COMPRESS: u64 = 256;

/// Whether a type is worth compressing: text, and the structured formats
/// that are text underneath. Images, fonts (woff/woff2 are compressed
/// already), video, PDF and archives are not.
pub(super) fn compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.starts_with("text/")
        || matches!(
            essence,
            "application/json"
                | "application/xml"
                | "application/wasm"
                | "image/svg+xml"
                | "image/x-icon"
        )
}

/// Brotli quality and window: quality 5 compresses text about as well as
/// gzip -9 in a fraction of quality 11's time (a file is compressed when
/// it is first served, on the serving thread).
const BROTLI_QUALITY: u32 = 5;
const BROTLI_WINDOW: u32 = 22;

/// `data` in `coding` (one of those [`Coding::made_here`]).
pub(super) fn compress(coding: Coding, data: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    match coding {
        Coding::Br => {
            let mut out = Vec::with_capacity(data.len() / 3);
            {
                let mut w = brotli::CompressorWriter::new(
                    &mut out,
                    64 * 1024,
                    BROTLI_QUALITY,
                    BROTLI_WINDOW,
                );
                w.write_all(data).ok()?;
                w.flush().ok()?;
            }
            Some(out)
        }
        Coding::Gzip => {
            let mut w = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 3),
                flate2::Compression::default(),
            );
            w.write_all(data).ok()?;
            w.finish().ok()
        }
        Coding::Zstd => None,
    }
}

/// The coding to send, of those `available`, for a request whose
/// `Accept-Encoding` is `accept`: the highest q-value wins, ties go to
/// the better coding; `None`: send the file as it is (no header, no
/// acceptable coding available, or only `identity` wanted). A coding
/// the field does not name is acceptable only through `*`.
pub(super) fn choose(
    accept: Option<&HeaderValue>,
    available: impl Fn(Coding) -> bool,
) -> Option<Coding> {
    let accept = accept?.to_str().ok()?;
    let mut named: [Option<u16>; 3] = [None; 3];
    let mut star = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let token = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .next()
            .map_or(Some(1000), qvalue);
        let Some(q) = q else { continue };
        match Coding::ALL
            .iter()
            .position(|c| c.token().eq_ignore_ascii_case(token))
        {
            Some(i) => named[i] = Some(q),
            None if token == "*" => star = Some(q),
            None => {}
        }
    }
    let mut best: Option<(u16, Coding)> = None;
    for (i, coding) in Coding::ALL.into_iter().enumerate() {
        let q = named[i].or(star).unwrap_or(0);
        if q > 0 && available(coding) && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, coding));
        }
    }
    best.map(|(_, c)| c)
}

/// A q-value (RFC 9110 §12.4.2) in thousandths; `None` if malformed.
fn qvalue(text: &str) -> Option<u16> {
    let text = text.trim();
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: &str, available: &[Coding]) -> Option<Coding> {
        let v = HeaderValue::from_str(accept).unwrap();
        choose(Some(&v), |c| available.contains(&c))
    }

    #[test]
    fn q_values_decide_and_ties_go_to_the_better_coding() {
        use Coding::*;
        let all = [Br, Zstd, Gzip];
        assert_eq!(pick("gzip, deflate, br, zstd", &all), Some(Br));
        assert_eq!(pick("gzip, deflate, br, zstd", &[Zstd, Gzip]), Some(Zstd));
        assert_eq!(pick("gzip;q=1.0, br;q=0.5", &all), Some(Gzip));
        assert_eq!(pick("br;q=0, gzip", &all), Some(Gzip));
        assert_eq!(pick("br;q=0", &all), None);
        assert_eq!(pick("identity", &all), None);
        assert_eq!(pick("*", &[Gzip]), Some(Gzip));
        assert_eq!(pick("*;q=0.1, gzip;q=0", &[Gzip, Br]), Some(Br));
        assert_eq!(pick("GZIP", &all), Some(Gzip));
        assert_eq!(pick("br", &[Gzip]), None);
        assert_eq!(pick("br;q=2, gzip;q=0.001", &all), Some(Gzip));
        assert_eq!(pick("br;q=0.5x", &[Br]), None);
        assert_eq!(choose(None, |_| true), None);
    }

    #[test]
    fn q_values_parse_as_the_rfc_writes_them() {
        assert_eq!(qvalue("1"), Some(1000));
        assert_eq!(qvalue("1.000"), Some(1000));
        assert_eq!(qvalue("0.5"), Some(500));
        assert_eq!(qvalue("0.125"), Some(125));
        assert_eq!(qvalue("0"), Some(0));
        assert_eq!(qvalue("1.5"), None);
        assert_eq!(qvalue("0.1234"), None);
        assert_eq!(qvalue("-1"), None);
    }

    #[test]
    fn compressed_forms_decode_to_the_file() {
        use std::io::Read;
        let text = "body { color: rebeccapurple; }\n".repeat(200);
        let br = compress(Coding::Br, text.as_bytes()).unwrap();
        let mut back = String::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, text);
        assert!(br.len() < text.len() / 10);
        let gz = compress(Coding::Gzip, text.as_bytes()).unwrap();
        let mut back = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, text);
        assert!(compressible("text/css; charset=utf-8"));
        assert!(compressible("image/svg+xml"));
        assert!(!compressible("image/png"));
        assert!(!compressible("font/woff2"));
    }
}

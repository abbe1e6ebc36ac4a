//! Host names as sites are chosen by them: a site's names (exact, or a
//! `*.` wildcard of one label, as certificates have them) and a request's
//! host (from `:authority` or `Host`, or the TLS server name), compared
//! case-insensitively and without a trailing dot.

use std::borrow::Cow;

/// One name a site answers to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// This host only: a DNS name, an IPv4 address, or an IPv6 address
    /// (kept in brackets, as it appears in a URL's authority).
    Exact(Box<str>),
    /// `*.example.org`: any one label followed by `example.org` (held
    /// here), as a wildcard certificate covers it; not `example.org`
    /// itself, nor `a.b.example.org`.
    Wildcard(Box<str>),
}

impl HostPattern {
    /// Parses `example.org`, `*.example.org`, `127.0.0.1`, `[::1]` or
    /// `::1`; says what was expected otherwise.
    pub fn parse(name: &str) -> Result<HostPattern, String> {
        let lower = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(suffix) = lower.strip_prefix("*.") {
            if !is_dns_name(suffix) {
                return Err(format!(
                    "{name:?} is not a wildcard name: expected `*.` and a host name, \
                     e.g. *.example.org"
                ));
            }
            return Ok(HostPattern::Wildcard(suffix.into()));
        }
        let unbracketed = lower.trim_start_matches('[').trim_end_matches(']');
        if let Ok(v6) = unbracketed.parse::<std::net::Ipv6Addr>() {
            return Ok(HostPattern::Exact(format!("[{v6}]").into()));
        }
        if lower.parse::<std::net::Ipv4Addr>().is_ok() || is_dns_name(&lower) {
            return Ok(HostPattern::Exact(lower.into()));
        }
        Err(format!(
            "{name:?} is not a host name: expected a name such as example.org, a wildcard \
             such as *.example.org, or an IP address"
        ))
    }

    /// Whether a request for `host` (as [`request_host`] gives it) is
    /// for this name.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(name) => **name == *host,
            HostPattern::Wildcard(suffix) => wildcard_suffix(host).is_some_and(|s| s == &**suffix),
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostPattern::Exact(name) => f.write_str(name),
            HostPattern::Wildcard(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

/// Letters, digits and hyphens in dot-separated labels of 1 to 63
/// octets, 253 at most in all.
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// What a one-label wildcard would have to be to cover `host`: all but
/// its first label (none for a single label or an address).
pub(crate) fn wildcard_suffix(host: &str) -> Option<&str> {
    if host.starts_with('[') {
        return None;
    }
    let (_, rest) = host.split_once('.')?;
    (!rest.is_empty()).then_some(rest)
}

/// A request's host as site names are compared with it: lowercase,
/// without a trailing dot, an IPv6 address in its canonical form.
/// Borrowed when it is so already (the usual case: no allocation).
pub(crate) fn request_host(host: &str) -> Cow<'_, str> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.starts_with('[') {
        let inner = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(v6) = inner.parse::<std::net::Ipv6Addr>() {
            return Cow::Owned(format!("[{v6}]"));
        }
    }
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_wildcards_and_addresses() {
        assert_eq!(
            HostPattern::parse("Example.ORG.").unwrap(),
            HostPattern::Exact("example.org".into())
        );
        assert_eq!(
            HostPattern::parse("*.example.org").unwrap(),
            HostPattern::Wildcard("example.org".into())
        );
        assert_eq!(
            HostPattern::parse("::1").unwrap(),
            HostPattern::Exact("[::1]".into())
        );
        assert_eq!(
            HostPattern::parse("[0::1]").unwrap(),
            HostPattern::Exact("[::1]".into())
        );
        for bad in ["", "*", "a.*.org", "exa mple.org", "-a.org", "*.", "a..b"] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_wildcard_covers_one_label() {
        let w = HostPattern::parse("*.example.org").unwrap();
        assert!(w.matches("a.example.org"));
        assert!(!w.matches("example.org"));
        assert!(!w.matches("a.b.example.org"));
        assert!(!w.matches("aexample.org"));
    }

    #[test]
    fn request_hosts_are_normalised_without_allocating_when_they_can_be() {
        assert!(matches!(request_host("example.org"), Cow::Borrowed(_)));
        assert_eq!(request_host("Example.org."), "example.org");
        assert_eq!(request_host("[0:0::1]"), "[::1]");
    }
}

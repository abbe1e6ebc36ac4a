//! Where a component's outgoing requests may go: nowhere, unless an entry
//! of the allow-list (Spin's `allowed_outbound_hosts`, same syntax) lets
//! them. An entry is `SCHEME://HOST[:PORT]`: the scheme `http`, `https`
//! or `*`; the host a name, an address (`[...]` for IPv6), `*.example.org`
//! (its subdomains) or `*` (any); the port a number or `*`, and without
//! one the scheme's own (80, 443).
//!
//! The check is made twice: on the request's URL (scheme, host, port),
//! and on each address its host resolves to, which is the one connected
//! to (never resolved again, so DNS cannot answer differently between the
//! check and the connection). Loopback, link-local, private (RFC 1918,
//! RFC 6598, fc00::/7) and unspecified addresses, and the server's own
//! listening addresses, are refused unless an entry names the request's
//! host exactly (`http://127.0.0.1:8080`, `http://localhost:3000`): a
//! wildcard never reaches them, so a public name that resolves to
//! 127.0.0.1 does not reach the server's neighbours.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The allow-list of one app, and the server's own addresses. The
/// default allows nothing.
#[derive(Clone, Debug, Default)]
pub struct OutboundPolicy {
    entries: Vec<OutboundEntry>,
    server: Vec<SocketAddr>,
}

/// One allowed destination pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundEntry {
    scheme: Scheme,
    host: Host,
    port: Port,
}

/// As the entry is written: `SCHEME://HOST[:PORT]`.
impl std::fmt::Display for OutboundEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Any => "*",
        };
        write!(f, "{scheme}://")?;
        match &self.host {
            Host::Exact(h) => f.write_str(h)?,
            Host::Subdomains(d) => write!(f, "*{d}")?,
            Host::Any => f.write_str("*")?,
        }
        match self.port {
            Port::Exact(p) => write!(f, ":{p}"),
            Port::Any => f.write_str(":*"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
    Any,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Host {
    /// A name (lowercase) or an address, as the URL gives it.
    Exact(String),
    /// `*.example.org`: the names ending in `.example.org`.
    Subdomains(String),
    Any,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Port {
    Exact(u16),
    Any,
}

/// What the allow-list says of a request's URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UrlVerdict {
    Denied,
    /// Allowed; `named` when an entry names the host exactly, which lets
    /// it resolve to addresses no wildcard reaches.
    Allowed {
        named: bool,
    },
}

impl OutboundEntry {
    /// Parses `SCHEME://HOST[:PORT]`; the error says what was expected.
    pub fn parse(entry: &str) -> Result<OutboundEntry, String> {
        let bad = |why: &str| {
            format!(
                "{entry:?}: {why} (expected SCHEME://HOST[:PORT], e.g. https://api.example.com)"
            )
        };
        let (scheme, rest) = entry.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let scheme = match scheme {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            "*" => Scheme::Any,
            _ => return Err(bad("the scheme is not http, https or *")),
        };
        if rest.contains(['/', '?', '#', '@']) {
            return Err(bad("an entry names a host and port, not a path or user"));
        }
        let (host, port) = split_host_port(rest).ok_or_else(|| bad("not a host and port"))?;
        let host = host.to_ascii_lowercase();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let host = if host == "*" {
            Host::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') {
                return Err(bad("a wildcard is * or *.DOMAIN"));
            }
            Host::Subdomains(format!(".{suffix}"))
        } else if host.contains('*') {
            return Err(bad("a wildcard is * or *.DOMAIN"));
        } else {
            Host::Exact(host)
        };
        let port = match (port, scheme) {
            (Some("*"), _) => Port::Any,
            (Some(p), _) => {
                Port::Exact(p.parse().map_err(|_| bad("the port is not 0-65535 or *"))?)
            }
            (None, Scheme::Http) => Port::Exact(80),
            (None, Scheme::Https) => Port::Exact(443),
            (None, Scheme::Any) => return Err(bad("with scheme * give a port, or *")),
        };
        Ok(OutboundEntry { scheme, host, port })
    }

    /// Whether it allows `host:port` over `tls` (or cleartext), and names
    /// the host exactly.
    fn matches(&self, tls: bool, host: &str, port: u16) -> Option<bool> {
        let scheme = match self.scheme {
            Scheme::Http => !tls,
            Scheme::Https => tls,
            Scheme::Any => true,
        };
        let port = match self.port {
            Port::Exact(p) => p == port,
            Port::Any => true,
        };
        let (host, named) = match &self.host {
            Host::Exact(h) => (h.eq_ignore_ascii_case(host), true),
            Host::Subdomains(suffix) => {
                let tail = host.len().checked_sub(suffix.len()).filter(|&at| at > 0);
                let tail = tail.and_then(|at| host.get(at..));
                (tail.is_some_and(|t| t.eq_ignore_ascii_case(suffix)), false)
            }
            Host::Any => (true, false),
        };
        (scheme && port && host).then_some(named)
    }
}

impl OutboundPolicy {
    /// Requests may go where one of `entries` allows.
    pub fn allow(entries: Vec<OutboundEntry>) -> OutboundPolicy {
        OutboundPolicy {
            entries,
            server: Vec::new(),
        }
    }

    /// The addresses the server listens on: refused unless named.
    pub fn with_server_addresses(mut self, addresses: Vec<SocketAddr>) -> OutboundPolicy {
        self.server = addresses;
        self
    }

    /// Whether the list allows nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether some entry allows requests to `host:port` over TLS or
    /// cleartext (what the URL says; its addresses are checked when it
    /// is resolved).
    pub fn allows(&self, tls: bool, host: &str, port: u16) -> bool {
        self.check_url(tls, host, port) != UrlVerdict::Denied
    }

    /// What the list says of a request to `host:port` (the host as the
    /// URL has it, IPv6 in brackets or not).
    pub(crate) fn check_url(&self, tls: bool, host: &str, port: u16) -> UrlVerdict {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let mut verdict = UrlVerdict::Denied;
        for entry in &self.entries {
            match entry.matches(tls, host, port) {
                Some(true) => return UrlVerdict::Allowed { named: true },
                Some(false) => verdict = UrlVerdict::Allowed { named: false },
                None => {}
            }
        }
        verdict
    }

    /// Whether an allowed request may connect to `address`, one its host
    /// resolved to: any public address; the others only for a host an
    /// entry names.
    pub(crate) fn address_allowed(&self, address: SocketAddr, named: bool) -> bool {
        named || !(is_special(address.ip()) || self.is_server(address))
    }

    fn is_server(&self, address: SocketAddr) -> bool {
        self.server.iter().any(|s| {
            s.port() == address.port() && (s.ip().is_unspecified() || s.ip() == address.ip())
        })
    }
}

/// `HOST[:PORT]`, with IPv6 addresses in brackets.
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        host.parse::<Ipv6Addr>().ok()?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    match s.split_once(':') {
        Some((host, port)) if !port.contains(':') => Some((host, Some(port))),
        Some(_) => None,
        None => Some((s, None)),
    }
}

/// Addresses that are not the public internet: the machine itself, its
/// link, private networks, and "any".
fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_special_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_special_v4(v4),
            None => {
                let first = v6.segments()[0];
                v6.is_loopback()
                    || v6.is_unspecified()
                    || first & 0xfe00 == 0xfc00 // unique local, fc00::/7
                    || first & 0xffc0 == 0xfe80 // link-local, fe80::/10
            }
        },
    }
}

fn is_special_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        // Shared address space (RFC 6598), carrier-grade NAT.
        || (a == 100 && (64..128).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> OutboundPolicy {
        let entries = entries.iter().map(|e| OutboundEntry::parse(e).unwrap());
        OutboundPolicy::allow(entries.collect())
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let p = OutboundPolicy::default();
        assert_eq!(p.check_url(true, "example.org", 443), UrlVerdict::Denied);
        assert_eq!(p.check_url(false, "127.0.0.1", 80), UrlVerdict::Denied);
    }

    #[test]
    fn entries_match_scheme_host_and_port() {
        let p = policy(&["https://api.example.com", "http://*.internal.test:8080"]);
        let named = UrlVerdict::Allowed { named: true };
        let wild = UrlVerdict::Allowed { named: false };
        assert_eq!(p.check_url(true, "api.example.com", 443), named);
        assert_eq!(p.check_url(true, "API.Example.COM", 443), named);
        // The default port only, and only over TLS.
        assert_eq!(
            p.check_url(true, "api.example.com", 8443),
            UrlVerdict::Denied
        );
        assert_eq!(
            p.check_url(false, "api.example.com", 443),
            UrlVerdict::Denied
        );
        assert_eq!(p.check_url(false, "db.internal.test", 8080), wild);
        assert_eq!(p.check_url(false, "a.b.internal.test", 8080), wild);
        // The domain itself is not one of its subdomains.
        assert_eq!(
            p.check_url(false, "internal.test", 8080),
            UrlVerdict::Denied
        );
        assert_eq!(
            p.check_url(false, "evilinternal.test", 8080),
            UrlVerdict::Denied
        );
        let any = policy(&["*://*:*"]);
        assert_eq!(any.check_url(false, "anything.example", 1), wild);
        let v6 = policy(&["http://[::1]:8080"]);
        assert_eq!(v6.check_url(false, "[::1]", 8080), named);
    }

    #[test]
    fn a_named_host_wins_over_a_wildcard() {
        let p = policy(&["*://*:*", "http://localhost:3000"]);
        assert_eq!(
            p.check_url(false, "localhost", 3000),
            UrlVerdict::Allowed { named: true }
        );
    }

    #[test]
    fn special_addresses_need_a_named_host() {
        let p =
            OutboundPolicy::default().with_server_addresses(vec!["0.0.0.0:8443".parse().unwrap()]);
        for a in [
            "127.0.0.1:80",
            "10.1.2.3:80",
            "172.16.0.1:80",
            "192.168.1.1:80",
            "169.254.169.254:80",
            "100.64.0.1:80",
            "0.0.0.0:80",
            "[::1]:80",
            "[fd00::1]:80",
            "[fe80::1]:80",
            "[::ffff:127.0.0.1]:80",
            "[::]:80",
            // The server's own port on a public address it listens on.
            "93.184.216.34:8443",
        ] {
            let a: SocketAddr = a.parse().unwrap();
            assert!(!p.address_allowed(a, false), "{a}");
            assert!(p.address_allowed(a, true), "{a}");
        }
        for a in [
            "93.184.216.34:443",
            "[2606:2800:220:1::1]:443",
            "8.8.8.8:53",
        ] {
            assert!(p.address_allowed(a.parse().unwrap(), false), "{a}");
        }
    }

    #[test]
    fn bad_entries_say_what_was_expected() {
        for (entry, why) in [
            ("example.com", "no scheme"),
            ("ftp://example.com", "not http, https or *"),
            ("https://example.com/path", "not a path"),
            ("https://user@example.com", "not a path or user"),
            ("*://example.com", "with scheme * give a port"),
            ("https://example.com:99999", "the port is not"),
            ("https://ex*ample.com", "a wildcard is"),
            ("https://*.", "a wildcard is"),
            ("https://", "no host"),
            ("http://[::1", "not a host and port"),
        ] {
            let e = OutboundEntry::parse(entry).unwrap_err();
            assert!(e.contains(why), "{entry}: {e}");
            assert!(e.contains("expected SCHEME://HOST[:PORT]"), "{e}");
        }
    }
}

//! The site table: sites by host name, each with its certificate and its
//! routes by path prefix (the longest that matches wins). Built whole,
//! checked as it is built, and never changed after: a reload builds a
//! new one.

use crate::serve::metrics::{Metrics, RouteMetrics};
use crate::service::body::Incoming;
use crate::service::{BoxError, BoxFuture, ResponseBody, box_body};
use crate::sites::hosts::{HostPattern, request_host, wildcard_suffix};
use futures_util::future::{Either, Ready, ready};
use http::{Request, Response, StatusCode};
use rustc_hash::FxHashMap;
use rustls::sign::CertifiedKey;
use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use tower::ServiceExt;

/// Sites by host name, with the answer for a host none of them has.
pub struct SiteTable {
    sites: Vec<Site>,
    exact: FxHashMap<Box<str>, usize>,
    /// `*.example.org` sites by `example.org`.
    wildcard: FxHashMap<Box<str>, usize>,
    default: Option<usize>,
    /// The certificate of TLS sites that name none (the development one).
    fallback_certificate: Option<Arc<CertifiedKey>>,
    unmatched: StatusCode,
    /// Sites present more than one certificate.
    distinct_certificates: bool,
    /// Routes in all.
    routes: usize,
}

struct Site {
    /// Its first name, for log lines and errors.
    label: String,
    certificate: Option<Arc<CertifiedKey>>,
    /// The exact names of every site presenting the same certificate
    /// (its own among them), in order: what a connection whose handshake
    /// chose this site may carry, announced in an ORIGIN frame.
    coalesced: Arc<[Box<str>]>,
    /// Longest prefix first.
    routes: Vec<Route>,
}

/// Where requests under one path prefix go.
pub(crate) struct Route {
    /// Its place among all the table's routes (a connection's copies of
    /// the services are kept by it).
    pub(crate) index: usize,
    prefix: Box<str>,
    /// The prefix is taken off the path the service sees.
    pub(crate) strip: bool,
    pub(crate) handler: Box<dyn Handler>,
    /// Its requests by status class, when metrics are kept.
    pub(crate) metrics: Option<RouteMetrics>,
}

/// A route's service as the table holds it: shared by every connection,
/// so never called itself; each connection's router takes a copy of its
/// own ([`Handler::local`]) the first time it needs the route, and calls
/// that for every later request. Per request, nothing is cloned and no
/// reference count shared with other threads is touched (such counts
/// cost a small response several percent of its CPU).
pub(crate) trait Handler: Send + Sync {
    fn local(&self) -> Box<dyn LocalHandler>;
}

/// A connection's own copy of a route's service.
pub(crate) trait LocalHandler: Send + Sync {
    /// Calls the service at once and polls its future once: an answer
    /// ready then (a file from memory, a redirect) costs no allocation.
    fn handle(&mut self, request: Request<Incoming>) -> Answer;
}

/// A route's answer: ready, or on its way.
pub(crate) type Answer = Either<Ready<Result<Response<ResponseBody>, BoxError>>, Pending>;

/// A route's answer on its way.
pub(crate) type Pending = BoxFuture<'static, Result<Response<ResponseBody>, BoxError>>;

struct ServiceHandler<S>(S);

impl<S, B> Handler for ServiceHandler<S>
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + Unpin + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn local(&self) -> Box<dyn LocalHandler> {
        Box::new(ServiceHandler(self.0.clone()))
    }
}

impl<S, B> LocalHandler for ServiceHandler<S>
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + Unpin + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn handle(&mut self, request: Request<Incoming>) -> Answer {
        let boxed = |r: Result<Response<B>, S::Error>| match r {
            Ok(response) => Ok(response.map(box_body)),
            Err(e) => Err(e.into()),
        };
        // Nothing is waited for here: the connection's own poll comes next.
        let mut cx = Context::from_waker(Waker::noop());
        match self.0.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => {
                let mut call = self.0.call(request);
                match std::pin::Pin::new(&mut call).poll(&mut cx) {
                    Poll::Ready(r) => Either::Left(ready(boxed(r))),
                    Poll::Pending => Either::Right(Box::pin(async move { boxed(call.await) })),
                }
            }
            Poll::Ready(Err(e)) => Either::Left(ready(Err(e.into()))),
            Poll::Pending => {
                let service = self.0.clone();
                Either::Right(Box::pin(
                    async move { boxed(service.oneshot(request).await) },
                ))
            }
        }
    }
}

/// One site, as it is put into a [`SiteTable`].
pub struct SiteBuilder {
    names: Vec<HostPattern>,
    default: bool,
    certificate: Option<Arc<CertifiedKey>>,
    routes: Vec<Route>,
}

impl SiteBuilder {
    /// A site answering to `names`.
    pub fn new(names: Vec<HostPattern>) -> SiteBuilder {
        SiteBuilder {
            names,
            default: false,
            certificate: None,
            routes: Vec::new(),
        }
    }

    /// Also answers requests for hosts no site names (and TLS handshakes
    /// for names no site has, or with no name). At most one per table.
    pub fn default_site(mut self) -> SiteBuilder {
        self.default = true;
        self
    }

    /// Its certificate over TLS (see [`crate::sites::load_certificate`]);
    /// without one it gets the table's fallback.
    pub fn certificate(mut self, certificate: Arc<CertifiedKey>) -> SiteBuilder {
        self.certificate = Some(certificate);
        self
    }

    /// Requests whose path is `prefix` or lies under it (`/api` takes
    /// `/api` and `/api/x`, not `/apix`; `/` takes everything) go to
    /// `service`; with `strip`, without the prefix (`/api/x` is seen as
    /// `/x`). The service's future must be `Unpin` (boxed, or ready at
    /// once, as [`crate::service::SharedService`]'s and most are).
    pub fn route<S, B>(mut self, prefix: &str, strip: bool, service: S) -> SiteBuilder
    where
        S: tower::Service<Request<Incoming>, Response = Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + Unpin + 'static,
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.routes.push(Route {
            index: 0,
            prefix: prefix.into(),
            strip,
            handler: Box::new(ServiceHandler(service)),
            metrics: None,
        });
        self
    }
}

/// Why a table cannot be built; `site` is the index of the site at fault
/// in the order given.
#[derive(Debug)]
pub struct TableError {
    /// The site at fault (0-based), if one is.
    pub site: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TableError {}

impl SiteTable {
    /// Counts each route's answers in `metrics`, by its site's first name
    /// and its prefix (the same counters across reloads).
    pub fn measured(mut self, metrics: &Metrics) -> SiteTable {
        for site in &mut self.sites {
            for route in &mut site.routes {
                route.metrics = Some(metrics.route(&site.label, &route.prefix));
            }
        }
        self
    }

    /// The table of `sites`. A request for a host no site names (with no
    /// default site) is answered `unmatched`: 421 Misdirected Request
    /// (RFC 9110 §15.5.20) or 404. TLS sites without a certificate of
    /// their own present `fallback_certificate`.
    pub fn new(
        sites: Vec<SiteBuilder>,
        unmatched: StatusCode,
        fallback_certificate: Option<Arc<CertifiedKey>>,
    ) -> Result<SiteTable, TableError> {
        let error = |site: Option<usize>, message: String| TableError { site, message };
        if unmatched != StatusCode::MISDIRECTED_REQUEST && unmatched != StatusCode::NOT_FOUND {
            return Err(error(
                None,
                format!("unmatched hosts get 421 or 404, not {}", unmatched.as_u16()),
            ));
        }
        let mut table = SiteTable {
            sites: Vec::with_capacity(sites.len()),
            exact: FxHashMap::default(),
            wildcard: FxHashMap::default(),
            default: None,
            fallback_certificate,
            unmatched,
            distinct_certificates: false,
            routes: 0,
        };
        for (i, site) in sites.into_iter().enumerate() {
            if site.names.is_empty() && !site.default {
                return Err(error(
                    Some(i),
                    "a site needs at least one name, or to be the default".into(),
                ));
            }
            for name in &site.names {
                let (map, key) = match name {
                    HostPattern::Exact(n) => (&mut table.exact, n),
                    HostPattern::Wildcard(s) => (&mut table.wildcard, s),
                };
                if let Some(&other) = map.get(key) {
                    return Err(error(
                        Some(i),
                        format!("{name} is already a name of site {}", other + 1),
                    ));
                }
                map.insert(key.clone(), i);
            }
            if site.default {
                if let Some(other) = table.default {
                    return Err(error(
                        Some(i),
                        format!("site {} is the default already: only one may be", other + 1),
                    ));
                }
                table.default = Some(i);
            }
            let mut routes = site.routes;
            for (n, route) in routes.iter().enumerate() {
                if !route.prefix.starts_with('/') || route.prefix.contains(['?', '#']) {
                    return Err(error(
                        Some(i),
                        format!(
                            "route path {:?}: expected a path prefix starting with /, e.g. /api",
                            route.prefix
                        ),
                    ));
                }
                if routes[..n].iter().any(|r| r.prefix == route.prefix) {
                    return Err(error(
                        Some(i),
                        format!("route path {:?} appears twice", route.prefix),
                    ));
                }
            }
            routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
            for route in &mut routes {
                route.index = table.routes;
                table.routes += 1;
            }
            table.sites.push(Site {
                label: site
                    .names
                    .first()
                    .map_or_else(|| "(default)".to_string(), ToString::to_string),
                certificate: site.certificate,
                coalesced: Arc::new([]),
                routes,
            });
        }
        if table.sites.is_empty() {
            return Err(error(None, "no site to serve".into()));
        }
        for i in 0..table.sites.len() {
            let mut names: Vec<Box<str>> = table
                .exact
                .iter()
                .filter(|&(_, &site)| table.same_certificate(i, site))
                .map(|(name, _)| name.clone())
                .collect();
            names.sort();
            table.sites[i].coalesced = names.into();
        }
        let first = table.certificate_of(0).cloned();
        table.distinct_certificates =
            (1..table.sites.len()).any(|i| match (table.certificate_of(i), &first) {
                (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
                (None, None) => false,
                _ => true,
            });
        Ok(table)
    }

    /// The site for a request's host (none: the default site, if any).
    pub(crate) fn site_for(&self, host: Option<&str>) -> Option<usize> {
        if self.exact.is_empty() && self.wildcard.is_empty() {
            // One default site and no names (serve without a file).
            return self.default;
        }
        let found = host.and_then(|host| {
            let host = request_host(host);
            self.exact.get(&*host).copied().or_else(|| {
                wildcard_suffix(&host).and_then(|suffix| self.wildcard.get(suffix).copied())
            })
        });
        found.or(self.default)
    }

    /// The certificate a TLS handshake for `server_name` gets: its site's,
    /// else the fallback; none (the handshake fails) for a name no site
    /// has when there is no default.
    pub(crate) fn certificate_for(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let site = self.site_for(server_name)?;
        self.certificate_of(site).cloned()
    }

    fn certificate_of(&self, site: usize) -> Option<&Arc<CertifiedKey>> {
        self.sites[site]
            .certificate
            .as_ref()
            .or(self.fallback_certificate.as_ref())
    }

    /// Whether a request for `site`'s host may be served on a TLS
    /// connection whose handshake was for `server_name`: the connection
    /// presented the certificate of `server_name`'s site, and another
    /// site's request belongs on it only if that site presents the very
    /// same certificate (RFC 9113 §9.1.1: otherwise 421, and the client
    /// opens a connection of its own for it).
    pub(crate) fn coalescible(&self, site: usize, server_name: Option<&str>) -> bool {
        self.site_for(server_name)
            .is_some_and(|presented| self.same_certificate(presented, site))
    }

    /// Whether sites `a` and `b` present the very same certificate.
    fn same_certificate(&self, a: usize, b: usize) -> bool {
        if a == b {
            return true;
        }
        match (self.certificate_of(a), self.certificate_of(b)) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }

    /// The origins (RFC 6454) a TLS connection on `port` whose handshake
    /// was for `server_name` is authoritative for (RFC 8336 §2.4): the
    /// exact names of the sites presenting its certificate, as many as
    /// fit in `room` octets of an ORIGIN frame (each takes its length and
    /// two). Wildcard names have no origin to announce.
    pub(crate) fn origins_for(
        &self,
        server_name: Option<&str>,
        port: u16,
        mut room: usize,
    ) -> Vec<String> {
        let Some(site) = self.site_for(server_name) else {
            return Vec::new();
        };
        let port = if port == 443 {
            String::new()
        } else {
            format!(":{port}")
        };
        let mut origins = Vec::new();
        for name in self.sites[site].coalesced.iter() {
            let origin = format!("https://{name}{port}");
            match room.checked_sub(origin.len() + 2) {
                Some(left) => room = left,
                None => break,
            }
            origins.push(origin);
        }
        origins
    }

    /// The route for `path` on `site`, and the path the service sees.
    pub(crate) fn route<'a>(&self, site: usize, path: &'a str) -> Option<(&Route, Cow<'a, str>)> {
        if let [only] = &self.sites[site].routes[..]
            && &*only.prefix == "/"
            && !only.strip
        {
            // Nothing to choose between, nothing to take off: the path as
            // the client sent it.
            return Some((only, Cow::Borrowed(path)));
        }
        let path = canonical_path(path);
        let route = self.sites[site]
            .routes
            .iter()
            .find(|r| under(&path, &r.prefix))?;
        let seen = if route.strip && &*route.prefix != "/" {
            let rest = &path[route.prefix.trim_end_matches('/').len()..];
            Cow::Owned(if rest.starts_with('/') {
                rest.to_string()
            } else {
                format!("/{rest}")
            })
        } else {
            path
        };
        Some((route, seen))
    }

    /// Whether a connection's requests must be checked against its
    /// certificate: only when sites present different ones.
    pub(crate) fn coalescing_checked(&self) -> bool {
        self.distinct_certificates
    }

    /// Routes in all the sites.
    pub(crate) fn route_count(&self) -> usize {
        self.routes
    }

    /// The answer for a host no site has.
    pub(crate) fn unmatched(&self) -> StatusCode {
        self.unmatched
    }

    /// The label of each site (its first name), in order.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.sites.iter().map(|s| s.label.as_str())
    }
}

impl std::fmt::Debug for SiteTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.sites.iter().map(|s| {
                (
                    &s.label,
                    s.routes.iter().map(|r| &*r.prefix).collect::<Vec<_>>(),
                )
            }))
            .finish()
    }
}

/// Whether `path` is `prefix` or lies beneath it.
fn under(path: &str, prefix: &str) -> bool {
    let (path, prefix) = (path.as_bytes(), prefix.as_bytes());
    let Some((&last, _)) = prefix.split_last() else {
        return true;
    };
    // Every request tries the routes longest first, and most of them
    // differ from its path at the prefix's last octet: checked first, and
    // the rest octet by octet (prefixes are short; `starts_with` called
    // memcmp for each: 0.6% of a small response's CPU with four routes).
    if path.len() < prefix.len()
        || path[prefix.len() - 1] != last
        || !path.iter().zip(prefix).all(|(a, b)| a == b)
    {
        return false;
    }
    last == b'/' || path.len() == prefix.len() || path[prefix.len()] == b'/'
}

/// `path` as routes are matched against it, so that no spelling of a path
/// reaches a route its plain spelling would not: percent-encoded
/// unreserved characters decoded and dot segments removed (RFC 3986
/// §6.2.2), repeated slashes made one. Borrowed when there is nothing to
/// do (the usual case).
pub(crate) fn canonical_path(path: &str) -> Cow<'_, str> {
    if is_canonical(path.as_bytes()) {
        return Cow::Borrowed(path);
    }
    let mut decoded = String::with_capacity(path.len());
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(c) = hex_pair(bytes[i + 1], bytes[i + 2])
            && (c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~'))
        {
            decoded.push(c as char);
            i += 3;
            continue;
        }
        // Not decoded: kept as it was, octet for octet (the path is ASCII).
        decoded.push(bytes[i] as char);
        i += 1;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/').skip(1) {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    let trailing = decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
    if out.is_empty() || trailing {
        out.push('/');
    }
    Cow::Owned(out)
}

/// No `%`, no `/.` and no `//`: nothing for [`canonical_path`] to do
/// (one pass, where three substring searches cost a small response more
/// than the rest of its route lookup).
fn is_canonical(path: &[u8]) -> bool {
    let mut after_slash = false;
    for &b in path {
        match b {
            b'%' => return false,
            b'.' | b'/' if after_slash => return false,
            _ => {}
        }
        after_slash = b == b'/';
    }
    true
}

fn hex_pair(a: u8, b: u8) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    Some(digit(a)? << 4 | digit(b)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{SharedService, shared, text};

    fn service() -> SharedService {
        shared(tower::service_fn(
            |_req: http::Request<crate::service::Incoming>| async {
                Ok::<_, std::convert::Infallible>(text(StatusCode::OK, "ok"))
            },
        ))
    }

    fn names(list: &[&str]) -> Vec<HostPattern> {
        list.iter()
            .map(|n| HostPattern::parse(n).unwrap())
            .collect()
    }

    fn table() -> SiteTable {
        SiteTable::new(
            vec![
                SiteBuilder::new(names(&["a.example", "*.a.example"]))
                    .route("/", false, service())
                    .route("/api", true, service())
                    .route("/static/", false, service()),
                SiteBuilder::new(names(&["b.example"])).default_site(),
            ],
            StatusCode::MISDIRECTED_REQUEST,
            None,
        )
        .unwrap()
    }

    #[test]
    fn hosts_find_their_site_exact_then_wildcard_then_default() {
        let t = table();
        assert_eq!(t.site_for(Some("a.example")), Some(0));
        assert_eq!(t.site_for(Some("A.Example.")), Some(0));
        assert_eq!(t.site_for(Some("x.a.example")), Some(0));
        assert_eq!(t.site_for(Some("x.y.a.example")), Some(1));
        assert_eq!(t.site_for(Some("b.example")), Some(1));
        assert_eq!(t.site_for(None), Some(1));
    }

    #[test]
    fn the_longest_prefix_wins_on_segment_boundaries() {
        let t = table();
        let prefix = |path: &str| {
            t.route(0, path)
                .map(|(r, seen)| (r.prefix.to_string(), seen.into_owned()))
        };
        assert_eq!(prefix("/api"), Some(("/api".into(), "/".into())));
        assert_eq!(prefix("/api/v1"), Some(("/api".into(), "/v1".into())));
        assert_eq!(prefix("/apix"), Some(("/".into(), "/apix".into())));
        // Shorter than a prefix; ending like it but not starting so.
        assert_eq!(prefix("/ap"), Some(("/".into(), "/ap".into())));
        assert_eq!(prefix("/bpi/v1"), Some(("/".into(), "/bpi/v1".into())));
        assert_eq!(
            prefix("/static/"),
            Some(("/static/".into(), "/static/".into()))
        );
        assert_eq!(
            prefix("/static/a.css"),
            Some(("/static/".into(), "/static/a.css".into()))
        );
        assert_eq!(prefix("/static"), Some(("/".into(), "/static".into())));
        // Other spellings of /api reach /api's route, never around it.
        assert_eq!(prefix("/%61pi/v1"), Some(("/api".into(), "/v1".into())));
        assert_eq!(prefix("/x/../api/v1"), Some(("/api".into(), "/v1".into())));
        assert_eq!(prefix("//api//v1"), Some(("/api".into(), "/v1".into())));
        assert_eq!(prefix("/../../api"), Some(("/api".into(), "/".into())));
        // A site with no route for the path: none.
        assert!(t.route(1, "/").is_none());
    }

    #[test]
    fn canonical_paths_keep_what_is_not_unreserved() {
        assert!(matches!(canonical_path("/a/b.css"), Cow::Borrowed(_)));
        assert_eq!(canonical_path("/a%2Fb"), "/a%2Fb");
        assert_eq!(canonical_path("/a/./b/"), "/a/b/");
        assert_eq!(canonical_path("/a/.."), "/");
        assert_eq!(canonical_path("/%zz"), "/%zz");
        assert_eq!(canonical_path("/a//b"), "/a/b");
        assert_eq!(canonical_path("/.hidden/x"), "/.hidden/x");
        assert_eq!(canonical_path("/a/%2e%2e/b"), "/b");
        assert!(matches!(canonical_path("/a.b/c.d"), Cow::Borrowed(_)));
    }

    /// A self-signed certificate for `names`.
    fn certificate(names: &[&str]) -> Arc<CertifiedKey> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let made = rcgen::generate_simple_self_signed(names).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
        let provider = rustls::crypto::ring::default_provider();
        Arc::new(CertifiedKey::from_der(vec![made.cert.der().clone()], key, &provider).unwrap())
    }

    #[test]
    fn a_connection_announces_the_sites_its_certificate_serves() {
        let shared_cert = certificate(&["a.example", "*.a.example", "c.example"]);
        let t = SiteTable::new(
            vec![
                SiteBuilder::new(names(&["a.example", "*.a.example"]))
                    .certificate(shared_cert.clone())
                    .route("/", false, service()),
                SiteBuilder::new(names(&["b.example"]))
                    .certificate(certificate(&["b.example"]))
                    .route("/", false, service()),
                SiteBuilder::new(names(&["c.example"]))
                    .certificate(shared_cert)
                    .route("/", false, service())
                    .default_site(),
            ],
            StatusCode::MISDIRECTED_REQUEST,
            None,
        )
        .unwrap();
        let room = 16_382;
        // Its own site and the one sharing its certificate; no wildcard
        // (it has no origin), no site of another certificate.
        let a = ["https://a.example:8443", "https://c.example:8443"];
        assert_eq!(t.origins_for(Some("a.example"), 8443, room), a);
        assert_eq!(t.origins_for(Some("x.a.example"), 8443, room), a);
        assert_eq!(
            t.origins_for(Some("b.example"), 443, room),
            ["https://b.example"]
        );
        // No name, or one no site has: the default site's.
        assert_eq!(t.origins_for(None, 8443, room), a);
        assert_eq!(t.origins_for(Some("nobody.example"), 8443, room), a);
        // As many as fit: each takes its length and two octets.
        assert_eq!(
            t.origins_for(Some("a.example"), 8443, a[0].len() + 2 + a[1].len() + 1),
            a[..1]
        );
        assert!(t.origins_for(Some("a.example"), 8443, 3).is_empty());
        // One site with no names (serve without a file): nothing to say.
        let one = SiteTable::new(
            vec![
                SiteBuilder::new(Vec::new())
                    .default_site()
                    .route("/", false, service()),
            ],
            StatusCode::MISDIRECTED_REQUEST,
            None,
        )
        .unwrap();
        assert!(one.origins_for(Some("localhost"), 8443, room).is_empty());
    }

    #[test]
    fn bad_tables_say_what_is_wrong() {
        let err = |sites: Vec<SiteBuilder>| {
            SiteTable::new(sites, StatusCode::NOT_FOUND, None)
                .unwrap_err()
                .to_string()
        };
        assert!(err(vec![]).contains("no site"));
        assert!(err(vec![SiteBuilder::new(vec![])]).contains("at least one name"));
        assert!(
            err(vec![
                SiteBuilder::new(names(&["a.example"])),
                SiteBuilder::new(names(&["A.example"])),
            ])
            .contains("a.example is already a name of site 1")
        );
        assert!(
            err(vec![
                SiteBuilder::new(names(&["a.example"])).default_site(),
                SiteBuilder::new(names(&["b.example"])).default_site(),
            ])
            .contains("only one")
        );
        assert!(
            err(vec![SiteBuilder::new(names(&["a.example"])).route(
                "api",
                false,
                service()
            )])
            .contains("starting with /")
        );
        assert!(
            SiteTable::new(vec![SiteBuilder::new(names(&["a"]))], StatusCode::OK, None).is_err()
        );
    }
}

//! A reverse proxy: requests go on to upstream servers over HTTP/1.1 or
//! HTTP/2 (the same pooled client wasi:http components' requests use),
//! with hop-by-hop fields removed both ways (RFC 9110 §7.6.1), `Via`
//! added both ways (§7.6.3, and 508 for a request that comes round
//! again), the client named in `Forwarded` (RFC 7239) and
//! `X-Forwarded-*`, bodies and
//! trailers streamed both ways, and the upstream's failures answered 502
//! (could not connect, or the exchange broke) or 504 (no answer in time).
//! Several upstreams are taken in turn; one that fails to connect or
//! answer is left out for a while (a passive health check). A body that
//! stops coming either way is given up after the outgoing client's
//! between-frames deadline. WebSockets go through too (see [`websocket`]).

mod websocket;

use crate::fetch::outgoing::Outgoing;
use crate::fetch::outgoing::between_bytes::BetweenBytes;
use crate::service::body::Incoming;
use crate::service::websocket::is_websocket;
use crate::service::{BoxError, BoxFuture, ConnectionInfo, ResponseBody, box_body, text};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use wasmtime_wasi_http::Error as WasiError;

/// The reverse proxy service (cheap to clone).
#[derive(Clone)]
pub struct ReverseProxy(Arc<Inner>);

struct Inner {
    upstreams: Vec<Upstream>,
    next: AtomicUsize,
    outgoing: Arc<Outgoing>,
    fail_timeout: Duration,
    /// What `down_until` counts from.
    epoch: Instant,
}

struct Upstream {
    /// `scheme://host:port`.
    origin: String,
    /// Put before every request's path (no trailing slash; may be empty).
    path: String,
    /// Left out until then (ms since `epoch`); 0: up.
    down_until: AtomicU64,
}

impl ReverseProxy {
    /// A proxy to `upstreams` (URLs: `http` or `https`, a host, an
    /// optional port and path prefix), sending through `outgoing` (whose
    /// policy must allow them). An upstream that fails is left out for
    /// `fail_timeout`.
    pub fn new(
        upstreams: &[String],
        outgoing: Arc<Outgoing>,
        fail_timeout: Duration,
    ) -> anyhow::Result<ReverseProxy> {
        if upstreams.is_empty() {
            anyhow::bail!("a proxy needs at least one upstream URL");
        }
        let upstreams = upstreams
            .iter()
            .map(|u| parse_upstream(u).map_err(|why| anyhow::anyhow!("upstream {u:?}: {why}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(ReverseProxy(Arc::new(Inner {
            upstreams,
            next: AtomicUsize::new(0),
            outgoing,
            fail_timeout,
            epoch: Instant::now(),
        })))
    }

    /// The `scheme://host:port` of each upstream, for the outbound policy.
    pub fn origins(upstreams: &[String]) -> Result<Vec<String>, String> {
        upstreams
            .iter()
            .map(|u| parse_upstream(u).map(|up| up.origin))
            .collect()
    }
}

fn parse_upstream(url: &str) -> Result<Upstream, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    let scheme = parsed.scheme();
    if scheme != "http" && scheme != "https" {
        return Err("expected an http:// or https:// URL".into());
    }
    let host = parsed.host_str().ok_or("no host")?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("expected no query or fragment".into());
    }
    let port = parsed.port_or_known_default().ok_or("no port")?;
    let host = match parsed.host() {
        Some(url::Host::Ipv6(a)) => format!("[{a}]"),
        _ => host.to_string(),
    };
    Ok(Upstream {
        origin: format!("{scheme}://{host}:{port}"),
        path: parsed.path().trim_end_matches('/').to_string(),
        down_until: AtomicU64::new(0),
    })
}

impl tower::Service<Request<Incoming>> for ReverseProxy {
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response<ResponseBody>, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let proxy = self.0.clone();
        Box::pin(async move { Ok(proxy.forward(request).await) })
    }
}

impl Inner {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The next upstream in turn that is not left out; when all are, the
    /// next in turn anyway (one of them may be back).
    fn pick(&self) -> &Upstream {
        let n = self.upstreams.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = self.now_ms();
        (0..n)
            .map(|i| &self.upstreams[(start + i) % n])
            .find(|u| u.down_until.load(Ordering::Relaxed) <= now)
            .unwrap_or(&self.upstreams[start % n])
    }

    fn failed(&self, upstream: &Upstream, why: &str) {
        let until = self.now_ms() + self.fail_timeout.as_millis() as u64;
        let before = upstream.down_until.swap(until, Ordering::Relaxed);
        if before <= self.now_ms() {
            tracing::warn!(
                "upstream {} failed ({why}); left out for {} s",
                upstream.origin,
                self.fail_timeout.as_secs()
            );
        }
    }

    async fn forward(&self, request: Request<Incoming>) -> Response<ResponseBody> {
        if is_websocket(&request) {
            return self.forward_websocket(request).await;
        }
        let upstream = self.pick();
        let (mut parts, body) = request.into_parts();
        let info = parts.extensions.get::<ConnectionInfo>();
        let headers = std::mem::take(&mut parts.headers);
        let headers = match upstream_fields(upstream, headers, &parts.uri, parts.version, info) {
            Some(h) => h,
            None => return looped(),
        };
        let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let uri = format!("{}{}{path}", upstream.origin, upstream.path);
        let mut out = Request::builder()
            .method(parts.method)
            .uri(uri)
            .version(Version::HTTP_11);
        if let Some(h) = out.headers_mut() {
            *h = headers;
        }
        let has_body = !http_body::Body::is_end_stream(&body);
        // A client that stops sending its body holds the upstream's
        // connection no longer than a silent upstream would hold ours.
        let body = BetweenBytes::new(
            body.map_err(|e| WasiError::InternalError(Some(format!("the client's body: {e}")))),
            self.outgoing.between_bytes_timeout(),
        )
        .boxed_unsync();
        let request = match out.body(body) {
            Ok(r) => r,
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("cannot forward this request: {e}\n"),
                );
            }
        };
        match self.outgoing.clone().send(request, None).await {
            Ok((response, sent)) => {
                upstream.down_until.store(0, Ordering::Relaxed);
                if has_body {
                    // The request body goes on being sent beside the
                    // response; its failure is the upstream's to answer.
                    let origin = upstream.origin.clone();
                    tokio::spawn(async move {
                        if let Err(e) = Box::into_pin(sent).await {
                            tracing::debug!("request body to {origin} not sent whole: {e:?}");
                        }
                    });
                }
                let (mut parts, body) = response.into_parts();
                remove_hop_by_hop(&mut parts.headers);
                append(&mut parts.headers, "via", &via(parts.version));
                let body = body.map_err(|e| -> BoxError { format!("upstream body: {e:?}").into() });
                Response::from_parts(parts, box_body(body))
            }
            Err(e) => self.unreachable(upstream, &e),
        }
    }

    /// The client's answer when `upstream` could not be asked: 504 for a
    /// deadline passed, 502 otherwise; the upstream is left out a while.
    fn unreachable(&self, upstream: &Upstream, e: &WasiError) -> Response<ResponseBody> {
        let (status, why) = match e {
            WasiError::ConnectionReadTimeout => {
                (StatusCode::GATEWAY_TIMEOUT, "no response in time")
            }
            WasiError::ConnectionTimeout => {
                (StatusCode::GATEWAY_TIMEOUT, "could not connect in time")
            }
            WasiError::ConnectionRefused => (StatusCode::BAD_GATEWAY, "connection refused"),
            WasiError::DnsError { .. } | WasiError::DestinationNotFound => {
                (StatusCode::BAD_GATEWAY, "cannot resolve its name")
            }
            _ => (StatusCode::BAD_GATEWAY, "the exchange failed"),
        };
        self.failed(upstream, why);
        tracing::debug!("upstream {}: {e:?}", upstream.origin);
        text(status, format!("upstream {}: {why}\n", upstream.origin))
    }
}

/// The request's fields as the upstream gets them: hop-by-hop fields
/// gone, the client named, `Via` added, `Host` the upstream's; none for
/// a request that has been through this proxy already (an upstream that
/// leads back here: a loop, answered by [`looped`]).
fn upstream_fields(
    upstream: &Upstream,
    mut headers: HeaderMap,
    uri: &http::Uri,
    version: Version,
    info: Option<&ConnectionInfo>,
) -> Option<HeaderMap> {
    if passed_here(&headers) {
        return None;
    }
    let host = uri.authority().map(|a| a.as_str().to_string()).or_else(|| {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
    });
    remove_hop_by_hop(&mut headers);
    headers.remove(header::HOST);
    forwarded(&mut headers, info, host.as_deref());
    append(&mut headers, "via", &via(version));
    if let Some(authority) = upstream.origin.split_once("://").map(|(_, a)| a)
        && let Ok(v) = HeaderValue::from_str(authority)
    {
        headers.insert(header::HOST, v);
    }
    Some(headers)
}

/// 508: the request came round again.
fn looped() -> Response<ResponseBody> {
    text(
        StatusCode::LOOP_DETECTED,
        "this request has been through this proxy already\n",
    )
}

/// This process's name in `Via`: `h2wasm-` and a random tag, so that two
/// h2wasm proxies in a chain are told apart and a loop through this one
/// is seen.
fn pseudonym() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        format!("h2wasm-{:08x}", h.finish() as u32)
    })
}

/// The `Via` entry for a message received over `version` (RFC 9110
/// §7.6.3: a proxy adds one to every message it forwards).
fn via(version: Version) -> String {
    let protocol = match version {
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        Version::HTTP_10 => "1.0",
        Version::HTTP_09 => "0.9",
        _ => "1.1",
    };
    format!("{protocol} {}", pseudonym())
}

/// Whether a request's `Via` names this proxy.
fn passed_here(headers: &HeaderMap) -> bool {
    headers
        .get_all("via")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|entry| entry.split_whitespace().nth(1) == Some(pseudonym()))
}

/// Hop-by-hop fields (RFC 9110 §7.6.1): those `Connection` names, and the
/// ones that are always connection-specific. `TE: trailers` stays (an
/// HTTP/2 upstream needs it to send trailers).
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
    ] {
        headers.remove(name);
    }
    let trailers = headers
        .get(header::TE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
        });
    headers.remove(header::TE);
    if trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
}

/// Who asked, for the upstream: `Forwarded` (RFC 7239) and the
/// `X-Forwarded-For`/`-Proto`/`-Host` most applications read, each
/// appended to what earlier proxies put there.
fn forwarded(headers: &mut HeaderMap, info: Option<&ConnectionInfo>, host: Option<&str>) {
    let proto = if info.is_some_and(|i| i.encrypted) {
        "https"
    } else {
        "http"
    };
    let client = info.and_then(|i| i.peer.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()));
    let mut element = String::new();
    if let Some(ip) = client {
        element = match ip {
            std::net::IpAddr::V4(v4) => format!("for={v4}"),
            std::net::IpAddr::V6(v6) => format!("for=\"[{v6}]\""),
        };
        append(headers, "x-forwarded-for", &ip.to_string());
    }
    if let Some(host) = host {
        let quoted = host.contains(':');
        let host_part = if quoted {
            format!("host=\"{host}\"")
        } else {
            format!("host={host}")
        };
        element = if element.is_empty() {
            host_part
        } else {
            format!("{element};{host_part}")
        };
        if let Ok(v) = HeaderValue::from_str(host) {
            headers.insert("x-forwarded-host", v);
        }
    }
    element = if element.is_empty() {
        format!("proto={proto}")
    } else {
        format!("{element};proto={proto}")
    };
    append(headers, "forwarded", &element);
    headers.insert(
        "x-forwarded-proto",
        HeaderValue::from_static(if proto == "https" { "https" } else { "http" }),
    );
}

/// Appends `value` to a comma-separated list field.
fn append(headers: &mut HeaderMap, name: &'static str, value: &str) {
    let joined = match headers.get(name).and_then(|v| v.to_str().ok()) {
        Some(before) => format!("{before}, {value}"),
        None => value.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&joined) {
        headers.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_fields_go_and_te_trailers_stays() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-private"),
        );
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(header::TE, HeaderValue::from_static("gzip, trailers"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert("x-kept", HeaderValue::from_static("yes"));
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 2, "{h:?}");
        assert_eq!(h.get(header::TE).unwrap(), "trailers");
        assert_eq!(h.get("x-kept").unwrap(), "yes");
    }

    #[test]
    fn the_client_is_named_after_earlier_proxies() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("192.0.2.1"));
        let info = ConnectionInfo {
            peer: "[2001:db8::7]:4321".into(),
            encrypted: true,
            alpn: None,
            server_name: None,
        };
        forwarded(&mut h, Some(&info), Some("example.org:8443"));
        assert_eq!(h.get("x-forwarded-for").unwrap(), "192.0.2.1, 2001:db8::7");
        assert_eq!(
            h.get("forwarded").unwrap(),
            "for=\"[2001:db8::7]\";host=\"example.org:8443\";proto=https"
        );
        assert_eq!(h.get("x-forwarded-proto").unwrap(), "https");
        assert_eq!(h.get("x-forwarded-host").unwrap(), "example.org:8443");
    }

    #[test]
    fn via_names_this_proxy_and_a_loop_is_seen() {
        let mut h = HeaderMap::new();
        assert!(!passed_here(&h));
        append(&mut h, "via", "1.1 other-proxy");
        assert!(!passed_here(&h));
        append(&mut h, "via", &via(Version::HTTP_2));
        assert!(
            h.get("via")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("1.1 other-proxy, 2 h2wasm-")
        );
        assert!(passed_here(&h));
    }

    #[test]
    fn upstream_urls_are_checked() {
        let up = parse_upstream("http://127.0.0.1:9000/base/").unwrap();
        assert_eq!(
            (up.origin.as_str(), up.path.as_str()),
            ("http://127.0.0.1:9000", "/base")
        );
        let up = parse_upstream("https://example.org").unwrap();
        assert_eq!(up.origin, "https://example.org:443");
        for bad in ["ftp://x", "http://x/?q=1", "nope"] {
            assert!(parse_upstream(bad).is_err(), "{bad}");
        }
    }
}

//! The router: the service in front of every site. It picks the site by
//! the request's host, checks that the connection may carry it, picks the
//! route by path, and hands the request on.

use crate::serve::metrics::RouteMetrics;
use crate::service::body::Incoming;
use crate::service::{BoxError, ConnectionInfo, ResponseBody, text};
use crate::sites::table::{Answer, LocalHandler, SiteTable};
use arc_swap::{ArcSwap, Cache};
use futures_util::future::{Either, ready};
use http::{Request, Response, StatusCode, header};
use std::borrow::Cow;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Sends each request to its site's route (see [`crate::sites`]).
/// Each clone (a connection's) keeps the table it last saw, checking per
/// request only whether it is still the current one, and its own copies
/// of the route services it has used.
pub struct Router {
    table: Cache<Arc<ArcSwap<SiteTable>>, Arc<SiteTable>>,
    local: Option<Local>,
}

/// What one connection keeps of the table it last used.
struct Local {
    /// The table all of this is of.
    table: Arc<SiteTable>,
    /// Copies of route services, by route index (made when first used).
    copies: Vec<Option<Box<dyn LocalHandler>>>,
    /// The last `:authority` seen and its site: a connection's requests
    /// nearly all name the same one, and comparing it costs less than
    /// finding its host and looking that up.
    last_authority: Option<(Box<str>, Option<usize>)>,
}

impl Local {
    fn new(table: &Arc<SiteTable>) -> Local {
        Local {
            table: table.clone(),
            copies: (0..table.route_count()).map(|_| None).collect(),
            last_authority: None,
        }
    }

    /// The site for `req`'s host.
    fn site_for<B>(&mut self, req: &Request<B>) -> Option<usize> {
        let Some(authority) = req.uri().authority() else {
            return self.table.site_for(request_host(req));
        };
        match &self.last_authority {
            Some((last, site)) if **last == *authority.as_str() => *site,
            _ => {
                let site = self.table.site_for(Some(authority.host()));
                self.last_authority = Some((authority.as_str().into(), site));
                site
            }
        }
    }
}

impl Clone for Router {
    /// A router for another connection: the same table, no copies yet.
    fn clone(&self) -> Router {
        Router {
            table: self.table.clone(),
            local: None,
        }
    }
}

impl Router {
    pub(crate) fn new(table: Arc<ArcSwap<SiteTable>>) -> Router {
        Router {
            table: Cache::new(table),
            local: None,
        }
    }
}

impl tower::Service<Request<Incoming>> for Router {
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<Incoming>) -> Answer {
        let answer = |status: StatusCode, why: String| Either::Left(ready(Ok(text(status, why))));
        // The table as it is now: a reload from here on does not touch
        // this request.
        let table = self.table.load();
        // This connection's copies are of the table in use, or made anew.
        let local = match &mut self.local {
            Some(local) if Arc::ptr_eq(&local.table, table) => local,
            stale => stale.insert(Local::new(table)),
        };
        let Some(site) = local.site_for(&req) else {
            let status = table.unmatched();
            let host = request_host(&req);
            return answer(
                status,
                format!("no site here for {}\n", host.unwrap_or("(no host)")),
            );
        };
        if table.coalescing_checked()
            && let Some(info) = req.extensions().get::<ConnectionInfo>()
            && info.encrypted
        {
            let host = request_host(&req);
            if !same_host(host, info.server_name.as_deref())
                && !table.coalescible(site, info.server_name.as_deref())
            {
                return answer(
                    StatusCode::MISDIRECTED_REQUEST,
                    format!(
                        "this connection is not for {}: open one of its own\n",
                        host.unwrap_or("(no host)")
                    ),
                );
            }
        }
        let Some((route, path)) = table.route(site, req.uri().path()) else {
            return answer(StatusCode::NOT_FOUND, "not found\n".into());
        };
        if let Cow::Owned(path) = path {
            *req.uri_mut() = with_path(req.uri(), &path);
        }
        let handler = route.handler.as_ref();
        let answer = match local.copies.get_mut(route.index) {
            Some(slot) => slot.get_or_insert_with(|| handler.local()).handle(req),
            // Not reached: the copies were made for this table.
            None => handler.local().handle(req),
        };
        match &route.metrics {
            Some(metrics) => counted(answer, metrics),
            None => answer,
        }
    }
}

/// `answer`, its status counted in `metrics` when it is known.
fn counted(answer: Answer, metrics: &RouteMetrics) -> Answer {
    match answer {
        Either::Left(now) => {
            let r = now.into_inner();
            count(metrics, &r);
            Either::Left(ready(r))
        }
        Either::Right(pending) => {
            let metrics = metrics.clone();
            Either::Right(Box::pin(async move {
                let r = pending.await;
                count(&metrics, &r);
                r
            }))
        }
    }
}

/// A failed service is answered 500 by the connection.
fn count(metrics: &RouteMetrics, r: &Result<Response<ResponseBody>, BoxError>) {
    let status = match r {
        Ok(response) => response.status(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    metrics.answered(status.as_u16());
}

/// Whether the request is for the very name the handshake asked for.
fn same_host(host: Option<&str>, server_name: Option<&str>) -> bool {
    match (host, server_name) {
        (Some(h), Some(s)) => h.trim_end_matches('.').eq_ignore_ascii_case(s),
        _ => false,
    }
}

/// The request's host: its URI's (HTTP/2's `:authority`; the server puts
/// HTTP/1.1's `Host` there), else the `Host` field, without the port.
fn request_host<B>(req: &Request<B>) -> Option<&str> {
    if let Some(host) = req.uri().host() {
        return Some(host);
    }
    let value = req.headers().get(header::HOST)?.to_str().ok()?;
    Some(without_port(value))
}

fn without_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .find(']')
            .map_or(authority, |end| &authority[..=end]);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// `uri` with its path replaced (the query kept).
fn with_path(uri: &http::Uri, path: &str) -> http::Uri {
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    match pq.parse() {
        Ok(pq) => {
            parts.path_and_query = Some(pq);
            http::Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
        }
        Err(_) => uri.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{full, shared};
    use crate::sites::{HostPattern, SiteBuilder, Sites};
    use http_body_util::BodyExt;
    use tower::{Service, ServiceExt};

    fn says(word: &'static str) -> crate::service::SharedService {
        shared(tower::service_fn(
            move |_req: Request<Incoming>| async move {
                Ok::<_, std::convert::Infallible>(Response::new(full(word)))
            },
        ))
    }

    fn table(a: &'static str, b: &'static str) -> SiteTable {
        let site = |name: &str, word| {
            SiteBuilder::new(vec![HostPattern::parse(name).unwrap()]).route("/", false, says(word))
        };
        SiteTable::new(
            vec![site("a.example", a), site("b.example", b)],
            StatusCode::NOT_FOUND,
            None,
        )
        .unwrap()
    }

    async fn ask(router: &mut Router, uri: &str) -> (StatusCode, String) {
        let req = Request::get(uri).body(Incoming::empty()).unwrap();
        let response = router.ready().await.unwrap().call(req).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// One connection's router follows a reload at its next request, and
    /// its memory of the last host never sends another host's request to
    /// the wrong site.
    #[tokio::test]
    async fn a_connection_follows_reloads_and_hosts() {
        let sites = Sites::new(table("a1", "b1"));
        let mut router = sites.router();
        let ok = |w: &str| (StatusCode::OK, w.to_string());
        assert_eq!(ask(&mut router, "http://a.example/").await, ok("a1"));
        assert_eq!(ask(&mut router, "http://b.example/").await, ok("b1"));
        assert_eq!(ask(&mut router, "http://a.example/").await, ok("a1"));
        assert_eq!(
            ask(&mut router, "http://c.example/").await.0,
            StatusCode::NOT_FOUND
        );
        sites.replace(table("a2", "b2"));
        assert_eq!(ask(&mut router, "http://a.example/").await, ok("a2"));
        assert_eq!(ask(&mut router, "http://b.example/").await, ok("b2"));
        // A new connection's router starts from the table in use.
        assert_eq!(
            ask(&mut router.clone(), "http://b.example/").await,
            ok("b2")
        );
    }

    #[test]
    fn hosts_lose_their_port() {
        assert_eq!(without_port("example.org:8443"), "example.org");
        assert_eq!(without_port("example.org"), "example.org");
        assert_eq!(without_port("[::1]:8443"), "[::1]");
        assert_eq!(without_port("[::1]"), "[::1]");
    }

    #[test]
    fn a_path_is_replaced_and_the_query_kept() {
        let uri: http::Uri = "https://a.example/api/x?y=1".parse().unwrap();
        assert_eq!(with_path(&uri, "/x"), "https://a.example/x?y=1");
    }
}

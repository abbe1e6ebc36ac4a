//! The router: the service in front of every site. It picks the site by
//! the request's host, checks that the connection may carry it, picks the
//! route by path, and hands the request on.

use crate::service::body::Incoming;
use crate::service::{BoxError, ConnectionInfo, ResponseBody, SharedService, text};
use crate::sites::table::SiteTable;
use arc_swap::ArcSwap;
use futures_util::future::{Either, Ready, ready};
use http::{Request, Response, StatusCode, header};
use std::borrow::Cow;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::ServiceExt;
use tower::util::Oneshot;

/// Sends each request to its site's route (see [`crate::sites`]).
#[derive(Clone)]
pub struct Router {
    table: Arc<ArcSwap<SiteTable>>,
}

impl Router {
    pub(crate) fn new(table: Arc<ArcSwap<SiteTable>>) -> Router {
        Router { table }
    }
}

type Answer = Either<
    Ready<Result<Response<ResponseBody>, BoxError>>,
    Oneshot<SharedService, Request<Incoming>>,
>;

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
        let host = request_host(&req);
        let Some(site) = table.site_for(host) else {
            let status = table.unmatched();
            return answer(
                status,
                format!("no site here for {}\n", host.unwrap_or("(no host)")),
            );
        };
        if let Some(info) = req.extensions().get::<ConnectionInfo>()
            && info.encrypted
            && !same_host(host, info.server_name.as_deref())
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
        let Some((route, path)) = table.route(site, req.uri().path()) else {
            return answer(StatusCode::NOT_FOUND, "not found\n".into());
        };
        let service = route.service.clone();
        if let Cow::Owned(path) = path {
            *req.uri_mut() = with_path(req.uri(), &path);
        }
        drop(table);
        Either::Right(service.oneshot(req))
    }
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

//! Redirects: a route that sends its requests elsewhere, and a cleartext
//! listener's move to https.

use crate::service::body::Incoming;
use crate::service::{ResponseBody, empty, text};
use futures_util::future::{Ready, ready};
use http::{HeaderValue, Request, Response, StatusCode, header};
use std::convert::Infallible;
use std::task::{Context, Poll};

/// Answers every request with a redirect to `to`; with `keep_path` the
/// request's path (as the route passes it on) and query follow `to`.
#[derive(Clone)]
pub struct Redirect {
    to: String,
    status: StatusCode,
    keep_path: bool,
}

impl Redirect {
    /// A redirect with `status`, one of 301, 302, 303, 307 and 308.
    pub fn new(to: &str, status: StatusCode, keep_path: bool) -> anyhow::Result<Redirect> {
        if ![301, 302, 303, 307, 308].contains(&status.as_u16()) {
            anyhow::bail!(
                "redirect status {}: expected 301, 302, 303, 307 or 308",
                status.as_u16()
            );
        }
        if HeaderValue::from_str(to).is_err() || to.is_empty() {
            anyhow::bail!("redirect target {to:?} cannot be a Location field");
        }
        Ok(Redirect {
            to: if keep_path {
                to.trim_end_matches('/').to_string()
            } else {
                to.to_string()
            },
            status,
            keep_path,
        })
    }
}

impl tower::Service<Request<Incoming>> for Redirect {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Ready<Result<Response<ResponseBody>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let location = if self.keep_path {
            let pq = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
            format!("{}{pq}", self.to)
        } else {
            self.to.clone()
        };
        ready(Ok(redirect(self.status, &location)))
    }
}

/// Answers every request with 308 to the same URL over https (the
/// cleartext listener of a site served over TLS), to `port` (443 is left
/// out of the URL).
#[derive(Clone)]
pub struct HttpsRedirect {
    port: u16,
}

impl HttpsRedirect {
    /// Redirects to https on `port`.
    pub fn new(port: u16) -> HttpsRedirect {
        HttpsRedirect { port }
    }
}

impl tower::Service<Request<Incoming>> for HttpsRedirect {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Ready<Result<Response<ResponseBody>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let host = req.uri().host().map(str::to_string).or_else(|| {
            let host = req.headers().get(header::HOST)?.to_str().ok()?;
            let uri: http::uri::Authority = host.parse().ok()?;
            Some(uri.host().to_string())
        });
        let Some(host) = host else {
            return ready(Ok(text(
                StatusCode::BAD_REQUEST,
                "a Host is needed to redirect to https\n",
            )));
        };
        let pq = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let location = match self.port {
            443 => format!("https://{host}{pq}"),
            port => format!("https://{host}:{port}{pq}"),
        };
        ready(Ok(redirect(StatusCode::PERMANENT_REDIRECT, &location)))
    }
}

fn redirect(status: StatusCode, location: &str) -> Response<ResponseBody> {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut r = Response::new(empty());
            *r.status_mut() = status;
            r.headers_mut().insert(header::LOCATION, value);
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(0));
            r
        }
        Err(_) => text(StatusCode::BAD_REQUEST, "cannot redirect this request\n"),
    }
}

//! HTTP/1.1 for clients that do not speak HTTP/2 (Node's `allowHTTP1`):
//! hyper's server connection, answering with the same service as HTTP/2.
//! What only HTTP/2 has is absent (no [`crate::service::Http2Stream`], so
//! no push); a [`ServeFile`] response is read by the host; 1xx such as
//! 103 are written between hyper's responses (the `interim` module).

mod counted;
mod interim;

use crate::serve::access_log::{AccessLog, ClientFields, Entry, LoggedMethod, Protocol, epoch_ms};
use crate::serve::limits::Limits;
use crate::serve::metrics::Metrics;
use crate::service::body::{FileBody, Incoming};
use crate::service::files::{FileThenTrailers, Trailing};
use crate::service::{
    BoxError, ConnectionInfo, Informational, ResponseBody, ServeFile, SharedService, box_body, text,
};
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tower::ServiceExt;

/// How HTTP/1.1 connections are served.
#[derive(Clone)]
pub struct Http1Config {
    /// A request's headers must arrive within this, the first request's
    /// and each later one's on a kept-alive connection (which is also how
    /// long an idle kept-alive connection is held).
    pub header_timeout: Duration,
    /// While its memory budget is spent, requests get 503.
    pub limits: Option<Arc<Limits>>,
    /// Where each request's line goes (none: no access log).
    pub access_log: Option<AccessLog>,
    /// Where requests and octets are counted (none: no metrics).
    pub metrics: Option<Metrics>,
}

impl Default for Http1Config {
    fn default() -> Self {
        Http1Config {
            header_timeout: Duration::from_secs(30),
            limits: None,
            access_log: None,
            metrics: None,
        }
    }
}

/// Serves HTTP/1.1 on `io` until the client is done or `shutdown` turns
/// true (then the request in progress finishes, with `Connection: close`).
/// [`ServeFile`] paths are found under `files_root` (the runtime's).
pub async fn serve_http1<IO>(
    io: IO,
    service: SharedService,
    info: ConnectionInfo,
    config: &Http1Config,
    files_root: Option<&Path>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let info = Arc::new(info);
    let header_timeout = config.header_timeout;
    let config = Arc::new((config.clone(), files_root.map(PathBuf::from)));
    let io = counted::Counted::new(io, config.0.metrics.clone());
    let (io, drain) = interim::InterimIo::new(io);
    let drain = Arc::new(drain);
    let handler = {
        let drain = drain.clone();
        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let service = service.clone();
            let info = info.clone();
            let config = config.clone();
            let informational = match req.version() {
                http::Version::HTTP_10 | http::Version::HTTP_09 => Informational::unavailable(),
                _ => Informational::new(drain.interim(), 0),
            };
            async move {
                let (config, root) = &*config;
                let response =
                    answer(service, &info, config, root.as_deref(), req, informational).await;
                Ok::<_, std::convert::Infallible>(response)
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), handler)
        .with_upgrades();
    tokio::pin!(conn);
    let mut closing = *shutdown.borrow();
    if closing {
        conn.as_mut().graceful_shutdown();
    }
    let interim = drain.run();
    tokio::pin!(interim);
    let ended = loop {
        tokio::select! {
            done = conn.as_mut() => break done,
            e = interim.as_mut() => return Err(anyhow::anyhow!("HTTP/1.1: {e}")),
            _ = shutdown.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    };
    if let Err(e) = ended {
        if e.is_parse() {
            // hyper has written its 400: let the client read it.
            drain.linger(MALFORMED_LINGER).await;
        }
        return Err(anyhow::anyhow!("HTTP/1.1: {e}"));
    }
    Ok(())
}

/// How long a connection whose request hyper rejected as malformed is
/// held, reading and dropping input, so that its 400 is not lost to a
/// reset (bounded: the connection still counts toward the limits).
const MALFORMED_LINGER: Duration = Duration::from_secs(1);

/// Answers one request with 503 and `Retry-After`, then closes: the
/// HTTP/1.1 refusal of a connection the server cannot take.
pub async fn refuse_http1<IO>(io: IO, reason: &'static str, linger: Duration)
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let unavailable =
        hyper::service::service_fn(move |_req: Request<hyper::body::Incoming>| async move {
            let mut r = text(StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n"));
            r.headers_mut()
                .insert(header::RETRY_AFTER, http::HeaderValue::from_static("1"));
            Ok::<_, std::convert::Infallible>(r)
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(linger)
        // One answer, with Connection: close.
        .keep_alive(false)
        .serve_connection(TokioIo::new(io), unavailable);
    let _ = tokio::time::timeout(linger * 2, conn).await;
}

async fn answer(
    service: SharedService,
    info: &ConnectionInfo,
    config: &Http1Config,
    files_root: Option<&Path>,
    req: Request<hyper::body::Incoming>,
    informational: Informational,
) -> Response<ResponseBody> {
    let started = Instant::now();
    let (mut parts, body) = req.into_parts();
    let protocol = match parts.version {
        http::Version::HTTP_10 => Protocol::Http10,
        _ => Protocol::Http11,
    };
    // The access log's facts, taken before the request is the service's.
    let logged = config.access_log.as_ref().map(|log| {
        let fields = log.wants_fields().then(|| {
            Box::new(ClientFields {
                referer: parts.headers.get(header::REFERER).cloned(),
                user_agent: parts.headers.get(header::USER_AGENT).cloned(),
            })
        });
        let entry = Entry {
            method: LoggedMethod::of(&parts.method),
            target: parts.uri.path_and_query().cloned(),
            status: 0,
            reset: 0,
            bytes: 0,
            started_ms: epoch_ms(crate::serve::date::wall_now()),
            duration_us: 0,
            fields,
        };
        Line {
            log: log.clone(),
            peer: info.peer.clone(),
            protocol,
            entry,
        }
    });
    // As HTTP/2 requests do: the authority (from Host) in the URI.
    if parts.uri.authority().is_none()
        && let Some(host) = parts.headers.get(header::HOST).cloned()
    {
        let mut uri =
            http::uri::Builder::new().scheme(if info.encrypted { "https" } else { "http" });
        uri = uri.authority(host.as_bytes());
        if let Some(pq) = parts.uri.path_and_query() {
            uri = uri.path_and_query(pq.clone());
        }
        if let Ok(u) = uri.build() {
            parts.uri = u;
        }
    }
    parts.extensions.insert(info.clone());
    parts.extensions.insert(informational.clone());
    let request = Request::from_parts(parts, Incoming::http1(body));
    let response = if config.limits.as_ref().is_some_and(|l| l.memory_exhausted()) {
        // Short of memory: HTTP/1.1's REFUSED_STREAM.
        let mut r = text(StatusCode::SERVICE_UNAVAILABLE, "server short of memory\n");
        r.headers_mut()
            .insert(header::RETRY_AFTER, http::HeaderValue::from_static("1"));
        r
    } else {
        match service.oneshot(request).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(peer = %info.peer, "the service failed: {e}");
                text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
            }
        }
    };
    // From here hyper writes the final response: no more 1xx.
    informational.answered();
    let response = match response.extensions().get::<ServeFile>().cloned() {
        Some(file) => serve_file(response, file, files_root),
        None => response,
    };
    let status = response.status().as_u16();
    let measured = config.metrics.clone().map(|m| Measured {
        metrics: m,
        protocol,
        status,
        first_byte: started.elapsed(),
    });
    if logged.is_none() && measured.is_none() {
        return response;
    }
    let line = logged.map(|mut line| {
        line.entry.status = status;
        line
    });
    response.map(move |body| {
        box_body(Observed {
            body,
            started,
            line,
            measured,
        })
    })
}

/// A [`ServeFile`] response over HTTP/1.1: the host reads the file.
fn serve_file(
    response: Response<ResponseBody>,
    file: ServeFile,
    root: Option<&Path>,
) -> Response<ResponseBody> {
    let sized = file
        .open_host(root)
        .and_then(|(f, start, count)| Ok((FileBody::from_file(f, start, count)?, count)));
    match sized {
        Ok((body, count)) => {
            let (mut parts, _) = response.into_parts();
            let body = match file.take_trailers() {
                // Chunked, so that the trailers can follow.
                Some(trailers) => {
                    parts.headers.remove(header::CONTENT_LENGTH);
                    box_body(FileThenTrailers {
                        file: body,
                        trailers: Trailing::new(trailers),
                    })
                }
                None => {
                    let length = http::HeaderValue::from(count);
                    parts.headers.insert(header::CONTENT_LENGTH, length);
                    box_body(body)
                }
            };
            Response::from_parts(parts, body)
        }
        Err(e) => crate::service::file_failure(&e),
    }
}

/// A response body that records its request's access log line and
/// metrics when it is done (or dropped), with the octets it sent.
struct Observed {
    body: ResponseBody,
    started: Instant,
    line: Option<Line>,
    measured: Option<Measured>,
}

/// A request's access log line, to be recorded when its response ends.
struct Line {
    log: AccessLog,
    /// The client's address.
    peer: Arc<str>,
    protocol: Protocol,
    entry: Entry,
}

/// What the metrics count of a request, besides its duration.
struct Measured {
    metrics: Metrics,
    protocol: Protocol,
    status: u16,
    first_byte: Duration,
}

impl Body for Observed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(d) = frame.data_ref()
            && let Some(line) = &mut self.line
        {
            line.entry.bytes += d.len() as u64;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        let took = self.started.elapsed();
        if let Some(m) = self.measured.take() {
            m.metrics
                .request(m.protocol, m.status, took, Some(m.first_byte));
        }
        if let Some(mut line) = self.line.take() {
            line.entry.duration_us = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
            line.log.record(&line.peer, line.protocol, line.entry);
        }
    }
}

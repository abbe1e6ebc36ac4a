//! `h2wasm get`: requests on one origin over one connection, as
//! `http::Request`s to either client driver — the engine's HTTP/2 one
//! ([`super::h2`]), every request at once, or hyper's HTTP/1.1 one, one
//! after another — and their responses taken the same way from both:
//! bodies to memory or to files (with a progress meter), trailers, resets,
//! 1xx heads, and over HTTP/2 pushed responses and the retry of a request
//! the server refused unprocessed.

use super::exchange::{BodySource, ClientOptions, Output, Pushed, Request, Response, Target};
use super::h2::{self, Exchange, InformationalHeads, Promise, StreamError, StreamId};
use super::progress::Progress;
use super::{Connected, Header, Transport, connect};
use crate::bindings::{Options, Priority, Role};
use crate::engine::Runtime;
use crate::engine::clock::now_ns;
use crate::service::body::Incoming;
use crate::service::{ResponseBody, box_body, empty, full};
use anyhow::{Context, bail};
use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use http_body::Body;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};

/// Times one request is sent again after REFUSED_STREAM.
const MAX_RETRIES: u8 = 3;

/// Connects, sends every request (concurrently over HTTP/2), and returns
/// the responses in request order.
pub async fn fetch(
    runtime: &Runtime,
    target: &Target,
    requests: Vec<Request>,
    opts: &ClientOptions,
) -> anyhow::Result<Vec<Response>> {
    let meter = Mutex::new(opts.progress.then(Progress::new));
    let responses = match connect(runtime, target, opts).await? {
        Connected::Http2(io, options) => {
            if opts.verbose {
                eprintln!("* HTTP/2");
            }
            http2(runtime, &options, io, target, requests, opts, &meter).await
        }
        Connected::Http1(io) => {
            if opts.verbose {
                eprintln!("* HTTP/1.1");
            }
            http1(io, target, requests, opts, &meter).await
        }
    };
    if let Some(meter) = meter.lock().ok().as_mut().and_then(|m| m.as_mut()) {
        meter.finish();
    }
    responses
}

/// Every request at once on one HTTP/2 connection; pushed responses are
/// kept with the request they were promised on.
async fn http2(
    runtime: &Runtime,
    options: &Options,
    io: Box<dyn Transport>,
    target: &Target,
    requests: Vec<Request>,
    opts: &ClientOptions,
    meter: &Mutex<Option<Progress>>,
) -> anyhow::Result<Vec<Response>> {
    let engine = runtime
        .connect(Role::Client, options, now_ns())
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let (pushes_tx, mut pushes_rx) = mpsc::unbounded_channel();
    let setup = h2::Setup {
        origin: target.authority(),
        idle_timeout: None,
        pushes: Some(pushes_tx),
        verbose: opts.verbose,
        await_settings: false,
    };
    let (connection, driving) = h2::Connection::new(engine, setup, io);
    let requesting = async {
        let all = requests
            .iter()
            .map(|req| send_until_taken(&connection, target, req, opts, meter));
        let done = futures_util::future::join_all(all).await;
        // The connection finishes what is in flight, then closes.
        drop(connection);
        done
    };
    // Pushed responses, taken while the requests run; when they are saved,
    // until the connection has closed, every one of them.
    let (requests_done, mut requests_ran) = tokio::sync::watch::channel(false);
    let pushing = async {
        let mut running = FuturesUnordered::new();
        let mut taken = Vec::new();
        let keep_all = opts.save_pushed.is_some();
        loop {
            tokio::select! {
                promise = pushes_rx.recv() => match promise {
                    Some(promise) => running.push(push(promise, opts)),
                    None => break,
                },
                Some(pushed) = running.next(), if !running.is_empty() => taken.push(pushed),
                _ = requests_ran.wait_for(|ran| *ran), if !keep_all => break,
            }
        }
        match keep_all {
            true => taken.extend(running.collect::<Vec<_>>().await),
            // Only what arrived whole while the requests ran is kept.
            false => {
                while let Some(Some(pushed)) = running.next().now_or_never() {
                    taken.push(pushed);
                }
            }
        }
        taken
    };
    let requesting = async {
        let results = requesting.await;
        let _ = requests_done.send(true);
        results
    };
    let (results, pushed, ()) = tokio::join!(requesting, pushing, driving);
    let mut responses = Vec::with_capacity(results.len());
    let mut by_stream = HashMap::new();
    for (index, result) in results.into_iter().enumerate() {
        let (response, stream) = result?;
        if let Some(id) = stream {
            by_stream.insert(id, index);
        }
        responses.push(response);
    }
    for (parent, p) in pushed.into_iter().flatten() {
        if let Some(&index) = by_stream.get(&parent) {
            responses[index].pushed.push(p);
        }
    }
    Ok(responses)
}

/// Sends `req` until the server takes it (it may refuse it unprocessed a
/// few times), and takes its response: the response, and its stream.
async fn send_until_taken(
    connection: &h2::Connection,
    target: &Target,
    req: &Request,
    opts: &ClientOptions,
    meter: &Mutex<Option<Progress>>,
) -> anyhow::Result<(Response, Option<u32>)> {
    let mut attempts = 0;
    loop {
        let (reply, replied) = oneshot::channel();
        let exchange = Exchange {
            request: http_request(target, req, true)?,
            priority: req.weight.map(|weight| Priority {
                parent: 0,
                exclusive: false,
                weight,
            }),
            reply,
            sent: None,
        };
        if connection.send(exchange).await.is_err() {
            bail!(
                "the connection ended before {} {} was sent",
                req.method,
                req.path
            );
        }
        let outcome = replied
            .await
            .unwrap_or_else(|_| Err(StreamError::ConnectionEnded("it closed".into())));
        match outcome {
            Ok(response) => {
                let stream = response.extensions().get::<StreamId>().map(|s| s.0);
                return Ok((take(response, &req.output, meter).await?, stream));
            }
            // §8.7: REFUSED_STREAM means nothing was processed, so the
            // request is safe to send again — typically one sent before
            // the server's SETTINGS lowered its concurrency limit, which
            // the engine now honours.
            Err(StreamError::Refused(id)) if attempts < MAX_RETRIES => {
                attempts += 1;
                if opts.verbose {
                    eprintln!("* stream {id}: refused, sending again");
                }
            }
            Err(StreamError::Refused(_)) => {
                let code = crate::engine::convert::codes::REFUSED_STREAM;
                return Ok((reset(code), None));
            }
            Err(StreamError::Reset(code)) => return Ok((reset(code), None)),
            Err(e) => bail!("{} {}: {e}", req.method, req.path),
        }
    }
}

/// A request reset before its response came.
fn reset(code: u32) -> Response {
    Response {
        reset: Some(code),
        ..Response::default()
    }
}

/// A request as `http::Request`, its body from memory or streamed from
/// its file. Over HTTP/2 the URI is absolute (its scheme and authority
/// become the pseudo-headers); over HTTP/1.1 it is the path, with `host`.
fn http_request(
    target: &Target,
    req: &Request,
    absolute: bool,
) -> anyhow::Result<http::Request<ResponseBody>> {
    let body = match &req.body {
        None => empty(),
        Some(BodySource::Bytes(b)) => full(b.clone()),
        Some(BodySource::File(p)) => {
            let file =
                std::fs::File::open(p).with_context(|| format!("cannot read {}", p.display()))?;
            let len = file.metadata()?.len();
            box_body(crate::service::body::FileBody::from_file(file, 0, len)?)
        }
    };
    let mut builder = http::Request::builder().method(req.method.as_str());
    builder = match absolute {
        true => {
            let scheme = if target.tls { "https" } else { "http" };
            builder.uri(format!("{scheme}://{}{}", target.authority(), req.path))
        }
        false => builder
            .uri(req.path.as_str())
            .header(http::header::HOST, target.authority()),
    };
    for (name, value) in &req.headers {
        builder = builder.header(name.as_str(), value.as_slice());
    }
    builder
        .body(body)
        .with_context(|| format!("invalid request {} {}", req.method, req.path))
}

/// Takes a response: its head as pairs (`:status` first over HTTP/2, as
/// received), and its body into `output` — memory, or a file with the
/// progress meter — then its trailers, or the code of the reset that cut
/// it short.
async fn take(
    response: http::Response<Incoming>,
    output: &Output,
    meter: &Mutex<Option<Progress>>,
) -> anyhow::Result<Response> {
    let (parts, mut body) = response.into_parts();
    let http2 = parts.version == http::Version::HTTP_2;
    let mut r = Response {
        status: parts.status.as_u16(),
        headers: head_pairs(http2, parts.status, &parts.headers),
        ..Response::default()
    };
    if let Some(heads) = parts.extensions.get::<InformationalHeads>() {
        r.informational = heads
            .0
            .iter()
            .map(|(status, headers)| head_pairs(true, *status, headers))
            .collect();
    }
    let mut sink = match output {
        Output::File(p) => Some(
            tokio::fs::File::create(p)
                .await
                .with_context(|| format!("cannot write {}", p.display()))?,
        ),
        Output::Memory => None,
    };
    if sink.is_some()
        && let Some(meter) = meter.lock().ok().as_mut().and_then(|m| m.as_mut())
    {
        meter.expect(
            parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse().ok()),
        );
    }
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => match e.reset_code() {
                Some(code) => {
                    r.reset = Some(code);
                    break;
                }
                None => return Err(e).context("reading the response body"),
            },
        };
        match frame.into_data() {
            Ok(d) => {
                r.body_len += d.len() as u64;
                match sink.as_mut() {
                    Some(f) => {
                        f.write_all(&d).await?;
                        if let Some(meter) = meter.lock().ok().as_mut().and_then(|m| m.as_mut()) {
                            meter.add(d.len() as u64);
                        }
                    }
                    None => r.body.extend_from_slice(&d),
                }
            }
            Err(frame) => {
                if let Ok(t) = frame.into_trailers() {
                    r.trailers = head_pairs(false, parts.status, &t);
                }
            }
        }
    }
    if let Some(f) = sink.as_mut() {
        f.flush().await?;
    }
    Ok(r)
}

/// A head as the client's pairs, with `:status` first for HTTP/2.
fn head_pairs(http2: bool, status: http::StatusCode, headers: &http::HeaderMap) -> Vec<Header> {
    let mut pairs = Vec::with_capacity(headers.len() + 1);
    if http2 {
        pairs.push((":status".to_string(), status.as_str().as_bytes().to_vec()));
    }
    pairs.extend(
        headers
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec())),
    );
    pairs
}

/// A pushed response: the stream it was promised on, and what came (its
/// body saved under `--save-pushed`, or kept).
async fn push(promise: Promise, opts: &ClientOptions) -> anyhow::Result<(u32, Pushed)> {
    let mut pushed = Pushed {
        stream_id: promise.stream_id,
        request: promise.request,
        ..Pushed::default()
    };
    let output = match &opts.save_pushed {
        Some(dir) => {
            let path = pushed_file(dir, &pushed.path());
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            pushed.saved_to = Some(path.clone());
            Output::File(path)
        }
        None => Output::Memory,
    };
    match promise.response.await {
        Ok(Ok(response)) => {
            let r = take(response, &output, &Mutex::new(None)).await?;
            pushed.status = r.status;
            pushed.headers = r.headers;
            pushed.body = r.body;
            pushed.body_len = r.body_len;
            pushed.reset = r.reset;
        }
        Ok(Err(StreamError::Reset(code))) => pushed.reset = Some(code),
        _ => pushed.reset = Some(crate::engine::convert::codes::CANCEL),
    }
    Ok((promise.parent, pushed))
}

/// Where a pushed response for `path` is saved under `dir`: the path's
/// segments without query, never leaving `dir`.
fn pushed_file(dir: &Path, path: &str) -> PathBuf {
    let clean = path.split(['?', '#']).next().unwrap_or("");
    let mut out = dir.to_path_buf();
    for seg in clean.split('/') {
        if !seg.is_empty() && seg != "." && seg != ".." && !seg.contains('\\') {
            out.push(seg);
        }
    }
    if out == dir || clean.ends_with('/') {
        out.push("index.html");
    }
    out
}

/// One request after another on one kept-alive HTTP/1.1 connection
/// (hyper's client connection).
async fn http1(
    io: Box<dyn Transport>,
    target: &Target,
    requests: Vec<Request>,
    opts: &ClientOptions,
    meter: &Mutex<Option<Progress>>,
) -> anyhow::Result<Vec<Response>> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .context("HTTP/1.1 handshake")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut responses = Vec::with_capacity(requests.len());
    for req in &requests {
        let request = http_request(target, req, false)?;
        if opts.verbose {
            eprintln!("* {} {}", req.method, req.path);
        }
        sender.ready().await.context("HTTP/1.1 connection")?;
        let response = sender
            .send_request(request)
            .await
            .with_context(|| format!("{} {}", req.method, req.path))?;
        if opts.verbose {
            eprintln!("* response {}", response.status().as_u16());
        }
        let response = response.map(Incoming::http1);
        responses.push(take(response, &req.output, meter).await?);
    }
    Ok(responses)
}

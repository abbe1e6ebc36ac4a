//! The client over HTTP/1.1, through hyper's client connection: for
//! servers that do not speak HTTP/2. Requests go one after another on one
//! kept-alive connection; bodies stream both ways, trailers included.

use crate::fetch::{BodySource, ClientOptions, Output, Request, Response, Target, Transport};
use crate::service::{box_body, empty, full};
use anyhow::Context;
use bytes::Bytes;
use http_body::{Body, Frame};
use hyper_util::rt::TokioIo;
use std::pin::Pin;
use tokio::io::AsyncWriteExt;

pub(crate) async fn run(
    io: Box<dyn Transport>,
    target: &Target,
    requests: Vec<Request>,
    opts: &ClientOptions,
) -> anyhow::Result<Vec<Response>> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .context("HTTP/1.1 handshake")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut progress = opts.progress.then(crate::fetch::progress::Progress::new);
    let mut responses = Vec::with_capacity(requests.len());
    for req in requests {
        let body = match &req.body {
            None => empty(),
            Some(BodySource::Bytes(b)) => full(b.clone()),
            Some(BodySource::File(p)) => {
                let file = std::fs::File::open(p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                let len = file.metadata()?.len();
                box_body(crate::service::body::FileBody::from_file(file, 0, len)?)
            }
        };
        let mut builder = http::Request::builder()
            .method(req.method.as_str())
            .uri(req.path.as_str())
            .header(http::header::HOST, target.authority());
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_slice());
        }
        let request = builder
            .body(body)
            .with_context(|| format!("invalid request {} {}", req.method, req.path))?;
        if opts.verbose {
            eprintln!("* {} {}", req.method, req.path);
        }
        sender.ready().await.context("HTTP/1.1 connection")?;
        let response = sender
            .send_request(request)
            .await
            .with_context(|| format!("{} {}", req.method, req.path))?;
        let (parts, mut body) = response.into_parts();
        let mut r = Response {
            status: parts.status.as_u16(),
            headers: pairs(&parts.headers),
            ..Response::default()
        };
        if opts.verbose {
            eprintln!("* response {}", r.status);
        }
        let mut sink = match &req.output {
            Output::File(p) => Some(
                tokio::fs::File::create(p)
                    .await
                    .with_context(|| format!("cannot write {}", p.display()))?,
            ),
            Output::Memory => None,
        };
        if let (Some(meter), Some(_)) = (progress.as_mut(), &sink) {
            meter.expect(
                parts
                    .headers
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse().ok()),
            );
        }
        while let Some(frame) = next_frame(&mut body).await {
            let frame = frame.context("reading the response body")?;
            match frame.into_data() {
                Ok(d) => {
                    r.body_len += d.len() as u64;
                    match sink.as_mut() {
                        Some(f) => {
                            f.write_all(&d).await?;
                            if let Some(meter) = progress.as_mut() {
                                meter.add(d.len() as u64);
                            }
                        }
                        None => r.body.extend_from_slice(&d),
                    }
                }
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        r.trailers = pairs(&t);
                    }
                }
            }
        }
        if let Some(f) = sink.as_mut() {
            f.flush().await?;
        }
        responses.push(r);
    }
    if let Some(meter) = progress.as_mut() {
        meter.finish();
    }
    Ok(responses)
}

async fn next_frame(
    body: &mut hyper::body::Incoming,
) -> Option<Result<Frame<Bytes>, hyper::Error>> {
    std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
}

fn pairs(headers: &http::HeaderMap) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
        .collect()
}

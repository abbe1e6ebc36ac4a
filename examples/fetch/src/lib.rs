//! `fetch`: a component that makes outgoing requests. `GET /?URL` fetches
//! URL (`http://` or `https://`) through `wasi:http/outgoing-handler` and
//! streams the answer back: the origin's status, `content-type` and body,
//! plus `x-upstream-status`. A failed fetch answers 502 with the error.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingRequest, IncomingResponse, OutgoingBody, OutgoingRequest,
    OutgoingResponse, ResponseOutparam, Scheme,
};
use wasip2::io::streams::StreamError;

struct Fetch;

/// `scheme://authority/path?query` in parts.
fn split(url: &str) -> Option<(Scheme, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Some((scheme, authority, path))
}

fn get(url: &str) -> Result<IncomingResponse, String> {
    let (scheme, authority, path) = split(url).ok_or_else(|| format!("not a URL: {url}"))?;
    let request = OutgoingRequest::new(Fields::new());
    let set = request.set_scheme(Some(&scheme)).is_ok()
        && request.set_authority(Some(authority)).is_ok()
        && request.set_path_with_query(Some(path)).is_ok();
    if !set {
        return Err(format!("not a valid request: {url}"));
    }
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(e))) => Err(format!("{e:?}")),
        _ => Err(format!("{:?}", ErrorCode::InternalError(None))),
    }
}

fn answer(out: ResponseOutparam, status: u16, fields: &[(String, Vec<u8>)]) -> OutgoingBody {
    let response = OutgoingResponse::new(Fields::from_list(fields).expect("valid fields"));
    response.set_status_code(status).expect("a valid status");
    let body = response.body().expect("the body is taken once");
    ResponseOutparam::set(out, Ok(response));
    body
}

impl wasip2::exports::http::incoming_handler::Guest for Fetch {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let target = request.path_with_query().unwrap_or_default();
        let url = target.split_once('?').map_or("", |(_, q)| q);
        let upstream = match get(url) {
            Ok(r) => r,
            Err(e) => {
                let body = answer(response_out, 502, &[]);
                let out = body.write().expect("the stream is taken once");
                let _ = out.blocking_write_and_flush(format!("fetch failed: {e}\n").as_bytes());
                drop(out);
                let _ = OutgoingBody::finish(body, None);
                return;
            }
        };
        let status = upstream.status();
        let mut fields = vec![(
            "x-upstream-status".to_string(),
            status.to_string().into_bytes(),
        )];
        for value in upstream.headers().get("content-type") {
            fields.push(("content-type".into(), value));
        }
        let body = answer(response_out, status, &fields);
        let incoming = upstream.consume().expect("the body is taken once");
        let input = incoming.stream().expect("the stream is taken once");
        let out = body.write().expect("the stream is taken once");
        loop {
            match out.blocking_splice(&input, 256 * 1024) {
                Ok(_) => {}
                Err(StreamError::Closed) => break,
                // The origin's body failed (or the client left): end with
                // a trap, so the client sees a reset, not a short body.
                Err(StreamError::LastOperationFailed(e)) => {
                    panic!("relaying the body failed: {}", e.to_debug_string())
                }
            }
        }
        drop(input);
        if out.blocking_flush().is_err() {
            return;
        }
        drop(out);
        let _ = OutgoingBody::finish(body, None);
    }
}

wasip2::http::proxy::export!(Fetch);

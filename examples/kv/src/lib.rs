//! `kv`: a wasi:http component over `wasi:keyvalue` (store, atomics,
//! batch), for `serve --app-keyvalue NAME=LOCATION`. The first path
//! segment names the bucket, the rest the key:
//!
//! - `GET /B/K` the value (404 if none), `PUT /B/K` sets it to the body,
//!   `DELETE /B/K` removes it;
//! - `POST /B/K` adds 1 to the counter at K (`?add=N` adds N) and answers
//!   the new count;
//! - `GET /B/` lists every key, a line each (all `list-keys` pages);
//! - `GET /B/?many=K1,K2` answers `K=V` lines for the keys that have
//!   values, `POST /B/?many` sets the body's `K=V` lines, and
//!   `DELETE /B/?many=K1,K2` removes those keys (the batch interface).
//!
//! A bucket the app was not given answers 404; a store's error 500 with
//! its reason.

wit_bindgen::generate!({
    path: "wit",
    world: "h2wasm-examples:kv/kv",
    generate_all,
});

use wasi::keyvalue::{atomics, batch, store};
use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasip2::io::streams::StreamError;

struct Kv;

fn answer(out: ResponseOutparam, status: u16, text: &[u8]) {
    let headers =
        Fields::from_list(&[("content-type".into(), b"text/plain; charset=utf-8".to_vec())])
            .expect("valid header fields");
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("a valid status");
    let body = response.body().expect("the body is taken once");
    ResponseOutparam::set(out, Ok(response));
    let stream = body.write().expect("the stream is taken once");
    for chunk in text.chunks(4096) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            return; // the client went away
        }
    }
    drop(stream);
    let _ = OutgoingBody::finish(body, None);
}

/// The request's body, whole (`None` if the client went away).
fn read_body(request: IncomingRequest) -> Option<Vec<u8>> {
    let incoming = request.consume().ok()?;
    let stream = incoming.stream().ok()?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(_)) => return None,
        }
    }
    Some(body)
}

fn failed(out: ResponseOutparam, e: store::Error) {
    match e {
        store::Error::NoSuchStore => answer(out, 404, b"no such bucket\n"),
        store::Error::AccessDenied => answer(out, 403, b"access denied\n"),
        store::Error::Other(why) => answer(out, 500, format!("{why}\n").as_bytes()),
    }
}

/// The value of `name` in a query string.
fn query_value<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| match pair.split_once('=') {
            Some((n, v)) if n == name => Some(v),
            None if pair == name => Some(""),
            _ => None,
        })
}

/// Every key in `bucket`, through all of `list-keys`' pages.
fn all_keys(bucket: &store::Bucket) -> Result<Vec<String>, store::Error> {
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = bucket.list_keys(cursor)?;
        keys.extend(page.keys);
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(keys),
        }
    }
}

fn handle(request: IncomingRequest, out: ResponseOutparam) {
    let target = request.path_with_query().unwrap_or_else(|| "/".into());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let (path, query) = (path.to_string(), query.to_string());
    let Some((name, key)) = path.trim_start_matches('/').split_once('/') else {
        return answer(out, 404, b"GET /BUCKET/KEY, or /BUCKET/ for its keys\n");
    };
    let bucket = match store::open(name) {
        Ok(b) => b,
        Err(e) => return failed(out, e),
    };
    let method = request.method();
    if key.is_empty() {
        let many = query_value(&query, "many");
        let keys = || -> Vec<String> {
            many.unwrap_or("")
                .split(',')
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect()
        };
        let result = match (method, many) {
            (Method::Get, None) => all_keys(&bucket).map(|keys| {
                keys.iter()
                    .map(|k| format!("{k}\n"))
                    .collect::<String>()
                    .into_bytes()
            }),
            (Method::Get, Some(_)) => batch::get_many(&bucket, &keys()).map(|found| {
                let mut text = Vec::new();
                for (k, v) in found.into_iter().flatten() {
                    text.extend_from_slice(k.as_bytes());
                    text.push(b'=');
                    text.extend_from_slice(&v);
                    text.push(b'\n');
                }
                text
            }),
            (Method::Post, Some(_)) => {
                let Some(body) = read_body(request) else {
                    return;
                };
                let text = String::from_utf8_lossy(&body).into_owned();
                let pairs: Vec<(String, Vec<u8>)> = text
                    .lines()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                    .collect();
                let n = pairs.len();
                batch::set_many(&bucket, &pairs).map(|()| format!("{n} set\n").into_bytes())
            }
            (Method::Delete, Some(_)) => {
                let keys = keys();
                batch::delete_many(&bucket, &keys)
                    .map(|()| format!("{} deleted\n", keys.len()).into_bytes())
            }
            _ => return answer(out, 405, b"GET, POST ?many or DELETE ?many here\n"),
        };
        return match result {
            Ok(text) => answer(out, 200, &text),
            Err(e) => failed(out, e),
        };
    }
    let key = key.to_string();
    match method {
        Method::Get => match bucket.get(&key) {
            Ok(Some(value)) => answer(out, 200, &value),
            Ok(None) => answer(out, 404, format!("no value for {key}\n").as_bytes()),
            Err(e) => failed(out, e),
        },
        Method::Put => {
            let Some(body) = read_body(request) else {
                return;
            };
            match bucket.set(&key, &body) {
                Ok(()) => answer(out, 200, b"set\n"),
                Err(e) => failed(out, e),
            }
        }
        Method::Delete => match bucket.delete(&key) {
            Ok(()) => answer(out, 200, b"deleted\n"),
            Err(e) => failed(out, e),
        },
        Method::Post => {
            let add = match query_value(&query, "add").map(str::parse::<u64>) {
                None => 1,
                Some(Ok(n)) => n,
                Some(Err(_)) => return answer(out, 400, b"add=N: a whole number\n"),
            };
            match atomics::increment(&bucket, &key, add) {
                Ok(count) => answer(out, 200, format!("{count}\n").as_bytes()),
                Err(e) => failed(out, e),
            }
        }
        _ => answer(out, 405, b"GET, PUT, DELETE or POST\n"),
    }
}

impl wasip2::exports::http::incoming_handler::Guest for Kv {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        handle(request, response_out)
    }
}

wasip2::http::proxy::export!(Kv);

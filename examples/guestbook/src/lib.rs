//! `guestbook`: a small app with everything an edge app uses. Its
//! configuration comes from `wasi:config/store` (`title`, and
//! `quote-url`, a page whose text it shows at the top), its entries are
//! kept through `wasi:keyvalue` (bucket `guestbook`: a counter and one key
//! per entry), and the quote is fetched through `wasi:http`'s outgoing
//! handler, which reaches only what the server allows. `GET /` shows the
//! page with the 20 newest entries; `POST /sign` (a form: `name`,
//! `message`) adds one and sends the browser back to `/`.

wit_bindgen::generate!({
    path: "wit",
    world: "h2wasm-examples:guestbook/guestbook",
    generate_all,
});

use wasi::config::store as config;
use wasi::keyvalue::{atomics, batch, store};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingRequest, OutgoingResponse,
    ResponseOutparam, Scheme,
};
use wasip2::io::streams::StreamError;

/// Entries on the page.
const SHOWN: u64 = 20;
/// Longest form accepted, in bytes; longest name and message, in chars.
const MAX_FORM: usize = 4096;
const MAX_NAME: usize = 64;
const MAX_MESSAGE: usize = 500;

struct Guestbook;

fn respond(out: ResponseOutparam, status: u16, fields: &[(&str, &str)], body: &str) {
    let list: Vec<(String, Vec<u8>)> = fields
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect();
    let response = OutgoingResponse::new(Fields::from_list(&list).expect("valid fields"));
    response.set_status_code(status).expect("a valid status");
    let outgoing = response.body().expect("the body is taken once");
    ResponseOutparam::set(out, Ok(response));
    let stream = outgoing.write().expect("the stream is taken once");
    for chunk in body.as_bytes().chunks(4096) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            return; // the client went away
        }
    }
    drop(stream);
    let _ = OutgoingBody::finish(outgoing, None);
}

fn text(out: ResponseOutparam, status: u16, body: &str) {
    respond(
        out,
        status,
        &[("content-type", "text/plain; charset=utf-8")],
        body,
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A form field's value: `+` is a space, `%XX` an octet.
fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn form_value(form: &str, name: &str) -> String {
    form.split('&')
        .find_map(|pair| {
            let (n, v) = pair.split_once('=')?;
            (n == name).then(|| form_decode(v))
        })
        .unwrap_or_default()
}

/// The request's body, up to `MAX_FORM` bytes (`None`: longer, or the
/// client went away).
fn read_form(request: IncomingRequest) -> Option<String> {
    let incoming = request.consume().ok()?;
    let stream = incoming.stream().ok()?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(MAX_FORM as u64 + 1) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(_)) => return None,
        }
        if body.len() > MAX_FORM {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&body).into_owned())
}

/// The text at `url` (http or https), or why it could not be had.
fn fetch(url: &str) -> Result<String, String> {
    let (scheme, rest) = match url.split_once("://") {
        Some(("http", rest)) => (Scheme::Http, rest),
        Some(("https", rest)) => (Scheme::Https, rest),
        _ => return Err(format!("not an http(s) URL: {url}")),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let request = OutgoingRequest::new(Fields::new());
    let set = request.set_scheme(Some(&scheme)).is_ok()
        && request.set_authority(Some(authority)).is_ok()
        && request.set_path_with_query(Some(path)).is_ok();
    if !set {
        return Err(format!("not a valid request: {url}"));
    }
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(e))) => return Err(format!("{e:?}")),
        _ => return Err("no response".into()),
    };
    if response.status() != 200 {
        return Err(format!("status {}", response.status()));
    }
    let body = response.consume().map_err(|()| "no body")?;
    let stream = body.stream().map_err(|()| "no body")?;
    let mut text = Vec::new();
    loop {
        match stream.blocking_read(16 * 1024) {
            Ok(chunk) => text.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => return Err(e.to_debug_string()),
        }
        if text.len() > 16 * 1024 {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&text).trim().to_string())
}

fn count(bucket: &store::Bucket) -> Result<u64, store::Error> {
    Ok(bucket
        .get("count")?
        .and_then(|v| String::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(0))
}

fn page(bucket: &store::Bucket) -> Result<String, store::Error> {
    let title = config::get("title").ok().flatten();
    let title = escape(title.as_deref().unwrap_or("Guestbook"));
    let quote = match config::get("quote-url").ok().flatten() {
        Some(url) => match fetch(&url) {
            Ok(q) => format!("<p class=quote>{}</p>", escape(&q)),
            Err(e) => format!("<p class=quote>(no quote: {})</p>", escape(&e)),
        },
        None => String::new(),
    };
    let n = count(bucket)?;
    let keys: Vec<String> = (n.saturating_sub(SHOWN) + 1..=n)
        .rev()
        .map(|i| format!("entry:{i:010}"))
        .collect();
    let mut entries = String::new();
    for (_, value) in batch::get_many(bucket, &keys)?.into_iter().flatten() {
        let value = String::from_utf8_lossy(&value);
        let (name, message) = value.split_once('\n').unwrap_or(("", &value));
        entries.push_str(&format!(
            "<li><b>{}</b>: {}</li>\n",
            escape(name),
            escape(message)
        ));
    }
    Ok(format!(
        "<!doctype html><meta charset=utf-8><title>{title}</title>\n<h1>{title}</h1>\n{quote}\n\
         <form method=post action=/sign><input name=name placeholder=name> \
         <input name=message placeholder=message size=50> <button>sign</button></form>\n\
         <p>{n} signatures</p>\n<ul>\n{entries}</ul>\n"
    ))
}

fn sign(bucket: &store::Bucket, form: &str) -> Result<Option<u64>, store::Error> {
    let name: String = form_value(form, "name")
        .trim()
        .chars()
        .take(MAX_NAME)
        .collect();
    let message: String = form_value(form, "message")
        .trim()
        .chars()
        .take(MAX_MESSAGE)
        .collect();
    if name.is_empty() || message.is_empty() {
        return Ok(None);
    }
    let n = atomics::increment(bucket, "count", 1)?;
    let name = name.replace('\n', " ");
    bucket.set(
        &format!("entry:{n:010}"),
        format!("{name}\n{message}").as_bytes(),
    )?;
    Ok(Some(n))
}

impl wasip2::exports::http::incoming_handler::Guest for Guestbook {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_else(|| "/".into());
        let bucket = match store::open("guestbook") {
            Ok(b) => b,
            Err(e) => return text(out, 500, &format!("no guestbook bucket: {e:?}\n")),
        };
        match (request.method(), path.as_str()) {
            (Method::Get, "/") => match page(&bucket) {
                Ok(html) => respond(
                    out,
                    200,
                    &[("content-type", "text/html; charset=utf-8")],
                    &html,
                ),
                Err(e) => text(out, 500, &format!("{e:?}\n")),
            },
            (Method::Post, "/sign") => {
                let Some(form) = read_form(request) else {
                    return text(out, 413, "a form of at most 4 KiB\n");
                };
                match sign(&bucket, &form) {
                    Ok(Some(_)) => respond(out, 303, &[("location", "/")], ""),
                    Ok(None) => text(out, 400, "a name and a message, please\n"),
                    Err(e) => text(out, 500, &format!("{e:?}\n")),
                }
            }
            _ => text(out, 404, "not found\n"),
        }
    }
}

wasip2::http::proxy::export!(Guestbook);

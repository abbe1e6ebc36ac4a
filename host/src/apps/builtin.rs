//! The site served when no directory is given: an index page and `/echo`,
//! which streams the request body back and reports its size in trailers.

use crate::app::{App, BodyItem, Header, Request, Response, SharedHeaders, header, headers};
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;

const INDEX: &str = "<!doctype html>
<html><head><meta charset=\"utf-8\"><title>h2wasm</title></head>
<body>
<h1>h2wasm</h1>
<p>This page was served over HTTP/2 by an engine running as a WebAssembly component.</p>
<p><code>POST /echo</code> streams the request body back, with its length in the
<code>x-echo-bytes</code> trailer.</p>
</body></html>
";

const NOT_FOUND: &str = "not found\n";

/// The built-in site as an [`App`].
pub struct Builtin;

impl App for Builtin {
    fn handle(&self, req: Request) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(handle(req))
    }

    fn respond_now(&self, headers: &[Header]) -> Option<Response> {
        page(
            header(headers, ":method").unwrap_or("GET"),
            header(headers, ":path").unwrap_or("/"),
        )
    }
}

/// The fixed pages: everything but `/echo`.
fn page(method: &str, path: &str) -> Option<Response> {
    // Built once: every connection prepares each page's headers only once.
    static INDEX_PAGE: LazyLock<SharedHeaders> =
        LazyLock::new(|| page_headers("200", "text/html; charset=utf-8", INDEX));
    static NOT_FOUND_PAGE: LazyLock<SharedHeaders> =
        LazyLock::new(|| page_headers("404", "text/plain", NOT_FOUND));
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let (headers, body) = match (method, path) {
        (_, "/echo") => return None,
        ("GET" | "HEAD", "/") => (&*INDEX_PAGE, INDEX),
        _ => (&*NOT_FOUND_PAGE, NOT_FOUND),
    };
    let body = if method == "HEAD" { "" } else { body };
    Some(Response {
        headers: headers.clone().into(),
        body: Bytes::from_static(body.as_bytes()).into(),
    })
}

fn page_headers(status: &str, content_type: &str, body: &str) -> SharedHeaders {
    SharedHeaders::new(headers([
        (":status", status),
        ("content-type", content_type),
        ("content-length", &body.len().to_string()),
    ]))
}

pub async fn handle(mut req: Request) {
    if let Some(response) = page(req.method(), req.path()) {
        return req.responder.respond_with(response).await;
    }
    let mut h = headers([(":status", "200")]);
    if let Some(ct) = req.header("content-type") {
        h.push(("content-type".into(), ct.as_bytes().to_vec()));
    }
    let mut writer = req.responder.respond(h, true).await;
    let mut total: u64 = 0;
    while let Some(item) = req.body.next().await {
        match item {
            BodyItem::Data(d) => {
                total += d.len() as u64;
                if !writer.write(d).await {
                    return;
                }
            }
            BodyItem::Trailers(_) => {}
        }
    }
    drop(writer);
    let n = total.to_string();
    req.responder
        .send_trailers(headers([("x-echo-bytes", n.as_str())]))
        .await;
}

//! The site served when no directory is given: an index page and `/echo`,
//! which streams the request body back and reports its size in trailers.

use crate::app::{BodyItem, Request, headers};
use bytes::Bytes;

const INDEX: &str = "<!doctype html>
<html><head><meta charset=\"utf-8\"><title>h2wasm</title></head>
<body>
<h1>h2wasm</h1>
<p>This page was served over HTTP/2 by an engine running as a WebAssembly component.</p>
<p><code>POST /echo</code> streams the request body back, with its length in the
<code>x-echo-bytes</code> trailer.</p>
</body></html>
";

pub async fn handle(mut req: Request) {
    let path = req
        .path()
        .split(['?', '#'])
        .next()
        .unwrap_or("/")
        .to_string();
    match (req.method(), path.as_str()) {
        ("GET" | "HEAD", "/") => {
            let len = INDEX.len().to_string();
            let h = headers([
                (":status", "200"),
                ("content-type", "text/html; charset=utf-8"),
                ("content-length", &len),
            ]);
            if req.method() == "HEAD" {
                req.responder.respond_empty(h).await;
            } else {
                req.responder
                    .respond_bytes(h, Bytes::from_static(INDEX.as_bytes()))
                    .await;
            }
        }
        (_, "/echo") => {
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
        _ => {
            let body = Bytes::from_static(b"not found\n");
            req.responder
                .respond_bytes(
                    headers([
                        (":status", "404"),
                        ("content-type", "text/plain"),
                        ("content-length", "10"),
                    ]),
                    body,
                )
                .await;
        }
    }
}

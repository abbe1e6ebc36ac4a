//! `early-hints`: a wasi:http component that uses h2wasm's
//! `h2wasm:http2/response-extras` (so it runs on h2wasm only). `GET /`
//! sends 103 Early Hints with a `link` preload of its stylesheet, pushes
//! the stylesheet when the client takes pushes, then answers the page;
//! `GET /style.css` answers the stylesheet (for clients without push);
//! `GET /priority` reads its stream's priority, sets its weight to 200
//! and reads it again.

wit_bindgen::generate!({
    path: "wit",
    world: "h2wasm-examples:early-hints/early-hints",
    generate_all,
});

use h2wasm::http2::response_extras::{self as extras, StreamPriority};
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

const STYLE: &str = "body { font-family: sans-serif; color: #234; }\n";
const PAGE: &str = "<!doctype html><title>early hints</title>\
<link rel=stylesheet href=/style.css><h1>Early hints and push from a component</h1>\n";

struct EarlyHints;

fn answer(out: ResponseOutparam, status: u16, content_type: &str, text: &str) {
    let headers = Fields::from_list(&[("content-type".into(), content_type.as_bytes().to_vec())])
        .expect("valid header fields");
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("a valid status");
    let body = response.body().expect("the body is taken once");
    ResponseOutparam::set(out, Ok(response));
    let stream = body.write().expect("the stream is taken once");
    if stream.blocking_write_and_flush(text.as_bytes()).is_err() {
        return; // the client went away
    }
    drop(stream);
    let _ = OutgoingBody::finish(body, None);
}

fn describe(p: Option<StreamPriority>) -> String {
    match p {
        Some(p) => format!("weight {} parent {}", p.weight, p.parent),
        None => "none".into(),
    }
}

impl wasip2::exports::http::incoming_handler::Guest for EarlyHints {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_else(|| "/".into());
        match path.as_str() {
            "/" => {
                let hints = [(
                    "link".to_string(),
                    b"</style.css>; rel=preload; as=style".to_vec(),
                )];
                extras::send_informational(103, &hints);
                if extras::push_allowed() {
                    let fields = [("content-type".to_string(), b"text/css".to_vec())];
                    extras::push("/style.css", 200, &fields, STYLE.as_bytes());
                }
                answer(out, 200, "text/html; charset=utf-8", PAGE)
            }
            "/style.css" => answer(out, 200, "text/css", STYLE),
            "/priority" => {
                let before = describe(extras::get_priority());
                let set = extras::set_priority(StreamPriority {
                    parent: 0,
                    exclusive: false,
                    weight: 200,
                });
                let after = describe(extras::get_priority());
                let text = format!("before: {before}\nset: {set}\nafter: {after}\n");
                answer(out, 200, "text/plain; charset=utf-8", &text)
            }
            _ => answer(out, 404, "text/plain; charset=utf-8", "not found\n"),
        }
    }
}

wasip2::http::proxy::export!(EarlyHints);

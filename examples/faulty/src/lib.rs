//! `faulty`: a component that fails on purpose, for the tests of what a
//! failing request may and may not affect. Each path is one failure:
//! - `/panic`: panics before answering;
//! - `/panic-midway`: sends headers and part of the body, then panics;
//! - `/spin`: loops forever without answering (the time limit ends it);
//! - `/grow`: allocates until the memory limit stops it;
//! - `/no-answer`: returns without setting a response;
//! - `/count`: counts the requests this instance has seen (always 1 when
//!   every request gets a fresh instance);
//! - anything else: `ok`.

use std::sync::atomic::{AtomicU32, Ordering};
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Faulty;

impl wasip2::exports::http::incoming_handler::Guest for Faulty {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        match path.as_str() {
            "/panic" => panic!("asked to panic"),
            "/spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "/grow" => {
                let mut held: Vec<Vec<u8>> = Vec::new();
                loop {
                    held.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&held);
                }
            }
            "/no-answer" => {}
            "/count" => {
                static SEEN: AtomicU32 = AtomicU32::new(0);
                let seen = SEEN.fetch_add(1, Ordering::Relaxed) + 1;
                answer(response_out, seen.to_string().as_bytes());
            }
            "/panic-midway" => {
                let response = OutgoingResponse::new(Fields::new());
                let body = response.body().expect("the body is taken once");
                ResponseOutparam::set(response_out, Ok(response));
                let out = body.write().expect("the stream is taken once");
                out.blocking_write_and_flush(&[b'x'; 4096])
                    .expect("the client is still there");
                panic!("asked to panic after the response began");
            }
            _ => answer(response_out, b"ok"),
        }
    }
}

fn answer(response_out: ResponseOutparam, text: &[u8]) {
    let response = OutgoingResponse::new(Fields::new());
    let body = response.body().expect("the body is taken once");
    ResponseOutparam::set(response_out, Ok(response));
    let out = body.write().expect("the stream is taken once");
    out.blocking_write_and_flush(text)
        .expect("the client is still there");
    drop(out);
    OutgoingBody::finish(body, None).expect("no length was declared");
}

wasip2::http::proxy::export!(Faulty);

//! `hello`: the smallest useful wasi:http component. Answers every request
//! with a short text naming the method and path.

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Hello;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_else(|| "/".into());
        let text = format!("hello from a wasi:http component: {path}\n");
        let headers = Fields::from_list(&[
            ("content-type".into(), b"text/plain; charset=utf-8".to_vec()),
            ("content-length".into(), text.len().to_string().into_bytes()),
        ])
        .expect("valid header fields");
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("the body is taken once");
        ResponseOutparam::set(response_out, Ok(response));
        // Written for HEAD too: the server drops a HEAD response's body
        // (and wasi:http checks it against content-length).
        let out = body.write().expect("the stream is taken once");
        // One call: the text is far below the 4,096 bytes a
        // blocking-write-and-flush may carry.
        if out.blocking_write_and_flush(text.as_bytes()).is_err() {
            return; // the client went away
        }
        drop(out);
        OutgoingBody::finish(body, None).expect("the body matches content-length");
    }
}

wasip2::http::proxy::export!(Hello);

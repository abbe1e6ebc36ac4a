//! `bearer`: a wasi:http middleware. It answers 401 to a request without
//! `authorization: Bearer <token>` and hands every other request, body and
//! response slot included, to the handler it is composed with. The token
//! is fixed when the component is built: `BEARER_TOKEN` in the build's
//! environment, `h2wasm-example-token` if unset.

wit_bindgen::generate!({
    world: "bearer",
    path: "wit",
    with: {
        "wasi:http/types@0.2.12": wasip2::http::types,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        "wasi:http/incoming-handler@0.2.12": generate,
    },
});

use exports::wasi::http::incoming_handler::Guest;
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

const TOKEN: &str = match option_env!("BEARER_TOKEN") {
    Some(token) => token,
    None => "h2wasm-example-token",
};

struct Bearer;

impl Guest for Bearer {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let expected = format!("Bearer {TOKEN}");
        let authorized = request
            .headers()
            .get("authorization")
            .iter()
            .any(|v| v.as_slice() == expected.as_bytes());
        if authorized {
            wasi::http::incoming_handler::handle(request, response_out);
            return;
        }
        let text = b"a bearer token is required\n";
        let headers = Fields::from_list(&[
            ("www-authenticate".into(), b"Bearer".to_vec()),
            ("content-type".into(), b"text/plain".to_vec()),
        ])
        .expect("valid header fields");
        let response = OutgoingResponse::new(headers);
        response.set_status_code(401).expect("a valid status");
        let body = response.body().expect("the body is taken once");
        ResponseOutparam::set(response_out, Ok(response));
        let out = body.write().expect("the stream is taken once");
        let _ = out.blocking_write_and_flush(text);
        drop(out);
        let _ = OutgoingBody::finish(body, None);
    }
}

export!(Bearer);

//! `echo`: streams the request body back as it arrives (nothing is held
//! whole), then sends the request's trailers back as trailers, plus
//! `x-echo-bytes`, the number of bytes echoed. The request's
//! `content-type` is kept.

use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasip2::io::streams::StreamError;

struct Echo;

/// Bytes moved per splice: the host moves them without copying them
/// through this component's memory.
const CHUNK: u64 = 256 * 1024;

impl wasip2::exports::http::incoming_handler::Guest for Echo {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let mut fields = vec![("trailer".to_string(), b"x-echo-bytes".to_vec())];
        for value in request.headers().get("content-type") {
            fields.push(("content-type".into(), value));
        }
        let response = OutgoingResponse::new(Fields::from_list(&fields).expect("valid fields"));
        let body = response.body().expect("the body is taken once");
        ResponseOutparam::set(response_out, Ok(response));

        let incoming = request.consume().expect("the body is taken once");
        let input = incoming.stream().expect("the stream is taken once");
        let out = body.write().expect("the stream is taken once");
        let mut echoed: u64 = 0;
        loop {
            match out.blocking_splice(&input, CHUNK) {
                Ok(n) => echoed += n,
                Err(StreamError::Closed) => break,
                // The client went away: nothing more to send.
                Err(StreamError::LastOperationFailed(_)) => return,
            }
        }
        drop(input);
        if out.blocking_flush().is_err() {
            return;
        }
        drop(out);

        let trailers = IncomingBody::finish(incoming);
        trailers.subscribe().block();
        let received = match trailers.get() {
            Some(Ok(Ok(Some(t)))) => t.entries(),
            _ => Vec::new(),
        };
        let mut sent: Vec<(String, Vec<u8>)> = received
            .into_iter()
            .filter(|(name, _)| name != "x-echo-bytes")
            .collect();
        sent.push(("x-echo-bytes".into(), echoed.to_string().into_bytes()));
        let sent = Fields::from_list(&sent).expect("valid trailer fields");
        let _ = OutgoingBody::finish(body, Some(sent));
    }
}

wasip2::http::proxy::export!(Echo);

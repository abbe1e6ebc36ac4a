//! `config`: a wasi:http component that reads its configuration through
//! `wasi:config/store` (`serve --app-config KEY=VALUE`, `--app-config-file`,
//! `--app-secret KEY=ENV`). `GET /KEY` answers the value of KEY (404 when
//! the app was given none); `GET /` lists the keys it was given, one per
//! line.

wit_bindgen::generate!({
    path: "wit",
    world: "h2wasm-examples:config/config",
    generate_all,
});

use wasi::config::store;
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Config;

fn answer(out: ResponseOutparam, status: u16, text: &str) {
    let headers =
        Fields::from_list(&[("content-type".into(), b"text/plain; charset=utf-8".to_vec())])
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

impl wasip2::exports::http::incoming_handler::Guest for Config {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_else(|| "/".into());
        let key = path.trim_start_matches('/');
        if key.is_empty() {
            return match store::get_all() {
                Ok(pairs) => {
                    let mut keys: Vec<String> = pairs.into_iter().map(|(k, _)| k).collect();
                    keys.sort();
                    let text: String = keys.iter().map(|k| format!("{k}\n")).collect();
                    answer(response_out, 200, &text)
                }
                Err(e) => answer(response_out, 500, &format!("{e:?}\n")),
            };
        }
        match store::get(key) {
            Ok(Some(value)) => answer(response_out, 200, &value),
            Ok(None) => answer(response_out, 404, &format!("no value for {key}\n")),
            Err(e) => answer(response_out, 500, &format!("{e:?}\n")),
        }
    }
}

wasip2::http::proxy::export!(Config);

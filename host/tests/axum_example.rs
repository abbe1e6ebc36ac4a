//! The axum example's router, mounted on h2wasm unchanged, answers over
//! HTTP/2 and HTTP/1.1 alike (curl), TLS and cleartext.

mod common;

#[allow(dead_code)]
#[path = "../examples/axum.rs"]
mod example;

use common::*;
use std::process::Command;

#[test]
fn the_axum_router_answers_over_http2_and_http1() {
    for tls in [true, false] {
        let server = TestServer::start(tls, h2wasm::service::shared(example::router()));
        let protocols: &[(&[&str], &str)] = match tls {
            true => &[(&["--http2"], "HTTP/2\n"), (&["--http1.1"], "HTTP/1.1\n")],
            false => &[
                (&["--http2-prior-knowledge"], "HTTP/2\n"),
                (&["--http1.1"], "HTTP/1.1\n"),
            ],
        };
        for (flags, name) in protocols {
            let curl = |args: &[&str]| {
                run(Command::new("curl")
                    .args(["-sS", "-k", "--max-time", "30"])
                    .args(*flags)
                    .args(args))
            };
            let o = curl(&[&server.url("/protocol")]);
            assert_eq!(stdout(&o), *name, "{}", stderr(&o));
            let o = curl(&[&server.url("/")]);
            assert_eq!(stdout(&o), "hello from axum on h2wasm\n");
            let o = curl(&[&server.url("/hello/h2wasm")]);
            assert_eq!(stdout(&o), "hello, h2wasm\n");
            let o = curl(&["--data-binary", "round trip", &server.url("/echo")]);
            assert_eq!(stdout(&o), "round trip");
            // axum's own 404 and 405.
            let o = curl(&[
                "-o",
                "/dev/null",
                "-w",
                "%{response_code}",
                &server.url("/nowhere"),
            ]);
            assert_eq!(stdout(&o), "404");
            let o = curl(&[
                "-o",
                "/dev/null",
                "-w",
                "%{response_code}",
                &server.url("/echo"),
            ]);
            assert_eq!(stdout(&o), "405");
            // 103 then 200, on either protocol.
            let o = curl(&["-v", &server.url("/hinted")]);
            let err = stderr(&o);
            assert!(err.contains("< HTTP/") && err.contains(" 103"), "{err}");
            assert!(err.contains("< link: </style.css>; rel=preload"), "{err}");
            assert_eq!(stdout(&o), "<link rel=stylesheet href=/style.css>\n");
        }
    }
}

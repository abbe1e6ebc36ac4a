//! `h2get`: a wasi:cli command that fetches an `http://` URL over
//! cleartext HTTP/2 (prior knowledge). It does not contain HTTP/2: it
//! imports the h2wasm engine (`h2wasm:http2/session`, world `engine-user`)
//! and moves bytes between it and a wasi:sockets TCP connection (Rust's
//! `std::net`). Composed with the engine component it runs on any WASI 0.2
//! host:
//!
//! ```sh
//! wac plug h2get.wasm --plug h2wasm_engine.wasm -o h2get-composed.wasm
//! wasmtime run -S inherit-network h2get-composed.wasm http://127.0.0.1:8080/
//! ```
//!
//! Prints the response's fields (`:status` first) to stderr and its body
//! to stdout; exits with 1 if the fetch failed.

wit_bindgen::generate!({
    path: "../../wit",
    world: "h2wasm:http2/engine-user",
    with: {
        "wasi:filesystem/types@0.2.12": wasip2::filesystem::types,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
    },
    generate_all,
});

use h2wasm::http2::session::{Connection, RequestOptions, default_options};
use h2wasm::http2::types::{Event, HeaderField, Role};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

/// The engine's clock: monotonic nanoseconds.
fn now() -> u64 {
    wasip2::clocks::monotonic_clock::now()
}

/// `http://host:port/path` as (host, port, authority, path).
fn parse(url: &str) -> Result<(String, u16, String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// (h2c) URLs"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| format!("{url}: bad port"))?),
        None => (authority, 80),
    };
    Ok((host.into(), port, authority.into(), path.into()))
}

fn fetch(url: &str) -> Result<(Vec<HeaderField>, Vec<u8>), String> {
    let (host, port, authority, path) = parse(url)?;
    let mut tcp = TcpStream::connect((host.as_str(), port))
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    let mut options = default_options();
    options.scheme = "http".into();
    options.authority = authority;
    let conn = Connection::create(Role::Client, &options, now())
        .map_err(|e| format!("invalid options: {}", e.reason))?;
    let path = HeaderField {
        name: ":path".into(),
        value: path.into_bytes(),
        sensitive: false,
    };
    let request = RequestOptions {
        end_stream: true,
        wait_for_trailers: false,
        priority: None,
        manual_consume: false,
    };
    let id = conn
        .request(&[path], request)
        .map_err(|e| format!("request refused: {e:?}"))?;
    let mut fields = Vec::new();
    let mut body = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // Everything the engine has to send, then what happened.
        loop {
            // A client holds no host bodies: the octets are all of it.
            let out = conn.poll_transmit(64 * 1024).octets;
            if out.is_empty() {
                break;
            }
            tcp.write_all(&out).map_err(|e| format!("write: {e}"))?;
        }
        let events = conn.poll_events();
        if events.is_empty() {
            let n = tcp.read(&mut buf).map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            conn.receive(now(), &buf[..n])
                .map_err(|e| format!("connection error {}: {}", e.code, e.reason))?;
            continue;
        }
        for event in events {
            match event {
                Event::Response(h) if h.stream_id == id => fields = h.headers,
                Event::Data(d) if d.stream_id == id => body.extend_from_slice(&d.data),
                Event::StreamClosed(c) if c.stream_id == id => {
                    if c.code != 0 {
                        return Err(format!("the stream was reset (code {})", c.code));
                    }
                    conn.close();
                    while let out = conn.poll_transmit(64 * 1024).octets
                        && !out.is_empty()
                    {
                        let _ = tcp.write_all(&out);
                    }
                    return Ok((fields, body));
                }
                Event::Closed(code) => return Err(format!("the connection closed ({code})")),
                _ => {}
            }
        }
    }
}

fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: h2get http://HOST:PORT/PATH");
        return ExitCode::from(2);
    };
    match fetch(&url) {
        Ok((fields, body)) => {
            for f in &fields {
                eprintln!("{}: {}", f.name, String::from_utf8_lossy(&f.value));
            }
            let mut stdout = std::io::stdout();
            let _ = stdout.write_all(&body);
            let _ = stdout.flush();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("h2get: {e}");
            ExitCode::from(1)
        }
    }
}

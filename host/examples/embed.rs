//! Embedding h2wasm: serve HTTP/2 over any byte stream with your own
//! handler. Here the "transport" is an in-process duplex pipe, and the
//! client is the same engine in client role — no sockets involved.
//!
//! Run with `cargo run -p h2wasm --example embed`.

use h2wasm::bindings::{Event, HeaderField, RequestOptions, Role};
use h2wasm::service::{full, shared};
use h2wasm::{Runtime, RuntimeConfig};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runtime = Arc::new(
        Runtime::embedded(&RuntimeConfig {
            max_connections: 8,
            ..Default::default()
        })
        .map_err(|e| anyhow::anyhow!("{e:#}"))?,
    );
    let options = runtime
        .default_options()
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;

    // The application: any tower service of http requests (an axum
    // Router would do); this one greets whoever asks.
    let app = shared(tower::service_fn(
        |req: http::Request<h2wasm::service::body::Incoming>| async move {
            let body = full(format!("hello, {}\n", req.uri().path()));
            http::Response::builder()
                .header("content-type", "text/plain")
                .body(body)
        },
    ));

    // Any AsyncRead + AsyncWrite works as the transport.
    let (server_io, mut client_io) = tokio::io::duplex(64 * 1024);
    let http2 = h2wasm::serve::Builder::new(runtime.clone(), options.clone());
    let info = h2wasm::service::ConnectionInfo {
        peer: "pipe".into(),
        encrypted: false,
        server_name: None,
        alpn: None,
    };
    // The connection is a future; `graceful_shutdown` on it sends GOAWAY
    // and lets open streams finish.
    let connection = http2.serve_connection(server_io, app, info);
    tokio::spawn(connection);

    // A client connection driven by hand: request, then move bytes until
    // the response has ended.
    let mut client = runtime
        .connect(Role::Client, &options, 0)
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let path = HeaderField {
        name: ":path".into(),
        value: b"/world".to_vec(),
        sensitive: false,
    };
    let opts = RequestOptions {
        end_stream: true,
        wait_for_trailers: false,
        priority: None,
        manual_consume: false,
    };
    let id = client
        .request(&[path], opts)
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))?
        .map_err(|e| anyhow::anyhow!("request refused: {e:?}"))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // A client holds no host bodies: the octets are all of it.
        let out = client
            .poll_transmit(64 * 1024)
            .await
            .map_err(|e| anyhow::anyhow!("{e:#}"))?
            .octets;
        client_io.write_all(&out).await?;
        for event in client
            .poll_events()
            .await
            .map_err(|e| anyhow::anyhow!("{e:#}"))?
        {
            match event {
                Event::Data(d) if d.stream_id == id => {
                    print!("{}", String::from_utf8_lossy(&d.data))
                }
                Event::StreamClosed(c) if c.stream_id == id => return Ok(()),
                _ => {}
            }
        }
        let n = client_io.read(&mut buf).await?;
        if n == 0 {
            anyhow::bail!("server closed the pipe");
        }
        let _ = client
            .receive(0, &buf[..n])
            .await
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    }
}

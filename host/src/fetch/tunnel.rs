//! A CONNECT tunnel through an HTTP/2 proxy (RFC 9113 §8.5): one stream
//! carries a byte stream both ways, as `h2wasm get --connect` uses it.

use crate::bindings::{Event, HeaderKind, RequestOptions, Role};
use crate::engine::Runtime;
use crate::engine::clock::{instant_at, now_ns};
use crate::engine::convert::headers;
use crate::engine::convert::{block_pairs, code_name, status_of, to_fields};
use crate::engine::io::{IO_CHUNK, flush, trap};
use crate::fetch::{ClientOptions, Connected, Target, connect};
use anyhow::bail;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Opens a tunnel through `proxy` to `authority` (`host:port`), copies
/// `input` into it and what comes back into `output`, and returns once
/// both directions have ended. A refusal (non-2xx) or a reset is an error.
pub async fn tunnel<I, O>(
    runtime: &Runtime,
    proxy: &Target,
    authority: &str,
    opts: &ClientOptions,
    mut input: I,
    mut output: O,
) -> anyhow::Result<()>
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    let (io, options) = match connect(runtime, proxy, opts).await? {
        Connected::Http2(io, options) => (io, options),
        Connected::Http1(_) => bail!("the proxy does not speak HTTP/2 (tunnels need it here)"),
    };
    let mut conn = runtime
        .connect(Role::Client, &options, now_ns())
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let (mut rd, mut wr) = tokio::io::split(io);
    let request = headers([(":method", "CONNECT"), (":authority", authority)]);
    let open = RequestOptions {
        end_stream: false,
        wait_for_trailers: false,
        priority: None,
        manual_consume: false,
    };
    let id = match trap(conn.request(&to_fields(&request), open).await)? {
        Ok(id) => id,
        Err(e) => bail!("CONNECT {authority} refused: {e:?}"),
    };
    let mut from_peer = vec![0u8; IO_CHUNK];
    let mut from_input = vec![0u8; 16 * 1024];
    let mut input_open = true;
    // The engine's queue for the stream is full: wait for Drain.
    let mut blocked = false;
    loop {
        flush(&mut conn, &mut wr, None).await?;
        let mut closed = None;
        for event in trap(conn.poll_events().await)? {
            match event {
                Event::HeaderBlock(h) if h.kind == HeaderKind::Response && h.stream_id == id => {
                    let status = status_of(&block_pairs(h.headers));
                    if !(200..300).contains(&status) {
                        bail!("the proxy refused the tunnel to {authority}: status {status}");
                    }
                }
                Event::Data(d) if d.stream_id == id => {
                    output.write_all(&d.data).await?;
                    output.flush().await?;
                }
                Event::Drain(s) if s == id => blocked = false,
                Event::StreamClosed(c) if c.stream_id == id => closed = Some(c.code),
                Event::ConnectionError(e) => {
                    bail!("connection error {}: {}", code_name(e.code), e.reason)
                }
                _ => {}
            }
        }
        match closed {
            Some(0) => break,
            Some(code) => bail!("the tunnel to {authority} was reset ({})", code_name(code)),
            None => {}
        }
        if trap(conn.is_closed().await)? {
            bail!("the proxy closed the connection");
        }
        let deadline = trap(conn.poll_timeout().await)?;
        tokio::select! {
            n = input.read(&mut from_input), if input_open && !blocked => {
                match n? {
                    0 => {
                        input_open = false;
                        let _ = trap(conn.end(id).await)?;
                    }
                    n => match trap(conn.write(id, &from_input[..n]).await)? {
                        Ok(true) => {}
                        Ok(false) => blocked = true,
                        Err(_) => input_open = false,
                    },
                }
            }
            read = rd.read(&mut from_peer) => {
                let n = read?;
                if n == 0 {
                    bail!("the proxy closed the connection");
                }
                if let Err(e) = trap(conn.receive(now_ns(), &from_peer[..n]).await)? {
                    bail!("connection error {}: {}", code_name(e.code), e.reason);
                }
            }
            _ = tokio::time::sleep_until(deadline.map_or_else(
                || tokio::time::Instant::now() + std::time::Duration::from_secs(86_400),
                |d| instant_at(d).into())), if deadline.is_some() => {
                trap(conn.handle_timeout(now_ns()).await)?;
            }
        }
    }
    trap(conn.close().await)?;
    let _ = flush(&mut conn, &mut wr, None).await;
    let _ = wr.shutdown().await;
    Ok(())
}

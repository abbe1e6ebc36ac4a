//! A CONNECT tunnel through an HTTP/2 proxy (RFC 9113 §8.5): one stream
//! carries a byte stream both ways, as `h2wasm get --connect` uses it. The
//! stream is a request like any other on the client driver: its body is
//! what `input` reads, its response's body what goes to `output`.

use super::h2::{self, Exchange, StreamError};
use crate::bindings::Role;
use crate::engine::Runtime;
use crate::engine::clock::now_ns;
use crate::engine::convert::code_name;
use crate::fetch::{ClientOptions, Connected, Target, connect};
use anyhow::{Context, bail};
use http_body::{Body, Frame};
use http_body_util::StreamBody;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

/// Opens a tunnel through `proxy` to `authority` (`host:port`), copies
/// `input` into it and what comes back into `output`, and returns once
/// both directions have ended. A refusal (non-2xx) or a reset is an error.
pub async fn tunnel<I, O>(
    runtime: &Runtime,
    proxy: &Target,
    authority: &str,
    opts: &ClientOptions,
    input: I,
    mut output: O,
) -> anyhow::Result<()>
where
    I: AsyncRead + Send + Unpin + 'static,
    O: AsyncWrite + Unpin,
{
    let (io, options) = match connect(runtime, proxy, opts).await? {
        Connected::Http2(io, options) => (io, options),
        Connected::Http1(_) => bail!("the proxy does not speak HTTP/2 (tunnels need it here)"),
    };
    let engine = runtime
        .connect(Role::Client, &options, now_ns())
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let setup = h2::Setup {
        origin: proxy.authority(),
        idle_timeout: None,
        pushes: None,
        verbose: opts.verbose,
        await_settings: false,
    };
    let (connection, driving) = h2::Connection::new(engine, setup, io);
    // What `input` reads, chunk by chunk, is the request body; its end
    // ends our side of the stream.
    let upload = reader_body(input);
    let request = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(authority)
        .body(crate::service::box_body(upload))
        .with_context(|| format!("cannot tunnel to {authority:?}"))?;
    // It owns the handle: when it is done, the connection closes once
    // nothing is in flight.
    let tunneling = async move {
        let (reply, replied) = oneshot::channel();
        let exchange = Exchange {
            request,
            priority: None,
            reply,
            sent: None,
        };
        if connection.send(exchange).await.is_err() {
            bail!("the proxy closed the connection");
        }
        let response = match replied.await {
            Ok(Ok(response)) => response,
            Ok(Err(StreamError::Reset(code))) => {
                bail!("the tunnel to {authority} was reset ({})", code_name(code))
            }
            Ok(Err(e)) => bail!("CONNECT {authority}: {e}"),
            Err(_) => bail!("the proxy closed the connection"),
        };
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            bail!("the proxy refused the tunnel to {authority}: status {status}");
        }
        let mut body = response.into_body();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = match frame {
                Ok(frame) => frame,
                Err(e) => match e.reset_code() {
                    Some(code) => {
                        bail!("the tunnel to {authority} was reset ({})", code_name(code))
                    }
                    None => bail!("the proxy closed the connection"),
                },
            };
            if let Ok(data) = frame.into_data() {
                output.write_all(&data).await?;
                output.flush().await?;
            }
        }
        Ok(())
    };
    let (outcome, ()) = tokio::join!(tunneling, driving);
    outcome
}

/// The octets `input` reads as a body of data frames, ending at its end.
fn reader_body<I>(
    input: I,
) -> impl Body<Data = bytes::Bytes, Error = std::io::Error> + Send + 'static
where
    I: AsyncRead + Send + Unpin + 'static,
{
    let chunks =
        futures_util::stream::unfold(Some((input, vec![0u8; 16 * 1024])), |state| async move {
            let (mut input, mut buf) = state?;
            match tokio::io::AsyncReadExt::read(&mut input, &mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    let chunk = bytes::Bytes::copy_from_slice(&buf[..n]);
                    Some((Ok(Frame::data(chunk)), Some((input, buf))))
                }
                // Said once; the body ends there.
                Err(e) => Some((Err(e), None)),
            }
        });
    StreamBody::new(chunks)
}

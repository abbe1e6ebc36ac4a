//! An outgoing request over HTTP/1.1, for origins that do not speak
//! HTTP/2: hyper's client connection, one per request.

use super::Sent;
use crate::fetch::Transport;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use wasmtime_wasi_http::{Error, WasiBody};

/// Sends `request` on `io`, which holds its connection slot (`permit`)
/// until the connection closes.
pub(super) async fn send(
    io: Box<dyn Transport>,
    permit: OwnedSemaphorePermit,
    request: http::Request<WasiBody>,
    first_byte: Duration,
) -> Result<Sent, Error> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    // The connection runs beside the exchange; its outcome is the
    // request body's.
    let connection = tokio::spawn(async move {
        let _slot = permit;
        conn.await
    });
    let (mut parts, body) = request.into_parts();
    // HTTP/1.1 sends the path; the authority is in `host`.
    parts.uri = parts.uri.path_and_query().map_or_else(
        || http::Uri::from_static("/"),
        |p| p.as_str().parse().unwrap_or_default(),
    );
    let exchange = sender.send_request(http::Request::from_parts(parts, body));
    let response = match tokio::time::timeout(first_byte, exchange).await {
        Ok(response) => response?,
        Err(_) => {
            // Given up on: the connection goes, and its slot with it.
            connection.abort();
            return Err(Error::ConnectionReadTimeout);
        }
    };
    let sent = Box::new(async move {
        match connection.await {
            Ok(result) => Ok(result?),
            Err(_) => Err(Error::ConnectionTerminated),
        }
    });
    Ok((
        response.map(|b| b.map_err(Error::from).boxed_unsync()),
        sent,
    ))
}

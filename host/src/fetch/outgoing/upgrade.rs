//! An HTTP/1.1 upgrade to an origin (a WebSocket through the reverse
//! proxy): a connection of its own, never pooled, offering only
//! `http/1.1` in TLS, under the same policy, connection slots and
//! deadlines as every other outgoing request.

use super::{Destination, Outgoing};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::sync::OwnedSemaphorePermit;
use wasmtime_wasi_http::Error;

/// The origin's answer to an upgrade request; a 101's connection comes
/// from `hyper::upgrade::on(response)`.
pub struct UpgradeResponse {
    /// The status and fields (a 101, or the origin's refusal and its body).
    pub response: http::Response<hyper::body::Incoming>,
    /// The connection's slot (`max_connections`): hold it while the
    /// upgraded connection lives.
    pub slot: OwnedSemaphorePermit,
}

impl Outgoing {
    /// Sends `request` (its URI absolute, its `Upgrade` and `Connection`
    /// fields set) on a new HTTP/1.1 connection to its origin.
    pub async fn upgrade(
        self: &Arc<Self>,
        request: http::Request<()>,
    ) -> Result<UpgradeResponse, Error> {
        let Destination {
            tls,
            host,
            port,
            origin,
            named,
            ..
        } = self.destination(request.uri())?;
        let connect_timeout = self.config.connect_timeout;
        let first_byte = self.config.first_byte_timeout;
        let connected = async {
            let slot = self
                .connections
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| Error::ConnectionLimitReached)?;
            let tcp = self.connect(&host, port, named, &origin).await?;
            let _ = tcp.set_nodelay(true);
            let io: Box<dyn crate::fetch::Transport> = if tls {
                let name =
                    crate::tls::server_name(&host).map_err(|_| Error::HttpRequestUriInvalid)?;
                let stream = tokio_rustls::TlsConnector::from(self.tls_http1.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(Error::Tls)?;
                Box::new(stream)
            } else {
                Box::new(tcp)
            };
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
            Ok::<_, Error>((sender, conn, slot))
        };
        let (mut sender, conn, slot) = tokio::time::timeout(connect_timeout, connected)
            .await
            .map_err(|_| Error::ConnectionTimeout)??;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        let (mut parts, ()) = request.into_parts();
        // HTTP/1.1 sends the path; the authority is in `host`.
        parts.uri = parts.uri.path_and_query().map_or_else(
            || http::Uri::from_static("/"),
            |p| p.as_str().parse().unwrap_or_default(),
        );
        let request =
            http::Request::from_parts(parts, http_body_util::Empty::<bytes::Bytes>::new());
        let response = tokio::time::timeout(first_byte, sender.send_request(request))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)??;
        Ok(UpgradeResponse { response, slot })
    }
}

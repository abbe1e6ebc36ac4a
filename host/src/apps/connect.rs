//! A CONNECT proxy (RFC 9113 §8.5) in front of another application: a
//! CONNECT to an allowed `host:port` opens a TCP connection there and the
//! stream carries its bytes both ways; other targets get 403, extended
//! CONNECT protocols (RFC 8441) 501, and every other request goes to the
//! wrapped application.

use crate::app::{App, BodyItem, Header, Request, Response, SharedApp, header, headers};
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// RST_STREAM code for a tunnel whose TCP side failed (§8.5).
const CONNECT_ERROR: u32 = 0xa;

pub struct ConnectProxy {
    /// `host:port` targets, compared case-insensitively.
    allowed: Arc<Vec<String>>,
    inner: SharedApp,
}

impl ConnectProxy {
    pub fn new(allowed: Vec<String>, inner: SharedApp) -> ConnectProxy {
        let allowed = allowed
            .into_iter()
            .map(|a| a.to_ascii_lowercase())
            .collect();
        ConnectProxy {
            allowed: Arc::new(allowed),
            inner,
        }
    }
}

fn is_connect(headers: &[Header]) -> bool {
    header(headers, ":method") == Some("CONNECT")
}

impl App for ConnectProxy {
    fn handle(&self, req: Request) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        if is_connect(&req.headers) {
            Box::pin(tunnel(self.allowed.clone(), req))
        } else {
            self.inner.handle(req)
        }
    }

    fn respond_now(&self, headers: &[Header]) -> Option<Response> {
        if is_connect(headers) {
            None
        } else {
            self.inner.respond_now(headers)
        }
    }
}

async fn refuse(req: &Request, status: &str, why: String) {
    let len = why.len().to_string();
    let h = headers([
        (":status", status),
        ("content-type", "text/plain"),
        ("content-length", &len),
    ]);
    req.responder.respond_bytes(h, Bytes::from(why)).await;
}

async fn tunnel(allowed: Arc<Vec<String>>, mut req: Request) {
    if req.header(":protocol").is_some() {
        return refuse(&req, "501", "no extended CONNECT protocols here\n".into()).await;
    }
    let target = req
        .header(":authority")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !allowed.contains(&target) {
        return refuse(&req, "403", format!("CONNECT to {target} is not allowed\n")).await;
    }
    let tcp = match tokio::net::TcpStream::connect(&target).await {
        Ok(t) => t,
        Err(e) => return refuse(&req, "502", format!("cannot reach {target}: {e}\n")).await,
    };
    let _ = tcp.set_nodelay(true);
    let (mut tcp_rd, mut tcp_wr) = tcp.into_split();
    let mut writer = req
        .responder
        .respond(headers([(":status", "200")]), false)
        .await;
    let body = &mut req.body;
    // Client → target; the client's END_STREAM half-closes the TCP side.
    let upstream = async move {
        while let Some(item) = body.next().await {
            if let BodyItem::Data(d) = item {
                tcp_wr.write_all(&d).await?;
            }
        }
        tcp_wr.shutdown().await
    };
    // Target → client; the target's EOF ends the response, and a stream
    // that is gone (reset by the client) stops the wait for the target.
    let downstream = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = tokio::select! {
                n = tcp_rd.read(&mut buf) => n?,
                _ = writer.closed() => return Ok::<(), std::io::Error>(()),
            };
            if n == 0 || !writer.write(Bytes::copy_from_slice(&buf[..n])).await {
                return Ok(());
            }
        }
    };
    let (up, down) = tokio::join!(upstream, downstream);
    if up.is_err() || down.is_err() {
        req.responder.reset(CONNECT_ERROR).await;
    }
    drop(writer);
}

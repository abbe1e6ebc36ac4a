//! Dialing a server: TCP, then TLS with ALPN, deciding which protocol
//! the connection speaks.

use super::exchange::{ClientOptions, Http1, Target};
use super::probe::{Http1Answer, Spoken, probe};
use crate::bindings::Options;
use crate::engine::Runtime;
use crate::tls;
use anyhow::Context;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// A connection made, and the protocol it speaks.
pub enum Connected {
    /// The engine's options for a client session on it.
    Http2(Box<dyn Transport>, Box<Options>),
    /// HTTP/1.1 (ALPN chose it, or the server has no HTTP/2).
    Http1(Box<dyn Transport>),
}

/// A byte stream to a server: TCP, or TLS over it.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Transport for T {}

/// Opens the transport to `target`: TLS with ALPN (h2, or http/1.1 when
/// the server offers nothing better or `Http1::Force` asks for it); in
/// cleartext, HTTP/2 with prior knowledge, HTTP/1.1 when forced, and
/// otherwise whichever the server speaks (see [`super::probe`]).
pub async fn connect(
    runtime: &Runtime,
    target: &Target,
    opts: &ClientOptions,
) -> anyhow::Result<Connected> {
    let mut force1 = opts.http1 == Http1::Force;
    let addr = (
        target.host.trim_start_matches('[').trim_end_matches(']'),
        target.port,
    );
    let within = opts.connect_timeout;
    let said = || format!("cannot connect to {}:{}", target.host, target.port);
    if !target.tls && !opts.prior_knowledge && !force1 {
        let spoken = probe(addr, within).await.with_context(said)?;
        match spoken {
            Spoken::Http2 => {
                if opts.verbose {
                    eprintln!("* h2c: the server answered the HTTP/2 preface with SETTINGS");
                }
            }
            Spoken::Http1(why) => {
                if opts.verbose {
                    eprintln!("* HTTP/1.1: the server does not speak cleartext HTTP/2 ({why})");
                }
                force1 = true;
            }
        }
    }
    let tcp = connect_tcp(addr, within).await.with_context(said)?;
    let _ = tcp.set_nodelay(true);
    let mut engine_opts = runtime
        .default_options()
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    engine_opts.scheme = if target.tls { "https" } else { "http" }.into();
    engine_opts.authority = target.authority();
    // A large connection window keeps big downloads from stalling on
    // WINDOW_UPDATE round trips.
    engine_opts.connection_window_size = 16 << 20;
    engine_opts.header_blocks = true;
    engine_opts.settings.initial_window_size = Some(4 << 20);
    if !target.tls {
        return Ok(match force1 {
            true => Connected::Http1(Box::new(tcp)),
            false => Connected::Http2(Box::new(Http1Answer::new(tcp)), Box::new(engine_opts)),
        });
    }
    let mut config = (*tls::client_config(&opts.trust, true)?).clone();
    if force1 {
        config.alpn_protocols = vec![tls::ALPN_HTTP1.to_vec()];
    }
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let handshake = connector.connect(tls::server_name(&target.host)?, tcp);
    let stream = match tokio::time::timeout(within, handshake).await {
        Ok(done) => done.with_context(|| format!("TLS handshake with {} failed", target.host))?,
        Err(_) => anyhow::bail!(
            "TLS handshake with {} failed: no answer within {} (--connect-timeout)",
            target.host,
            seconds(within)
        ),
    };
    let alpn = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    if opts.verbose {
        let said = alpn.as_deref().map(String::from_utf8_lossy);
        eprintln!("* TLS, ALPN {}", said.as_deref().unwrap_or("none"));
    }
    Ok(match alpn.as_deref() {
        Some(tls::ALPN_H2) => Connected::Http2(Box::new(stream), Box::new(engine_opts)),
        // http/1.1 by ALPN, or a server that does not do ALPN.
        _ => Connected::Http1(Box::new(stream)),
    })
}

/// A TCP connection to `addr`, made within `within`.
pub(super) async fn connect_tcp(
    addr: (&str, u16),
    within: Duration,
) -> anyhow::Result<tokio::net::TcpStream> {
    match tokio::time::timeout(within, tokio::net::TcpStream::connect(addr)).await {
        Ok(tcp) => Ok(tcp?),
        Err(_) => anyhow::bail!(
            "no connection within {} (--connect-timeout)",
            seconds(within)
        ),
    }
}

/// `d` as a person reads it: `10 s`, `0.5 s`.
fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

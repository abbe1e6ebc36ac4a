//! Dialing a server: TCP, then TLS with ALPN, deciding which protocol
//! the connection speaks.

use super::exchange::{ClientOptions, Http1, Target};
use super::probe::{Http1Answer, Spoken, probe};
use crate::bindings::Options;
use crate::engine::Runtime;
use crate::tls;
use anyhow::Context;
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
    if !target.tls && !opts.prior_knowledge && !force1 {
        let spoken = probe(addr)
            .await
            .with_context(|| format!("cannot connect to {}:{}", target.host, target.port))?;
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
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {}:{}", target.host, target.port))?;
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
    let stream = connector
        .connect(tls::server_name(&target.host)?, tcp)
        .await
        .with_context(|| format!("TLS handshake with {} failed", target.host))?;
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

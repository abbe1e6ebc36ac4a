//! `h2wasm get`: fetch URLs on one origin over one connection,
//! concurrently (HTTP/2), or HTTP/1.1 where the server offers no h2; or a
//! CONNECT tunnel through a proxy.

use crate::engine::{CLIENT_POOL, EngineArg, load_runtime};
use crate::parse::{parse_header, parse_host_port};
use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use h2wasm::fetch::{self, BodySource, ClientOptions, Output, Target};
use h2wasm::tls::Trust;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct GetArgs {
    /// URLs on one origin (same scheme, host and port).
    #[arg(required = true, value_name = "URL")]
    urls: Vec<String>,
    /// Request method [default: GET, or POST with -d].
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    method: Option<String>,
    /// Extra request header, 'name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// Request body; @FILE reads it from a file.
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    data: Option<String>,
    /// Write the body of the corresponding URL to FILE (repeatable, in URL order).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Vec<PathBuf>,
    /// Stream weight 1-256 for the request of the corresponding URL
    /// (repeatable, in URL order), sent in its HEADERS frame; the server
    /// shares bandwidth among streams by weight.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    weight: Vec<u16>,
    /// Print the response status and headers before the body.
    #[arg(short = 'i', long = "include")]
    include: bool,
    /// Print settings, streams, resets and GOAWAY to stderr.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Open a CONNECT tunnel through the server at URL to HOST:PORT, copy
    /// stdin into it and what comes back to stdout.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port,
          conflicts_with_all = ["data", "output", "method", "save_pushed"])]
    connect: Option<String>,
    /// Save responses the server pushes under DIR (named by their paths).
    #[arg(long, value_name = "DIR")]
    save_pushed: Option<PathBuf>,
    /// Use cleartext HTTP/2 for http:// URLs without negotiation.
    #[arg(long, conflicts_with = "http1_1")]
    prior_knowledge: bool,
    /// Speak HTTP/1.1 only (over TLS, offer only http/1.1 by ALPN).
    /// Without it, HTTP/1.1 is used when a TLS server does not offer h2.
    #[arg(long = "http1.1", id = "http1_1")]
    http1_1: bool,
    /// Do not verify the server certificate.
    #[arg(short = 'k', long)]
    insecure: bool,
    /// Trust only the CA certificates in this PEM file.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    cacert: Option<PathBuf>,
    /// Give up on a server that has not taken the connection (the TCP
    /// connect, and the TLS handshake) within SECONDS.
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    connect_timeout: u64,
    #[command(flatten)]
    engine: EngineArg,
}

pub(crate) async fn run(args: GetArgs) -> anyhow::Result<ExitCode> {
    let mut target: Option<Target> = None;
    let mut paths = Vec::new();
    for url in &args.urls {
        let (t, path) = Target::parse(url)?;
        if let Some(first) = &target {
            if (first.tls, &first.host, first.port) != (t.tls, &t.host, t.port) {
                bail!("all URLs must share one origin (one connection); {url} does not");
            }
        } else {
            target = Some(t);
        }
        paths.push(path);
    }
    let Some(target) = target else {
        bail!("no URL given");
    };
    if let Some(authority) = &args.connect {
        if args.urls.len() != 1 {
            bail!("--connect takes exactly one URL (the proxy)");
        }
        let opts = ClientOptions {
            trust: trust(&args),
            prior_knowledge: args.prior_knowledge,
            verbose: args.verbose,
            save_pushed: None,
            progress: false,
            http1: h2wasm::fetch::Http1::Fallback,
            connect_timeout: std::time::Duration::from_secs(args.connect_timeout),
        };
        let runtime = load_runtime(&args.engine, CLIENT_POOL)?;
        h2wasm::fetch::tunnel::tunnel(
            &runtime,
            &target,
            authority,
            &opts,
            tokio::io::stdin(),
            tokio::io::stdout(),
        )
        .await?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.output.len() > args.urls.len() {
        bail!("more -o files than URLs");
    }
    if args.weight.len() > args.urls.len() {
        bail!("more --weight values than URLs");
    }
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let body = match args.data.as_deref() {
        None => None,
        Some(d) => match d.strip_prefix('@') {
            Some(file) => {
                let path = PathBuf::from(file);
                std::fs::metadata(&path).with_context(|| format!("cannot read {file}"))?;
                Some(BodySource::File(path))
            }
            None => Some(BodySource::Bytes(Bytes::copy_from_slice(d.as_bytes()))),
        },
    };
    let method = args
        .method
        .clone()
        .unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.to_string());
    if method.is_empty()
        || !method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        bail!("invalid method {method:?}");
    }
    let requests: Vec<fetch::Request> = paths
        .into_iter()
        .enumerate()
        .map(|(i, path)| fetch::Request {
            method: method.clone(),
            path,
            headers: headers.clone(),
            body: body.clone(),
            output: args
                .output
                .get(i)
                .map_or(Output::Memory, |p| Output::File(p.clone())),
            weight: args.weight.get(i).copied(),
        })
        .collect();
    let opts = ClientOptions {
        trust: trust(&args),
        prior_knowledge: args.prior_knowledge,
        verbose: args.verbose,
        save_pushed: args.save_pushed.clone(),
        // curl's habit: a meter for downloads to files, on a terminal only.
        progress: !args.output.is_empty() && std::io::stderr().is_terminal(),
        http1: match args.http1_1 {
            true => h2wasm::fetch::Http1::Force,
            false => h2wasm::fetch::Http1::Fallback,
        },
        connect_timeout: std::time::Duration::from_secs(args.connect_timeout),
    };
    let runtime = load_runtime(&args.engine, CLIENT_POOL)?;
    let responses = fetch::fetch(&runtime, &target, requests, &opts).await?;
    let mut failed = false;
    let mut stdout = std::io::stdout().lock();
    for (url, r) in args.urls.iter().zip(&responses) {
        if let Some(code) = r.reset {
            eprintln!("h2wasm: {url}: stream reset ({code:#x})");
            failed = true;
        }
        if args.include {
            for info in &r.informational {
                write_headers(&mut stdout, info)?;
            }
            write_headers(&mut stdout, &r.headers)?;
        }
        stdout.write_all(&r.body)?;
        if args.include && !r.trailers.is_empty() {
            write_headers(&mut stdout, &r.trailers)?;
        }
        for p in &r.pushed {
            if args.verbose || p.saved_to.is_some() {
                let saved = p
                    .saved_to
                    .as_ref()
                    .map(|f| format!(" -> {}", f.display()))
                    .unwrap_or_default();
                let reset = p
                    .reset
                    .map(|c| format!(" (reset {c:#x})"))
                    .unwrap_or_default();
                eprintln!(
                    "h2wasm: pushed {} {} {} bytes{saved}{reset}",
                    p.path(),
                    p.status,
                    p.body_len
                );
            }
        }
    }
    stdout.flush()?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn trust(args: &GetArgs) -> Trust {
    match (&args.cacert, args.insecure) {
        (Some(ca), _) => Trust::CaFile(ca.clone()),
        (None, true) => Trust::Insecure,
        (None, false) => Trust::Platform,
    }
}

fn write_headers(out: &mut impl Write, headers: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    for (n, v) in headers {
        writeln!(out, "{n}: {}", String::from_utf8_lossy(v))?;
    }
    writeln!(out)
}

//! The HTTP/2 client driver: one connection (h2 over TLS, or h2c with
//! prior knowledge) carrying several concurrent requests, with their
//! uploads, pushed responses and retries of refused streams.

use super::exchange::{BodySource, ClientOptions, Output, Pushed, Request, Response};
use crate::bindings::{Event, HeaderKind, Options, Priority, RequestOptions, Role};
use crate::engine::clock::{instant_at, now_ns};
use crate::engine::convert::codes::{CANCEL, REFUSED_STREAM};
use crate::engine::convert::{block_pairs, code_name, from_fields, status_of, to_fields};
use crate::engine::io::{IO_CHUNK, flush, trap};
use crate::engine::{EngineConnection, Runtime};
use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const BODY_CHUNK: usize = 64 * 1024;

/// A pushed stream being received: its response and pushed index, and
/// where its body goes.
struct PushSink {
    index: usize,
    pushed: usize,
    file: Option<tokio::fs::File>,
}

/// Where a pushed response for `path` is saved under `dir`: the path's
/// segments without query, never leaving `dir`.
fn pushed_file(dir: &std::path::Path, path: &str) -> PathBuf {
    let clean = path.split(['?', '#']).next().unwrap_or("");
    let mut out = dir.to_path_buf();
    for seg in clean.split('/') {
        if !seg.is_empty() && seg != "." && seg != ".." && !seg.contains('\\') {
            out.push(seg);
        }
    }
    if out == dir || clean.ends_with('/') {
        out.push("index.html");
    }
    out
}

/// A request body being sent.
enum Upload {
    Memory(Bytes),
    File(tokio::fs::File),
}

/// Times one request is sent again after REFUSED_STREAM.
const MAX_RETRIES: u8 = 3;

struct Pending {
    index: usize,
    /// Kept to send again if the server refuses the stream unprocessed.
    request: Request,
    upload: Option<Upload>,
    sink: Option<tokio::fs::File>,
    /// The engine reported the stream's queue full; wait for Drain.
    blocked: bool,
}

pub(super) async fn run<IO>(
    runtime: &Runtime,
    options: &Options,
    io: IO,
    requests: Vec<Request>,
    opts: &ClientOptions,
) -> anyhow::Result<Vec<Response>>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin,
{
    let mut conn = runtime
        .connect(Role::Client, options, now_ns())
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let (mut rd, mut wr) = tokio::io::split(io);
    let mut responses: Vec<Response> = requests.iter().map(|_| Response::default()).collect();
    let mut queue: VecDeque<(usize, Request)> = requests.into_iter().enumerate().collect();
    let mut active: HashMap<u32, Pending> = HashMap::new();
    let mut attempts = vec![0u8; responses.len()];
    let mut pushes: HashMap<u32, PushSink> = HashMap::new();
    let mut done = 0usize;
    let total = responses.len();
    let mut buf = vec![0u8; IO_CHUNK];
    let mut error: Option<anyhow::Error> = None;
    let mut progress = opts.progress.then(crate::fetch::progress::Progress::new);
    let mut trace = opts.verbose.then(|| {
        (
            crate::fetch::frametrace::FrameTrace::new("send", 24),
            crate::fetch::frametrace::FrameTrace::new("recv", 0),
        )
    });
    loop {
        // Start every request: past the peer's MAX_CONCURRENT_STREAMS the
        // engine keeps them pending and sends them as streams close.
        while let Some((index, req)) = queue.pop_front() {
            let mut fields = vec![
                (":method".to_string(), req.method.clone().into_bytes()),
                (":path".to_string(), req.path.clone().into_bytes()),
            ];
            fields.extend(req.headers.iter().cloned());
            let ro = RequestOptions {
                end_stream: req.body.is_none(),
                wait_for_trailers: false,
                priority: req.weight.map(|weight| Priority {
                    parent: 0,
                    exclusive: false,
                    weight,
                }),
                manual_consume: false,
            };
            match trap(conn.request(&to_fields(&fields), ro).await)? {
                Ok(id) => {
                    let upload = match &req.body {
                        None => None,
                        Some(BodySource::Bytes(b)) => Some(Upload::Memory(b.clone())),
                        Some(BodySource::File(p)) => Some(Upload::File(
                            tokio::fs::File::open(p)
                                .await
                                .with_context(|| format!("cannot read {}", p.display()))?,
                        )),
                    };
                    let sink = match &req.output {
                        Output::File(p) => Some(
                            tokio::fs::File::create(p)
                                .await
                                .with_context(|| format!("cannot write {}", p.display()))?,
                        ),
                        Output::Memory => None,
                    };
                    if opts.verbose {
                        eprintln!("* stream {id}: {} {}", req.method, req.path);
                    }
                    active.insert(
                        id,
                        Pending {
                            index,
                            request: req,
                            upload,
                            sink,
                            blocked: false,
                        },
                    );
                    feed(&mut conn, id, active.get_mut(&id)).await?;
                }
                Err(e) => bail!("request {} {} refused: {e:?}", req.method, req.path),
            }
        }
        flush(&mut conn, &mut wr, trace.as_mut().map(|t| &mut t.0)).await?;
        let events = trap(conn.poll_events().await)?;
        let quiet = events.is_empty();
        for event in events {
            match event {
                Event::PushPromise(pp) => {
                    let Some(index) = active.get(&pp.parent).map(|p| p.index) else {
                        // CANCEL: nothing here asked for it.
                        let _ = trap(conn.close_stream(pp.stream_id, CANCEL).await)?;
                        continue;
                    };
                    let request = from_fields(pp.headers);
                    let mut pushed = Pushed {
                        stream_id: pp.stream_id,
                        request,
                        ..Pushed::default()
                    };
                    let file = match &opts.save_pushed {
                        Some(dir) => {
                            let path = pushed_file(dir, &pushed.path());
                            if let Some(parent) = path.parent() {
                                tokio::fs::create_dir_all(parent).await.with_context(|| {
                                    format!("cannot create {}", parent.display())
                                })?;
                            }
                            let f = tokio::fs::File::create(&path)
                                .await
                                .with_context(|| format!("cannot write {}", path.display()))?;
                            pushed.saved_to = Some(path);
                            Some(f)
                        }
                        None => None,
                    };
                    if opts.verbose {
                        eprintln!(
                            "* stream {}: push promise, stream {} for {}",
                            pp.parent,
                            pp.stream_id,
                            pushed.path()
                        );
                    }
                    let list = &mut responses[index].pushed;
                    list.push(pushed);
                    pushes.insert(
                        pp.stream_id,
                        PushSink {
                            index,
                            pushed: list.len() - 1,
                            file,
                        },
                    );
                }
                Event::HeaderBlock(h)
                    if h.kind == HeaderKind::Response && pushes.contains_key(&h.stream_id) =>
                {
                    if let Some(ps) = pushes.get(&h.stream_id)
                        && let Some(p) = responses[ps.index].pushed.get_mut(ps.pushed)
                    {
                        p.headers = block_pairs(h.headers);
                        p.status = status_of(&p.headers);
                    }
                }
                Event::Data(d) if pushes.contains_key(&d.stream_id) => {
                    if let Some(ps) = pushes.get_mut(&d.stream_id)
                        && let Some(p) = responses[ps.index].pushed.get_mut(ps.pushed)
                    {
                        p.body_len += d.data.len() as u64;
                        match &mut ps.file {
                            Some(f) => f.write_all(&d.data).await?,
                            None => p.body.extend_from_slice(&d.data),
                        }
                    }
                }
                Event::StreamClosed(c) if pushes.contains_key(&c.stream_id) => {
                    if let Some(mut ps) = pushes.remove(&c.stream_id) {
                        if let Some(f) = ps.file.as_mut() {
                            f.flush().await?;
                        }
                        if let Some(p) = responses[ps.index].pushed.get_mut(ps.pushed)
                            && c.code != 0
                        {
                            p.reset = Some(c.code);
                        }
                    }
                }
                Event::HeaderBlock(h) if h.kind == HeaderKind::Response => {
                    if let Some(p) = active.get(&h.stream_id) {
                        let r = &mut responses[p.index];
                        r.headers = block_pairs(h.headers);
                        r.status = status_of(&r.headers);
                        if let (Some(meter), Some(_)) = (progress.as_mut(), &p.sink) {
                            let length = crate::engine::convert::find(&r.headers, "content-length")
                                .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok());
                            meter.expect(length);
                        }
                        if opts.verbose {
                            eprintln!("* stream {}: response {}", h.stream_id, r.status);
                        }
                    }
                }
                Event::HeaderBlock(h) if h.kind == HeaderKind::Informational => {
                    if let Some(p) = active.get(&h.stream_id) {
                        responses[p.index]
                            .informational
                            .push(block_pairs(h.headers));
                    }
                }
                Event::Data(d) => {
                    if let Some(p) = active.get_mut(&d.stream_id) {
                        let r = &mut responses[p.index];
                        r.body_len += d.data.len() as u64;
                        match &mut p.sink {
                            Some(f) => {
                                f.write_all(&d.data).await?;
                                if let Some(meter) = progress.as_mut() {
                                    meter.add(d.data.len() as u64);
                                }
                            }
                            None => r.body.extend_from_slice(&d.data),
                        }
                    }
                }
                Event::HeaderBlock(t) if t.kind == HeaderKind::Trailers => {
                    if let Some(p) = active.get(&t.stream_id) {
                        responses[p.index].trailers = block_pairs(t.headers);
                    }
                }
                Event::Drain(id) => {
                    if let Some(p) = active.get_mut(&id) {
                        p.blocked = false;
                    }
                    feed(&mut conn, id, active.get_mut(&id)).await?;
                }
                Event::StreamReset(r) => {
                    if let Some(p) = active.get(&r.stream_id) {
                        responses[p.index].reset = Some(r.code);
                    }
                    if opts.verbose {
                        eprintln!(
                            "* stream {}: reset {:?} {}",
                            r.stream_id,
                            r.origin,
                            code_name(r.code)
                        );
                    }
                }
                Event::StreamClosed(c) => {
                    if opts.verbose {
                        eprintln!(
                            "* stream {}: {}",
                            c.stream_id,
                            crate::fetch::report::stream_summary(&c.metrics)
                        );
                    }
                    if let Some(mut p) = active.remove(&c.stream_id) {
                        if let Some(f) = p.sink.as_mut() {
                            f.flush().await?;
                        }
                        // §8.7: REFUSED_STREAM means nothing was processed, so
                        // the request is safe to send again — typically one
                        // sent before the server's SETTINGS lowered its
                        // concurrency limit, which the engine now honours.
                        let retries = &mut attempts[p.index];
                        if c.code == REFUSED_STREAM
                            && responses[p.index].status == 0
                            && *retries < MAX_RETRIES
                        {
                            *retries += 1;
                            responses[p.index] = Response::default();
                            if opts.verbose {
                                eprintln!("* stream {}: refused, sending again", c.stream_id);
                            }
                            queue.push_back((p.index, p.request));
                            continue;
                        }
                        if c.code != 0 {
                            responses[p.index].reset.get_or_insert(c.code);
                        }
                        done += 1;
                    }
                }
                Event::Goaway(g) if opts.verbose => {
                    eprintln!(
                        "* GOAWAY {:?} {} last stream {}",
                        g.origin,
                        code_name(g.code),
                        g.last_stream_id
                    )
                }
                Event::Altsvc(a) if opts.verbose => {
                    eprintln!(
                        "* ALTSVC stream {} origin {:?}: {}",
                        a.stream_id, a.origin, a.value
                    )
                }
                Event::Origin(origins) if opts.verbose => {
                    eprintln!("* ORIGIN {}", origins.join(" "))
                }
                Event::ConnectionError(e) => {
                    error.get_or_insert_with(|| {
                        anyhow::anyhow!("connection error {}: {}", code_name(e.code), e.reason)
                    });
                }
                _ => {}
            }
        }
        // Pushed responses being saved are waited for; others are only
        // kept while the requests run.
        let pushes_pending = opts.save_pushed.is_some() && !pushes.is_empty();
        if (done == total && !pushes_pending) || trap(conn.is_closed().await)? {
            break;
        }
        if !quiet {
            // Handling events may have queued output, and sending it may
            // raise more events: go round until a flush raises nothing.
            continue;
        }
        // Keep uploads moving where the engine has room.
        let ready: Vec<u32> = active
            .iter()
            .filter(|(_, p)| p.upload.is_some() && !p.blocked)
            .map(|(id, _)| *id)
            .collect();
        if !ready.is_empty() {
            for id in ready {
                feed(&mut conn, id, active.get_mut(&id)).await?;
            }
            continue;
        }
        let deadline = trap(conn.poll_timeout().await)?;
        tokio::select! {
            read = rd.read(&mut buf) => {
                let n = read?;
                if n == 0 {
                    error.get_or_insert_with(|| anyhow::anyhow!("server closed the connection"));
                    break;
                }
                if let Some((_, recv)) = trace.as_mut() {
                    recv.feed(&buf[..n]);
                }
                if let Err(e) = trap(conn.receive(now_ns(), &buf[..n]).await)? {
                    error.get_or_insert_with(|| anyhow::anyhow!("connection error {}: {}", code_name(e.code), e.reason));
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
    let _ = flush(&mut conn, &mut wr, trace.as_mut().map(|t| &mut t.0)).await;
    let _ = wr.shutdown().await;
    if opts.verbose {
        trap(conn.handle_timeout(now_ns()).await)?;
        eprintln!(
            "* session: {}",
            crate::fetch::report::session_summary(&trap(conn.metrics().await)?)
        );
    }
    if let Some(meter) = progress.as_mut() {
        meter.finish();
    }
    if done < total {
        return Err(error
            .unwrap_or_else(|| anyhow::anyhow!("connection ended before all responses arrived")));
    }
    Ok(responses)
}

/// Writes request body chunks while the stream accepts them.
async fn feed(
    conn: &mut EngineConnection,
    id: u32,
    pending: Option<&mut Pending>,
) -> anyhow::Result<()> {
    let Some(p) = pending else { return Ok(()) };
    while !p.blocked {
        let chunk = match p.upload.as_mut() {
            None => return Ok(()),
            Some(Upload::Memory(b)) => {
                let n = b.len().min(BODY_CHUNK);
                b.split_to(n)
            }
            Some(Upload::File(f)) => {
                let mut buf = BytesMut::zeroed(BODY_CHUNK);
                let n = f.read(&mut buf).await?;
                buf.truncate(n);
                buf.freeze()
            }
        };
        if chunk.is_empty() {
            p.upload = None;
            let _ = trap(conn.end(id).await)?;
            return Ok(());
        }
        match trap(conn.write(id, &chunk).await)? {
            Ok(true) => {}
            Ok(false) => p.blocked = true,
            Err(_) => {
                p.upload = None;
                return Ok(());
            }
        }
    }
    Ok(())
}

//! What the server pump and the client share: moving engine output to the
//! transport, and telling traps apart from ordinary failures.

use crate::engine::EngineConnection;
use crate::fetch::frametrace::FrameTrace;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Largest batch moved across the wasm boundary per call.
pub(crate) const IO_CHUNK: usize = 256 * 1024;

/// The engine instance trapped (or ran out of resources): it is dead, and
/// so is its connection. Other connections are unaffected.
#[derive(Debug)]
pub struct Trap(pub String);

impl std::fmt::Display for Trap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "engine instance trapped: {}", self.0)
    }
}

impl std::error::Error for Trap {}

/// A wasmtime error is a trap.
pub(crate) fn trap<T>(r: wasmtime::Result<T>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::Error::new(Trap(format!("{e:#}"))))
}

/// What the host sends, with no instance, to a connection it cannot
/// serve: an empty SETTINGS (the server preface) and GOAWAY with last
/// stream 0 and REFUSED_STREAM — nothing was processed, so every request
/// may be retried (RFC 9113 §6.8, §8.7) — with `why` as debug data.
pub(crate) fn refusal(why: &str) -> Vec<u8> {
    h2wasm_engine::wire::refusal(h2wasm_engine::ErrorCode::REFUSED_STREAM, why)
}

/// What a client opens a connection with: the preface, an empty SETTINGS
/// and a GET of `/` on stream 1 (HPACK: indexed `:method GET`, `:scheme
/// http`, `:path /`, and a literal `:authority`). Instances made ahead run
/// it once, so that a connection's first turn finds its pages in place.
pub(crate) fn warm_up_request() -> Vec<u8> {
    use h2wasm_engine::wire::{FrameHeader, PREFACE, flag, kind};
    const AUTHORITY: &[u8] = b"localhost";
    let mut block = vec![0x82, 0x86, 0x84, 0x41, AUTHORITY.len() as u8];
    block.extend_from_slice(AUTHORITY);
    let mut out = PREFACE.to_vec();
    FrameHeader::new(kind::SETTINGS, 0, 0, 0).encode(&mut out);
    let flags = flag::END_STREAM | flag::END_HEADERS;
    FrameHeader::new(kind::HEADERS, flags, 1, block.len()).encode(&mut out);
    out.extend_from_slice(&block);
    out
}

/// Writes everything the engine has queued (showing it to `trace` when
/// given); returns the octets written. For connections that hold no host
/// bodies (clients, tunnels): the server pump splices its own.
pub(crate) async fn flush<W: AsyncWrite + Unpin>(
    conn: &mut EngineConnection,
    wr: &mut W,
    mut trace: Option<&mut FrameTrace>,
) -> anyhow::Result<u64> {
    let mut total = 0;
    loop {
        let t = trap(conn.poll_transmit(IO_CHUNK as u32).await)?;
        if !t.payload.is_empty() {
            anyhow::bail!("the engine referred to a host body this connection never gave it");
        }
        let out = t.octets;
        if let Some(t) = trace.as_mut() {
            t.feed(&out);
        }
        wr.write_all(&out).await?;
        total += out.len() as u64;
        // A short batch means the engine had nothing more.
        if out.len() < IO_CHUNK {
            break;
        }
    }
    if total > 0 {
        wr.flush().await?;
    }
    Ok(total)
}

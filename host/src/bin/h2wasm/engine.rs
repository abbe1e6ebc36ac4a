//! Loading the engine for a command: which component (the embedded one,
//! or `--engine FILE.wasm`), its pool, and its compiled copy kept under
//! the data directory.

use anyhow::{Context, bail};
use clap::Args;
use h2wasm::{Runtime, RuntimeConfig};

#[derive(Args, Clone)]
pub(crate) struct EngineArg {
    /// Load this engine component instead of the embedded one.
    #[arg(long, value_name = "FILE.wasm")]
    pub engine: Option<std::path::PathBuf>,
    /// Milliseconds one call into the engine may run before its connection
    /// is ended (a stuck engine cannot hold a thread); 0 compiles the
    /// engine without these checks, about 10% faster.
    #[arg(long, value_name = "MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub max_call_time: u64,
}

/// Connections served, and how many of them may hold an instance.
#[derive(Clone, Copy)]
pub(crate) struct Pool {
    pub max_connections: u32,
    pub max_live: u32,
}

/// What one-shot commands (get, info) need.
pub(crate) const CLIENT_POOL: Pool = Pool {
    max_connections: 4,
    max_live: 4,
};

pub(crate) fn runtime_config(engine: &EngineArg, pool: Pool) -> RuntimeConfig {
    RuntimeConfig {
        max_connections: pool.max_connections,
        max_live: pool.max_live,
        max_call_time: (engine.max_call_time > 0)
            .then(|| std::time::Duration::from_millis(engine.max_call_time)),
        ..RuntimeConfig::default()
    }
}

/// The engine component's bytes and their hash.
pub(crate) fn engine_wasm(
    engine: &EngineArg,
) -> anyhow::Result<(std::borrow::Cow<'static, [u8]>, u64)> {
    match &engine.engine {
        Some(path) => {
            let wasm = std::fs::read(path)
                .with_context(|| format!("cannot read engine {}", path.display()))?;
            let hash = h2wasm::engine::wasm_hash(&wasm);
            Ok((wasm.into(), hash))
        }
        None => Ok((h2wasm::EMBEDDED_ENGINE.into(), h2wasm::EMBEDDED_ENGINE_HASH)),
    }
}

/// The engine, compiled to native code in a child process the first time
/// and kept under the data directory: the compiler's memory never becomes
/// the server's. Where nothing can be kept, it compiles here.
pub(crate) fn load_runtime(engine: &EngineArg, pool: Pool) -> anyhow::Result<Runtime> {
    let config = runtime_config(engine, pool);
    let hash = match &engine.engine {
        Some(_) => engine_wasm(engine)?.1,
        None => h2wasm::EMBEDDED_ENGINE_HASH,
    };
    let dir = h2wasm::tls::data_dir().join("engines");
    let compile = |dest: &std::path::Path| compile_in_child(engine, pool, dest);
    // SAFETY: the data directory is this user's own (see `data_dir`).
    match unsafe { Runtime::load_compiled(hash, &dir, &config, compile) } {
        Ok(runtime) => Ok(runtime),
        Err(e) => {
            tracing::debug!("compiling the engine in this process: {e:#}");
            let (wasm, _) = engine_wasm(engine)?;
            Runtime::new(&wasm, &config).map_err(|e| anyhow::anyhow!("{e:#}"))
        }
    }
}

fn compile_in_child(engine: &EngineArg, pool: Pool, dest: &std::path::Path) -> anyhow::Result<()> {
    let dir = dest
        .parent()
        .context("no directory for the compiled engine")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let partial = dest.with_extension(format!("partial-{}", std::process::id()));
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg("compile-engine")
        .arg("--out")
        .arg(&partial)
        .arg("--max-connections")
        .arg(pool.max_connections.to_string())
        .arg("--max-live")
        .arg(pool.max_live.to_string())
        .arg("--max-call-time")
        .arg(engine.max_call_time.to_string());
    if let Some(path) = &engine.engine {
        cmd.arg("--engine").arg(path);
    }
    let status = cmd.status().context("cannot start the engine compiler")?;
    if !status.success() {
        let _ = std::fs::remove_file(&partial);
        bail!("the engine compiler failed ({status})");
    }
    std::fs::rename(&partial, dest).with_context(|| format!("cannot write {}", dest.display()))?;
    Ok(())
}

//! `h2wasm compile-engine` (hidden): compiles the engine to native code
//! for a pool's settings; what `serve` runs in a child process, so that
//! the compiler's memory never becomes the server's.

use crate::engine::{EngineArg, Pool, engine_wasm, runtime_config};
use anyhow::Context;
use clap::Args;
use h2wasm::Runtime;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct CompileArgs {
    /// Where to write the compiled engine.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[arg(long, value_name = "N", default_value_t = 4)]
    max_connections: u32,
    #[arg(long, value_name = "N", default_value_t = 4)]
    max_live: u32,
    #[command(flatten)]
    engine: EngineArg,
}

pub(crate) fn run(args: CompileArgs) -> anyhow::Result<ExitCode> {
    let pool = Pool {
        max_connections: args.max_connections,
        max_live: args.max_live,
    };
    let config = runtime_config(&args.engine, pool);
    let (wasm, _) = engine_wasm(&args.engine)?;
    let compiled = Runtime::precompile(&wasm, &config).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    std::fs::write(&args.out, compiled)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    Ok(ExitCode::SUCCESS)
}

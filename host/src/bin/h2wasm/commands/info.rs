//! `h2wasm info`: loads the engine component and prints its default
//! settings.

use crate::engine::{CLIENT_POOL, EngineArg, load_runtime};
use std::process::ExitCode;

pub(crate) async fn run(args: EngineArg) -> anyhow::Result<ExitCode> {
    let runtime = load_runtime(&args, CLIENT_POOL)?;
    let options = runtime
        .default_options()
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    println!("engine component loaded");
    println!("default options: {options:#?}");
    Ok(ExitCode::SUCCESS)
}

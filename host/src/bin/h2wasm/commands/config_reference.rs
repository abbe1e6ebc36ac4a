//! `h2wasm config-reference`: prints the configuration file's reference
//! (Markdown; docs/config.md is this output).

use std::process::ExitCode;

pub(crate) fn run() -> anyhow::Result<ExitCode> {
    print!("{}", crate::config::reference::markdown());
    Ok(ExitCode::SUCCESS)
}

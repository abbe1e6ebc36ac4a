//! The `h2wasm` command.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "h2wasm",
    version,
    about = "HTTP/2 served and fetched by a WebAssembly engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load the engine component and print its default settings.
    Info {
        /// Load this engine component instead of the embedded one.
        #[arg(long, value_name = "FILE.wasm")]
        engine: Option<std::path::PathBuf>,
    },
    /// Serve HTTP/2 (arrives with the runner: see the README).
    Serve,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info { engine } => info(engine),
        Command::Serve => Err(anyhow::anyhow!(
            "`h2wasm serve` is not available yet: the TCP/TLS runner is the next milestone"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("h2wasm: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn info(engine: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let wasm = match &engine {
        Some(path) => std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
        None => h2wasm::EMBEDDED_ENGINE.to_vec(),
    };
    let config = h2wasm::RuntimeConfig {
        max_connections: 4,
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    let options = rt.block_on(async {
        let runtime = h2wasm::Runtime::new(&wasm, &config)?;
        runtime.default_options().await
    })?;
    println!("engine: {} bytes", wasm.len());
    println!("default settings: {:?}", options.settings);
    Ok(())
}

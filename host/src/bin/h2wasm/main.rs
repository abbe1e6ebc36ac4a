//! The `h2wasm` command: serve and fetch over HTTP/2 with the engine
//! running as a WebAssembly component. One file per command under
//! `commands/`, as wasmtime's CLI has it.

#[cfg(all(target_os = "linux", feature = "jemalloc"))]
mod allocator;
mod commands;
mod config;
mod engine;
mod parse;

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "h2wasm",
    version,
    about = "HTTP/2 served and fetched by an engine running as a WebAssembly component"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Serve a directory, a wasi:http component (--app) or the built-in
    /// site over HTTP/2 (TLS by default) and HTTP/1.1.
    Serve(Box<commands::serve::ServeArgs>),
    /// Check a configuration file (serve --config) and print what it
    /// would serve, or what is wrong with it and where.
    CheckConfig(commands::check_config::CheckConfigArgs),
    /// Print the configuration file's reference (Markdown).
    ConfigReference,
    /// Fetch URLs over one HTTP/2 connection, concurrently.
    Get(commands::get::GetArgs),
    /// Load the engine component and print its default settings.
    Info(engine::EngineArg),
    /// Compile the engine to native code for the given settings (what
    /// serve runs in a child process; the result is kept and reused).
    #[command(hide = true)]
    CompileEngine(commands::compile_engine::CompileArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log = init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("h2wasm: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Serve(args) => commands::serve::run(*args).await,
            Command::CheckConfig(args) => commands::check_config::run(args),
            Command::ConfigReference => commands::config_reference::run(),
            Command::Get(args) => commands::get::run(args).await,
            Command::Info(args) => commands::info::run(args).await,
            Command::CompileEngine(args) => commands::compile_engine::run(args),
        }
    });
    // Whatever is still running (an app's instance waiting on an origin,
    // a blocking read) gets at most this long: serve returns within
    // --grace, and the process within SHUTDOWN_MARGIN of that.
    rt.shutdown_timeout(SHUTDOWN_MARGIN);
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("h2wasm: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// How long tasks still running when a command returns may take to stop
/// before the process exits anyway.
const SHUTDOWN_MARGIN: Duration = Duration::from_secs(1);

/// Logs go through a writer thread with a buffer flushed whenever it runs
/// dry: an access-log line per request must not cost the serving thread a
/// write(2) each. The guard flushes what is left at exit.
fn init_logging() -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,h2wasm=info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        // Under a flood, wait for the writer rather than drop lines.
        .lossy(false)
        // Lines waiting for the writer; each slot is allocated up front.
        .buffered_lines_limit(1024)
        .finish(std::io::BufWriter::new(std::io::stderr()));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false)
        // Colour only for a terminal: a log file gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    guard
}

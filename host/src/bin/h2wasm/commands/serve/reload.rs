//! Signals: SIGINT and SIGTERM stop the server gracefully; SIGHUP reloads
//! the configuration file. A reload binds the listeners the file adds and
//! builds everything anew (certificates, directories, apps compiled)
//! before it swaps the site table whole, then closes the listeners the
//! file no longer has and starts the new ones; a file that fails (an
//! address that cannot be listened on included) is refused, logged at
//! error with its reason, and the running configuration goes on serving.

use super::args::ServeArgs;
use super::listeners::Listeners;
use crate::config::{self, Plan, build};
use anyhow::Context;
use arc_swap::ArcSwap;
use clap::{CommandFactory, Parser, parser::ValueSource};
use h2wasm::apps::wasi_http::WasiHttpApp;
use h2wasm::sites::Sites;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

/// What a reload replaces, and what it compares the new file with.
pub(crate) struct Reloader {
    pub(crate) path: PathBuf,
    /// Reload when the file changes (`--watch`).
    pub(crate) watch: bool,
    /// The plan being served.
    pub(crate) plan: Plan,
    pub(crate) cx: build::Context,
    pub(crate) sites: Sites,
    pub(crate) apps: Arc<ArcSwap<Vec<WasiHttpApp>>>,
}

impl Reloader {
    async fn reload(&mut self, listeners: &mut Listeners) -> anyhow::Result<()> {
        let plan = config::load(&self.path)?;
        // New addresses first: one that cannot be had refuses the reload
        // before anything is built or changed.
        let pending = listeners.prepare(&plan.listeners).await?;
        let mut cx = self.cx.clone();
        for p in &pending {
            let address = p.local().unwrap_or(p.plan().address);
            if !cx.own_addresses.contains(&address) {
                cx.own_addresses.push(address);
            }
        }
        cx.tls = plan
            .listeners
            .iter()
            .any(|l| l.tls && l.redirect_to_https.is_none());
        let build_cx = cx.clone();
        // Certificates are read and apps compiled off the serving threads.
        let (plan, built) = tokio::task::spawn_blocking(move || {
            let built = build::build(&plan, &build_cx);
            (plan, built)
        })
        .await
        .context("the reload's builder failed")?;
        let built = built?;
        // Server-wide settings are the process's own.
        if plan.server_args != self.plan.server_args {
            tracing::warn!(
                "{}: [server] changed; it takes effect on restart",
                self.path.display()
            );
        }
        let sites = built.table.labels().collect::<Vec<_>>().join(", ");
        self.sites.replace(built.table);
        self.apps.store(Arc::new(built.apps));
        listeners.apply(&plan.listeners, pending).await;
        tracing::info!("{}: reloaded; sites {sites}", self.path.display());
        self.plan = plan;
        self.cx = cx;
        Ok(())
    }
}

/// The signals `serve` answers, taken before anything is loaded: a
/// SIGHUP sent while apps compile must not end the process (its default
/// action), and is answered once serving has begun.
pub(crate) struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    /// Taken only with a file to reload (otherwise SIGHUP ends the
    /// process, as it always has).
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
    /// SIGUSR1: the access log file is opened again (after a rotation).
    #[cfg(unix)]
    user1: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub(crate) fn install(reloads: bool) -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
                hangup: if reloads {
                    signal(SignalKind::hangup()).ok()
                } else {
                    None
                },
                user1: signal(SignalKind::user_defined1()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = reloads;
            Signals {}
        }
    }

    /// Answers signals until SIGINT or SIGTERM, which stop the server:
    /// then every listener stops, and this returns once their connections
    /// have finished.
    pub(crate) async fn handle(
        mut self,
        stop: watch::Sender<bool>,
        mut listeners: Listeners,
        mut reloader: Option<Reloader>,
        access_log: Option<h2wasm::serve::AccessLog>,
    ) -> anyhow::Result<()> {
        let watching = reloader.as_ref().is_some_and(|r| r.watch);
        let mut seen = reloader.as_ref().and_then(|r| stamp(&r.path));
        let mut tick = tokio::time::interval(WATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        #[cfg(unix)]
        loop {
            let hangup = tokio::select! {
                Some(_) = async { self.interrupt.as_mut()?.recv().await } => break,
                Some(_) = async { self.terminate.as_mut()?.recv().await } => break,
                Some(_) = async { self.hangup.as_mut()?.recv().await } => true,
                Some(_) = async { self.user1.as_mut()?.recv().await } => {
                    if let Some(log) = &access_log {
                        tracing::info!("SIGUSR1: reopening the access log");
                        log.reopen();
                    }
                    continue;
                }
                _ = tick.tick(), if watching => false,
            };
            let Some(r) = reloader.as_mut() else { continue };
            if !hangup {
                let now = stamp(&r.path);
                if now == seen {
                    continue;
                }
                seen = now;
                tracing::info!("{}: changed; reloading", r.path.display());
            }
            if let Err(e) = r.reload(&mut listeners).await {
                tracing::error!("reload refused, still serving the previous configuration: {e:#}");
            }
        }
        #[cfg(not(unix))]
        {
            let _ = (&mut self, &mut reloader, &access_log);
            let _ = tokio::signal::ctrl_c().await;
        }
        eprintln!("h2wasm: shutting down (GOAWAY sent; letting open streams finish)");
        let _ = stop.send(true);
        listeners.stop().await
    }
}

/// How often `--watch` looks at the file.
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// What says a file changed: its modification time, length and inode (a
/// file renamed over it is a new inode even within the same second).
fn stamp(path: &std::path::Path) -> Option<(std::time::SystemTime, u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.modified().ok()?, meta.len(), inode))
}

/// `serve`'s options with the file's `[server]` table under them: a key
/// counts only where the command line does not give the same option.
pub(crate) fn with_file_options(plan: &Plan) -> anyhow::Result<ServeArgs> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    if argv.get(1).is_none_or(|a| a != "serve") {
        anyhow::bail!("--config is an option of `h2wasm serve`");
    }
    let matches = crate::Cli::command().try_get_matches_from(&argv)?;
    let serve = matches
        .subcommand_matches("serve")
        .context("no serve options")?;
    let mut merged: Vec<OsString> = argv[..2].to_vec();
    for (id, args) in &plan.server_args {
        if serve.value_source(id) != Some(ValueSource::CommandLine) {
            merged.extend(args.iter().cloned());
        }
    }
    merged.extend(argv[2..].iter().cloned());
    match crate::Cli::try_parse_from(merged)?.command {
        crate::Command::Serve(args) => Ok(*args),
        _ => anyhow::bail!("--config is an option of `h2wasm serve`"),
    }
}

//! The listeners `serve` runs: each a [`Server`] on a socket of its own,
//! with a stop of its own, so that a reload opens the listeners a file
//! adds, closes those it removes (their connections get GOAWAY and finish
//! what they started) and changes one in place, while every other
//! listener serves on untouched.

use crate::config::ListenPlan;
use anyhow::Context;
use h2wasm::Runtime;
use h2wasm::bindings::Options;
use h2wasm::serve::http1::Http1Config;
use h2wasm::serve::limits::Limits;
use h2wasm::serve::{ConnectionConfig, ConnectionOrigins, Server};
use h2wasm::service::{SharedService, shared};
use h2wasm::sites::{HttpsRedirect, Sites};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What every listener's server is made of.
pub(crate) struct Parts {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) options: Options,
    /// The sites' router (a redirecting listener answers with its own).
    pub(crate) router: SharedService,
    pub(crate) sites: Sites,
    pub(crate) grace: Duration,
    /// Connections' settings; `origins` is set per TLS listener.
    pub(crate) connection: ConnectionConfig,
    /// HTTP/1.1's, for listeners that serve it.
    pub(crate) http1: Http1Config,
    pub(crate) limits: Arc<Limits>,
}

/// The listeners serving now.
pub(crate) struct Listeners {
    parts: Parts,
    running: Vec<Running>,
    /// Listeners a reload removed, whose connections are still finishing:
    /// waited for at shutdown too (within their grace period).
    draining: Vec<JoinHandle<anyhow::Result<()>>>,
}

struct Running {
    plan: ListenPlan,
    local: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

/// A listener a reload will start: its socket, bound before anything else
/// of the reload is done (so that an address that cannot be had refuses
/// the reload with nothing changed), or, for an address a listener being
/// replaced holds, bound once that one has let go of it.
pub(crate) struct Pending {
    plan: ListenPlan,
    socket: Option<TcpListener>,
}

/// How long a changed listener waits for the one it replaces to close its
/// socket (the old one stops accepting as soon as it is told).
const HANDOVER: Duration = Duration::from_secs(5);

impl Pending {
    pub(crate) fn plan(&self) -> &ListenPlan {
        &self.plan
    }

    /// The address bound, if it is bound yet.
    pub(crate) fn local(&self) -> Option<SocketAddr> {
        self.socket.as_ref().and_then(|s| s.local_addr().ok())
    }
}

impl Listeners {
    pub(crate) fn new(parts: Parts) -> Listeners {
        Listeners {
            parts,
            running: Vec::new(),
            draining: Vec::new(),
        }
    }

    /// Starts serving `plan` on `socket` (bound to it).
    pub(crate) fn start(&mut self, plan: ListenPlan, socket: TcpListener) -> anyhow::Result<()> {
        let local = socket.local_addr()?;
        let p = &self.parts;
        let service = match plan.redirect_to_https {
            Some(port) => shared(HttpsRedirect::new(port)),
            None => p.router.clone(),
        };
        let mut connection = p.connection.clone();
        connection.origins = plan
            .tls
            .then(|| p.sites.origins(local.port()) as Arc<dyn ConnectionOrigins>);
        let mut builder = Server::builder(p.runtime.clone(), p.options.clone(), service)
            .grace(p.grace)
            .connection(connection)
            .http1(plan.http1.then(|| p.http1.clone()))
            .limits(p.limits.clone());
        if plan.tls {
            builder = builder.tls(h2wasm::tls::sni_server_config(
                p.sites.certificates(),
                plan.http1,
            )?);
        }
        let scheme = if plan.tls { "https" } else { "http" };
        match plan.redirect_to_https {
            Some(port) => {
                eprintln!("h2wasm: redirecting {scheme}://{local}/ to https (port {port})")
            }
            None => eprintln!("h2wasm: serving HTTP/2 on {scheme}://{local}/"),
        }
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(builder.build().run(socket, stopped));
        self.running.push(Running {
            plan,
            local,
            stop,
            task,
        });
        Ok(())
    }

    /// What `wanted` needs that is not running yet, its sockets bound
    /// (but for addresses a running listener holds, which is replaced).
    /// An address that cannot be listened on is an error, and nothing
    /// is bound.
    pub(crate) async fn prepare(&self, wanted: &[ListenPlan]) -> anyhow::Result<Vec<Pending>> {
        let mut pending = Vec::new();
        for plan in wanted {
            if self.running.iter().any(|r| r.plan == *plan) {
                continue;
            }
            let held = self
                .running
                .iter()
                .any(|r| r.plan.address == plan.address || r.local == plan.address);
            let socket = match held {
                true => None,
                false => Some(bind(plan.address).await?),
            };
            pending.push(Pending {
                plan: plan.clone(),
                socket,
            });
        }
        Ok(pending)
    }

    /// Makes the running listeners `wanted`: stops those it does not
    /// name, and starts `pending` (from [`Listeners::prepare`]).
    pub(crate) async fn apply(&mut self, wanted: &[ListenPlan], pending: Vec<Pending>) {
        let (kept, gone): (Vec<Running>, Vec<Running>) = std::mem::take(&mut self.running)
            .into_iter()
            .partition(|r| wanted.contains(&r.plan));
        self.running = kept;
        self.draining.retain(|task| !task.is_finished());
        for r in gone {
            tracing::info!("stopped listening on {} (closing its connections)", r.local);
            let _ = r.stop.send(true);
            // Its connections finish within the grace period.
            self.draining.push(r.task);
        }
        for p in pending {
            let socket = match p.socket {
                Some(s) => Ok(s),
                None => bind_when_free(p.plan.address).await,
            };
            let started = socket.and_then(|s| self.start(p.plan.clone(), s));
            if let Err(e) = started {
                tracing::error!("cannot listen on {}: {e:#}", p.plan.address);
            }
        }
    }

    /// Stops every listener and waits for their connections to finish
    /// (each within the grace period).
    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        for r in &self.running {
            let _ = r.stop.send(true);
        }
        let tasks = self.running.into_iter().map(|r| r.task);
        for task in tasks.chain(self.draining) {
            task.await.context("a listener's task failed")??;
        }
        Ok(())
    }
}

pub(crate) async fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))
}

/// `address`, once the listener being replaced there has closed it.
async fn bind_when_free(address: SocketAddr) -> anyhow::Result<TcpListener> {
    let deadline = tokio::time::Instant::now() + HANDOVER;
    loop {
        match TcpListener::bind(address).await {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(e).context(format!("{address} is still in use"));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot listen on {address}")),
        }
    }
}

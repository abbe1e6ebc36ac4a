//! `h2wasm check-config FILE`: reads a configuration file as `serve
//! --config` would, loads everything it names (certificates, directories,
//! apps compiled), and prints what would be served; or says what is wrong
//! and where.

use crate::config::{self, build};
use crate::engine::EngineArg;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct CheckConfigArgs {
    /// The configuration file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

pub(crate) fn run(args: CheckConfigArgs) -> anyhow::Result<ExitCode> {
    let plan = config::load(&args.file)?;
    let cx = build::Context {
        engine: EngineArg {
            engine: None,
            max_call_time: 2000,
        },
        own_addresses: plan.listeners.iter().map(|l| l.address).collect(),
        tls: plan
            .listeners
            .iter()
            .any(|l| l.tls && l.redirect_to_https.is_none()),
        metrics: None,
    };
    build::build(&plan, &cx)?;
    println!("{}: ok", args.file.display());
    for l in &plan.listeners {
        let scheme = if l.tls { "https" } else { "http" };
        let protocols = if l.http1 { "h2, http/1.1" } else { "h2" };
        match l.redirect_to_https {
            Some(port) => println!("listen {scheme}://{} -> https port {port}", l.address),
            None => println!("listen {scheme}://{} ({protocols})", l.address),
        }
    }
    for site in &plan.sites {
        let mut names: Vec<String> = site.names.iter().map(ToString::to_string).collect();
        if site.default {
            names.push("(default)".into());
        }
        match (&site.cert, cx.tls) {
            (Some((c, _)), true) => println!("site {}  [{}]", names.join(" "), c.display()),
            (None, true) => println!("site {}  [development certificate]", names.join(" ")),
            (_, false) => println!("site {}", names.join(" ")),
        }
        for route in &site.routes {
            let strip = if route.strip {
                " (prefix stripped)"
            } else {
                ""
            };
            println!("  {:<16} {}{strip}", route.path, route.kind.describe());
        }
    }
    if plan.server_args.is_empty() {
        println!("server: defaults");
    } else {
        let given: Vec<String> = plan
            .server_args
            .iter()
            .map(|(_, a)| {
                a.iter()
                    .map(|s| s.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        println!("server: {}", given.join(" "));
    }
    Ok(ExitCode::SUCCESS)
}

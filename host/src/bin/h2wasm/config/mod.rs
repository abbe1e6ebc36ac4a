//! `serve --config`: the configuration file, read (TOML, [`file`]),
//! checked into a [`Plan`] (listeners, sites, routes, and the server's
//! options as flags), and built into the library's site table
//! ([`build`]). Every error names the file, the line and the key, and
//! says what was expected; unknown keys are errors.

pub(crate) mod build;
pub(crate) mod file;
pub(crate) mod flags;
pub(crate) mod reference;

use crate::commands::serve::args::{AppArgs, ServerArgs, SiteArgs};
use clap::{Args, FromArgMatches};
use file::{ConfigFile, Route};
use h2wasm::sites::{HostPattern, Redirect};
use http::StatusCode;
use std::collections::HashMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A configuration file's text, to say where in it something is.
pub(crate) struct Source {
    path: PathBuf,
    text: String,
}

impl Source {
    /// The 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    pub(crate) fn error(&self, span: Range<usize>, key: String, message: String) -> ConfigError {
        ConfigError {
            path: self.path.clone(),
            line: (span != (0..0)).then(|| self.line(span.start)),
            key,
            message,
        }
    }

    /// A path written in the file: relative ones are relative to the
    /// file's directory.
    fn resolve(&self, path: &Path) -> PathBuf {
        match self.path.parent() {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }
}

/// What is wrong with a configuration file, and where.
#[derive(Debug)]
pub(crate) struct ConfigError {
    path: PathBuf,
    line: Option<usize>,
    key: String,
    message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ", {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Where in the file a site or route is, for errors found when it is
/// built (a missing directory, a component of the wrong world).
#[derive(Clone)]
pub(crate) struct Place {
    path: PathBuf,
    line: Option<usize>,
    key: String,
}

impl Place {
    /// An error at this place.
    pub(crate) fn error(&self, key: &str, message: impl std::fmt::Display) -> ConfigError {
        ConfigError {
            path: self.path.clone(),
            line: self.line,
            key: format!("{}{key}", self.key).trim_end().to_string(),
            message: message.to_string(),
        }
    }

    fn command_line() -> Place {
        Place {
            path: PathBuf::from("command line"),
            line: None,
            key: String::new(),
        }
    }
}

/// What will be served: checked, with paths resolved, nothing loaded yet.
pub(crate) struct Plan {
    pub(crate) listeners: Vec<ListenPlan>,
    pub(crate) sites: Vec<SitePlan>,
    pub(crate) unmatched: StatusCode,
    /// The `[server]` table as flags, by arg id.
    pub(crate) server_args: Vec<(String, Vec<OsString>)>,
}

impl Plan {
    /// Whether a route answers WebSockets: the built-in site's `/ws`, or
    /// a proxy (its upstreams may).
    pub(crate) fn serves_websockets(&self) -> bool {
        self.sites
            .iter()
            .flat_map(|s| &s.routes)
            .any(|r| matches!(r.kind, RouteKind::Echo | RouteKind::Proxy(_)))
    }
}

/// A listener.
#[derive(Clone, PartialEq, Debug)]
pub(crate) struct ListenPlan {
    pub(crate) address: SocketAddr,
    pub(crate) tls: bool,
    pub(crate) http1: bool,
    pub(crate) redirect_to_https: Option<u16>,
}

/// A site.
pub(crate) struct SitePlan {
    pub(crate) names: Vec<HostPattern>,
    pub(crate) default: bool,
    pub(crate) cert: Option<(PathBuf, PathBuf)>,
    pub(crate) routes: Vec<RoutePlan>,
    pub(crate) at: Place,
}

/// A route.
pub(crate) struct RoutePlan {
    pub(crate) path: String,
    pub(crate) strip: bool,
    pub(crate) kind: RouteKind,
    pub(crate) at: Place,
}

/// A reverse proxy route, checked.
pub(crate) struct ProxyPlan {
    pub(crate) upstreams: Vec<String>,
    /// Their `scheme://host:port`, for the outbound policy.
    pub(crate) origins: Vec<String>,
    pub(crate) h2c: bool,
    pub(crate) connect_timeout: std::time::Duration,
    pub(crate) response_timeout: std::time::Duration,
    pub(crate) read_timeout: std::time::Duration,
    pub(crate) fail_timeout: std::time::Duration,
    pub(crate) max_connections: u32,
    pub(crate) cacert: Option<PathBuf>,
}

/// What a route serves.
pub(crate) enum RouteKind {
    Files {
        root: PathBuf,
        push: HashMap<String, Vec<String>>,
        compress: file::Compress,
    },
    App(Box<AppArgs>),
    Proxy(Box<ProxyPlan>),
    Redirect(Redirect, String),
    Echo,
}

impl RouteKind {
    /// How `check-config` and the log describe it.
    pub(crate) fn describe(&self) -> String {
        match self {
            RouteKind::Files { root, push, .. } if push.is_empty() => {
                format!("files {}", root.display())
            }
            RouteKind::Files { root, push, .. } => {
                format!("files {} (push for {} pages)", root.display(), push.len())
            }
            RouteKind::App(app) => format!(
                "app {} ({} instances, outbound {})",
                app.app
                    .as_deref()
                    .map_or("?".into(), |p| p.display().to_string()),
                app.app_instances,
                if app.app_allow_outbound.is_empty() {
                    "none".to_string()
                } else {
                    app.app_allow_outbound
                        .iter()
                        .flatten()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
            RouteKind::Proxy(p) => format!(
                "proxy to {}{}",
                p.upstreams.join(", "),
                if p.h2c { " (h2c)" } else { "" }
            ),
            RouteKind::Redirect(_, to) => format!("redirect {to}"),
            RouteKind::Echo => "echo (the built-in site)".into(),
        }
    }
}

/// Reads and checks the file at `path`.
pub(crate) fn load(path: &Path) -> Result<Plan, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        path: path.to_path_buf(),
        line: None,
        key: String::new(),
        message: format!("cannot read it: {e}"),
    })?;
    check(Source {
        path: path.to_path_buf(),
        text,
    })
}

/// Checks a file's text into a plan.
pub(crate) fn check(src: Source) -> Result<Plan, ConfigError> {
    let file: ConfigFile = toml::from_str(&src.text).map_err(|e| ConfigError {
        path: src.path.clone(),
        line: e.span().map(|s| src.line(s.start)),
        key: String::new(),
        // toml's message quotes the line and says what was expected;
        // its own "at line N, column M" header is ours to say.
        message: e.message().to_string(),
    })?;
    let server_command = ServerArgs::augment_args(clap::Command::new("server"));
    let server_args = flags::to_args(
        &file.server,
        &server_command,
        flags::Naming::Server,
        &src,
        "[server] ",
    )?;
    // Checked now, with the flags' parsers.
    flags::parse(
        server_command,
        &server_args,
        &file.server,
        flags::Naming::Server,
        &src,
        "[server] ",
    )?;

    let unmatched = match *file.unmatched_host.get_ref() {
        421 => StatusCode::MISDIRECTED_REQUEST,
        404 => StatusCode::NOT_FOUND,
        other => {
            return Err(src.error(
                file.unmatched_host.span(),
                "unmatched-host".into(),
                format!("expected 421 or 404, found {other}"),
            ));
        }
    };
    if file.listen.is_empty() {
        return Err(src.error(
            0..0,
            "[[listen]]".into(),
            "no listener: expected at least one [[listen]] table with an address".into(),
        ));
    }
    let mut listeners = Vec::new();
    for (i, listen) in file.listen.iter().enumerate() {
        let key = format!("[[listen]] {} ", i + 1);
        let l = listen.get_ref();
        let address: SocketAddr = l.address.parse().map_err(|_| {
            src.error(
                listen.span(),
                format!("{key}address"),
                format!(
                    "{:?} is not an address and port: expected e.g. 127.0.0.1:8443 or [::]:443",
                    l.address
                ),
            )
        })?;
        if l.redirect_to_https.is_some() && l.tls {
            return Err(src.error(
                listen.span(),
                format!("{key}redirect-to-https"),
                "only a cleartext listener (tls = false) redirects to https".into(),
            ));
        }
        if l.redirect_to_https == Some(0) {
            return Err(src.error(
                listen.span(),
                format!("{key}redirect-to-https"),
                "expected the https port, 1 to 65535".into(),
            ));
        }
        if listeners.iter().any(|p: &ListenPlan| p.address == address) {
            return Err(src.error(
                listen.span(),
                format!("{key}address"),
                format!("{address} is listened on twice"),
            ));
        }
        listeners.push(ListenPlan {
            address,
            tls: l.tls,
            http1: l.http1,
            redirect_to_https: l.redirect_to_https,
        });
    }
    if file.site.is_empty() {
        return Err(src.error(
            0..0,
            "[[site]]".into(),
            "no site: expected at least one [[site]] table".into(),
        ));
    }
    let mut sites = Vec::new();
    for (i, site) in file.site.iter().enumerate() {
        sites.push(check_site(&src, i, site)?);
    }
    Ok(Plan {
        listeners,
        sites,
        unmatched,
        server_args,
    })
}

fn check_site(
    src: &Source,
    i: usize,
    site: &toml::Spanned<file::Site>,
) -> Result<SitePlan, ConfigError> {
    let s = site.get_ref();
    let key = format!("[[site]] {} ", i + 1);
    let mut names = Vec::new();
    for name in &s.names {
        let pattern = HostPattern::parse(name.get_ref())
            .map_err(|why| src.error(name.span(), format!("{key}names"), why))?;
        names.push(pattern);
    }
    if names.is_empty() && !s.default {
        return Err(src.error(
            site.span(),
            format!("{key}names"),
            "a site needs names (e.g. names = [\"example.org\"]) or default = true".into(),
        ));
    }
    let cert = match (&s.cert, &s.key) {
        (Some(c), Some(k)) => Some((src.resolve(c.get_ref()), src.resolve(k.get_ref()))),
        (None, None) => None,
        (Some(c), None) => {
            return Err(src.error(c.span(), format!("{key}key"), "cert needs a key too".into()));
        }
        (None, Some(k)) => {
            return Err(src.error(
                k.span(),
                format!("{key}cert"),
                "key needs a cert too".into(),
            ));
        }
    };
    let label = names
        .first()
        .map_or("(default)".to_string(), ToString::to_string);
    let mut routes = Vec::new();
    for route in &s.route {
        let place = Place {
            path: src.path.clone(),
            line: Some(src.line(route.span().start)),
            key: format!("{key}({label}) route {} ", route.get_ref().path),
        };
        routes.push(check_route(src, route.get_ref(), place)?);
    }
    Ok(SitePlan {
        names,
        default: s.default,
        cert,
        routes,
        at: Place {
            path: src.path.clone(),
            line: Some(src.line(site.span().start)),
            key: format!("{key}({label}) "),
        },
    })
}

fn check_route(src: &Source, route: &Route, at: Place) -> Result<RoutePlan, ConfigError> {
    if !route.path.starts_with('/') || route.path.contains(['?', '#']) {
        return Err(at.error(
            "path",
            format!(
                "{:?}: expected a path prefix starting with /, e.g. /api",
                route.path
            ),
        ));
    }
    let given = [
        route.files.is_some(),
        route.app.is_some(),
        route.proxy.is_some(),
        route.redirect.is_some(),
        route.echo.is_some(),
    ];
    if given.iter().filter(|&&g| g).count() != 1 {
        return Err(at.error(
            "",
            "a route serves exactly one of files, app, proxy, redirect and echo",
        ));
    }
    let kind = if let Some(files) = &route.files {
        RouteKind::Files {
            root: src.resolve(&files.root),
            push: files.push.clone().into_iter().collect(),
            compress: files.compress,
        }
    } else if let Some(app) = &route.app {
        let command = AppArgs::augment_args(clap::Command::new("app"));
        let key = format!("{}app.", at.key);
        let args = flags::to_args(app, &command, flags::Naming::App, src, &key)?;
        if !args.iter().any(|(id, _)| id == "app") {
            return Err(at.error("app", "expected component = \"APP.wasm\" in the app table"));
        }
        // The component's path and any file the app names are relative
        // to the configuration file.
        let args = args
            .into_iter()
            .map(|(id, mut a)| {
                if matches!(id.as_str(), "app" | "app_config_file" | "app_cacert")
                    && let Some(v) = a.last_mut()
                {
                    *v = src.resolve(Path::new(v)).into_os_string();
                }
                // A bucket's database file, but not a URL.
                if id == "app_keyvalue" {
                    for v in a
                        .iter_mut()
                        .filter(|v| !v.to_string_lossy().starts_with("--"))
                    {
                        let text = v.to_string_lossy().into_owned();
                        if let Some((name, location)) = text.split_once('=')
                            && !location.contains("://")
                        {
                            let path = src.resolve(Path::new(location));
                            *v = format!("{name}={}", path.display()).into();
                        }
                    }
                }
                (id, a)
            })
            .collect::<Vec<_>>();
        let matches = flags::parse(command, &args, app, flags::Naming::App, src, &key)?;
        let parsed = AppArgs::from_arg_matches(&matches).map_err(|e| at.error("app", e))?;
        RouteKind::App(Box::new(parsed))
    } else if let Some(p) = &route.proxy {
        let origins = h2wasm::apps::proxy::ReverseProxy::origins(&p.upstreams)
            .map_err(|why| at.error("proxy.upstreams", why))?;
        if p.upstreams.is_empty() {
            return Err(at.error(
                "proxy.upstreams",
                "expected at least one upstream URL, e.g. [\"http://127.0.0.1:9000\"]",
            ));
        }
        for (name, secs) in [
            ("connect-timeout", p.connect_timeout),
            ("response-timeout", p.response_timeout),
            ("read-timeout", p.read_timeout),
            ("fail-timeout", p.fail_timeout),
        ] {
            if !(1..=3600).contains(&secs) {
                return Err(at.error(
                    &format!("proxy.{name}"),
                    format!("expected 1 to 3600 seconds, found {secs}"),
                ));
            }
        }
        if !(1..=4096).contains(&p.max_connections) {
            return Err(at.error(
                "proxy.max-connections",
                format!("expected 1 to 4096, found {}", p.max_connections),
            ));
        }
        let secs = std::time::Duration::from_secs;
        RouteKind::Proxy(Box::new(ProxyPlan {
            upstreams: p.upstreams.clone(),
            origins,
            h2c: p.h2c,
            connect_timeout: secs(p.connect_timeout),
            response_timeout: secs(p.response_timeout),
            read_timeout: secs(p.read_timeout),
            fail_timeout: secs(p.fail_timeout),
            max_connections: p.max_connections,
            cacert: p.cacert.as_ref().map(|c| src.resolve(c)),
        }))
    } else if let Some(r) = &route.redirect {
        let status = StatusCode::from_u16(r.status)
            .map_err(|_| at.error("redirect.status", "expected 301, 302, 303, 307 or 308"))?;
        let redirect =
            Redirect::new(&r.to, status, r.keep_path).map_err(|e| at.error("redirect", e))?;
        RouteKind::Redirect(redirect, format!("{} {}", r.status, r.to))
    } else if route.echo == Some(true) {
        RouteKind::Echo
    } else {
        return Err(at.error("echo", "expected echo = true"));
    };
    Ok(RoutePlan {
        path: route.path.clone(),
        strip: route.strip_prefix,
        kind,
        at,
    })
}

/// The plan for `serve` without a configuration file: one listener, one
/// default site with one route, from the one-site flags.
pub(crate) fn one_site(site: &SiteArgs, app: &AppArgs) -> Plan {
    let tls = !site.h2c;
    let address = site
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], if tls { 8443 } else { 8080 })));
    let kind = match (&app.app, &site.dir) {
        (Some(_), _) => RouteKind::App(Box::new(app.clone())),
        (None, Some(dir)) => RouteKind::Files {
            root: dir.clone(),
            push: site.push.iter().cloned().collect(),
            compress: site.compress,
        },
        (None, None) => RouteKind::Echo,
    };
    let at = Place::command_line();
    Plan {
        listeners: vec![ListenPlan {
            address,
            tls,
            http1: !site.no_http1,
            redirect_to_https: None,
        }],
        sites: vec![SitePlan {
            names: Vec::new(),
            default: true,
            cert: site.cert.clone().zip(site.key.clone()),
            routes: vec![RoutePlan {
                path: "/".into(),
                strip: false,
                kind,
                at: at.clone(),
            }],
            at,
        }],
        unmatched: StatusCode::MISDIRECTED_REQUEST,
        server_args: Vec::new(),
    }
}

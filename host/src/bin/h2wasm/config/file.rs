//! The configuration file's shape, as serde reads it. These types' doc
//! comments are the configuration reference (`h2wasm config-reference`
//! renders them, with the flags' own help for `[server]` and `app`): say
//! everything here, once.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use toml::Spanned;

/// An `h2wasm serve --config` file (TOML). Relative paths in it are
/// relative to the file's own directory. Unknown keys are errors.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(title = "h2wasm.toml")]
pub(crate) struct ConfigFile {
    /// Settings of the whole server: `h2wasm serve`'s server-wide options
    /// by their names without the dashes (`max-connections = 20000`,
    /// `origin = ["https://a.example"]`); see the `[server]` table below.
    /// The same options on the command line override these.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub(crate) server: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    /// What a request for a host that no site names gets when no site is
    /// the default: 421 (Misdirected Request: a client may retry on a
    /// connection of its own) or 404.
    #[serde(default = "misdirected")]
    #[schemars(with = "u16")]
    pub(crate) unmatched_host: Spanned<u16>,
    /// Where connections are accepted: one `[[listen]]` table each; at
    /// least one.
    #[serde(default)]
    #[schemars(with = "Vec<Listen>")]
    pub(crate) listen: Vec<Spanned<Listen>>,
    /// The sites: one `[[site]]` table each; at least one.
    #[serde(default)]
    #[schemars(with = "Vec<Site>")]
    pub(crate) site: Vec<Spanned<Site>>,
}

fn misdirected() -> Spanned<u16> {
    Spanned::new(0..0, 421)
}

fn yes() -> bool {
    true
}

/// A listener: an address and how connections on it are spoken to.
#[derive(Deserialize, Serialize, JsonSchema, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Listen {
    /// Address and port, e.g. `127.0.0.1:8443` or `[::]:443`.
    pub(crate) address: String,
    /// TLS, with each site's certificate chosen by the name the client
    /// asks for (SNI); `false`: cleartext (HTTP/2 with prior knowledge,
    /// and HTTP/1.1).
    #[serde(default = "yes")]
    pub(crate) tls: bool,
    /// HTTP/1.1 for clients that do not speak HTTP/2 (over TLS, those that
    /// do not negotiate `h2`); `false`: HTTP/2 only, others disconnected.
    #[serde(default = "yes")]
    pub(crate) http1: bool,
    /// Cleartext listeners only: answer every request with 308 Permanent
    /// Redirect to the same URL over https on this port (443 is left out
    /// of the URL) instead of serving it.
    pub(crate) redirect_to_https: Option<u16>,
}

/// A site: the host names it answers to, its certificate and its routes.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Site {
    /// Host names, as requests (`:authority`, `Host`) and TLS handshakes
    /// (SNI) give them: exact names or addresses (`example.org`,
    /// `127.0.0.1`), or wildcards of one label (`*.example.org`). An exact
    /// name wins over a wildcard. No two sites share a name.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(crate) names: Vec<Spanned<String>>,
    /// This site also answers hosts no site names, and TLS handshakes for
    /// names no site has (or with no name, as for an address). At most
    /// one site is the default.
    #[serde(default)]
    pub(crate) default: bool,
    /// Certificate chain (PEM) for TLS listeners; it must cover every one
    /// of `names`. Without it (and `key`), the development certificate
    /// (for localhost, 127.0.0.1 and ::1, generated on first use) is
    /// presented. A connection carries another site's requests only if
    /// that site presents the same certificate; others get 421.
    #[schemars(with = "Option<PathBuf>")]
    pub(crate) cert: Option<Spanned<PathBuf>>,
    /// Private key (PEM) for `cert`.
    #[schemars(with = "Option<PathBuf>")]
    pub(crate) key: Option<Spanned<PathBuf>>,
    /// The routes: one `[[site.route]]` table each. A request goes to the
    /// route with the longest `path` that it is under; with none, 404.
    #[serde(default)]
    #[schemars(with = "Vec<Route>")]
    pub(crate) route: Vec<Spanned<Route>>,
}

/// Where requests under one path prefix go: exactly one of `files`,
/// `app`, `proxy`, `redirect` and `echo`.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Route {
    /// The path prefix, on segment boundaries: `/api` takes `/api` and
    /// `/api/x` but not `/apix`; `/` takes everything. Requests are
    /// matched in a canonical form (percent-encoded unreserved characters
    /// decoded, `.` and `..` segments resolved), so no other spelling of a
    /// path slips past its route.
    pub(crate) path: String,
    /// Take the prefix off the path the route sees (`/api/x` is served as
    /// `/x`).
    #[serde(default)]
    pub(crate) strip_prefix: bool,
    /// Serve static files from a directory.
    pub(crate) files: Option<Files>,
    /// Run a wasi:http component (world `wasi:http/proxy`) per request:
    /// `component = "app.wasm"` and the `app` options below; see the `app`
    /// table.
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub(crate) app: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    /// Pass requests on to upstream servers (a reverse proxy).
    pub(crate) proxy: Option<ProxyTo>,
    /// Answer with a redirect.
    pub(crate) redirect: Option<RedirectTo>,
    /// `echo = true`: the built-in site (an index page, `/echo`, which
    /// sends back what it is sent, and `/ws`, a WebSocket echo).
    pub(crate) echo: Option<bool>,
}

/// A directory of static files (index.html, ranges, validators).
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Files {
    /// The directory.
    pub(crate) root: PathBuf,
    /// Server push: a GET for a page pushes the listed files first, e.g.
    /// `push = { "/" = ["/style.css", "/app.js"] }` (paths as the route
    /// sees them).
    #[serde(default)]
    pub(crate) push: BTreeMap<String, Vec<String>>,
    /// Content codings, chosen by each request's `Accept-Encoding`:
    /// `"on"` sends precompressed siblings (`app.js.br`, `.zst`, `.gz`,
    /// no older than the file) and, for text of 256 octets to 1 MiB,
    /// brotli and gzip made once when the file is first served; `"static"`
    /// the siblings only; `"off"` every file as it is. Ranges, images and
    /// other compressed types are always sent as they are.
    #[serde(default)]
    pub(crate) compress: Compress,
}

/// Which encoded forms of static files are sent (`compress`,
/// `--compress`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
#[schemars(inline)]
pub(crate) enum Compress {
    /// Precompressed siblings, and brotli and gzip made here for text.
    #[default]
    On,
    /// Precompressed siblings only.
    Static,
    /// Nothing: every file as it is.
    Off,
}

impl From<Compress> for h2wasm::apps::files::Compression {
    fn from(c: Compress) -> Self {
        match c {
            Compress::On => Self::On,
            Compress::Static => Self::Static,
            Compress::Off => Self::Off,
        }
    }
}

/// A reverse proxy. Requests go on with hop-by-hop fields removed (both
/// ways), the client named in `Forwarded` and `X-Forwarded-For`/`-Proto`/
/// `-Host`, `Host` set to the upstream's, `Via` added both ways (a request
/// that has been through this proxy already is a loop: 508), and bodies
/// and trailers streamed both ways; connections are pooled (HTTP/2: one per upstream,
/// multiplexed; HTTP/1.1: kept alive for reuse). An upstream that cannot
/// be reached gets 502, one that does not answer in time 504. WebSockets
/// (from HTTP/1.1 or HTTP/2 clients) go to the upstream as HTTP/1.1
/// upgrades, each on a connection of its own (counted in
/// `max-connections`), closed after `read-timeout` seconds with nothing
/// sent either way.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ProxyTo {
    /// Upstream URLs: `http://` or `https://`, host, port, and an
    /// optional path put before the request's (`http://10.0.0.5:8080/app`).
    /// Several are taken in turn (round robin); one that fails to connect
    /// or to answer is left out for `fail-timeout` seconds.
    pub(crate) upstreams: Vec<String>,
    /// Cleartext (`http://`) upstreams are spoken to in HTTP/2 with prior
    /// knowledge instead of HTTP/1.1. `https://` ones get HTTP/2 whenever
    /// they offer it by ALPN.
    #[serde(default)]
    pub(crate) h2c: bool,
    /// Seconds to connect (TCP and TLS, waiting for a free connection
    /// included).
    #[serde(default = "ten")]
    pub(crate) connect_timeout: u64,
    /// Seconds for the response's head once the request is sent.
    #[serde(default = "thirty")]
    pub(crate) response_timeout: u64,
    /// Seconds a body may go without a frame once it has begun: the
    /// upstream's response body (then the client's stream is reset) and
    /// the client's request body (then the upstream's request is given
    /// up). Long-polling and event-stream upstreams need it longer than
    /// their quietest interval.
    #[serde(default = "sixty")]
    pub(crate) read_timeout: u64,
    /// Seconds an upstream that failed is left out.
    #[serde(default = "ten")]
    pub(crate) fail_timeout: u64,
    /// Connections to the upstreams open at once; more requests wait for
    /// one (within `connect-timeout`).
    #[serde(default = "sixty_four")]
    pub(crate) max_connections: u32,
    /// Trust only the CA certificates in this PEM file for `https://`
    /// upstreams (default: the platform's roots).
    pub(crate) cacert: Option<PathBuf>,
}

fn ten() -> u64 {
    10
}

fn thirty() -> u64 {
    30
}

fn sixty() -> u64 {
    60
}

fn sixty_four() -> u32 {
    64
}

/// A redirect.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RedirectTo {
    /// Where to, e.g. `https://example.org`.
    pub(crate) to: String,
    /// 301, 302, 303, 307 or 308.
    #[serde(default = "permanent")]
    pub(crate) status: u16,
    /// Append the request's path (as the route sees it) and query to
    /// `to`; `false`: every request goes to `to` itself.
    #[serde(default = "yes")]
    pub(crate) keep_path: bool,
}

fn permanent() -> u16 {
    308
}

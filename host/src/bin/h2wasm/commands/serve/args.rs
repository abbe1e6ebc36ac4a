//! `h2wasm serve`'s options, in groups: the one-site flags, the `--app`
//! component's limits and grants, and the server-wide settings. The last
//! two are also what a configuration file's `[server]` table and `app`
//! routes hold, by the same names and checked by the same parsers (see
//! `crate::config::flags`).

use crate::config::file::Compress;
use crate::engine::EngineArg;
use crate::parse::{
    parse_altsvc, parse_app_memory, parse_bucket, parse_host_ports, parse_key_value, parse_origin,
    parse_outbound, parse_push, parse_secret, parse_server_memory,
};
use clap::Args;
use h2wasm::apps::wasi_http::{ComponentConfig, MAX_INSTANCES};
use h2wasm::fetch::outgoing::OutgoingConfig;
use h2wasm::fetch::outgoing::policy::OutboundEntry;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Serve the sites, routes and listeners of this configuration file
    /// (TOML; see `h2wasm config-reference`). Server-wide options given
    /// here override the file's `[server]` table.
    #[arg(long, value_name = "FILE",
          conflicts_with_all = ["dir", "app", "listen", "h2c", "no_http1", "cert", "key", "push"])]
    pub(crate) config: Option<PathBuf>,
    /// Reload the --config file when it changes (checked every second),
    /// as SIGHUP does; replace it whole (write a new file, then rename it
    /// over the old) so that no half-written file is read.
    #[arg(long, requires = "config")]
    pub(crate) watch: bool,
    #[command(flatten)]
    pub(crate) site: SiteArgs,
    #[command(flatten)]
    pub(crate) app: AppArgs,
    #[command(flatten)]
    pub(crate) server: ServerArgs,
}

/// What one site is, without a configuration file: a directory, the
/// built-in site or an app, on one listener with one certificate.
#[derive(Args)]
pub(crate) struct SiteArgs {
    /// Directory to serve; without it, a built-in site (index page and /echo).
    #[arg(conflicts_with = "app")]
    pub(crate) dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8443, or 127.0.0.1:8080 with --h2c].
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,
    /// Cleartext instead of TLS: HTTP/2 with prior knowledge, and
    /// HTTP/1.1 for clients that do not open with the HTTP/2 preface.
    #[arg(long)]
    pub(crate) h2c: bool,
    /// Serve HTTP/2 only: no HTTP/1.1 for clients that do not speak it
    /// (Node's allowHTTP1 off); they are disconnected.
    #[arg(long)]
    pub(crate) no_http1: bool,
    /// Certificate chain (PEM); without it a development certificate is generated.
    #[arg(long, value_name = "FILE", requires = "key", conflicts_with = "h2c")]
    pub(crate) cert: Option<PathBuf>,
    /// Private key (PEM) for --cert.
    #[arg(long, value_name = "FILE", requires = "cert", conflicts_with = "h2c")]
    pub(crate) key: Option<PathBuf>,
    /// Server push: with a GET for PAGE, push the listed files first, e.g.
    /// --push /=/style.css,/app.js (repeatable; needs DIR).
    #[arg(long = "push", value_name = "PAGE=ASSET,...", value_parser = parse_push, requires = "dir")]
    pub(crate) push: Vec<(String, Vec<String>)>,
    /// Content codings for DIR's files, by Accept-Encoding: on (siblings
    /// such as app.js.br/.zst/.gz, and brotli and gzip made once for text
    /// up to 1 MiB), static (siblings only), off.
    #[arg(
        long,
        value_name = "MODE",
        value_enum,
        default_value = "on",
        requires = "dir"
    )]
    pub(crate) compress: Compress,
}

/// The `--app` component and what it may use: on the command line
/// `--app-NAME`, in a configuration file's `app` route `NAME` (and
/// `component` for `--app` itself).
#[derive(Args, Clone)]
pub(crate) struct AppArgs {
    /// Serve this wasi:http component (world wasi:http/proxy, the kind
    /// `wasmtime serve` runs): every request runs in a fresh instance.
    #[arg(long, value_name = "APP.wasm")]
    pub(crate) app: Option<PathBuf>,
    /// Requests the --app component runs at once, each in its own
    /// instance (the instance pool); more wait for a slot.
    #[arg(long, value_name = "N", default_value_t = ComponentConfig::default().max_instances,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_INSTANCES)), requires = "app")]
    pub(crate) app_instances: u32,
    /// Linear memory each --app instance may grow to, e.g. 64M; growing
    /// past it fails its request.
    #[arg(long, value_name = "SIZE", value_parser = parse_app_memory, requires = "app")]
    pub(crate) app_memory: Option<u64>,
    /// Seconds one request's --app instance may live, wall clock, from
    /// instantiation until its response body is written, whatever it waits
    /// on (the client, the request body, outgoing requests); then it is
    /// dropped: 504, or a reset stream if the response had begun. 0: no
    /// limit.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(0..=86_400), requires = "app")]
    pub(crate) app_time_limit: u64,
    /// Milliseconds of execution one request's --app instance may use
    /// (its code running, not its waits), checked every 10 ms; past it
    /// the instance traps (500). 0: only --app-time-limit bounds it.
    #[arg(long, value_name = "MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(0..=86_400_000), requires = "app")]
    pub(crate) app_cpu_limit: u64,
    /// Seconds a request may wait for a free --app instance (all
    /// --app-instances busy); then it is answered 503.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600), requires = "app")]
    pub(crate) app_queue_timeout: u64,
    /// Times a request may pass through this server's --app (counted in
    /// its CDN-Loop field, RFC 8586) before it is answered 508.
    #[arg(long, value_name = "N", default_value_t = ComponentConfig::default().max_hops,
          value_parser = clap::value_parser!(u32).range(1..=64), requires = "app")]
    pub(crate) app_max_hops: u32,
    /// Outgoing connections the --app component's requests may hold open
    /// at once (apart from the server's own); more wait for one.
    #[arg(long, value_name = "N", default_value_t = OutgoingConfig::default().max_connections,
          value_parser = clap::value_parser!(u32).range(1..=4096), requires = "app")]
    pub(crate) app_max_outgoing: u32,
    /// Seconds an outgoing request of the --app component may take to
    /// connect (TCP and TLS, waiting for a free connection included).
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600), requires = "app")]
    pub(crate) app_connect_timeout: u64,
    /// Seconds an outgoing request of the --app component may wait for
    /// its response's head once sent.
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600), requires = "app")]
    pub(crate) app_first_byte_timeout: u64,
    /// A value the --app component reads through wasi:config/store
    /// (repeatable). It has none unless given.
    #[arg(long = "app-config", value_name = "KEY=VALUE", value_parser = parse_key_value, requires = "app")]
    pub(crate) app_config: Vec<(String, String)>,
    /// Values for wasi:config/store from a file of KEY=VALUE lines (#
    /// starts a comment); --app-config and --app-secret override its keys.
    #[arg(long, value_name = "FILE", requires = "app")]
    pub(crate) app_config_file: Option<PathBuf>,
    /// A secret for wasi:config/store: KEY gets the value of the
    /// environment variable ENV, read at startup and never logged or
    /// printed (repeatable); overrides --app-config.
    #[arg(long = "app-secret", value_name = "KEY=ENV", value_parser = parse_secret, requires = "app")]
    pub(crate) app_secret: Vec<(String, String)>,
    /// A wasi:keyvalue bucket the --app component may open by NAME
    /// (repeatable; it has none unless given): LOCATION is the path of a
    /// database file on this machine (created if missing; data kept
    /// across restarts; one process per file), or a redis:// or valkey://
    /// URL, the bucket then being the hash h2wasm:kv:NAME shared by every
    /// server that names it.
    #[arg(long = "app-keyvalue", value_name = "NAME=LOCATION", value_parser = parse_bucket, requires = "app")]
    pub(crate) app_keyvalue: Vec<(String, String)>,
    /// Where the --app component's outgoing requests may go, as
    /// SCHEME://HOST[:PORT] entries (Spin's syntax): e.g.
    /// https://api.example.com, http://127.0.0.1:8080, https://*.example.org,
    /// '*://*:*' (repeatable, or comma-separated). Nowhere by default.
    /// Loopback, private and link-local addresses and this server's own
    /// are reached only through an entry that names the host exactly.
    #[arg(long = "app-allow-outbound", value_name = "URL,...", value_parser = parse_outbound, requires = "app")]
    pub(crate) app_allow_outbound: Vec<Vec<OutboundEntry>>,
    /// Origins the --app component's outgoing requests reach in cleartext
    /// HTTP/2 (prior knowledge), e.g. --app-h2c 127.0.0.1:8080 (repeatable);
    /// other http:// origins get HTTP/1.1, https:// ones h2 when they
    /// offer it by ALPN.
    #[arg(long = "app-h2c", value_name = "HOST:PORT,...", value_parser = parse_host_ports, requires = "app")]
    pub(crate) app_h2c: Vec<Vec<String>>,
    /// Trust only the CA certificates in this PEM file for the --app
    /// component's outgoing https:// requests [default: the platform's roots].
    #[arg(long, value_name = "FILE", requires = "app")]
    pub(crate) app_cacert: Option<PathBuf>,
}

/// Settings of the whole server: on the command line `--NAME`, in a
/// configuration file's `[server]` table `NAME`.
#[derive(Args, Clone)]
pub(crate) struct ServerArgs {
    /// Connections held at once; each one beyond is refused (SETTINGS,
    /// then GOAWAY REFUSED_STREAM; over TLS, closed). The instance pool is
    /// sized for the live ones (see --max-live).
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub(crate) max_connections: u32,
    /// Connections that may hold an engine instance at once (the instance
    /// pool); an idle connection hibernates and holds none. One that needs
    /// an instance while all are taken waits for one [default: 10,000, or
    /// --max-connections if that is less].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16_384))]
    pub(crate) max_live: Option<u32>,
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams a client may have open on
    /// one connection; beyond it they are refused with REFUSED_STREAM, and
    /// a client that keeps opening them gets GOAWAY.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_concurrent_streams: u32,
    /// Seconds a connection with no open streams is kept before it is
    /// closed with GOAWAY NO_ERROR; 0 keeps it for ever.
    #[arg(long, value_name = "SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub(crate) idle_timeout: u64,
    /// Resident memory the server may use, e.g. 512M or 4G: above it, new
    /// connections and new streams are refused (REFUSED_STREAM) until it
    /// falls again [default: half the machine's memory].
    #[arg(long, value_name = "SIZE", value_parser = parse_server_memory)]
    pub(crate) max_memory: Option<u64>,
    /// Milliseconds a connection with nothing in flight keeps its engine
    /// instance; then it hibernates (a few KiB) until the client sends
    /// again. 0 turns hibernation off.
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub(crate) hibernate_after: u64,
    /// Every SECS, log one line (target h2wasm::stats) with the
    /// connections open, holding an instance and hibernating, the --app
    /// instances busy, and the refusal and timeout counts; 0: never.
    #[arg(long, value_name = "SECS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub(crate) stats_interval: u64,
    /// One line per request: common (NCSA), combined (common with referer
    /// and user agent), json (an object per line), or off. Written in
    /// batches by a thread of its own, off the serving path.
    #[arg(long, value_name = "FORMAT", value_enum, default_value = "common")]
    pub(crate) access_log: AccessLogFormat,
    /// Write the access log to FILE (appended to; opened again on
    /// SIGUSR1, for rotation) instead of stderr.
    #[arg(long, value_name = "FILE")]
    pub(crate) access_log_file: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics (a listener of
    /// their own, e.g. 127.0.0.1:9100): requests, streams, resets and
    /// GOAWAYs, connections, memory, app instances.
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<std::net::SocketAddr>,
    /// Seconds open streams may take to finish after SIGINT/SIGTERM.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub(crate) grace: u64,
    /// Seconds a client may take to negotiate h2 (TLS and ALPN) and send
    /// the HTTP/2 preface and SETTINGS before it is disconnected (Node's
    /// unknownProtocolTimeout).
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) unknown_protocol_timeout: u64,
    /// Seconds a frame (or a header block with its CONTINUATION frames)
    /// may take to arrive whole once its first octet has; past it the
    /// connection ends with GOAWAY ENHANCE_YOUR_CALM.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) frame_timeout: u64,
    /// Seconds a request the client has not finished may stay quiet once
    /// its response is complete; then the stream is reset with
    /// RST_STREAM NO_ERROR (RFC 9113 §8.1) and holds nothing more.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) half_closed_timeout: u64,
    /// Announce this origin in an ORIGIN frame (RFC 8336) on every
    /// connection, e.g. https://example.org (repeatable).
    #[arg(long = "origin", value_name = "ORIGIN", value_parser = parse_origin)]
    pub(crate) origins: Vec<String>,
    /// Advertise an alternative service (RFC 7838) in an ALTSVC frame on
    /// each connection's first request stream, e.g. 'h2=":443"; ma=3600'.
    #[arg(long, value_name = "ALT-SVC", value_parser = parse_altsvc)]
    pub(crate) altsvc: Option<String>,
    /// Act as a CONNECT proxy (RFC 9113 §8.5) to these targets only, e.g.
    /// --allow-connect 127.0.0.1:7000,db.internal:5432 (repeatable).
    #[arg(long = "allow-connect", value_name = "HOST:PORT,...", value_parser = parse_host_ports)]
    pub(crate) allow_connect: Vec<Vec<String>>,
    /// Padding for the HEADERS and DATA frames sent (Node's paddingStrategy).
    #[arg(long, value_enum, default_value_t = Padding::None)]
    pub(crate) padding: Padding,
    /// Send SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218 §2.1): clients then
    /// signal priorities only with the `priority` field and PRIORITY_UPDATE
    /// frames, and their RFC 7540 signals are ignored. Responses go by
    /// urgency whenever a client signals that way, with or without it.
    #[arg(long)]
    pub(crate) no_rfc7540_priorities: bool,
    #[command(flatten)]
    pub(crate) engine: EngineArg,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum AccessLogFormat {
    Off,
    Common,
    Combined,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Padding {
    None,
    Aligned,
    Max,
}

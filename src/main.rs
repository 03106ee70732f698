//! The `rasgi` binary: serves the demo app.

// The demo stack nests ten middleware futures; computing their layout needs more than the
// default query depth.
#![recursion_limit = "256"]

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rasgi::background::Executor;
use rasgi::demo::DemoConfig;
use rasgi::server::{
    Http2Config, HttpVersions, LifespanMode, Listener, Server, ServerConfig, ServerCounters,
    ServerError, WebSocketConfig,
};

/// rasgi: an ASGI-style HTTP/1.1 server, serving its demo app.
#[derive(Debug, Parser)]
#[command(name = "rasgi", version, about, allow_negative_numbers = true)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8000")]
    bind: String,
    /// Connections the kernel queues before they are accepted (capped at
    /// net.core.somaxconn).
    #[arg(long, value_name = "N", default_value_t = 2048, value_parser = clap::value_parser!(u32).range(1..))]
    backlog: u32,
    /// Listen on a Unix domain socket instead of TCP.
    #[arg(long, value_name = "PATH")]
    uds: Option<std::path::PathBuf>,
    /// Serve on an already-open listening socket, file descriptor N (systemd's socket
    /// activation passes 3); instead of --bind.
    #[arg(long, value_name = "N", conflicts_with = "uds")]
    fd: Option<i32>,
    /// Serve HTTPS with the certificate chain in this PEM file (with --ssl-keyfile).
    #[arg(long, value_name = "PATH", requires = "ssl_keyfile")]
    ssl_certfile: Option<std::path::PathBuf>,
    /// The private key (PEM) of --ssl-certfile.
    #[arg(long, value_name = "PATH", requires = "ssl_certfile")]
    ssl_keyfile: Option<std::path::PathBuf>,
    /// The CA certificates (PEM) a client's certificate must be signed by, with
    /// --ssl-cert-reqs 1 or 2 (mutual TLS).
    #[arg(long, value_name = "PATH", requires = "ssl_certfile")]
    ssl_ca_certs: Option<std::path::PathBuf>,
    /// Whether clients present a certificate: 0 none asked for, 1 optional (one sent must
    /// verify against --ssl-ca-certs), 2 required.
    #[arg(long, value_name = "0|1|2", default_value_t = 0, requires = "ssl_certfile", value_parser = clap::value_parser!(u8).range(0..=2))]
    ssl_cert_reqs: u8,
    /// Worker threads (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,
    /// Seconds an idle keep-alive connection is kept open.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    timeout_keep_alive: f64,
    /// Seconds a request body may make no progress (then 408, or a close once the response
    /// started).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    timeout_body: f64,
    /// Seconds a response write may make no progress (a client that stopped reading) before the
    /// connection closes.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    timeout_send: f64,
    /// Seconds a graceful shutdown waits for responses and background tasks.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    timeout_graceful_shutdown: f64,
    /// Most connections served at once; more are answered 503.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    limit_concurrency: Option<u64>,
    /// Whether the app's lifespan runs: auto (if the app speaks it), on (required) or off.
    #[arg(long, value_name = "MODE", value_enum, default_value = "auto")]
    lifespan: Lifespan,
    /// After this many HTTP requests, shut down gracefully and exit 0 (for a supervisor to
    /// restart).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    limit_max_requests: Option<u64>,
    /// Largest request body accepted (413 above it).
    #[arg(long, value_name = "N", default_value_t = rasgi::server::config::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: u64,
    /// The scope's root_path, for an app mounted below a prefix behind a proxy.
    #[arg(long, value_name = "PATH", default_value = "")]
    root_path: String,
    /// Do not log one line per request.
    #[arg(long)]
    no_access_log: bool,
    /// The least severe log messages shown (default: info, or RUST_LOG's filter when it is
    /// set). The access log is at info.
    #[arg(long, value_name = "LEVEL", value_enum)]
    log_level: Option<LogLevel>,
    /// Colour the log lines (default: only when stderr is a terminal).
    #[arg(long, overrides_with = "no_use_colors")]
    use_colors: bool,
    /// Never colour the log lines.
    #[arg(long, overrides_with = "use_colors")]
    no_use_colors: bool,
    /// A field added to every response, NAME:VALUE (repeatable), as uvicorn's default
    /// headers.
    #[arg(long = "header", value_name = "NAME:VALUE", value_parser = default_header)]
    headers: Vec<(String, String)>,
    /// Do not add `server: rasgi` to responses.
    #[arg(long)]
    no_server_header: bool,
    /// Do not add a `date` header to responses.
    #[arg(long)]
    no_date_header: bool,
    /// Serve the files under DIR at `GET /static/{path}` (ranges, ETag, 304s; sent by the
    /// kernel with sendfile on plain TCP).
    #[arg(long, value_name = "DIR")]
    static_dir: Option<std::path::PathBuf>,
    /// The file the demo's background tasks append to.
    #[arg(long, value_name = "PATH", default_value = rasgi::demo::DEFAULT_LOG_FILE)]
    log_file: std::path::PathBuf,
    /// How long the welcome e-mail of POST /register takes, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    email_delay_ms: u64,
    /// How long the blocking notification write of POST /send-notification takes, in
    /// milliseconds (it runs on the blocking pool).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    notification_delay_ms: u64,
    /// Hosts allowed in the Host header, comma-separated (`*.example.com` wildcards allowed).
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_values_t = rasgi::demo::DEFAULT_ALLOWED_HOSTS.map(String::from))]
    allowed_hosts: Vec<String>,
    /// Peers whose X-Forwarded-For / X-Forwarded-Proto / Forwarded headers are believed,
    /// comma-separated IP addresses (`*`: any peer).
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_values_t = rasgi::demo::DEFAULT_FORWARDED_ALLOW_IPS.map(String::from))]
    forwarded_allow_ips: Vec<String>,
    /// Ignore X-Forwarded-* and Forwarded headers from every peer.
    #[arg(long)]
    no_proxy_headers: bool,
    /// Largest WebSocket message accepted, in bytes (a larger one closes with 1009).
    #[arg(long, value_name = "BYTES", default_value_t = rasgi::server::config::DEFAULT_WS_MAX_MESSAGE_BYTES)]
    ws_max_size: usize,
    /// Seconds between the server's pings on an open WebSocket (0: no pings).
    #[arg(long, value_name = "SECS", default_value_t = 20.0)]
    ws_ping_interval: f64,
    /// Seconds a ping may wait for its pong before the WebSocket is closed with 1011 (0: no
    /// limit).
    #[arg(long, value_name = "SECS", default_value_t = 20.0)]
    ws_ping_timeout: f64,
    /// Do not offer permessage-deflate (WebSocket compression) to clients.
    #[arg(long)]
    no_ws_per_message_deflate: bool,
    /// Which HTTP versions to speak: `auto` (HTTP/1.1, and HTTP/2 by prior knowledge or by
    /// ALPN over TLS), `1` (HTTP/1.1 only) or `2` (HTTP/2 only).
    #[arg(long, value_name = "VERSION", default_value = "auto")]
    http: Http,
    /// HTTP/2 streams open at once on one connection (more are refused with REFUSED_STREAM).
    #[arg(long, value_name = "N", default_value_t = rasgi::server::config::DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS, value_parser = clap::value_parser!(u32).range(1..))]
    http2_max_concurrent_streams: u32,
    /// Largest HTTP/2 request header list, in bytes as RFC 7541 counts them (a larger one is
    /// answered 431).
    #[arg(long, value_name = "BYTES", default_value_t = rasgi::server::config::DEFAULT_HTTP2_MAX_HEADERS_SIZE, value_parser = clap::value_parser!(u32).range(1..))]
    http2_max_headers_size: u32,
    /// HTTP/2 flow-control window of each request body, in bytes (1 to 2^31-1).
    #[arg(long, value_name = "BYTES", default_value_t = rasgi::server::config::DEFAULT_HTTP2_INITIAL_STREAM_WINDOW, value_parser = clap::value_parser!(u32).range(1..=0x7fff_ffff))]
    http2_initial_stream_window_size: u32,
    /// HTTP/2 flow-control window of a connection's request bodies together, in bytes (65535
    /// to 2^31-1).
    #[arg(long, value_name = "BYTES", default_value_t = rasgi::server::config::DEFAULT_HTTP2_INITIAL_CONNECTION_WINDOW, value_parser = clap::value_parser!(u32).range(65_535..=0x7fff_ffff))]
    http2_initial_connection_window_size: u32,
    /// Origins CORS allows, comma-separated.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_values_t = rasgi::demo::DEFAULT_CORS_ORIGINS.map(String::from))]
    cors_origins: Vec<String>,
}

/// `--http`, Granian's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Http {
    /// HTTP/1.1 and HTTP/2.
    Auto,
    /// HTTP/1.1 only.
    #[value(name = "1")]
    One,
    /// HTTP/2 only.
    #[value(name = "2")]
    Two,
}

/// `--lifespan`, uvicorn's.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Lifespan {
    /// Run it when the app speaks it.
    Auto,
    /// Require it.
    On,
    /// Never run it.
    Off,
}

/// `--log-level`, in uvicorn's names.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogLevel {
    /// Nothing rasgi logs is critical: no log lines.
    Critical,
    Error,
    Warning,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// The `tracing` filter that shows this level and the more severe ones.
    fn filter(self) -> &'static str {
        match self {
            LogLevel::Critical => "off",
            LogLevel::Error => "error",
            LogLevel::Warning => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// A `--header` value: `NAME:VALUE`, a valid field once the name is lowercased and the value
/// trimmed.
fn default_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not NAME:VALUE"))?;
    let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_string());
    rasgi::h1::response::validate_header(name.as_bytes(), value.as_bytes())
        .map_err(|error| format!("{text:?} is not a valid header field: {error}"))?;
    Ok((name, value))
}

fn seconds(value: f64, flag: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("{flag} takes a non-negative number of seconds, not {value}"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let durations = (|| {
        Ok::<_, String>((
            seconds(args.timeout_keep_alive, "--timeout-keep-alive")?,
            seconds(args.timeout_body, "--timeout-body")?,
            seconds(args.timeout_send, "--timeout-send")?,
            seconds(args.ws_ping_interval, "--ws-ping-interval")?,
            seconds(args.ws_ping_timeout, "--ws-ping-timeout")?,
            seconds(
                args.timeout_graceful_shutdown,
                "--timeout-graceful-shutdown",
            )?,
        ))
    })();
    let (keep_alive, body, send, ping_interval, ping_timeout, graceful) = match durations {
        Ok(durations) => durations,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let filter = match args.log_level {
        Some(level) => tracing_subscriber::EnvFilter::new(level.filter()),
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    };
    let colors = match (args.use_colors, args.no_use_colors) {
        (true, _) => true,
        (_, true) => false,
        _ => std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colors)
        .with_writer(std::io::stderr)
        .init();
    quiet_caught_panics();

    // TLS material is read before anything is bound: a bad certificate stops here.
    let tls = match (&args.ssl_certfile, &args.ssl_keyfile) {
        (Some(cert), Some(key)) => {
            match tls_config(
                cert,
                key,
                args.ssl_ca_certs.as_deref(),
                args.ssl_cert_reqs,
                args.http,
            ) {
                Ok(tls) => Some(tls),
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitCode::from(2);
                }
            }
        }
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let config = ServerConfig {
        tls,
        keep_alive_timeout: keep_alive,
        body_read_timeout: body,
        send_timeout: send,
        graceful_shutdown_timeout: graceful,
        limit_concurrency: args.limit_concurrency.map(|n| n as usize),
        limit_max_requests: args.limit_max_requests,
        lifespan: match args.lifespan {
            Lifespan::Auto => LifespanMode::Auto,
            Lifespan::On => LifespanMode::On,
            Lifespan::Off => LifespanMode::Off,
        },
        max_body_bytes: args.max_body_bytes,
        root_path: args.root_path.clone(),
        access_log: !args.no_access_log,
        server_header: !args.no_server_header,
        default_headers: args
            .headers
            .iter()
            .map(|(name, value)| (name.clone().into(), value.clone().into()))
            .collect(),
        date_header: !args.no_date_header,
        websocket: WebSocketConfig {
            max_message_bytes: args.ws_max_size,
            ping_interval: (!ping_interval.is_zero()).then_some(ping_interval),
            ping_timeout: (!ping_timeout.is_zero()).then_some(ping_timeout),
            per_message_deflate: !args.no_ws_per_message_deflate,
            ..WebSocketConfig::default()
        },
        http: match args.http {
            Http::Auto => HttpVersions::Auto,
            Http::One => HttpVersions::Http1,
            Http::Two => HttpVersions::Http2,
        },
        http2: Http2Config {
            max_concurrent_streams: args.http2_max_concurrent_streams,
            max_headers_size: args.http2_max_headers_size,
            initial_stream_window_size: args.http2_initial_stream_window_size,
            initial_connection_window_size: args.http2_initial_connection_window_size,
        },
        ..ServerConfig::default()
    };
    let static_files = match &args.static_dir {
        None => None,
        Some(dir) => match rasgi::static_files::StaticFiles::new(dir) {
            Ok(files) => Some(files),
            Err(error) => {
                eprintln!("error: --static-dir {}: {error}", dir.display());
                return ExitCode::from(2);
            }
        },
    };
    let demo_config = DemoConfig {
        log_file: args.log_file.clone(),
        email_delay: Duration::from_millis(args.email_delay_ms),
        notification_delay: Duration::from_millis(args.notification_delay_ms),
        allowed_hosts: args.allowed_hosts.clone(),
        cors_origins: args.cors_origins.clone(),
        forwarded_allow_ips: if args.no_proxy_headers {
            Vec::new()
        } else {
            args.forwarded_allow_ips.clone()
        },
        static_files,
    };
    let executor = Executor::default();
    let counters = ServerCounters::new();
    let app = match rasgi::demo::build(demo_config, executor.clone(), counters.clone()) {
        Ok(app) => app,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let workers = args
        .workers
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // One worker: a current-thread runtime (no work-stealing machinery). More: one multi-thread
    // runtime, which measured faster than one current-thread runtime per SO_REUSEPORT listener
    // on two cores (docs/benchmarks.md).
    let runtime = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        let listener = match (&args.uds, args.fd) {
            (_, Some(fd)) => inherited(fd),
            (Some(path), None) => Listener::bind_unix(path),
            (None, None) => Listener::bind_with_backlog(&args.bind, args.backlog).await,
        };
        let listener = match listener {
            Ok(listener) => listener,
            Err(error) => {
                let place = match (&args.uds, args.fd) {
                    (_, Some(fd)) => format!("file descriptor {fd}"),
                    (Some(path), None) => path.display().to_string(),
                    (None, None) => args.bind.clone(),
                };
                eprintln!("error: cannot listen on {place}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let server = Server::with_config(app, config)
            .executor(executor)
            .counters(counters);
        server.stop_on(async move {
            rasgi::server::signals().await;
            eprintln!(
                "rasgi shutting down: no new connections; responses in flight, background tasks \
                 and lifespan shutdown have up to {:.1} s",
                graceful.as_secs_f64()
            );
        });
        println!(
            "rasgi listening on {scheme}://{} ({workers} workers)",
            listener.describe()
        );
        match server.serve(listener).await {
            Ok(()) => {
                eprintln!("rasgi stopped");
                ExitCode::SUCCESS
            }
            // A failed startup exits 3, as uvicorn's does.
            Err(error @ ServerError::StartupFailed(_)) => {
                eprintln!("error: {error}");
                ExitCode::from(3)
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        }
    });
    // The graceful-shutdown deadline has passed: a blocking task still running (it cannot be
    // cancelled) does not keep the process alive.
    runtime.shutdown_timeout(Duration::ZERO);
    code
}

/// A panic the server catches is logged once, by the server, with its request id: the default
/// hook's own report is left out for those (and kept for every other panic).
fn quiet_caught_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if rasgi::protocol::panic::is_caught_here() {
            if let Some(location) = info.location() {
                rasgi::protocol::panic::note_panic_location(location.to_string());
            }
        } else {
            default(info);
        }
    }));
}

/// The listening socket passed as file descriptor `fd` (`--fd`).
fn inherited(fd: i32) -> std::io::Result<Listener> {
    use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};
    if fd < 0 {
        return Err(std::io::Error::other("not a file descriptor"));
    }
    // SAFETY: only checks that `fd` is open (fcntl through `try_clone_to_owned` fails with
    // EBADF otherwise); the borrowed descriptor does not outlive this call.
    let open = unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned()?;
    drop(open);
    // SAFETY: `fd` is open (checked above) and was handed to this process to serve on; nothing
    // else in the process owns it, and it is taken exactly once, here.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    Listener::from_listening_socket(socket)
}

/// The rustls configuration for `--ssl-certfile` / `--ssl-keyfile`: the chain and key from PEM
/// files, ALPN `http/1.1`; with `--ssl-cert-reqs` 1 or 2, client certificates verified against
/// `--ssl-ca-certs`.
fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
    ca: Option<&std::path::Path>,
    cert_reqs: u8,
    http: Http,
) -> Result<std::sync::Arc<rasgi::server::rustls::ServerConfig>, String> {
    use rasgi::server::rustls::pki_types::pem::PemObject;
    use rasgi::server::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use rasgi::server::rustls::server::WebPkiClientVerifier;
    use rasgi::server::rustls::RootCertStore;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|error| format!("cannot read --ssl-certfile {}: {error}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "--ssl-certfile {} holds no certificate",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| format!("cannot read --ssl-keyfile {}: {error}", key.display()))?;
    let roots = match ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            let read = CertificateDer::pem_file_iter(ca)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|error| format!("cannot read --ssl-ca-certs {}: {error}", ca.display()))?;
            for cert in read {
                roots.add(cert).map_err(|error| {
                    format!(
                        "--ssl-ca-certs {} holds a bad certificate: {error}",
                        ca.display()
                    )
                })?;
            }
            if roots.is_empty() {
                return Err(format!(
                    "--ssl-ca-certs {} holds no certificate",
                    ca.display()
                ));
            }
            Some(std::sync::Arc::new(roots))
        }
        None => None,
    };
    let builder = rasgi::server::rustls::ServerConfig::builder();
    let builder = match (roots, cert_reqs) {
        (_, 0) => builder.with_no_client_auth(),
        (None, reqs) => return Err(format!("--ssl-cert-reqs {reqs} needs --ssl-ca-certs")),
        (Some(roots), reqs) => {
            let verifier = WebPkiClientVerifier::builder(roots);
            let verifier = if reqs == 1 {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|error| format!("--ssl-ca-certs cannot verify clients: {error}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|error| {
        format!("the certificate and key do not make a TLS configuration: {error}")
    })?;
    config.alpn_protocols = match http {
        Http::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        Http::One => vec![b"http/1.1".to_vec()],
        Http::Two => vec![b"h2".to_vec()],
    };
    Ok(std::sync::Arc::new(config))
}

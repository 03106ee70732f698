//! The demo app served by the `rasgi` binary: the FastAPI middleware and background-task lessons,
//! one route per idea, behind the stack
//!
//! ```text
//! Metrics → ProxyHeaders → TrustedHost → Cors → GZip → RequestId → Timing → CustomHeaders → ServerErrors (+ exception handlers) → routes
//! ```
//!
//! (outermost first). Metrics to CustomHeaders are steps, one layer between them. [`stack`] builds that onion around any app, so tests can put their own
//! handler behind exactly the demo's middleware.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | settings, the stack, lifespan |
//! | `routes.rs` | the handlers |
//! | `metrics.rs` | request counters and the `/metrics` text |
//! | `logfile.rs` | the log file background tasks append to |

mod logfile;
mod metrics;
mod routes;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::Either;

use rasgi_background::Executor;
use rasgi_middleware::cors::{AllowOrigins, CorsConfig};
use rasgi_middleware::{
    ConfigError, Cors, CustomHeaders, ExceptionHandlers, GZip, ProxyHeaders, RequestId, Response,
    ServerErrors, Stack, StackApp, Timing, TrustedHost,
};
use rasgi_protocol::{App, AppError, Event, Headers, Message, Receive, Scope, Sender};
use rasgi_server::ServerCounters;

pub use logfile::LogFile;
pub use metrics::{Metrics, RequestCounts};
pub use routes::RateLimitExceeded;

/// Default for [`DemoConfig::log_file`].
pub const DEFAULT_LOG_FILE: &str = "rasgi-demo.log";
/// Default for [`DemoConfig::email_delay`]: the pretend e-mail takes 5 s to send.
pub const DEFAULT_EMAIL_DELAY: Duration = Duration::from_millis(5000);
/// Default for [`DemoConfig::allowed_hosts`].
pub const DEFAULT_ALLOWED_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];
/// Default for [`DemoConfig::forwarded_allow_ips`]: the local host only, as uvicorn's
/// `--forwarded-allow-ips` defaults to.
pub const DEFAULT_FORWARDED_ALLOW_IPS: [&str; 1] = ["127.0.0.1"];
/// Default for [`DemoConfig::cors_origins`]: the usual dev servers of React and Vite.
pub const DEFAULT_CORS_ORIGINS: [&str; 2] = ["http://localhost:3000", "http://localhost:5173"];

/// The demo's settings (the binary's `--log-file`, `--email-delay-ms`,
/// `--notification-delay-ms`, `--allowed-hosts`, `--cors-origins`).
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Where background tasks append their lines.
    pub log_file: std::path::PathBuf,
    /// How long the welcome e-mail of `/register` takes.
    pub email_delay: Duration,
    /// How long the blocking notification write of `/send-notification` takes.
    pub notification_delay: Duration,
    /// Hosts TrustedHost lets through.
    pub allowed_hosts: Vec<String>,
    /// Origins CORS allows.
    pub cors_origins: Vec<String>,
    /// Peers whose `X-Forwarded-*` / `Forwarded` headers are believed (`*`: any); empty: none
    /// (the binary's `--no-proxy-headers`).
    pub forwarded_allow_ips: Vec<String>,
    /// The files `GET /static/{path}` serves (the binary's `--static-dir`); none by default.
    pub static_files: Option<crate::static_files::StaticFiles>,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            log_file: DEFAULT_LOG_FILE.into(),
            email_delay: DEFAULT_EMAIL_DELAY,
            notification_delay: Duration::ZERO,
            allowed_hosts: DEFAULT_ALLOWED_HOSTS
                .iter()
                .map(|h| h.to_string())
                .collect(),
            cors_origins: DEFAULT_CORS_ORIGINS.iter().map(|o| o.to_string()).collect(),
            forwarded_allow_ips: DEFAULT_FORWARDED_ALLOW_IPS
                .iter()
                .map(|ip| ip.to_string())
                .collect(),
            static_files: None,
        }
    }
}

/// The demo's routes (without middleware); see [`build`] for the served app.
#[derive(Clone)]
pub struct Demo {
    config: Arc<DemoConfig>,
    /// The executor the server runs background tasks on, for `/metrics`.
    executor: Executor,
    /// Requests by status, counted by the outermost middleware.
    counts: Arc<RequestCounts>,
    /// The server's panic and timeout counters, for `/metrics`.
    server_counters: ServerCounters,
    /// The HTTP routes.
    routes: Arc<crate::routing::Router<routes::Page>>,
}

/// The middleware stack of the demo, around any app.
pub fn stack<A: App>(
    config: &DemoConfig,
    counts: Arc<RequestCounts>,
    app: A,
) -> Result<StackApp<impl App>, ConfigError> {
    let hosts: Vec<&str> = config.allowed_hosts.iter().map(String::as_str).collect();
    let cors = Cors::new(CorsConfig {
        allow_origins: AllowOrigins::List(config.cors_origins.clone()),
        allow_methods: vec!["GET".into(), "POST".into()],
        allow_headers: vec!["content-type".into(), "x-request-id".into()],
        expose_headers: vec!["x-request-id".into(), "x-process-time".into()],
        ..CorsConfig::default()
    })?;
    let rate_limits = ExceptionHandlers::new().handle(|error: &RateLimitExceeded| {
        Response::new(
            429,
            Headers::new()
                .with("retry-after", error.retry_after.to_string())
                .with("content-type", "application/json"),
            serde_json::json!({ "detail": error.to_string() }).to_string(),
        )
    });
    let proxies: Vec<&str> = config
        .forwarded_allow_ips
        .iter()
        .map(String::as_str)
        .collect();
    Ok(Stack::new()
        .step(Metrics::new(counts))
        .step(ProxyHeaders::new(proxies)?)
        .step(TrustedHost::new(hosts)?)
        .step(cors)
        .step(GZip::default())
        .step(RequestId::new())
        .step(Timing::new())
        .step(CustomHeaders::new([(
            "x-custom-header",
            "Custom Header Value",
        )])?)
        .push(ServerErrors::new().with_exception_handlers(rate_limits))
        .app(app))
}

/// The app `cargo run --release` serves: the demo routes behind the demo stack, its request
/// futures on the heap (an idle connection then keeps no room for the stack and the largest
/// route; one allocation per request). `/metrics` shows the counters of `executor` and
/// `server_counters` (give both to the server too).
pub fn build(
    config: DemoConfig,
    executor: Executor,
    server_counters: ServerCounters,
) -> Result<StackApp<impl App>, ConfigError> {
    let counts = Arc::new(RequestCounts::default());
    let demo = Demo {
        routes: Arc::new(routes::router(config.static_files.is_some())),
        config: Arc::new(config.clone()),
        executor,
        counts: counts.clone(),
        server_counters,
    };
    stack(&config, counts, demo).map(StackApp::on_heap)
}

impl App for Demo {
    // A plain function choosing the route's future, not an `async fn`: an `async fn` would keep
    // the scope it was passed and the one it matched out of it (700 bytes) beside the route's
    // future for the whole request.
    fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        receive: R,
        send: S,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        match scope {
            Scope::Http(scope) => Either::Left(routes::route(self, scope, receive, send)),
            Scope::WebSocket(scope) => {
                Either::Right(Either::Left(routes::websocket(scope, receive, send)))
            }
            Scope::Lifespan(lifespan) => {
                Either::Right(Either::Right(self.lifespan(lifespan, receive, send)))
            }
        }
    }
}

impl Demo {
    /// Startup opens the log file (a failure stops the server with its reason); shutdown
    /// closes it.
    async fn lifespan<R: Receive, S: Sender>(
        &self,
        lifespan: rasgi_protocol::LifespanScope,
        mut receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        loop {
            match receive.receive().await {
                Event::Startup => match LogFile::open(&self.config.log_file) {
                    Ok(log) => {
                        lifespan.state.insert(log);
                        send.send(Message::StartupComplete).await?;
                    }
                    Err(error) => {
                        let message = format!(
                            "cannot open log file {}: {error}",
                            self.config.log_file.display()
                        );
                        send.send(Message::StartupFailed(message)).await?;
                        return Ok(());
                    }
                },
                Event::Shutdown => {
                    if let Some(log) = lifespan.state.remove::<LogFile>() {
                        log.close();
                    }
                    send.send(Message::ShutdownComplete).await?;
                    return Ok(());
                }
                _ => return Ok(()),
            }
        }
    }
}

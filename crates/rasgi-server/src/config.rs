//! The server's settings. Every limit and timeout is a named field with its default and the
//! reason for it; `ServerConfig::default()` is what `cargo run --release` uses.

use std::time::Duration;

use bytes::Bytes;

use rasgi_h1::Limits;

/// Default for [`ServerConfig::keep_alive_timeout`]: 5 s, uvicorn's `--timeout-keep-alive`.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`ServerConfig::header_read_timeout`]: 10 s from a request's first byte to the
/// end of its head; slower clients (slowloris) are dropped.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`ServerConfig::body_read_timeout`]: 30 s without a byte of a request body the
/// app is waiting for; nginx's `client_body_timeout` is 60 s, uvicorn has none.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`ServerConfig::send_timeout`]: 30 s without a byte of a response written;
/// nginx's `send_timeout` is 60 s.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`ServerConfig::tls_handshake_timeout`]: 10 s, as for a request head; a client
/// that starts a TLS handshake and stalls is dropped.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`ServerConfig::max_body_bytes`]: 1 GiB. Bodies stream through `receive`, so this
/// bounds what one request may send, not what sits in memory (answered 413).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1 << 30;
/// Default for [`ServerConfig::drain_limit_bytes`]: 64 KiB of unread body are read and dropped
/// to keep the connection; a longer unread body closes it (never parsed as a request).
pub const DEFAULT_DRAIN_LIMIT_BYTES: u64 = 64 * 1024;
/// Default for [`ServerConfig::graceful_shutdown_timeout`]: 30 s, like most process managers'
/// grace period before SIGKILL.
pub const DEFAULT_GRACEFUL_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`ServerConfig::write_buffer_flush_bytes`]: responses are gathered up to 64 KiB
/// before a write when pipelined requests are waiting.
pub const DEFAULT_WRITE_BUFFER_FLUSH_BYTES: usize = 64 * 1024;

/// How the server behaves; each field says why it exists.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The parser's limits (request line 414, head size and header count 431, chunk
    /// extensions 413, trailers 431).
    pub limits: Limits,
    /// How long an idle keep-alive connection waits for its next request.
    pub keep_alive_timeout: Duration,
    /// How long a client may take from a request's first byte to the end of its head.
    pub header_read_timeout: Duration,
    /// How long a request body the app waits for may make no progress: then the app sees
    /// `Disconnect`, and the request is answered 408 if no response has started (else the
    /// connection closes).
    pub body_read_timeout: Duration,
    /// How long a response write may make no progress (a client that stopped reading): then the
    /// connection closes and the app's next `send` fails.
    pub send_timeout: Duration,
    /// Largest request body accepted (413 above it).
    pub max_body_bytes: u64,
    /// Unread body bytes drained after the response to keep the connection open.
    pub drain_limit_bytes: u64,
    /// Most connections served at once; more are answered 503 and closed. `None`: no limit.
    pub limit_concurrency: Option<usize>,
    /// How long shutdown waits for in-flight responses and background tasks.
    pub graceful_shutdown_timeout: Duration,
    /// Whether the app's lifespan runs, as uvicorn's `--lifespan`.
    pub lifespan: LifespanMode,
    /// After this many HTTP requests the server shuts down gracefully, as uvicorn's
    /// `--limit-max-requests` (a supervisor restarts it: a bound on what a slow leak can
    /// reach). `None`: no limit.
    pub limit_max_requests: Option<u64>,
    /// Add a `date` header to every response (RFC 9110 §6.6.1 wants one from origin servers).
    pub date_header: bool,
    /// Add `server: rasgi` to every response.
    pub server_header: bool,
    /// Fields added to every response (the server's own answers too), after `server` and
    /// `date`: uvicorn's `--header`. A field that is not valid is left out, with a warning.
    pub default_headers: Vec<(Bytes, Bytes)>,
    /// Log one line per request through `tracing` (target `rasgi::access`).
    pub access_log: bool,
    /// The scope's `root_path`: where the app is mounted behind a proxy.
    pub root_path: String,
    /// Responses gathered for pipelined requests are written once they reach this size.
    pub write_buffer_flush_bytes: usize,
    /// Serve TCP connections over TLS with this rustls configuration (its ALPN should offer
    /// `http/1.1`); `None`: plain HTTP.
    #[cfg(feature = "tls")]
    pub tls: Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>,
    /// How long a TLS handshake may take.
    #[cfg(feature = "tls")]
    pub tls_handshake_timeout: Duration,
    /// WebSocket settings.
    pub websocket: WebSocketConfig,
    /// Which HTTP versions every listener speaks (`--http`).
    pub http: HttpVersions,
    /// HTTP/2's limits.
    pub http2: Http2Config,
}

/// Which HTTP versions a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersions {
    /// HTTP/1.1, and HTTP/2 where the client asks for it: by its preface on a plain
    /// connection (prior knowledge), by ALPN over TLS.
    #[default]
    Auto,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only.
    Http2,
}

/// Default for [`Http2Config::max_concurrent_streams`]: hyper's default.
pub const DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS: u32 = 200;
/// Default for [`Http2Config::max_headers_size`]: hyper's default.
pub const DEFAULT_HTTP2_MAX_HEADERS_SIZE: u32 = 16 * 1024;
/// Default for [`Http2Config::initial_stream_window_size`]: 1 MiB, so that one stream can
/// fill a fast link without waiting for WINDOW_UPDATE.
pub const DEFAULT_HTTP2_INITIAL_STREAM_WINDOW: u32 = 1024 * 1024;
/// Default for [`Http2Config::initial_connection_window_size`].
pub const DEFAULT_HTTP2_INITIAL_CONNECTION_WINDOW: u32 = 1024 * 1024;

/// HTTP/2's limits (RFC 9113 §6.5.2), announced to every client in the server's SETTINGS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Http2Config {
    /// Streams open at once on one connection; more are refused with REFUSED_STREAM
    /// (`--http2-max-concurrent-streams`).
    pub max_concurrent_streams: u32,
    /// The largest request header list, counted as RFC 7541 §4.1 counts it (32 octets per
    /// field, plus its name and value); a larger one is answered 431
    /// (`--http2-max-headers-size`).
    pub max_headers_size: u32,
    /// How much of one request body may arrive before the app reads it
    /// (`--http2-initial-stream-window-size`).
    pub initial_stream_window_size: u32,
    /// How much of all request bodies of a connection may arrive before the apps read them
    /// (`--http2-initial-connection-window-size`).
    pub initial_connection_window_size: u32,
}

impl Default for Http2Config {
    fn default() -> Self {
        Http2Config {
            max_concurrent_streams: DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS,
            max_headers_size: DEFAULT_HTTP2_MAX_HEADERS_SIZE,
            initial_stream_window_size: DEFAULT_HTTP2_INITIAL_STREAM_WINDOW,
            initial_connection_window_size: DEFAULT_HTTP2_INITIAL_CONNECTION_WINDOW,
        }
    }
}

/// Whether the app's lifespan runs ([`ServerConfig::lifespan`]), in uvicorn's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LifespanMode {
    /// Run it; an app that does not speak lifespan (it returns without answering the startup)
    /// is served without one. A failed startup stops the server.
    #[default]
    Auto,
    /// Run it, and require it: an app that does not speak lifespan stops the server as a
    /// failed startup does.
    On,
    /// Never call the app with a lifespan scope.
    Off,
}

/// Default [`WebSocketConfig::max_message_bytes`]: 16 MiB, as uvicorn's `--ws-max-size`.
pub const DEFAULT_WS_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// Default [`WebSocketConfig::ping_interval`] and [`WebSocketConfig::ping_timeout`]: 20 s.
pub const DEFAULT_WS_PING: Duration = Duration::from_secs(20);
/// Default [`WebSocketConfig::close_timeout`].
pub const DEFAULT_WS_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How WebSockets are served.
#[derive(Debug, Clone)]
pub struct WebSocketConfig {
    /// Largest message accepted (after inflating); a larger one closes the connection with
    /// 1009 (`--ws-max-size`).
    pub max_message_bytes: usize,
    /// How often the server pings an open WebSocket; `None`: never (`--ws-ping-interval`).
    pub ping_interval: Option<Duration>,
    /// How long a ping may wait for its pong before the connection is closed with 1011
    /// (`--ws-ping-timeout`); `None`: forever.
    pub ping_timeout: Option<Duration>,
    /// Offer permessage-deflate to clients that ask for it (`--no-ws-per-message-deflate`
    /// turns it off).
    pub per_message_deflate: bool,
    /// How long the server waits for the client's answer to its close frame.
    pub close_timeout: Duration,
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            max_message_bytes: DEFAULT_WS_MAX_MESSAGE_BYTES,
            ping_interval: Some(DEFAULT_WS_PING),
            ping_timeout: Some(DEFAULT_WS_PING),
            per_message_deflate: true,
            close_timeout: DEFAULT_WS_CLOSE_TIMEOUT,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            drain_limit_bytes: DEFAULT_DRAIN_LIMIT_BYTES,
            limit_concurrency: None,
            graceful_shutdown_timeout: DEFAULT_GRACEFUL_SHUTDOWN_TIMEOUT,
            limit_max_requests: None,
            lifespan: LifespanMode::Auto,
            date_header: true,
            server_header: true,
            default_headers: Vec::new(),
            access_log: true,
            root_path: String::new(),
            write_buffer_flush_bytes: DEFAULT_WRITE_BUFFER_FLUSH_BYTES,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            websocket: WebSocketConfig::default(),
            http: HttpVersions::Auto,
            http2: Http2Config::default(),
        }
    }
}

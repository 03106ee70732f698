//! [`Server`]: listeners, the accept loop, the connection limit, and graceful shutdown.
//!
//! The shutdown sequence, in order:
//! 1. The [`Shutdown`] signal fires (SIGINT/SIGTERM in the binary, any future in a library).
//! 2. The listener is closed: no new connections.
//! 3. Idle connections close at once; in-flight responses finish, marked `connection: close`.
//! 4. At the graceful-shutdown deadline, connections still open are aborted.
//! 5. Background tasks are drained up to the same deadline; what is left is cancelled and
//!    logged.
//! 6. The app's lifespan shutdown runs, within what is left of the same deadline: one deadline
//!    covers all three.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use rasgi_background::Executor;
use rasgi_protocol::{App, ByteStr, State};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinSet;
use tokio::time::{Duration, Instant};

use crate::config::LifespanMode;
use crate::connection;
use crate::context::{ConnContext, Ending, Peers};
pub use crate::error::ServerError;
use crate::{lifespan, ServerConfig, ServerCounters, Shutdown};

/// Where the server accepts connections.
#[derive(Debug)]
pub enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix domain socket listener.
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Bind a TCP listener (`127.0.0.1:0` picks a free port).
    pub async fn bind(addr: &str) -> std::io::Result<Listener> {
        Ok(Listener::Tcp(TcpListener::bind(addr).await?))
    }

    /// Bind a TCP listener whose queue of connections not yet accepted holds `backlog` (the
    /// kernel caps it at `net.core.somaxconn`), as uvicorn's `--backlog`. The first address
    /// `addr` resolves to is bound.
    pub async fn bind_with_backlog(addr: &str, backlog: u32) -> std::io::Result<Listener> {
        let resolved = tokio::net::lookup_host(addr).await?.next().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to bind")
        })?;
        let socket = match resolved {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        // As `TcpListener::bind` does: a restart may bind while old connections linger.
        socket.set_reuseaddr(true)?;
        socket.bind(resolved)?;
        Ok(Listener::Tcp(socket.listen(backlog)?))
    }

    /// Bind a Unix socket at `path`, replacing a stale socket left by an earlier run. Anything
    /// else at `path` (a regular file, a directory) is left alone and the bind fails.
    pub fn bind_unix(path: impl Into<PathBuf>) -> std::io::Result<Listener> {
        use std::os::unix::fs::FileTypeExt;
        let path = path.into();
        let stale_socket =
            std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_socket());
        if stale_socket {
            std::fs::remove_file(&path)?;
        }
        Ok(Listener::Unix(UnixListener::bind(&path)?, path))
    }

    /// Serve on a listening socket that is already open (inherited from a process manager,
    /// such as systemd's socket activation): TCP, or a Unix socket. Fails if it is neither.
    pub fn from_listening_socket(socket: std::os::fd::OwnedFd) -> std::io::Result<Listener> {
        let tcp = std::net::TcpListener::from(socket);
        if tcp.local_addr().is_ok() {
            tcp.set_nonblocking(true)?;
            return Ok(Listener::Tcp(TcpListener::from_std(tcp)?));
        }
        let unix = std::os::unix::net::UnixListener::from(std::os::fd::OwnedFd::from(tcp));
        let path = unix
            .local_addr()?
            .as_pathname()
            .map(PathBuf::from)
            .unwrap_or_default();
        unix.set_nonblocking(true)?;
        Ok(Listener::Unix(UnixListener::from_std(unix)?, path))
    }

    /// What the listener is bound to, for the startup line (`127.0.0.1:8000`, `unix:/tmp/s`).
    pub fn describe(&self) -> String {
        match self {
            Listener::Tcp(listener) => listener
                .local_addr()
                .map_or_else(|e| format!("<{e}>"), |addr| addr.to_string()),
            Listener::Unix(_, path) => format!("unix:{}", path.display()),
        }
    }

    /// The bound TCP address, if TCP.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(listener) => listener.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }
}

/// An HTTP/1.1 server for one app.
pub struct Server<A> {
    ctx: ConnContext<A>,
}

impl<A: App> Server<A> {
    /// A server for `app` with the default settings.
    pub fn new(app: A) -> Server<A> {
        Server::with_config(app, ServerConfig::default())
    }

    /// A server for `app` with `config`.
    pub fn with_config(app: A, config: ServerConfig) -> Server<A> {
        let root_path = ByteStr::from(config.root_path.clone());
        let default_fields: Vec<(Bytes, Bytes)> = config
            .default_headers
            .iter()
            .filter(|(name, value)| {
                let valid = rasgi_h1::response::validate_header(name, value).is_ok();
                if !valid {
                    tracing::warn!(name = %String::from_utf8_lossy(name), "a default header that is not a valid field is left out");
                }
                valid
            })
            .cloned()
            .collect();
        Server {
            ctx: ConnContext {
                app: Arc::new(app),
                config: Arc::new(config),
                shutdown: Shutdown::new(),
                executor: Executor::default(),
                state: State::new(),
                root_path,
                counters: ServerCounters::new(),
                default_fields: (!default_fields.is_empty()).then(|| Arc::new(default_fields)),
            },
        }
    }

    /// Use `executor` for background tasks (to share it, or to read its counters).
    pub fn executor(mut self, executor: Executor) -> Server<A> {
        self.ctx.executor = executor;
        self
    }

    /// Count panics and timeouts into `counters` (to read them elsewhere, such as a metrics
    /// page).
    pub fn counters(mut self, counters: ServerCounters) -> Server<A> {
        self.ctx.counters = counters;
        self
    }

    /// Share `state` as the lifespan state every request sees (an in-memory client's, say).
    pub fn with_state(mut self, state: State) -> Server<A> {
        self.ctx.state = state;
        self
    }

    /// The panic and timeout counters.
    pub fn server_counters(&self) -> &ServerCounters {
        &self.ctx.counters
    }

    /// The background executor.
    pub fn background(&self) -> &Executor {
        &self.ctx.executor
    }

    /// The lifespan state every request sees.
    pub fn state(&self) -> &State {
        &self.ctx.state
    }

    /// The signal that stops [`Server::serve`]; trigger it to shut down gracefully.
    pub fn shutdown_signal(&self) -> Shutdown {
        self.ctx.shutdown.clone()
    }

    /// Stop when `signal` resolves (as well as when the shutdown signal fires).
    pub fn stop_on(&self, signal: impl Future<Output = ()> + Send + 'static) {
        let shutdown = self.ctx.shutdown.clone();
        tokio::spawn(async move {
            signal.await;
            shutdown.trigger();
        });
    }

    /// Run lifespan startup (as [`ServerConfig::lifespan`] says), serve `listener` until the
    /// shutdown signal, then shut down gracefully (the sequence at the top of this file).
    pub async fn serve(&self, listener: Listener) -> Result<(), ServerError> {
        let ctx = &self.ctx;
        let config = &*ctx.config;
        let lifespan = match config.lifespan {
            LifespanMode::Off => None,
            LifespanMode::Auto => {
                lifespan::startup(Arc::clone(&ctx.app), ctx.state.clone()).await?
            }
            LifespanMode::On => Some(
                lifespan::startup(Arc::clone(&ctx.app), ctx.state.clone())
                    .await?
                    .ok_or_else(|| {
                        ServerError::StartupFailed(
                            "the app does not support lifespan, and it is required".into(),
                        )
                    })?,
            ),
        };

        let mut connections = JoinSet::new();
        // Connections over the limit being answered 503, each for at most a second.
        let mut rejecting = JoinSet::new();
        // One shared context: a connection holds a pointer to it, not a copy.
        let shared = Arc::new(ctx.clone());
        while !ctx.shutdown.is_triggered() {
            tokio::select! {
                accepted = accept(&listener) => match accepted {
                    Ok(accepted) => {
                        while connections.try_join_next().is_some() {}
                        let full = config
                            .limit_concurrency
                            .is_some_and(|limit| connections.len() >= limit);
                        if full {
                            while rejecting.try_join_next().is_some() {}
                            if rejecting.len() < MAX_REJECTING {
                                rejecting.spawn(accepted.reject());
                            } else {
                                // Flooded: answer without waiting, then close at once.
                                accepted.reject_now();
                            }
                        } else {
                            connections.spawn(accepted.serve(Arc::clone(&shared)));
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                () = ctx.shutdown.triggered() => {}
            }
        }

        // 2. No new connections.
        drop(listener);
        rejecting.abort_all();
        // 3 and 4. Let in-flight responses finish, up to the deadline.
        let deadline = Instant::now() + config.graceful_shutdown_timeout;
        let finished = tokio::time::timeout_at(deadline, async {
            while connections.join_next().await.is_some() {}
        })
        .await
        .is_ok();
        if !finished {
            tracing::warn!(
                open = connections.len(),
                "closing connections still open at the shutdown deadline"
            );
            connections.shutdown().await;
        }
        // 5. Background tasks, up to the same deadline.
        let counters = ctx
            .executor
            .shutdown(deadline.saturating_duration_since(Instant::now()))
            .await;
        tracing::debug!(?counters, "background tasks drained");
        // 6. Lifespan shutdown, within what is left of the same deadline.
        if let Some(lifespan) = lifespan {
            lifespan::shutdown(lifespan, deadline.saturating_duration_since(Instant::now())).await;
        }
        Ok(())
    }

    /// The sizes of the futures a connection's task holds for this app (built over a socket
    /// pair, never polled). For memory budgets: a test pins them, so that a change that grows
    /// them is seen. Needs a Tokio runtime, and the feature `test-support`.
    #[cfg(feature = "test-support")]
    pub fn future_sizes(&self) -> std::io::Result<FutureSizes> {
        let (one, _other) = tokio::net::UnixStream::pair()?;
        let mut request_side = tokio::net::UnixStream::pair()?.0;
        let (reader, writer) = request_side.split();
        let request = crate::h1::request_future_bytes(reader, writer, &self.ctx);
        let connection = Accepted::Unix(one).serve(Arc::new(self.ctx.clone()));
        Ok(FutureSizes {
            connection: std::mem::size_of_val(&connection),
            request,
        })
    }

    /// Serve one connection over any byte stream (a socket, a pipe, an in-memory duplex).
    pub async fn serve_connection<IO>(&self, io: IO, peers: Peers)
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin,
    {
        let (reader, writer) = tokio::io::split(io);
        connection::serve(reader, writer, &peers, &self.ctx).await;
    }
}

/// What `Server::future_sizes` measures, in bytes (feature `test-support`).
#[cfg(feature = "test-support")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FutureSizes {
    /// A connection's whole future: what its task keeps all its life, idle or not (a
    /// request's future is room inside it).
    pub connection: usize,
    /// One request's future: the app's future and the server's state around it.
    pub request: usize,
}

/// Serve one connection over `io` with `app` and the default settings.
pub async fn serve_connection<IO, A>(io: IO, app: A)
where
    IO: AsyncRead + AsyncWrite + Send + Unpin,
    A: App,
{
    Server::new(app)
        .serve_connection(io, Peers::default())
        .await;
}

/// Serve `app` on `listener` with the default settings until SIGINT or SIGTERM, then shut down
/// gracefully. It installs handlers for both signals (through tokio's), so the process no
/// longer dies of them while it serves; an embedder that owns the signals passes its own
/// shutdown to [`serve_with_shutdown`] instead.
pub async fn serve<A: App>(listener: Listener, app: A) -> Result<(), ServerError> {
    serve_with_shutdown(listener, app, crate::signals()).await
}

/// Serve `app` on `listener` with the default settings until `shutdown` resolves, then shut down
/// gracefully (connections finish within [`ServerConfig::graceful_shutdown_timeout`]). No
/// signal handler is installed.
pub async fn serve_with_shutdown<A: App>(
    listener: Listener,
    app: A,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let server = Server::new(app);
    server.stop_on(shutdown);
    server.serve(listener).await
}

/// Most connections over the limit answered 503 at a time, each read for a moment so that its
/// answer is not destroyed by a reset; past this (a flood), the 503 is written without waiting
/// and the connection closed at once. Bounds the tasks a flood can make the server spawn.
const MAX_REJECTING: usize = 64;

/// The answer to a connection over the limit.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
content-length: 19\r\nconnection: close\r\n\r\nService Unavailable";

enum Accepted {
    Tcp(tokio::net::TcpStream, Peers),
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &Listener) -> std::io::Result<Accepted> {
    match listener {
        Listener::Tcp(listener) => {
            let (stream, client) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let peers = Peers {
                client: Some(client),
                server: stream.local_addr().ok(),
                tls: false,
                tls_info: None,
            };
            Ok(Accepted::Tcp(stream, peers))
        }
        Listener::Unix(listener, _) => Ok(Accepted::Unix(listener.accept().await?.0)),
    }
}

impl Accepted {
    /// Serve the connection. The stream is borrowed where it lies, not moved out, so the
    /// connection's task holds it once.
    async fn serve<A: App>(mut self, ctx: Arc<ConnContext<A>>) {
        match &mut self {
            #[cfg(feature = "tls")]
            Accepted::Tcp(stream, peers) if ctx.config.tls.is_some() => {
                // Boxed: the TLS session is large, and a plain connection's task must not
                // carry room for it.
                Box::pin(crate::tls::serve(stream, peers.clone(), &ctx)).await;
            }
            Accepted::Tcp(stream, peers) => {
                let (reader, writer) = stream.split();
                if connection::serve(reader, writer, peers, &ctx).await == Ending::Abort {
                    // Reset: the kernel drops what the client would not read.
                    tracing::debug!("resetting a connection whose client stopped reading");
                    let _ = stream.set_zero_linger();
                }
            }
            Accepted::Unix(stream) => {
                let (reader, writer) = stream.split();
                connection::serve(reader, writer, &Peers::default(), &ctx).await;
            }
        }
    }

    /// Over the connection limit: answer 503 and close, reading what the client sent so that
    /// closing does not reset the connection before it sees the answer.
    async fn reject(self) {
        match self {
            Accepted::Tcp(stream, _) => answer_and_close(stream, BUSY).await,
            Accepted::Unix(stream) => answer_and_close(stream, BUSY).await,
        }
    }
}

impl Accepted {
    /// Over the limit in a flood: write the 503 if the socket takes it now, and close.
    fn reject_now(self) {
        let _ = match self {
            Accepted::Tcp(stream, _) => stream.try_write(BUSY),
            Accepted::Unix(stream) => stream.try_write(BUSY),
        };
    }
}

async fn answer_and_close<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, answer: &[u8]) {
    if stream.write_all(answer).await.is_ok() && stream.shutdown().await.is_ok() {
        let mut sink = [0u8; 1024];
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
    }
}

//! The tokio server of rasgi: it speaks HTTP/1.1 on a socket (or any byte stream) and calls an
//! ASGI-style [`rasgi_protocol::App`] for each request.
//!
//! | concept | file |
//! | --- | --- |
//! | settings, limits and timeouts | [`config`] |
//! | panics and timeouts, counted | [`counters`] |
//! | the accept loop, connection limit and graceful shutdown | [`server`] |
//! | one connection's driver: I/O around the state machine ([`rasgi_h1::ServerConn`]) | `conn.rs` |
//! | the read half: bytes in, heads and `receive` | `read.rs` |
//! | the state machine and the write half behind `send` | `wire.rs` |
//! | WebSockets: the handshake, `receive` and `send`, pings, closing | `websocket.rs` |
//! | where ASGI meets the state machine: scopes, messages | `asgi.rs` |
//! | lifespan startup and shutdown | [`lifespan`] |
//! | TLS connections (feature `tls`) | `tls.rs` |
//! | the cached `date` header | [`date`] |
//! | the shutdown signal | [`shutdown`] |

#![warn(missing_docs)]

mod asgi;
mod buffers;
pub mod config;
mod conn;
pub mod counters;
pub mod date;
pub mod lifespan;
mod lock;
mod read;
pub mod server;
pub mod shutdown;
mod stall;
#[cfg(feature = "tls")]
mod tls;
mod websocket;
mod wire;

pub use config::{ServerConfig, WebSocketConfig};
pub use conn::Peers;
pub use counters::{CounterSnapshot, ServerCounters};
pub use server::{serve, serve_connection, FutureSizes, Listener, Server, ServerError};
pub use shutdown::Shutdown;
/// rustls, for building [`ServerConfig::tls`] (feature `tls`).
#[cfg(feature = "tls")]
pub use tokio_rustls::rustls;

/// Resolves on SIGINT or SIGTERM (the server is Unix-only: it serves Unix sockets too).
pub async fn signals() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut interrupt), Ok(mut terminate)) => {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

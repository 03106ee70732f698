//! The tokio server of rasgi: it speaks HTTP/1.1 and HTTP/2 on a socket (or any byte stream) and calls an
//! ASGI-style [`rasgi_protocol::App`] for each request.
//!
//! | concept | file |
//! | --- | --- |
//! | settings, limits and timeouts | [`config`] |
//! | panics and timeouts, counted | [`counters`] |
//! | the accept loop, connection limit and graceful shutdown | [`server`] |
//! | why the server stopped with an error | `error.rs` |
//! | one connection: the HTTP/1.1 driver, the HTTP/2 driver after its preface or by ALPN, the WebSocket driver after a handshake | `connection.rs` |
//! | the request layer: a request of any protocol from its head to its verdict | `request.rs` |
//! | what a connection's drivers share: the server's context, the peers' addresses | `context.rs` |
//! | the HTTP/1.1 driver: I/O around the state machine ([`rasgi_h1::ServerConn`]), `receive` and `send` | `h1/` |
//! | the HTTP/2 driver: I/O around the sans-io connection ([`rasgi_h2::conn::ServerConnection`]), one request per stream | `h2/` |
//! | the WebSocket driver: the ASGI rules (sans-io), the app's handles, pings, closing | `websocket/` |
//! | what the WebSocket driver asks of the stream its handshake came in on | `handshake.rs` |
//! | the read half: bytes in, pooled buffers | `reader.rs` |
//! | the write half: the one write loop, and the send timeout | `writer.rs` |
//! | a file as a response body: `sendfile`, or bounded pieces | `file_send.rs` |
//! | where ASGI meets the state machine: scopes, messages | `asgi.rs` |
//! | lifespan startup and shutdown | [`lifespan`] |
//! | TLS connections, and the session in the scope (feature `tls`) | `tls/` |
//! | the cached `date` header | [`date`] |
//! | the shutdown signal | [`shutdown`] |

#![warn(missing_docs)]

mod asgi;
mod buffers;
pub mod config;
mod connection;
mod context;
pub mod counters;
pub mod date;
mod error;
mod file_send;
mod h1;
mod h2;
mod handshake;
pub mod lifespan;
mod lock;
mod reader;
mod request;
pub mod server;
pub mod shutdown;
mod stall;
#[cfg(feature = "tls")]
mod tls;
mod websocket;
mod writer;

pub use config::{Http2Config, HttpVersions, LifespanMode, ServerConfig, WebSocketConfig};
pub use context::Peers;
pub use counters::{CounterSnapshot, ServerCounters};
pub use error::ServerError;
#[cfg(feature = "test-support")]
pub use server::FutureSizes;
pub use server::{serve, serve_connection, serve_with_shutdown, Listener, Server};
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

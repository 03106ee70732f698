//! rasgi: an ASGI-style HTTP/1.1 and HTTP/2 server runtime, written from scratch.
//!
//! This facade re-exports the workspace's crates under one name:
//!
//! | module | crate | responsibility |
//! | --- | --- | --- |
//! | [`h1`] | `rasgi-h1` | sans-io HTTP/1.1: the request-head parser, body decoders, response encoders, the connection state machine |
//! | [`h2`] | `rasgi-h2` | sans-io HTTP/2: frames, HPACK, the request rules, a server's connection with its streams, windows and limits |
//! | [`protocol`] | `rasgi-protocol` | `Scope`, `Event`, `Message`, the `App` trait, `Headers`, `State`, `BackgroundTasks` |
//! | [`server`] | `rasgi-server` | tokio: listener, connection driver, limits, shutdown, lifespan |
//! | [`background`] | `rasgi-background` | the executor that runs tasks after the response |
//! | [`middleware`] | `rasgi-middleware` | pure send-wrapping middleware and the stack builder |
//! | [`endpoint`] | this crate | `app_fn`: an async closure as an app |
//! | [`routing`] | this crate | `Router`: routes by method and path, parameters, HEAD, 404 and 405, mounts |
//! | [`static_files`] | this crate | `StaticFiles`: a directory's files, sent by the server (ranges, 304s) |
//! | [`testing`] | this crate | `TestClient`: drive an app in memory |
//! | `demo` | this crate, feature `cli` | the demo app that `cargo run --release` serves |

#![warn(missing_docs)]
// The demo stack nests ten middleware futures; computing their layout needs more than the
// default query depth.
#![recursion_limit = "256"]

#[cfg(feature = "cli")]
pub mod demo;
pub mod endpoint;
pub mod routing;
pub mod static_files;
pub mod testing;

pub use rasgi_background as background;
pub use rasgi_h1 as h1;
pub use rasgi_h2 as h2;
pub use rasgi_middleware as middleware;
pub use rasgi_protocol as protocol;
pub use rasgi_server as server;
pub use rasgi_ws as ws;

/// The names most apps need.
pub mod prelude {
    pub use rasgi_protocol::{
        read_body, send_response, App, AppError, BackgroundTasks, Bytes, Event, Headers, HttpScope,
        Message, Receive, Scope, SendError, Sender, State, WebSocketData, WebSocketScope,
    };
    pub use rasgi_server::{
        serve, serve_connection, serve_with_shutdown, Listener, Server, ServerConfig,
    };
}

//! What a connection's drivers share: the server's context ([`ConnContext`]), the transport's
//! addresses ([`Peers`]), and how a connection ended ([`Ending`]).

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use rasgi_background::Executor;
use rasgi_protocol::{ByteStr, State, TlsInfo};

use crate::reader::ReadSide;
use crate::{ServerConfig, ServerCounters, Shutdown};

/// What every connection of a server shares.
pub(crate) struct ConnContext<A> {
    /// The app.
    pub app: Arc<A>,
    /// The settings.
    pub config: Arc<ServerConfig>,
    /// Fires when the server stops.
    pub shutdown: Shutdown,
    /// Runs background tasks.
    pub executor: Executor,
    /// The lifespan state.
    pub state: State,
    /// `config.root_path`, shared as the scopes' `root_path`.
    pub root_path: ByteStr,
    /// Panics and timeouts.
    pub counters: ServerCounters,
    /// `config.default_headers`, the valid ones, shared by every connection's machine.
    pub default_fields: Option<Arc<Vec<(Bytes, Bytes)>>>,
}

impl<A> Clone for ConnContext<A> {
    fn clone(&self) -> Self {
        ConnContext {
            app: Arc::clone(&self.app),
            config: Arc::clone(&self.config),
            shutdown: self.shutdown.clone(),
            executor: self.executor.clone(),
            state: self.state.clone(),
            root_path: self.root_path.clone(),
            counters: self.counters.clone(),
            default_fields: self.default_fields.clone(),
        }
    }
}

/// The transport's addresses and its TLS session, for the scope.
#[derive(Debug, Clone, Default)]
pub struct Peers {
    /// The client's address.
    pub client: Option<std::net::SocketAddr>,
    /// The server's address.
    pub server: Option<std::net::SocketAddr>,
    /// The connection is encrypted (TLS): the scope's scheme is `https`.
    pub tls: bool,
    /// The TLS session, put in each scope's extensions (asgiref's `tls` extension).
    pub tls_info: Option<Arc<TlsInfo>>,
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Closed in order (after a lingering read where one was due).
    Closed,
    /// The client stopped reading: the transport should be reset rather than closed, so the
    /// kernel does not keep trying to deliver what the client will not read.
    Abort,
}

/// The hand-over from the HTTP/1.1 driver to the HTTP/2 driver, for a connection that opened
/// with HTTP/2's preface: the read side, with the bytes already read, and the write half.
pub(crate) trait SwitchToHttp2<A, R, W>: Send + Sync {
    /// Serve the connection as HTTP/2 until it closes.
    fn serve<'a>(
        &self,
        ctx: &'a ConnContext<A>,
        peers: &'a Peers,
        read: &'a mut ReadSide<R>,
        writer: &'a mut W,
    ) -> impl Future<Output = Ending> + Send + 'a;
}

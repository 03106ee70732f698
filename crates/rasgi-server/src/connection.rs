//! One connection, from its first byte to its close: the HTTP/1.1 driver serves its requests,
//! and a WebSocket handshake it hands back is served by the WebSocket driver on the same
//! connection. The drivers know nothing of each other; this is where one hands over to the
//! other.

use std::future::Future;

use rasgi_h1::conn::Request;
use rasgi_protocol::App;
use tokio::io::AsyncRead;

use crate::context::{ConnContext, Ending, Peers};
use crate::file_send::Transport;
use crate::handshake::{HandshakeStream, SwitchToWebSocket};
use crate::reader::ReadSide;
use crate::{h1, websocket};

/// Serve `reader`/`writer` until the connection closes. (A plain function returning the
/// driver's future, not an `async fn`: one would keep a copy of its arguments beside it.)
pub(crate) fn serve<'a, R, W, A>(
    reader: R,
    writer: W,
    peers: &'a Peers,
    ctx: &'a ConnContext<A>,
) -> impl Future<Output = Ending> + Send + 'a
where
    R: AsyncRead + Unpin + Send + 'a,
    W: Transport + 'a,
    A: App,
{
    h1::drive(reader, writer, peers, ctx, ToWebSocket)
}

/// The hand-over from a protocol's driver to the WebSocket driver.
struct ToWebSocket;

impl<A, R, H> SwitchToWebSocket<A, R, H> for ToWebSocket
where
    A: App,
    R: AsyncRead + Unpin + Send,
    H: HandshakeStream,
{
    fn serve<'a>(
        &self,
        ctx: &'a ConnContext<A>,
        peers: &'a Peers,
        handshake: &'a mut Option<Request>,
        read: &'a mut ReadSide<R>,
        stream: &'a mut H,
    ) -> impl Future<Output = ()> + Send + 'a {
        websocket::serve(ctx, peers, handshake, read, stream)
    }
}

//! One connection, from its first byte to its close: the HTTP/1.1 driver serves its requests;
//! a WebSocket handshake it hands back is served by the WebSocket driver on the same
//! connection, and a connection that opens with HTTP/2's preface by the HTTP/2 driver (as is
//! one whose TLS handshake chose `h2`). The drivers know nothing of each other; this is where
//! one hands over to another.

use std::future::Future;

use rasgi_h1::conn::Request;
use rasgi_protocol::App;
use tokio::io::AsyncRead;

use crate::context::{ConnContext, Ending, Peers, SwitchToHttp2};
use crate::file_send::Transport;
use crate::handshake::{HandshakeStream, SwitchToWebSocket};
use crate::reader::ReadSide;
use crate::{h1, h2, websocket};

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
    h1::drive(reader, writer, peers, ctx, ToWebSocket, ToHttp2)
}

/// Serve `reader`/`writer` as HTTP/2 from the first byte: TLS chose `h2` by ALPN.
#[cfg(feature = "tls")]
pub(crate) async fn serve_http2<R, W, A>(
    reader: R,
    writer: W,
    peers: &Peers,
    ctx: &ConnContext<A>,
) -> Ending
where
    R: AsyncRead + Unpin + Send,
    W: Transport,
    A: App,
{
    let mut read = ReadSide::new(reader, ctx.config.body_read_timeout);
    h2::drive(&mut read, writer, peers, ctx).await
}

/// The hand-over from the HTTP/1.1 driver to the HTTP/2 driver.
struct ToHttp2;

impl<A, R, W> SwitchToHttp2<A, R, W> for ToHttp2
where
    A: App,
    R: AsyncRead + Unpin + Send,
    W: Transport,
{
    fn serve<'a>(
        &self,
        ctx: &'a ConnContext<A>,
        peers: &'a Peers,
        read: &'a mut ReadSide<R>,
        writer: &'a mut W,
    ) -> impl Future<Output = Ending> + Send + 'a {
        h2::drive(read, writer, peers, ctx)
    }
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

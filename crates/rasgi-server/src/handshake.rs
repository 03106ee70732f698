//! What the WebSocket driver asks of the protocol a handshake came in on ([`HandshakeStream`]),
//! and which requests are WebSocket handshakes. The protocol's driver implements the one and
//! asks the other; the WebSocket driver knows neither protocol.
//!
//! The rule this module keeps: a handshake is answered through its own protocol's machine (a
//! 101, a refusal or the app's denial response is that protocol's response to its request), and
//! the WebSocket's frames go out through the same writer afterwards.

use std::future::Future;
use std::task::{Context, Poll};

use bytes::Bytes;
use rasgi_h1::conn::Request;
use rasgi_protocol::{Message, SendError};
use rasgi_ws::handshake;

use crate::context::{ConnContext, Peers};
use crate::file_send::Transport;
use crate::reader::ReadSide;
use crate::writer::Writer;

/// The WebSocket driver, as a protocol's driver is handed it.
pub(crate) trait SwitchToWebSocket<A, R, H>: Send + Sync {
    /// Serve the handshake in the slot (emptied before the first wait) on the read half,
    /// answering it on the stream, until the WebSocket closes.
    fn serve<'a>(
        &self,
        ctx: &'a ConnContext<A>,
        peers: &'a Peers,
        handshake: &'a mut Option<Request>,
        read: &'a mut ReadSide<R>,
        stream: &'a mut H,
    ) -> impl Future<Output = ()> + Send + 'a;
}

/// The request stream a WebSocket handshake came in on, as the WebSocket driver answers it.
pub(crate) trait HandshakeStream: Send {
    /// The transport's write half.
    type Io: Transport;

    /// The connection serves nothing after this stream (a WebSocket, or its refusal, is the
    /// last thing on it).
    fn stop(&mut self);

    /// Make sure the answer's output has a buffer before anything is queued in it.
    fn take_answer_buffer(&mut self);

    /// Queue a message of an HTTP answer to the handshake (the app's denial response, or the
    /// server's own refusal); `true`: it must be written before the app goes on.
    fn queue_answer(&mut self, message: Message) -> Result<bool, SendError>;

    /// Queue the answer that switches the stream to the WebSocket, with these fields.
    fn queue_switch(&mut self, fields: Vec<(Bytes, Bytes)>) -> Result<(), SendError>;

    /// The app returned after answering in HTTP: how it behaved, for the log.
    fn answer_returned(&mut self, failed: bool) -> impl std::fmt::Debug;

    /// Whether some of the answer waits to be written.
    fn has_answer_output(&self) -> bool;

    /// Write the queued answer through [`HandshakeStream::writer`] (without the transport's own
    /// flush); a failed write marks the peer gone.
    fn poll_write_answer(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>>;

    /// Write out the queued answer and flush the transport, giving up past the send timeout
    /// (for an answer that is the stream's last: a refused handshake).
    fn poll_flush_answer(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>>;

    /// The writer the WebSocket's frames go out through once the stream is switched.
    fn writer(&mut self) -> &mut Writer<Self::Io>;
}

/// Whether the request that was just read asks for a WebSocket; it is served as one when its
/// protocol's machine also says it may be switched (`ServerConn::upgrade_offered`).
pub(crate) fn asks_for_websocket(request: &Request) -> bool {
    // Without an `Upgrade` field there is nothing to look into: most requests are told apart
    // by this one look, ahead of rasgi-ws's whole rule.
    request
        .headers
        .iter()
        .any(|(name, _)| &name[..] == b"upgrade")
        && handshake::is_websocket_request(&request.method, &request.headers)
}

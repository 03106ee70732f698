//! The app's handles on a WebSocket: `receive` ([`WsReceive`]) and `send` ([`WsSender`]), and
//! what they share with the driver behind one lock ([`WsIo`]).
//!
//! The rule this module keeps: every message's way is short. `receive` takes the lock for each
//! look and lets go while its read waits, so that a `send` can write meanwhile; an open
//! WebSocket's frame is queued in `send`'s first poll, and only what has to wait (the lock, a
//! write past [`SEND_FLUSH_BYTES`]) or is rare (the handshake's answers, a close) goes on in a
//! boxed future of its own.

use std::future::Future;
use std::io::ErrorKind;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use rasgi_protocol::{Event, Headers, Message, Receive, SendError, Sender};
use tokio::io::AsyncRead;

use super::rules::{Answer, AsgiWebSocket, NotQueued};
use crate::handshake::HandshakeStream;
use crate::lock::{Acquire, Lock};
use crate::reader::ReadSide;
use crate::{buffers, ServerCounters};

/// Frames waiting past this many bytes are written before `send` returns, so a client that
/// stops reading makes `send` wait (up to the send timeout) instead of filling memory.
const SEND_FLUSH_BYTES: usize = 64 * 1024;

/// What the app's `receive` and `send` and the driver share while a WebSocket is served.
pub(crate) struct WsIo<'w, R, H> {
    /// The stream the handshake came in on: its answer, and the writer.
    pub(crate) stream: &'w mut H,
    /// The read half and its buffer.
    pub(crate) read: &'w mut ReadSide<R>,
    /// The ASGI WebSocket rules and the session.
    pub(crate) ws: Box<AsgiWebSocket>,
}

impl<R, H: HandshakeStream> WsIo<'_, R, H> {
    /// Whether anything waits to be written: the handshake's answer, or frames.
    pub(crate) fn has_output(&mut self) -> bool {
        self.stream.has_answer_output() || self.ws.session().is_some_and(|s| s.has_output())
    }

    /// Write the handshake's answer (the 101), then the frames, then flush the transport.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.stream.poll_write_answer(cx))?;
        let busy = self.ws.busy();
        if let Some(session) = self.ws.session() {
            ready!(self.stream.writer().poll_write_out(cx, session))?;
            // A busy WebSocket keeps its buffer until the next ping tick finds it idle.
            if !busy {
                if let Some(buf) = session.take_output_buffer() {
                    buffers::give(buf);
                }
            }
        }
        self.stream.writer().poll_flush_io(cx)
    }

    /// [`WsIo::poll_flush`], giving up past the send timeout (the client is then taken for
    /// gone).
    pub(crate) fn poll_flush_timed(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Poll::Ready(result) = self.poll_flush(cx) {
            if result.is_ok() {
                self.stream.writer().caught_up();
            }
            return Poll::Ready(result);
        }
        if self.stream.writer().stalled_past_timeout(cx) {
            self.ws.lost();
            return Poll::Ready(Err(ErrorKind::TimedOut.into()));
        }
        Poll::Pending
    }

    /// Write out everything queued, within the send timeout.
    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        std::future::poll_fn(|cx| self.poll_flush_timed(cx)).await
    }

    /// Whether a write stalled past the send timeout.
    pub(crate) fn send_stalled(&mut self) -> bool {
        self.stream.writer().send_stalled()
    }
}

/// Queue an HTTP answer of the server's own to the handshake (426, 400, 403, 500) on `stream`.
pub(crate) fn queue_refusal<H: HandshakeStream>(
    stream: &mut H,
    status: u16,
    mut headers: Headers,
    body: String,
) {
    // The stream has been stopped: the answer says `connection: close`.
    stream.take_answer_buffer();
    headers.append("content-type", "text/plain; charset=utf-8");
    headers.append("content-length", body.len().to_string());
    if stream.queue_answer(Message::start(status, headers)).is_ok() {
        let _ = stream.queue_answer(Message::body(Bytes::from(body)));
    }
}

/// The app's `receive` on a WebSocket.
pub(crate) struct WsReceive<'a, 'w, R, H> {
    /// The stream, the read half and the rules, behind the one lock.
    pub(crate) io: &'a Lock<WsIo<'w, R, H>>,
    /// Set while a `receive` waits: the driver does not read for the app then.
    pub(crate) receiving: &'a AtomicBool,
    /// Set by a ping tick that found the WebSocket idle (see the driver's `ping_tick`).
    pub(crate) idle_tick: &'a AtomicBool,
    /// `WebSocketConnect` has been received.
    pub(crate) connected: bool,
}

impl<R, H> Receive for WsReceive<'_, '_, R, H>
where
    R: AsyncRead + Unpin + Send,
    H: HandshakeStream,
{
    fn receive(&mut self) -> impl Future<Output = Event> + Send {
        NextEvent {
            receive: self,
            queued: None,
        }
    }
}

/// A WebSocket `receive` in progress: every message's way, so a future of its own, with
/// nothing in it but where a wait for the lock stands.
struct NextEvent<'s, 'a, 'w, R, H> {
    receive: &'s mut WsReceive<'a, 'w, R, H>,
    /// Waiting for the lock, which a `send` holds across a write.
    queued: Option<Acquire<'a, WsIo<'w, R, H>>>,
}

impl<R, H> Future for NextEvent<'_, '_, '_, R, H>
where
    R: AsyncRead + Unpin + Send,
    H: HandshakeStream,
{
    type Output = Event;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Event> {
        let this = self.get_mut();
        let receive = &mut *this.receive;
        if !std::mem::replace(&mut receive.connected, true) {
            return Poll::Ready(Event::WebSocketConnect);
        }
        loop {
            if let Some(queued) = this.queued.as_mut() {
                // Its turn came: let go at once, and look as below.
                drop(ready!(Pin::new(queued).poll(cx)));
                this.queued = None;
            }
            // The lock is taken for each look and let go while the read waits, so that a
            // `send` can write meanwhile. It is free nearly always.
            let Some(mut io) = receive.io.try_lock() else {
                this.queued = Some(receive.io.lock());
                continue;
            };
            let looked = receive.look(&mut io, cx);
            if looked.is_pending() {
                // The driver leaves the reading to this `receive` while it waits.
                receive.receiving.store(true, Ordering::Release);
            }
            return looked;
        }
    }
}

impl<R, H> Drop for NextEvent<'_, '_, '_, R, H> {
    fn drop(&mut self) {
        // Returned or given up: the driver reads for the app again.
        self.receive.receiving.store(false, Ordering::Release);
    }
}

impl<R, H> WsReceive<'_, '_, R, H>
where
    R: AsyncRead + Unpin + Send,
    H: HandshakeStream,
{
    /// One look for the app's next event: what waits to be written goes first, then frames
    /// are read until one makes an event or the read has to wait.
    fn look(&self, io: &mut WsIo<'_, R, H>, cx: &mut Context<'_>) -> Poll<Event> {
        if self.idle_tick.load(Ordering::Acquire) {
            // The tick has made the WebSocket idle: the wait below gives the buffer back.
            self.idle_tick.store(false, Ordering::Release);
        }
        loop {
            if let Some(event) = io.ws.receive(io.read.buf_mut()) {
                // A pong or close answer this read queued: written now if the socket takes
                // it, else by the driver or the next `receive`.
                if io.has_output() {
                    let _ = io.poll_flush(cx);
                }
                return Poll::Ready(event);
            }
            let keep = io.ws.busy();
            // The app's frames, pongs: out before the read waits. A client that stops reading
            // holds this up for the send timeout at most.
            if io.has_output() && io.poll_flush_timed(cx).is_pending() {
                return Poll::Pending;
            }
            match io.read.poll_fill_frames(cx, keep) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => io.ws.lost(),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The app's `send` on a WebSocket.
pub(crate) struct WsSender<'a, 'w, R, H> {
    /// The stream, the read half and the rules, behind the one lock.
    pub(crate) io: &'a Lock<WsIo<'w, R, H>>,
    /// Where an opened WebSocket is counted.
    pub(crate) counters: &'a ServerCounters,
}

impl<'a, 'w, R, H> Sender for WsSender<'a, 'w, R, H>
where
    R: AsyncRead + Unpin + Send,
    H: HandshakeStream,
{
    fn send(&mut self, message: Message) -> impl Future<Output = Result<(), SendError>> + Send {
        SendMessage {
            io: self.io,
            counters: self.counters,
            message: Some(message),
            rest: None,
        }
    }
}

/// The boxed rest of a [`SendMessage`].
type SendRest<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// A WebSocket `send` in progress. Every message's way, an open WebSocket's frame, is queued
/// in the first poll (and written by the next `receive`); what has to wait and the rare
/// messages go on in a boxed future of their own, which would otherwise be room in every
/// send's.
struct SendMessage<'a, 'w, R, H> {
    /// The stream, the read half and the rules, behind the one lock.
    io: &'a Lock<WsIo<'w, R, H>>,
    /// Where an opened WebSocket is counted.
    counters: &'a ServerCounters,
    /// The message, until the first poll.
    message: Option<Message>,
    /// The rest of the send, when it has to wait or is not a frame.
    rest: Option<SendRest<'a>>,
}

impl<'a, 'w, R, H> Future for SendMessage<'a, 'w, R, H>
where
    R: AsyncRead + Unpin + Send,
    H: HandshakeStream,
{
    type Output = Result<(), SendError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(message) = this.message.take() {
            let (io, counters) = (this.io, this.counters);
            this.rest = match io.try_lock() {
                Some(mut guard) => match queue_frame(&mut guard, message) {
                    Ok(false) => return Poll::Ready(Ok(())),
                    Err(NotQueued::Refused) => return Poll::Ready(Err(SendError::Closed)),
                    queued => Some(Box::pin(async move {
                        finish_send(&mut guard, counters, queued).await
                    })),
                },
                None => Some(Box::pin(async move {
                    let mut guard = io.lock().await;
                    let queued = queue_frame(&mut guard, message);
                    finish_send(&mut guard, counters, queued).await
                })),
            };
        }
        match this.rest.as_mut() {
            Some(rest) => rest.as_mut().poll(cx),
            // Finished already.
            None => Poll::Ready(Ok(())),
        }
    }
}

/// Queue an open WebSocket's frame (`Ok(true)`: enough waits that it is written before the
/// send returns), or hand any other message back. Inlined into every send's first poll.
#[inline(always)]
fn queue_frame<R, H>(io: &mut WsIo<'_, R, H>, message: Message) -> Result<bool, NotQueued> {
    let session = io.ws.queue_frame(message, buffers::take)?;
    Ok(session.output_len() >= SEND_FLUSH_BYTES)
}

/// The rest of a send after [`queue_frame`]: the write past the flush size, or the message
/// that is not a frame.
async fn finish_send<R, H>(
    io: &mut WsIo<'_, R, H>,
    counters: &ServerCounters,
    queued: Result<bool, NotQueued>,
) -> Result<(), SendError>
where
    R: AsyncRead + Unpin + Send,
    H: HandshakeStream,
{
    match queued {
        Ok(false) => Ok(()),
        Ok(true) => io.flush().await.map_err(|_| SendError::Disconnected),
        Err(NotQueued::Refused) => Err(SendError::Closed),
        Err(NotQueued::Other(message)) => send_other(io, counters, message).await,
    }
}

/// A `send` other than an open WebSocket's frame: the rules say what it means, and the
/// stream or the session carries it out.
async fn send_other<R, H>(
    io: &mut WsIo<'_, R, H>,
    counters: &ServerCounters,
    message: Message,
) -> Result<(), SendError>
where
    R: AsyncRead + Unpin + Send,
    H: HandshakeStream,
{
    io.stream.take_answer_buffer();
    match io.ws.on_message(message)? {
        Answer::Switch(fields) => {
            io.stream.queue_switch(fields)?;
            // Open (and counted) before the 101 leaves: a client that has read it finds the
            // WebSocket open everywhere, the metrics included.
            io.ws.switched();
            counters.websocket_opened();
        }
        Answer::Refuse => {
            queue_refusal(io.stream, 403, Headers::new(), String::new());
        }
        Answer::Http(message) => {
            if !io.stream.queue_answer(message)? {
                return Ok(());
            }
        }
        Answer::WriteOut => {}
    }
    io.flush().await.map_err(|_| SendError::Disconnected)
}

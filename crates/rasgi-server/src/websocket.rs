//! WebSockets: a request the state machine found to be a WebSocket handshake is served here,
//! from the app's answer to the handshake to the closing handshake, over the same read half and
//! [`Wire`] as HTTP. The protocol itself is [`rasgi_ws::Session`]'s; this file is I/O, time,
//! and the ASGI websocket protocol around it.
//!
//! One WebSocket, in order:
//! 1. The handshake's fields are checked: a wrong version is answered 426 (with
//!    `Sec-WebSocket-Version: 13`), a bad key 400, without calling the app.
//! 2. The app runs inline, as for HTTP. Its first `receive` is `WebSocketConnect`; it answers
//!    with `WebSocketAccept` (the 101 is written), `WebSocketClose` (403), or an HTTP response
//!    (the denial response, through the state machine as any response is).
//! 3. While it is open, `receive` reads frames. Whenever the app is not in `receive`, the
//!    driver reads instead: pings are answered, pongs noted and a close answered even while the
//!    app only sends; a message that arrives then waits (one at most) for the app's next
//!    `receive`, and nothing more is read until it is taken. `send` queues frames; more than
//!    [`SEND_FLUSH_BYTES`] waiting are written before `send` returns, so a client that stops
//!    reading makes `send` wait (up to the send timeout) instead of filling memory.
//! 4. Pings every `ping_interval`; a pong that does not come within `ping_timeout` closes the
//!    connection with 1011. A server shutdown closes it with 1001.
//! 5. When the app returns: a WebSocket still open is closed with 1000 (1011 if the app failed);
//!    one never accepted is answered 403 (500 if the app failed). The client's close frame is
//!    awaited for `close_timeout`, then the connection closes.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll, Wake, Waker};

use crate::lock::Lock;
use bytes::{Bytes, BytesMut};
use futures::task::AtomicWaker;
use rasgi_h1::conn::Request;
use rasgi_protocol::panic::panicked;
use rasgi_protocol::{
    catch_panic, App, ByteStr, Event, Headers, Message, Receive, Scheme, Scope, SendError, Sender,
    WebSocketData, WebSocketScope,
};
use rasgi_ws::{close_code, handshake, Data, DeflateParams, Incoming, Role, Session};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep};

use crate::asgi::{send_message, websocket_scope, ScopeParts};
use crate::conn::{ConnContext, Peers};
use crate::read::ReadSide;
use crate::wire::Wire;
use crate::WebSocketConfig;

/// Frames waiting past this many bytes are written before `send` returns.
const SEND_FLUSH_BYTES: usize = 64 * 1024;

/// Where a WebSocket is in its life.
#[derive(Debug)]
enum Phase {
    /// The app has not answered the handshake yet.
    Handshake,
    /// The app answers with an HTTP response (or the server did, with 403 or 500).
    Denied,
    /// Accepted: messages flow both ways.
    Open,
    /// Closed (both ways, or lost), with the code and reason the app is told.
    Closed {
        code: u16,
        reason: String,
        /// The close began on this side (a send after it is [`SendError::Closed`], not
        /// [`SendError::Disconnected`]).
        by_us: bool,
    },
}

/// One WebSocket's state, kept in the [`Wire`] beside the HTTP state machine.
pub(crate) struct WsState {
    phase: Phase,
    /// The protocol, once accepted.
    pub(crate) session: Option<Session>,
    /// `Sec-WebSocket-Accept` for the 101.
    accept: String,
    /// The subprotocols the client offered.
    offered: Vec<String>,
    /// permessage-deflate as negotiated, and the response field that says so.
    deflate: Option<(DeflateParams, String)>,
    max_message_bytes: usize,
    /// A message read while the app was not receiving (a `WebSocketReceive`).
    waiting: Option<Event>,
    /// When the ping that has not been answered yet was sent.
    ping_sent: Option<Instant>,
    /// Messages flowed since the last ping tick: the read and write buffers are kept between
    /// them (taking them from the pool and giving them back for every message costs more than
    /// the rest of a small message's way). At the next tick an idle WebSocket gives them back.
    pub(crate) busy: bool,
}

impl WsState {
    fn closed_by_us(&mut self, code: u16, reason: &str) {
        self.phase = Phase::Closed {
            code,
            reason: reason.to_string(),
            by_us: true,
        };
    }

    /// What `receive` answers once the WebSocket is closed.
    fn disconnect(&self) -> Option<Event> {
        match &self.phase {
            Phase::Closed { code, reason, .. } => Some(Event::WebSocketDisconnect {
                code: *code,
                reason: reason.clone(),
            }),
            // Refused: the client is told no more.
            Phase::Denied => Some(Event::WebSocketDisconnect {
                code: close_code::ABNORMAL,
                reason: String::new(),
            }),
            Phase::Handshake | Phase::Open => None,
        }
    }

    /// Read what the buffer holds: an event for the app, or `None` for more bytes. Pings are
    /// answered (the pong waits in the output), pongs noted, a close answered.
    #[inline]
    fn read_event(&mut self, buf: &mut BytesMut) -> Option<Event> {
        // Open, nothing waiting and no bytes: no event (every message's look before its read).
        if buf.is_empty() && self.waiting.is_none() && matches!(self.phase, Phase::Open) {
            return None;
        }
        self.read_event_from(buf)
    }

    /// [`WsState::read_event`] past its first look.
    fn read_event_from(&mut self, buf: &mut BytesMut) -> Option<Event> {
        if let Some(event) = self.waiting.take() {
            return Some(event);
        }
        if let Some(event) = self.disconnect() {
            return Some(event);
        }
        // No bytes, no frame: every message's second look (its buffer emptied) ends here.
        if buf.is_empty() {
            return None;
        }
        let session = self.session.as_mut()?;
        loop {
            match session.read(buf) {
                Ok(Some(Incoming::Message(data))) => {
                    self.busy = true;
                    return Some(receive_event(data));
                }
                Ok(Some(Incoming::Ping)) => {}
                Ok(Some(Incoming::Pong(_))) => self.ping_sent = None,
                Ok(Some(Incoming::Close(frame))) => {
                    // Our own close, answered: the app is told the code it closed with.
                    if !matches!(self.phase, Phase::Closed { .. }) {
                        self.phase = Phase::Closed {
                            code: frame.code,
                            reason: frame.reason,
                            by_us: false,
                        };
                    }
                    return self.disconnect();
                }
                Err(error) => {
                    tracing::debug!(%error, "WebSocket client broke the protocol; closing");
                    self.closed_by_us(error.close_code(), "");
                    return self.disconnect();
                }
                Ok(None) => return None,
            }
        }
    }

    /// The client's stream ended.
    fn lost(&mut self) {
        if !matches!(self.phase, Phase::Closed { .. }) {
            self.phase = Phase::Closed {
                code: close_code::ABNORMAL,
                reason: String::new(),
                by_us: false,
            };
        }
    }
}

fn receive_event(data: Data) -> Event {
    Event::WebSocketReceive(match data {
        // The session has checked the text: this is a second, cheap look.
        Data::Text(bytes) => WebSocketData::Text(ByteStr::from_utf8(bytes).unwrap_or_default()),
        Data::Binary(bytes) => WebSocketData::Binary(bytes),
    })
}

/// Whether the request that was just read asks for a WebSocket; it is served as one when the
/// state machine also says it may be answered with 101 (`ServerConn::upgrade_offered`).
pub(crate) fn asks_for_websocket(request: &Request) -> bool {
    // Without an `Upgrade` field there is nothing to look into. (Tested here, ahead of
    // rasgi-ws's whole rule: the same test folded into that rule measured 30 to 40
    // instructions more per request.)
    request
        .headers
        .iter()
        .any(|(name, _)| &name[..] == b"upgrade")
        && handshake::is_websocket_request(&request.method, &request.headers)
}

/// Serve the WebSocket `request` asks for, to its end. The connection closes afterwards.
///
/// The request comes in a slot that is emptied before the first wait: passed by value, it
/// would keep its room in this (boxed, long-lived) future for the WebSocket's whole life.
pub(crate) async fn serve<R, W, A>(
    ctx: &ConnContext<A>,
    peers: &Peers,
    request: &mut Option<Request>,
    read: &mut ReadSide<R>,
    wire: &mut Wire<W>,
) where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
    A: App,
{
    let config = &ctx.config.websocket;
    let Some((scope, path)) = begin(ctx, peers, request, wire) else {
        // 1. Refused by the handshake's own rules: the answer is queued.
        let _ = wire.flush().await;
        return;
    };

    // 2-4. The app, inline, with the driver reading and pinging while it does not. Nothing
    // but this WebSocket uses the wire from here on: it is this function's for the WebSocket's
    // life, and the app's `receive` and `send` and the driver share it and the read half
    // behind one lock.
    let io = Lock::new(WsIo { wire, read });
    // Set while the app waits in `receive` (which reads for itself).
    let receiving = AtomicBool::new(false);
    // Set at a ping tick that found the WebSocket idle: its read buffer goes back to the pool.
    let idle_tick = AtomicBool::new(false);
    let result = {
        let receive = WsReceive {
            io: &io,
            receiving: &receiving,
            idle_tick: &idle_tick,
            connected: false,
        };
        let send = WsSender {
            io: &io,
            counters: &ctx.counters,
        };
        let mut call = std::pin::pin!(catch_panic(ctx.app.call(
            Scope::WebSocket(scope),
            receive,
            send
        )));
        let mut ping = std::pin::pin!(tokio::time::sleep(config.ping_interval.unwrap_or_default()));
        let mut stop = std::pin::pin!(ctx.shutdown.triggered());
        let mut stopped = false;
        // The ping timer and the shutdown signal wake the task through the alarm, so they are
        // polled only when one of them fired, not on every message.
        let alarm = Arc::new(Alarm {
            rang: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        let alarm_waker = Waker::from(Arc::clone(&alarm));
        let mut registered = false;
        // The ping timer is polled (armed) once the WebSocket is open.
        let mut armed = config.ping_interval.is_none();
        std::future::poll_fn(|cx| loop {
            if let Poll::Ready(result) = call.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            // The app waits in `receive`, which reads and writes for itself: unless a timer or
            // the shutdown signal fired, there is nothing to do here.
            let app_receiving = receiving.load(Ordering::Acquire);
            if app_receiving && registered && armed && !alarm.rang.load(Ordering::Acquire) {
                return Poll::Pending;
            }
            let Some(mut io) = io.try_lock() else {
                // A `send` (or `receive`) holds it: it is writing already.
                return Poll::Pending;
            };
            let WsIo { wire: w, read } = &mut *io;
            let mut changed = false;
            // Each wake through the alarm uses its registration up: it is renewed whenever this
            // path runs, which it does after every such wake.
            alarm.task.register(cx.waker());
            registered = true;
            if alarm.rang.swap(false, Ordering::AcqRel) || !armed {
                let mut timers = Context::from_waker(&alarm_waker);
                if !stopped && stop.as_mut().poll(&mut timers).is_ready() {
                    stopped = true;
                    changed |= close_for_shutdown(w);
                }
                let ticked_before = idle_tick.load(Ordering::Acquire);
                if let Some(closed) = ping_tick(w, config, ping.as_mut(), &idle_tick, &mut timers) {
                    armed = true;
                    changed |= closed;
                }
                if !ticked_before && idle_tick.load(Ordering::Acquire) {
                    if app_receiving {
                        // The app's waiting `receive` gives it back when polled again.
                        changed = true;
                    } else {
                        // The app is not reading: the buffer is given back here.
                        read.release_if_empty();
                        idle_tick.store(false, Ordering::Release);
                    }
                }
            }
            // Read for the app while it is not reading itself.
            if !app_receiving {
                changed |= read_aside(w, read, cx);
            }
            // A client that reads none of it for the send timeout is taken for gone.
            let stalled_before = w.send_stalled();
            if w.has_output()
                && !stalled_before
                && w.poll_flush_timed(cx).is_ready()
                && w.send_stalled()
            {
                if let Some(ws) = w.ws() {
                    ws.lost();
                }
                changed = true;
            }
            drop(io);
            if !changed {
                return Poll::Pending;
            }
            // The state changed under the app (a close, a message waiting): poll it again.
        })
        .await
    };

    // 5. The app returned.
    let WsIo { wire: w, read } = io.into_inner();
    let panic = result.as_ref().err().and_then(panicked);
    if panic.is_some() {
        ctx.counters.panic();
    }
    let ws = w.ws().expect("a WebSocket");
    let accepted = ws.session.is_some();
    match (&ws.phase, &result) {
        (Phase::Handshake, Ok(())) => {
            tracing::debug!(path, "WebSocket app returned without accepting: 403");
            ws.phase = Phase::Denied;
            answer(w, 403, Headers::new(), String::new()).await;
        }
        (Phase::Handshake, Err(error)) => {
            match &panic {
                Some(panic) => {
                    tracing::error!(path, %panic, "WebSocket app panicked before accepting")
                }
                None => tracing::error!(path, %error, "WebSocket app failed before accepting"),
            }
            ws.phase = Phase::Denied;
            answer(w, 500, Headers::new(), "Internal Server Error".into()).await;
        }
        (Phase::Open, result) => {
            let code = match result {
                Ok(()) => close_code::NORMAL,
                Err(error) => {
                    match &panic {
                        Some(panic) => {
                            tracing::error!(path, %panic, "WebSocket app panicked; closing with 1011")
                        }
                        None => {
                            tracing::error!(path, %error, "WebSocket app failed; closing with 1011")
                        }
                    }
                    close_code::INTERNAL_ERROR
                }
            };
            if let Some(session) = ws.session.as_mut() {
                let _ = session.close(code, "");
            }
            ws.closed_by_us(code, "");
        }
        (Phase::Denied, _) => {
            let outcome = w.conn().app_returned(result.is_err());
            tracing::debug!(path, ?outcome, "WebSocket handshake denied");
        }
        (Phase::Closed { .. }, Err(error)) => {
            tracing::debug!(path, %error, "WebSocket app failed after its close");
        }
        (Phase::Closed { .. }, Ok(())) => {}
    }
    let _ = w.flush().await;
    if accepted {
        // The client's close frame, for a clean closing handshake.
        let _ = tokio::time::timeout(config.close_timeout, await_close(read, w)).await;
        ctx.counters.websocket_closed();
    }
}

/// Check the handshake, negotiate, and make the scope and the WebSocket's state; `None` when
/// the handshake is refused (its answer queued).
fn begin<A, W: AsyncWrite + Unpin + Send>(
    ctx: &ConnContext<A>,
    peers: &Peers,
    request: &mut Option<Request>,
    w: &mut Wire<W>,
) -> Option<(WebSocketScope, String)> {
    let config = &ctx.config.websocket;
    let request = request.take()?;
    // A refusal (the server's or the app's) is the connection's last response.
    w.conn().stop();
    let offer = match handshake::check(&request.headers) {
        Ok(offer) => offer,
        Err(error) => {
            let mut headers = Headers::new();
            if error == handshake::HandshakeError::Version {
                headers.append("sec-websocket-version", "13");
            }
            queue_answer(w, error.status(), headers, error.to_string());
            tracing::debug!(%error, "refused a WebSocket handshake");
            return None;
        }
    };
    let deflate = if config.per_message_deflate {
        rasgi_ws::negotiate(offer.extensions.iter().map(|field| &field[..]))
    } else {
        None
    };
    let path = String::from_utf8_lossy(&request.path).into_owned();
    let scope = websocket_scope(
        request,
        ScopeParts {
            client: peers.client,
            server: peers.server,
            state: &ctx.state,
            root_path: &ctx.root_path,
            scheme: if peers.tls {
                Scheme::Https
            } else {
                Scheme::Http
            },
        },
        offer.subprotocols.clone(),
    );
    w.set_ws(WsState {
        phase: Phase::Handshake,
        session: None,
        accept: offer.accept,
        offered: offer.subprotocols,
        deflate,
        max_message_bytes: config.max_message_bytes,
        waiting: None,
        ping_sent: None,
        busy: false,
    });
    Some((scope, path))
}

/// The waker the ping timer and the shutdown signal are polled with: it notes that one of them
/// fired, then wakes the connection's task.
struct Alarm {
    rang: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Alarm {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.rang.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// Queue an HTTP answer of the server's own to the handshake (426, 400, 403, 500).
fn queue_answer<W: AsyncWrite + Unpin + Send>(
    w: &mut Wire<W>,
    status: u16,
    mut headers: Headers,
    body: String,
) {
    // `begin` has stopped the connection: the answer says `connection: close`.
    w.take_buffer();
    headers.append("content-type", "text/plain; charset=utf-8");
    headers.append("content-length", body.len().to_string());
    if send_message(w.conn(), Message::start(status, headers)).is_ok() {
        let _ = send_message(w.conn(), Message::body(Bytes::from(body)));
    }
}

/// Queue an HTTP answer of the server's own to the handshake (426, 400, 403, 500) and write it.
async fn answer<W: AsyncWrite + Unpin + Send>(
    w: &mut Wire<W>,
    status: u16,
    headers: Headers,
    body: String,
) {
    queue_answer(w, status, headers, body);
    let _ = w.flush().await;
}

/// The server is stopping: an open WebSocket is closed with 1001.
fn close_for_shutdown<W: AsyncWrite + Unpin + Send>(w: &mut Wire<W>) -> bool {
    let Some(ws) = w.ws() else { return false };
    if !matches!(ws.phase, Phase::Open) {
        return false;
    }
    if let Some(session) = ws.session.as_mut() {
        let _ = session.close(close_code::GOING_AWAY, "");
    }
    ws.closed_by_us(close_code::GOING_AWAY, "");
    true
}

/// Pings on the interval; a ping unanswered past the timeout closes with 1011. Returns whether
/// the WebSocket closed, or `None` when the timer was not looked at (not open, or no pings).
fn ping_tick<W: AsyncWrite + Unpin + Send>(
    w: &mut Wire<W>,
    config: &WebSocketConfig,
    mut timer: Pin<&mut Sleep>,
    idle_tick: &AtomicBool,
    cx: &mut Context<'_>,
) -> Option<bool> {
    let interval = config.ping_interval?;
    let ws = w.ws()?;
    let Phase::Open = ws.phase else { return None };
    loop {
        if timer.as_mut().poll(cx).is_pending() {
            return Some(false);
        }
        let now = Instant::now();
        match (ws.ping_sent, config.ping_timeout) {
            (Some(sent), Some(timeout)) if now >= sent + timeout => {
                tracing::debug!("WebSocket ping not answered in time; closing with 1011");
                if let Some(session) = ws.session.as_mut() {
                    let _ = session.close(close_code::INTERNAL_ERROR, "keepalive ping timeout");
                }
                ws.closed_by_us(close_code::INTERNAL_ERROR, "keepalive ping timeout");
                return Some(true);
            }
            (Some(sent), Some(timeout)) => timer.as_mut().reset(sent + timeout),
            _ => {
                // A tick: a WebSocket idle since the last one gives its buffers back.
                if !std::mem::take(&mut ws.busy) {
                    if let Some(buf) = ws.session.as_mut().and_then(Session::take_output_buffer) {
                        crate::buffers::give(buf);
                    }
                    idle_tick.store(true, Ordering::Release);
                }
                if let Some(session) = ws.session.as_mut() {
                    let _ = session.ping(b"");
                }
                ws.ping_sent.get_or_insert(now);
                let next = match config.ping_timeout {
                    Some(timeout) => now + timeout.min(interval),
                    None => now + interval,
                };
                timer.as_mut().reset(next);
            }
        }
    }
}

/// Read frames while the app is not in `receive`. Returns whether something changed that the
/// app should see (a message waiting, the WebSocket closed).
fn read_aside<R: AsyncRead + Unpin + Send, W: AsyncWrite + Unpin + Send>(
    w: &mut Wire<W>,
    read: &mut ReadSide<R>,
    cx: &mut std::task::Context<'_>,
) -> bool {
    let Some(ws) = w.ws() else { return false };
    if !matches!(ws.phase, Phase::Open) || ws.waiting.is_some() || read.is_eof() {
        return false;
    }
    loop {
        match ws.read_event(read.buf_mut()) {
            Some(event @ Event::WebSocketReceive(_)) => {
                ws.waiting = Some(event);
                return true;
            }
            Some(_) => return true,
            None => {}
        }
        match read.poll_fill_frames(cx, false) {
            Poll::Ready(true) => {}
            Poll::Ready(false) => {
                ws.lost();
                return true;
            }
            Poll::Pending => return false,
        }
    }
}

/// After this side's close: read until the client's close frame comes (or its stream ends).
async fn await_close<R, W>(read: &mut ReadSide<R>, w: &mut Wire<W>)
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    loop {
        {
            let Some(session) = w.ws().and_then(|ws| ws.session.as_mut()) else {
                return;
            };
            while !session.is_closed() {
                match session.read(read.buf_mut()) {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => break,
                }
            }
            let closed = session.is_closed();
            let _ = w.flush().await;
            if closed {
                return;
            }
        }
        if read.is_eof() || !std::future::poll_fn(|cx| read.poll_fill_frames(cx, false)).await {
            return;
        }
    }
}

/// What the app's `receive` and `send` and the driver share while a WebSocket is served.
struct WsIo<'w, R, W> {
    /// The protocol state and the write half.
    wire: &'w mut Wire<W>,
    /// The read half and its buffer.
    read: &'w mut ReadSide<R>,
}

/// The app's `receive` on a WebSocket.
struct WsReceive<'a, 'w, R, W> {
    /// The wire and the read half.
    io: &'a Lock<WsIo<'w, R, W>>,
    /// Set while a `receive` waits: the driver does not read for the app then.
    receiving: &'a AtomicBool,
    /// Set by a ping tick that found the WebSocket idle (see [`ping_tick`]).
    idle_tick: &'a AtomicBool,
    /// `WebSocketConnect` has been received.
    connected: bool,
}

impl<R, W> Receive for WsReceive<'_, '_, R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    fn receive(&mut self) -> impl Future<Output = Event> + Send {
        NextEvent {
            receive: self,
            queued: None,
        }
    }
}

/// A WebSocket `receive` in progress: every message's way, so a future of its own, with
/// nothing in it but where a write and a wait for the lock stand.
struct NextEvent<'s, 'a, 'w, R, W> {
    receive: &'s mut WsReceive<'a, 'w, R, W>,
    /// Waiting for the lock, which a `send` holds across a write.
    queued: Option<crate::lock::Acquire<'a, WsIo<'w, R, W>>>,
}

impl<R, W> Future for NextEvent<'_, '_, '_, R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
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

impl<R, W> Drop for NextEvent<'_, '_, '_, R, W> {
    fn drop(&mut self) {
        // Returned or given up: the driver reads for the app again.
        self.receive.receiving.store(false, Ordering::Release);
    }
}

impl<R, W> WsReceive<'_, '_, R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    /// One look for the app's next event: what waits to be written goes first, then frames
    /// are read until one makes an event or the read has to wait.
    fn look(&self, io: &mut WsIo<'_, R, W>, cx: &mut Context<'_>) -> Poll<Event> {
        let WsIo { wire: w, read } = io;
        if self.idle_tick.load(Ordering::Acquire) {
            // The tick has made the WebSocket idle: the wait below gives the buffer back.
            self.idle_tick.store(false, Ordering::Release);
        }
        loop {
            let Some(ws) = w.ws() else {
                return Poll::Ready(Event::WebSocketDisconnect {
                    code: close_code::ABNORMAL,
                    reason: String::new(),
                });
            };
            let event = match (ws.read_event(read.buf_mut()), &ws.phase) {
                (Some(event), _) => Some(event),
                // Not accepted yet: nothing can arrive before the 101.
                (None, Phase::Handshake) => Some(Event::WebSocketDisconnect {
                    code: close_code::ABNORMAL,
                    reason: "receive before accept".into(),
                }),
                (None, _) => None,
            };
            if let Some(event) = event {
                // A pong or close answer this read queued: written now if the socket takes
                // it, else by the driver or the next `receive`.
                if w.has_output() {
                    let _ = w.poll_flush(cx);
                }
                return Poll::Ready(event);
            }
            let keep = ws.busy;
            // The app's frames, pongs: out before the read waits. A client that stops reading
            // holds this up for the send timeout at most.
            if w.has_output() && w.poll_flush_timed(cx).is_pending() {
                return Poll::Pending;
            }
            match read.poll_fill_frames(cx, keep) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => {
                    if let Some(ws) = w.ws() {
                        ws.lost();
                    }
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The app's `send` on a WebSocket.
struct WsSender<'a, 'w, R, W> {
    /// The wire and the read half.
    io: &'a Lock<WsIo<'w, R, W>>,
    /// Where an opened WebSocket is counted.
    counters: &'a crate::ServerCounters,
}

impl<'a, 'w, R, W> Sender for WsSender<'a, 'w, R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
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
/// in the first poll (and written by the next `receive`); what has to wait (the lock, a write
/// past [`SEND_FLUSH_BYTES`]) and the rare messages (the handshake's answers, a close) go on
/// in a boxed future of their own, which would otherwise be room in every send's.
struct SendMessage<'a, 'w, R, W> {
    /// The wire and the read half.
    io: &'a Lock<WsIo<'w, R, W>>,
    /// Where an opened WebSocket is counted.
    counters: &'a crate::ServerCounters,
    /// The message, until the first poll.
    message: Option<Message>,
    /// The rest of the send, when it has to wait or is not a frame.
    rest: Option<SendRest<'a>>,
}

impl<'a, 'w, R, W> Future for SendMessage<'a, 'w, R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    type Output = Result<(), SendError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(message) = this.message.take() {
            let (io, counters) = (this.io, this.counters);
            this.rest = match io.try_lock() {
                Some(mut guard) => match queue_frame(guard.wire, message) {
                    Ok(false) => return Poll::Ready(Ok(())),
                    Err(QueueError::Refused) => return Poll::Ready(Err(SendError::Closed)),
                    queued => Some(Box::pin(async move {
                        finish_send(guard.wire, counters, queued).await
                    })),
                },
                None => Some(Box::pin(async move {
                    let mut guard = io.lock().await;
                    let queued = queue_frame(guard.wire, message);
                    finish_send(guard.wire, counters, queued).await
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

/// Why [`queue_frame`] did not queue a message.
enum QueueError {
    /// A frame the session refused (the WebSocket is closing).
    Refused,
    /// Not an open WebSocket's frame: the message, for [`send_other`].
    NotAFrame(Message),
}

/// Queue an open WebSocket's frame (`Ok(true)`: enough waits that it is written before the
/// send returns), or hand any other message back. Inlined into every send's first poll.
#[inline(always)]
fn queue_frame<W: AsyncWrite + Unpin + Send>(
    w: &mut Wire<W>,
    message: Message,
) -> Result<bool, QueueError> {
    let Message::WebSocketSend(data) = message else {
        return Err(QueueError::NotAFrame(message));
    };
    let Some(WsState {
        phase: Phase::Open,
        session: Some(session),
        ..
    }) = w.ws()
    else {
        return Err(QueueError::NotAFrame(Message::WebSocketSend(data)));
    };
    if !session.has_output_buffer() {
        session.give_output_buffer(crate::buffers::take());
    }
    let queued = match &data {
        WebSocketData::Text(text) => session.send_payload(true, text.as_bytes()),
        WebSocketData::Binary(bytes) => session.send_payload(false, bytes),
    };
    queued.map_err(|_| QueueError::Refused)?;
    Ok(session.output_len() >= SEND_FLUSH_BYTES)
}

/// The rest of a send after [`queue_frame`]: the write past the flush size, or the message
/// that is not a frame.
async fn finish_send<W: AsyncWrite + Unpin + Send>(
    w: &mut Wire<W>,
    counters: &crate::ServerCounters,
    queued: Result<bool, QueueError>,
) -> Result<(), SendError> {
    match queued {
        Ok(false) => Ok(()),
        Ok(true) => w.flush().await.map_err(|_| SendError::Disconnected),
        Err(QueueError::Refused) => Err(SendError::Closed),
        Err(QueueError::NotAFrame(message)) => send_other(w, counters, message).await,
    }
}

/// A `send` other than an open WebSocket's frame: the handshake's answer, a denial response's
/// body, a close, or a message out of order.
async fn send_other<W: AsyncWrite + Unpin + Send>(
    w: &mut Wire<W>,
    counters: &crate::ServerCounters,
    message: Message,
) -> Result<(), SendError> {
    w.take_buffer();
    let ws = w.ws().ok_or(SendError::Disconnected)?;
    match (&ws.phase, message) {
        (
            Phase::Handshake,
            Message::WebSocketAccept {
                subprotocol,
                headers,
            },
        ) => {
            if let Some(chosen) = &subprotocol {
                if !ws.offered.iter().any(|offered| offered == chosen) {
                    return Err(SendError::InvalidWebSocket(
                        "a subprotocol the client did not offer",
                    ));
                }
            }
            let mut fields = vec![
                (
                    Bytes::from_static(b"upgrade"),
                    Bytes::from_static(b"websocket"),
                ),
                (
                    Bytes::from_static(b"connection"),
                    Bytes::from_static(b"Upgrade"),
                ),
                (
                    Bytes::from_static(b"sec-websocket-accept"),
                    Bytes::from(ws.accept.clone()),
                ),
            ];
            if let Some(chosen) = subprotocol {
                fields.push((
                    Bytes::from_static(b"sec-websocket-protocol"),
                    Bytes::from(chosen),
                ));
            }
            if let Some((_, answer)) = &ws.deflate {
                fields.push((
                    Bytes::from_static(b"sec-websocket-extensions"),
                    Bytes::from(answer.clone()),
                ));
            }
            fields.extend(headers.into_fields());
            let session = Session::new(
                Role::Server,
                rasgi_ws::Config {
                    max_message_bytes: ws.max_message_bytes,
                    deflate: ws.deflate.as_ref().map(|(params, _)| *params),
                },
            );
            w.conn()
                .send_start(101, fields, false)
                .map_err(crate::asgi::send_error)?;
            // Open (and counted) before the 101 leaves: a client that has read it finds the
            // WebSocket open everywhere, the metrics included.
            let ws = w.ws().expect("a WebSocket");
            ws.session = Some(session);
            ws.phase = Phase::Open;
            counters.websocket_opened();
            // The 101 is in HTTP's output: write it before the first frame.
            w.flush().await.map_err(|_| SendError::Disconnected)
        }
        (Phase::Handshake, Message::WebSocketClose { .. }) => {
            ws.phase = Phase::Denied;
            queue_answer(w, 403, Headers::new(), String::new());
            w.flush().await.map_err(|_| SendError::Disconnected)
        }
        (Phase::Handshake, message @ Message::Start { .. }) => {
            ws.phase = Phase::Denied;
            let flush = send_message(w.conn(), message)?;
            if flush == rasgi_h1::conn::Flush::Now {
                w.flush().await.map_err(|_| SendError::Disconnected)?;
            }
            Ok(())
        }
        (Phase::Denied, message @ (Message::Body { .. } | Message::Trailers { .. })) => {
            // Boxed: a rare path, whose future would otherwise be room in every send's.
            w.send(message).await
        }
        // Queued by `queue_frame`; an open WebSocket without a session is not made.
        (Phase::Open, Message::WebSocketSend(_)) => Err(SendError::Closed),
        (Phase::Open, Message::WebSocketClose { code, reason }) => {
            let session = ws
                .session
                .as_mut()
                .expect("an open WebSocket has a session");
            session.close(code, &reason).map_err(|error| match error {
                rasgi_ws::SendError::InvalidCloseCode(_) => {
                    SendError::InvalidWebSocket("a close code that may not be sent")
                }
                rasgi_ws::SendError::ControlTooLong => {
                    SendError::InvalidWebSocket("a close reason over 123 bytes")
                }
                rasgi_ws::SendError::Closed => SendError::Closed,
            })?;
            ws.closed_by_us(code, &reason);
            w.flush().await.map_err(|_| SendError::Disconnected)?;
            Ok(())
        }
        (Phase::Closed { by_us: true, .. }, _) => Err(SendError::Closed),
        (Phase::Closed { by_us: false, .. }, _) => Err(SendError::Disconnected),
        (Phase::Handshake, Message::WebSocketSend(_)) => Err(SendError::OutOfOrder(
            "send before the WebSocket was accepted",
        )),
        (Phase::Open, Message::WebSocketAccept { .. })
        | (Phase::Denied, Message::WebSocketAccept { .. }) => {
            Err(SendError::OutOfOrder("the handshake was already answered"))
        }
        (Phase::Denied, _) => Err(SendError::OutOfOrder("the handshake was denied")),
        (_, _) => Err(SendError::WrongScope),
    }
}

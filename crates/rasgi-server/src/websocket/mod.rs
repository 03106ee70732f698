//! The WebSocket driver: a request its protocol's driver found to be a WebSocket handshake (an
//! HTTP/1.1 upgrade, or an HTTP/2 extended CONNECT, RFC 8441) is served here, from the app's
//! answer to the handshake to the closing handshake, over the same read half and writer (a
//! TCP connection's, or an HTTP/2 stream's as a byte pipe). The frames are [`rasgi_ws::Session`]'s and the ASGI rules
//! [`rules::AsgiWebSocket`]'s; this file is I/O and time around them, and the app's handles
//! are `handles.rs`'s.
//!
//! One WebSocket, in order:
//! 1. The handshake's fields are checked: a wrong version is answered 426 (with
//!    `Sec-WebSocket-Version: 13`), a bad key 400, without calling the app.
//! 2. The app runs inline, as for HTTP. Its first `receive` is `WebSocketConnect`; it answers
//!    with `WebSocketAccept` (the 101 is written; over HTTP/2, a 200), `WebSocketClose` (403), or an HTTP response
//!    (the denial response, through the stream's machine as any response is).
//! 3. While it is open, `receive` reads frames. Whenever the app is not in `receive`, the
//!    driver reads instead: pings are answered, pongs noted and a close answered even while the
//!    app only sends; a message that arrives then waits (one at most) for the app's next
//!    `receive`, and nothing more is read until it is taken. `send` queues frames; more than
//!    64 KiB waiting are written before `send` returns, so a client that stops reading makes
//!    `send` wait (up to the send timeout) instead of filling memory. A client that reads
//!    nothing for the send timeout while the app waits is taken for lost.
//! 4. Pings every `ping_interval`; a pong that does not come within `ping_timeout` closes the
//!    connection with 1011. A server shutdown closes it with 1001.
//! 5. When the app returns: a WebSocket still open is closed with 1000 (1011 if the app failed);
//!    one never accepted is answered 403 (500 if the app failed). The client's close frame is
//!    awaited for `close_timeout`, then the connection closes.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures::task::AtomicWaker;
use rasgi_h1::conn::Request;
use rasgi_protocol::panic::panicked;
use rasgi_protocol::panic::poll_catching;
use rasgi_protocol::{App, Headers, Scope, WebSocketScope};
use rasgi_ws::handshake;
use tokio::io::AsyncRead;
use tokio::time::{Instant, Sleep};

use crate::asgi::websocket_scope;
use crate::context::{ConnContext, Peers};
use crate::handshake::HandshakeStream;
use crate::lock::Lock;
use crate::reader::ReadSide;
use crate::request::scope_parts;
use crate::WebSocketConfig;
use handles::{queue_refusal, WsIo, WsReceive, WsSender};
use rules::{AsgiWebSocket, Verdict};

mod handles;
mod rules;

/// Serve the WebSocket `request` asks for, to its end, answering its handshake on `stream`.
/// The connection closes afterwards.
///
/// The request comes in a slot that is emptied before the first wait: passed by value, it
/// would keep its room in this (boxed, long-lived) future for the WebSocket's whole life.
pub(crate) async fn serve<R, H, A>(
    ctx: &ConnContext<A>,
    peers: &Peers,
    request: &mut Option<Request>,
    read: &mut ReadSide<R>,
    stream: &mut H,
) where
    R: AsyncRead + Unpin + Send,
    H: HandshakeStream,
    A: App,
{
    let Some(begun) = begin(ctx, peers, request, stream) else {
        // 1. Refused by the handshake's own rules: the answer is queued.
        let _ = std::future::poll_fn(|cx| stream.poll_flush_answer(cx)).await;
        return;
    };
    run(ctx, begun, read, stream).await;
}

/// Serve the WebSocket an HTTP/2 extended CONNECT (RFC 8441) asks for, to its end, over its
/// stream: the same driver as over HTTP/1.1, from the handshake's own rules on.
pub(crate) async fn serve_h2<R, H, A>(
    ctx: &ConnContext<A>,
    peers: &Peers,
    head: rasgi_h2::request::RequestHead,
    read: &mut ReadSide<R>,
    stream: &mut H,
) where
    R: AsyncRead + Unpin + Send,
    H: HandshakeStream,
    A: App,
{
    let Some(begun) = begin_h2(ctx, peers, head, stream) else {
        let _ = std::future::poll_fn(|cx| stream.poll_flush_answer(cx)).await;
        return;
    };
    run(ctx, begun, read, stream).await;
}

/// Steps 2 to 5, once the handshake's own rules let the WebSocket begin.
async fn run<R, H, A>(
    ctx: &ConnContext<A>,
    (scope, path, ws): (WebSocketScope, String, Box<AsgiWebSocket>),
    read: &mut ReadSide<R>,
    stream: &mut H,
) where
    R: AsyncRead + Unpin + Send,
    H: HandshakeStream,
    A: App,
{
    let config = &ctx.config.websocket;

    // 2-4. The app, inline, with the driver reading and pinging while it does not. Nothing
    // but this WebSocket uses the stream from here on: it is this function's for the
    // WebSocket's life, and the app's `receive` and `send` and the driver share it, the read
    // half and the rules behind one lock.
    let io = Lock::new(WsIo { stream, read, ws });
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
        // The app's future pinned where it is made; its panics are caught as it is polled.
        let mut call = std::pin::pin!(ctx.app.call(Scope::WebSocket(scope), receive, send));
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
            if let Poll::Ready(result) = poll_catching(call.as_mut(), cx) {
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
            let mut changed = false;
            // Each wake through the alarm uses its registration up: it is renewed whenever this
            // path runs, which it does after every such wake.
            alarm.task.register(cx.waker());
            registered = true;
            if alarm.rang.swap(false, Ordering::AcqRel) || !armed {
                let mut timers = Context::from_waker(&alarm_waker);
                if !stopped && stop.as_mut().poll(&mut timers).is_ready() {
                    stopped = true;
                    changed |= io.ws.close_for_shutdown();
                }
                let ticked_before = idle_tick.load(Ordering::Acquire);
                if let Some(closed) =
                    ping_tick(&mut io, config, ping.as_mut(), &idle_tick, &mut timers)
                {
                    armed = true;
                    changed |= closed;
                }
                if !ticked_before && idle_tick.load(Ordering::Acquire) {
                    if app_receiving {
                        // The app's waiting `receive` gives it back when polled again.
                        changed = true;
                    } else {
                        // The app is not reading: the buffer is given back here.
                        io.read.release_if_empty();
                        idle_tick.store(false, Ordering::Release);
                    }
                }
            }
            // Read for the app while it is not reading itself.
            if !app_receiving {
                changed |= read_aside(&mut io, cx);
            }
            // A client that reads none of it for the send timeout is taken for gone.
            let stalled_before = io.send_stalled();
            if io.has_output() && !stalled_before && io.poll_flush_timed(cx).is_ready() {
                changed |= io.send_stalled();
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
    let mut io = io.into_inner();
    let panic = result.as_ref().err().and_then(panicked);
    if panic.is_some() {
        ctx.counters.panic();
    }
    let accepted = io.ws.session().is_some();
    match io.ws.returned(result.is_err()) {
        Verdict::Refused(status) => {
            match (&panic, &result) {
                (Some(panic), _) => {
                    tracing::error!(path, %panic, "WebSocket app panicked before accepting")
                }
                (None, Err(error)) => {
                    tracing::error!(path, %error, "WebSocket app failed before accepting")
                }
                (None, Ok(())) => {
                    tracing::debug!(path, "WebSocket app returned without accepting: 403")
                }
            }
            let body = if status == 403 {
                String::new()
            } else {
                "Internal Server Error".into()
            };
            queue_refusal(io.stream, status, Headers::new(), body);
        }
        Verdict::Closed(code) => match (&panic, &result) {
            (Some(panic), _) => {
                tracing::error!(path, %panic, code, "WebSocket app panicked; closing")
            }
            (None, Err(error)) => {
                tracing::error!(path, %error, code, "WebSocket app failed; closing")
            }
            (None, Ok(())) => {}
        },
        Verdict::AnsweredInHttp => {
            let outcome = io.stream.answer_returned(result.is_err());
            tracing::debug!(path, ?outcome, "WebSocket handshake denied");
        }
        Verdict::AfterClose => {
            if let Err(error) = &result {
                tracing::debug!(path, %error, "WebSocket app failed after its close");
            }
        }
    }
    let _ = io.flush().await;
    if accepted {
        // The client's close frame, for a clean closing handshake.
        let _ = tokio::time::timeout(config.close_timeout, await_close(&mut io)).await;
        ctx.counters.websocket_closed();
    }
}

/// Check the handshake, negotiate, and make the scope and the WebSocket's rules; `None` when
/// the handshake is refused (its answer queued).
fn begin<A, H: HandshakeStream>(
    ctx: &ConnContext<A>,
    peers: &Peers,
    request: &mut Option<Request>,
    stream: &mut H,
) -> Option<(WebSocketScope, String, Box<AsgiWebSocket>)> {
    let config = &ctx.config.websocket;
    let request = request.take()?;
    // A refusal (the server's or the app's) is the connection's last response.
    stream.stop();
    let offer = offered(handshake::check(&request.headers), stream)?;
    let path = String::from_utf8_lossy(&request.path).into_owned();
    let scope = websocket_scope(request, scope_parts(ctx, peers), offer.subprotocols.clone());
    Some((scope, path, rules(config, offer)))
}

/// [`begin`] for an HTTP/2 extended CONNECT: its `:protocol` must be `websocket` (another is
/// answered 501), and it carries no key.
fn begin_h2<A, H: HandshakeStream>(
    ctx: &ConnContext<A>,
    peers: &Peers,
    head: rasgi_h2::request::RequestHead,
    stream: &mut H,
) -> Option<(WebSocketScope, String, Box<AsgiWebSocket>)> {
    if head.protocol.as_deref() != Some(&b"websocket"[..]) {
        let protocol = String::from_utf8_lossy(head.protocol.as_deref().unwrap_or_default());
        tracing::debug!(%protocol, "refused an extended CONNECT for another protocol");
        let body = format!("this server tunnels websocket only, not {protocol}");
        queue_refusal(stream, 501, Headers::new(), body);
        return None;
    }
    let request = crate::asgi::h2_request(head);
    let offer = offered(handshake::check_extended_connect(&request.fields), stream)?;
    let path = String::from_utf8_lossy(&request.path).into_owned();
    let scope = crate::asgi::h2_websocket_scope(
        request,
        scope_parts(ctx, peers),
        offer.subprotocols.clone(),
    );
    Some((scope, path, rules(&ctx.config.websocket, offer)))
}

/// The offer, or its refusal queued on `stream`.
fn offered<H: HandshakeStream>(
    checked: Result<handshake::Offer, handshake::HandshakeError>,
    stream: &mut H,
) -> Option<handshake::Offer> {
    match checked {
        Ok(offer) => Some(offer),
        Err(error) => {
            let mut headers = Headers::new();
            if error == handshake::HandshakeError::Version {
                headers.append("sec-websocket-version", "13");
            }
            queue_refusal(stream, error.status(), headers, error.to_string());
            tracing::debug!(%error, "refused a WebSocket handshake");
            None
        }
    }
}

/// The WebSocket's rules for an offer: extensions negotiated, limits set. Boxed, as the scope
/// is not: a binding of its own keeps room in the driver's future beside the lock's.
fn rules(config: &WebSocketConfig, offer: handshake::Offer) -> Box<AsgiWebSocket> {
    let deflate = if config.per_message_deflate {
        rasgi_ws::negotiate(offer.extensions.iter().map(|field| &field[..]))
    } else {
        None
    };
    Box::new(AsgiWebSocket::new(
        offer.accept,
        offer.subprotocols,
        deflate,
        config.max_message_bytes,
    ))
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

/// Pings on the interval; a ping unanswered past the timeout closes with 1011. Returns whether
/// the WebSocket closed, or `None` when the timer was not looked at (not open, or no pings).
fn ping_tick<R, H: HandshakeStream>(
    io: &mut WsIo<'_, R, H>,
    config: &WebSocketConfig,
    mut timer: Pin<&mut Sleep>,
    idle_tick: &AtomicBool,
    cx: &mut Context<'_>,
) -> Option<bool> {
    let interval = config.ping_interval?;
    if !io.ws.is_open() {
        return None;
    }
    loop {
        if timer.as_mut().poll(cx).is_pending() {
            return Some(false);
        }
        let now = Instant::now();
        let sent = io.ws.ping_sent().map(Instant::from_std);
        match (sent, config.ping_timeout) {
            (Some(sent), Some(timeout)) if now >= sent + timeout => {
                tracing::debug!("WebSocket ping not answered in time; closing with 1011");
                return Some(io.ws.close_for_ping_timeout());
            }
            (Some(sent), Some(timeout)) => timer.as_mut().reset(sent + timeout),
            _ => {
                // A tick: a WebSocket idle since the last one gives its buffers back.
                if io.ws.ping_tick(now.into_std()) {
                    if let Some(buf) = io.ws.session().and_then(|s| s.take_output_buffer()) {
                        crate::buffers::give(buf);
                    }
                    idle_tick.store(true, Ordering::Release);
                }
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
fn read_aside<R: AsyncRead + Unpin + Send, H: HandshakeStream>(
    io: &mut WsIo<'_, R, H>,
    cx: &mut Context<'_>,
) -> bool {
    if !io.ws.is_open() || io.ws.has_waiting() || io.read.is_eof() {
        return false;
    }
    loop {
        if let Some(changed) = io.ws.read_aside(io.read.buf_mut()) {
            return changed;
        }
        match io.read.poll_fill_frames(cx, false) {
            Poll::Ready(true) => {}
            Poll::Ready(false) => {
                io.ws.lost();
                return true;
            }
            Poll::Pending => return false,
        }
    }
}

/// After this side's close: read until the client's close frame comes (or its stream ends).
async fn await_close<R, H>(io: &mut WsIo<'_, R, H>)
where
    R: AsyncRead + Unpin + Send,
    H: HandshakeStream,
{
    loop {
        {
            let WsIo { read, ws, .. } = &mut *io;
            let Some(session) = ws.session() else {
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
            let _ = io.flush().await;
            if closed {
                return;
            }
        }
        if io.read.is_eof() || !std::future::poll_fn(|cx| io.read.poll_fill_frames(cx, false)).await
        {
            return;
        }
    }
}

//! The HTTP/1.1 driver: a plain async loop around the state machine
//! ([`rasgi_h1::ServerConn`]). It reads bytes and hands them over, runs the app inline with
//! `receive` and `send` bound to this connection, writes what the machine queued, keeps the
//! time, and goes on as the machine says. It makes no protocol decision of its own.
//!
//! One connection, in order:
//! 1. The head is read under the keep-alive timeout (idle) or the header-read timeout (once a
//!    byte has arrived); a head the machine refuses is answered by it, then the connection
//!    closes. A WebSocket handshake the machine may switch is handed back to the caller, whose
//!    WebSocket driver serves it.
//! 2. The app runs inline on this task: no task spawned, no channel per request.
//! 3. The machine judges how the app behaved ([`AppOutcome`]); this file logs the verdict and
//!    hands the request's background tasks over, or counts them dropped.
//! 4. The machine says what comes next ([`AfterExchange`]): the next request, draining an
//!    unread body first (within the header-read timeout), or a close.
//! 5. Responses to pipelined requests already in the buffer are gathered and written together;
//!    background tasks go to the executor once their response has been written.
//! 6. A lingering close, when the client may still be sending.

use std::future::Future;
use std::task::Poll;
use std::time::Instant;

use crate::lock::Lock;
use bytes::BytesMut;
use rasgi_background::{Batch, Executor};
use rasgi_h1::conn::{AfterExchange, AppOutcome, Request, Settings};
use rasgi_h1::ServerConn;
use rasgi_protocol::panic::panicked;
use rasgi_protocol::{catch_panic, App, AppError, BackgroundTasks, ByteStr, Scheme, Scope};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::asgi::{http_scope, ScopeParts};
use crate::context::{ConnContext, Ending, Peers};
use crate::handshake::{asks_for_websocket, SwitchToWebSocket};
use crate::reader::ReadSide;
use crate::ServerConfig;
use read::{drain_body, next_head, HeadError, RequestBody};
pub(crate) use wire::Wire;
use wire::{put_date, ResponseSender};

mod read;
mod wire;

/// Serve requests from `reader`/`writer` until the connection closes. A WebSocket handshake
/// the machine may switch is served by the `websocket` driver, on the same read half
/// and with this connection's wire as the stream it is answered on; the connection closes
/// after it.
pub(crate) async fn drive<R, W, A>(
    reader: R,
    writer: W,
    peers: &Peers,
    ctx: &ConnContext<A>,
    websocket: impl SwitchToWebSocket<A, R, Wire<W>>,
) -> Ending
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
    A: App,
{
    let config = &*ctx.config;
    // The wire's lock is taken only by an app's `receive` and `send` (and by this loop's
    // write-out while the app waits): the connection's own steps between requests reach the
    // wire through `get_mut`, taking nothing.
    let (mut read, mut wire) = sides(reader, writer, ctx);
    // One list per connection, reused: requests on a connection are served one at a time.
    let background = BackgroundTasks::new();
    let mut written_batches: Vec<Batch> = Vec::new();
    let mut first = true;
    let mut stop = std::pin::pin!(ctx.shutdown.triggered());
    let mut timer = std::pin::pin!(tokio::time::sleep(config.header_read_timeout));

    loop {
        // 1. The next head.
        let idle_timeout = if first {
            config.header_read_timeout
        } else {
            config.keep_alive_timeout
        };
        first = false;
        // The request is handed to `serve_request` in a slot it empties before its first await
        // (a request passed by value would stay in its future all along).
        let mut request = match next_head(
            &mut read,
            wire.get_mut(),
            idle_timeout,
            config.header_read_timeout,
            timer.as_mut(),
            stop.as_mut(),
        )
        .await
        {
            Ok(Some(request)) => Some(request),
            Ok(None) | Err(HeadError::Timeout) => break,
            Err(HeadError::Refused(status)) => {
                tracing::debug!(status, "refused a request head");
                break;
            }
        };
        // The request's own fields first: most requests are told apart without the lock.
        if request.as_ref().is_some_and(asks_for_websocket)
            && wire.get_mut().state().upgrade_offered()
        {
            // Boxed: inline, its state (the app's future for a WebSocket, the ping timer)
            // would be room in every connection's future, WebSocket or not.
            Box::pin(websocket.serve(ctx, peers, &mut request, &mut read, wire.get_mut())).await;
            break;
        }
        let next = serve_request(
            ctx,
            peers,
            &mut request,
            &mut read,
            &mut wire,
            &background,
            &mut written_batches,
        )
        .await;

        // 6. Write now unless more pipelined requests are already waiting.
        let w = wire.get_mut();
        let more_waiting = next == AfterExchange::KeepAlive && read.has_buffered();
        // A complete write-out hands the write buffer back to the pool.
        if !more_waiting || w.state().output_len() >= config.write_buffer_flush_bytes {
            let written = w.flush().await.is_ok();
            submit_written(&ctx.executor, &mut written_batches, written).await;
            // A write that failed or stalled past the send timeout ends the connection here:
            // the client is gone or not reading, and what is queued for it is dropped with it.
            if !written {
                break;
            }
        }
        if next != AfterExchange::KeepAlive {
            break;
        }
    }
    let w = wire.get_mut();
    if !w.send_stalled() {
        w.close().await;
    }
    let written = !w.state().client_gone();
    submit_written(&ctx.executor, &mut written_batches, written).await;
    let unread = w.state().reading_body();
    if w.send_stalled() {
        return Ending::Abort;
    }
    // 7. Closing while the client may still be sending (an unread body, pipelined requests):
    // read and drop a little, so the kernel does not answer with a reset that destroys the
    // response before the client has read it (a lingering close, as nginx does).
    if !read.is_eof() && (unread || read.has_buffered()) {
        read.linger(LINGER_BYTES, LINGER_TIME).await;
    }
    Ending::Closed
}

/// The state machine's settings, from the server's.
fn settings(config: &ServerConfig) -> Settings {
    Settings {
        limits: config.limits,
        max_body_bytes: config.max_body_bytes,
        drain_limit_bytes: config.drain_limit_bytes,
        server_header: config.server_header,
        date_line: config.date_header.then_some(put_date as fn(&mut BytesMut)),
    }
}

/// A connection's read side and its wire, as `ctx`'s settings make them.
fn sides<R, W, A>(reader: R, writer: W, ctx: &ConnContext<A>) -> (ReadSide<R>, Lock<Wire<W>>)
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    let config = &*ctx.config;
    let wire = Wire::new(
        writer,
        settings(config),
        config.send_timeout,
        ctx.counters.clone(),
    );
    (
        ReadSide::new(reader, config.body_read_timeout),
        Lock::new(wire),
    )
}

/// The bytes of one request's future over `reader` and `writer` (built, never polled).
pub(crate) fn request_future_bytes<R, W, A>(reader: R, writer: W, ctx: &ConnContext<A>) -> usize
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
    A: App,
{
    let (mut read, mut wire) = sides(reader, writer, ctx);
    let background = BackgroundTasks::new();
    let (mut request, mut batches) = (None, Vec::new());
    let peers = Peers::default();
    let future = serve_request(
        ctx,
        &peers,
        &mut request,
        &mut read,
        &mut wire,
        &background,
        &mut batches,
    );
    std::mem::size_of_val(&future)
}

/// One request, from its head to the end of its response (steps 2 to 5); returns what the
/// connection does next. Its own function, so that the connection's future holds the
/// request's state and the app's future in one slot, shared with the wait for the next head.
async fn serve_request<R, W, A>(
    ctx: &ConnContext<A>,
    peers: &Peers,
    request: &mut Option<Request>,
    read: &mut ReadSide<R>,
    wire: &mut Lock<Wire<W>>,
    background: &BackgroundTasks,
    written_batches: &mut Vec<Batch>,
) -> AfterExchange
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
    A: App,
{
    let config = &*ctx.config;
    // Everything taken from the request, in a block: locals that were borrowed keep their room
    // in this function's future until they go out of scope, and the request is large.
    let (scope, method, path) = {
        let Some(request) = request.take() else {
            return AfterExchange::Close;
        };
        let parts = ScopeParts {
            client: peers.client,
            server: peers.server,
            state: &ctx.state,
            root_path: &ctx.root_path,
            scheme: if peers.tls {
                Scheme::Https
            } else {
                Scheme::Http
            },
        };
        let scope = http_scope(request, parts, background.for_next_response());
        let (method, path) = (scope.method.clone(), scope.path.clone());
        (Scope::Http(scope), method, path)
    };
    let started = config.access_log.then(Instant::now);

    // 3. The app, inline, sharing the wire with its `receive` and `send`.
    let result = {
        let wire = &*wire;
        let receive = RequestBody::new(&mut *read, wire, &ctx.counters);
        let send = ResponseSender::new(wire, &ctx.shutdown);
        let mut call = std::pin::pin!(catch_panic(ctx.app.call(scope, receive, send)));
        std::future::poll_fn(|cx| {
            if let Poll::Ready(result) = call.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            // The app waits: what it has streamed, and the responses to earlier pipelined
            // requests, go out now rather than wait with it. (If a `send` holds the wire, it
            // is writing already.) A client that reads none of it for the send timeout ends
            // the exchange here, the app's future and what it holds with it.
            if let Some(mut w) = wire.try_lock() {
                if w.state().has_output() && w.poll_flush_timed(cx).is_ready() && w.send_stalled() {
                    return Poll::Ready(Err(AppError::from(STALLED_WHILE_THE_APP_WAITED)));
                }
            }
            Poll::Pending
        })
        .await
    };

    // 4. The state machine judges how the app behaved; the server logs it.
    let w = wire.get_mut();
    let panic = result.as_ref().err().and_then(panicked);
    if panic.is_some() {
        w.conn().app_panicked();
        ctx.counters.panic();
    }
    let outcome = w.conn().app_returned(result.is_err());
    let (tasks, request_id) = background.take_with_request_id();
    let request_id = || request_id.as_deref().map(String::from_utf8_lossy);
    match panic {
        Some(panic) => {
            let id = request_id();
            let id = id.as_deref().unwrap_or("-");
            tracing::error!(%method, %path, request_id = id, %panic, "app panicked; closing the connection");
        }
        None if w.state().client_gone() => {
            let error = result.as_ref().err().map(ToString::to_string);
            tracing::debug!(%method, %path, ?outcome, ?error, "the client left mid-exchange");
        }
        None => log_outcome(outcome, &method, &path, result.as_ref().err()),
    }
    if !tasks.is_empty() {
        let label = match request_id() {
            Some(id) => format!("{method} {path} (request id {id})"),
            None => format!("{method} {path}"),
        };
        let batch = Batch {
            label: label.into(),
            tasks,
        };
        if panic.is_some() {
            ctx.executor.drop_batch(batch, "the app panicked");
        } else if outcome.response_complete() {
            written_batches.push(batch);
        } else {
            ctx.executor
                .drop_batch(batch, "the response did not complete");
        }
    }
    log_access(peers, &method, &path, w.state(), started);

    // 5. What next; an unread body is drained, or the connection closes.
    if ctx.shutdown.is_triggered() {
        w.conn().stop();
    }
    let next = w.conn().finish();
    if next == AfterExchange::Drain {
        return if drain_body(read, w, config.header_read_timeout).await {
            AfterExchange::KeepAlive
        } else {
            AfterExchange::Close
        };
    }
    next
}

/// One log line for an app that misbehaved (nothing for one that did not).
fn log_outcome(outcome: AppOutcome, method: &ByteStr, path: &ByteStr, error: Option<&AppError>) {
    let error = error.map(|e| e.to_string()).unwrap_or_default();
    match outcome {
        AppOutcome::Complete | AppOutcome::Upgraded | AppOutcome::BodyRefused(_) => {}
        AppOutcome::FailedBeforeStart => {
            tracing::error!(%method, %path, %error, "app failed before its response started");
        }
        AppOutcome::NoResponse => {
            tracing::error!(%method, %path, "app returned without sending a response");
        }
        AppOutcome::FailedAfterStart => {
            tracing::error!(%method, %path, %error, "app failed after its response started; closing");
        }
        AppOutcome::ReturnedEarly => {
            tracing::error!(%method, %path, "app returned before its final body; closing");
        }
        AppOutcome::FailedAfterComplete => {
            tracing::error!(%method, %path, %error, "app failed after its response completed");
        }
    }
}

/// The error an app's call ends with when its client stopped reading while the app waited.
const STALLED_WHILE_THE_APP_WAITED: &str = "the client stopped reading while the app waited";

/// Most bytes read and dropped while lingering before a close.
const LINGER_BYTES: usize = 256 * 1024;
/// Longest linger before a close.
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// Hand the batches whose responses have been written to the executor (or count them as
/// dropped when the write failed). Waits while the executor's queue is full: the connection
/// serves its next request only then.
async fn submit_written(executor: &Executor, batches: &mut Vec<Batch>, written: bool) {
    for batch in batches.drain(..) {
        if written {
            executor.submit(batch).await;
        } else {
            executor.drop_batch(batch, "the response could not be written");
        }
    }
}

fn log_access(
    peers: &Peers,
    method: &ByteStr,
    path: &ByteStr,
    conn: &ServerConn,
    started: Option<Instant>,
) {
    let Some(started) = started else {
        return;
    };
    let client = peers
        .client
        .map_or_else(|| "-".to_string(), |addr| addr.to_string());
    tracing::info!(
        target: "rasgi::access",
        "{client} \"{method} {path}\" {} {}B {:.3}ms",
        conn.status(),
        conn.body_bytes(),
        started.elapsed().as_secs_f64() * 1000.0
    );
}

//! The HTTP/1.1 driver: a plain async loop around the state machine
//! ([`rasgi_h1::ServerConn`]). It reads bytes and hands them over, runs the app inline with
//! `receive` and `send` bound to this connection, writes what the machine queued, keeps the
//! time, and goes on as the machine says. It makes no protocol decision of its own.
//!
//! One connection, in order:
//! 1. The head is read under the keep-alive timeout (idle) or the header-read timeout (once a
//!    byte has arrived); a head the machine refuses is answered by it, then the connection
//!    closes. A WebSocket handshake the machine may switch is served by the WebSocket driver
//!    the caller hands in, and the connection closes after it.
//! 2. The app runs inline on this task: no task spawned, no channel per request.
//! 3. The request layer (`request.rs`) makes the scope, runs the app and has the machine judge
//!    how it behaved; it logs the verdict and hands the request's background tasks over, or
//!    counts them dropped.
//! 4. The machine says what comes next ([`AfterExchange`]): the next request, draining an
//!    unread body first (within the header-read timeout), or a close.
//! 5. Responses to pipelined requests already in the buffer are gathered and written together;
//!    background tasks go to the executor once their response has been written.
//! 6. A lingering close, when the client may still be sending.

use std::time::Instant;

use crate::lock::Lock;
use bytes::BytesMut;
use rasgi_background::{Batch, Executor};
use rasgi_h1::conn::{AfterExchange, Http2Preface, Request, Settings};
use rasgi_protocol::{App, BackgroundTasks};
use tokio::io::AsyncRead;

use crate::config::HttpVersions;
use crate::context::{ConnContext, Ending, Peers, SwitchToHttp2};
use crate::file_send::Transport;
use crate::handshake::{asks_for_websocket, SwitchToWebSocket};
use crate::reader::ReadSide;
use crate::request::{self, Judged};
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
    http2: impl SwitchToHttp2<A, R, W>,
) -> Ending
where
    R: AsyncRead + Unpin + Send,
    W: Transport,
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
    let mut switch_to_http2 = false;
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
            Err(HeadError::Http2) => {
                // Switched outside this `match`, whose value would otherwise be kept
                // through the switch.
                switch_to_http2 = true;
                break;
            }
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
    if switch_to_http2 {
        // Boxed: the HTTP/2 driver's state is no room in an HTTP/1.1 connection's future.
        let mut writer = wire.into_inner().into_io();
        return Box::pin(http2.serve(ctx, peers, &mut read, &mut writer)).await;
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
    // 6. Closing while the client may still be sending (an unread body, pipelined requests):
    // read and drop a little, so the kernel does not answer with a reset that destroys the
    // response before the client has read it (a lingering close, as nginx does).
    if !read.is_eof() && (unread || read.has_buffered()) {
        read.linger(LINGER_BYTES, LINGER_TIME).await;
    }
    Ending::Closed
}

/// The state machine's settings, from the server's.
fn settings<A>(ctx: &ConnContext<A>) -> Settings {
    let config = &*ctx.config;
    Settings {
        limits: config.limits,
        max_body_bytes: config.max_body_bytes,
        drain_limit_bytes: config.drain_limit_bytes,
        server_header: config.server_header,
        default_fields: ctx.default_fields.clone(),
        date_line: config.date_header.then_some(put_date as fn(&mut BytesMut)),
        http2: match config.http {
            HttpVersions::Auto => Http2Preface::Accepted,
            HttpVersions::Http1 => Http2Preface::Ignored,
            HttpVersions::Http2 => Http2Preface::Required,
        },
    }
}

/// A connection's read side and its wire, as `ctx`'s settings make them.
fn sides<R, W, A>(reader: R, writer: W, ctx: &ConnContext<A>) -> (ReadSide<R>, Lock<Wire<W>>)
where
    R: AsyncRead + Unpin + Send,
    W: Transport,
{
    let config = &*ctx.config;
    let wire = Wire::new(
        writer,
        settings(ctx),
        config.send_timeout,
        ctx.counters.clone(),
    );
    (
        ReadSide::new(reader, config.body_read_timeout),
        Lock::new(wire),
    )
}

#[cfg(feature = "test-support")]
/// The bytes of one request's future over `reader` and `writer` (built, never polled).
pub(crate) fn request_future_bytes<R, W, A>(reader: R, writer: W, ctx: &ConnContext<A>) -> usize
where
    R: AsyncRead + Unpin + Send,
    W: Transport,
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
    W: Transport,
    A: App,
{
    let config = &*ctx.config;
    // 2. The scope, taken from the request in a block: locals that were borrowed keep their
    // room in this function's future until they go out of scope, and the request is large.
    let (scope, method, path) = {
        let Some(request) = request.take() else {
            return AfterExchange::Close;
        };
        request::http_scope(ctx, peers, request, background.for_next_response())
    };
    let started = config.access_log.then(Instant::now);

    // 3. The app, inline, sharing the wire with its `receive` and `send`.
    let result = {
        let wire = &*wire;
        let receive = RequestBody::new(&mut *read, wire, &ctx.counters);
        let send = ResponseSender::new(wire, &ctx.shutdown);
        let call = std::pin::pin!(ctx.app.call(scope, receive, send));
        request::call_app(call, wire).await
    };

    // 4. The state machine judges how the app behaved; the request layer logs it.
    let w = wire.get_mut();
    let judged = Judged {
        method: &method,
        path: &path,
        started,
        background,
    };
    request::judge(ctx, peers, w, &result, judged, written_batches);

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

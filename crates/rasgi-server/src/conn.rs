//! The connection driver: a plain async loop that reads a request head, calls the app inline
//! with `receive` and `send` bound to this connection, finishes the response, and goes on to
//! the next request.
//!
//! The rules, in the order one request meets them:
//! 1. The head is read under the keep-alive timeout (idle) or the header-read timeout (once a
//!    byte has arrived); a refused head is answered with its status, then the connection closes.
//! 2. HTTP/1.1 needs exactly one `Host` (400); a declared body over the limit is 413.
//! 3. The app runs inline on this task: no task spawned, no channel per request.
//! 4. App misbehaviour is judged here, once: an error or a return before anything was written
//!    gets a 500 and a close; an error after the response started, or a response left
//!    incomplete, closes the connection.
//! 5. An unread body is drained up to a limit, or the connection closes.
//! 6. Responses to pipelined requests already in the buffer are gathered and written together;
//!    background tasks are handed to the executor once their response has been written.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use futures::lock::Mutex;
use rasgi_background::{Batch, Executor};
use rasgi_h1::Version;
use rasgi_protocol::{App, BackgroundTasks, ByteStr, Scope, State};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::read::{HeadError, ReadSide, RequestBody, RequestHead, ScopeParts};
use crate::write::{lock, RequestFacts, Response, ResponseSender, WriteSide};
use crate::{ServerConfig, Shutdown};

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
        }
    }
}

/// The transport's addresses, for the scope.
#[derive(Debug, Clone, Copy, Default)]
pub struct Peers {
    /// The client's address.
    pub client: Option<std::net::SocketAddr>,
    /// The server's address.
    pub server: Option<std::net::SocketAddr>,
}

/// Serve requests from `reader`/`writer` until the connection closes.
pub(crate) async fn drive<R, W, A>(reader: R, writer: W, peers: &Peers, ctx: &ConnContext<A>)
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
    A: App,
{
    let config = &*ctx.config;
    let mut read = ReadSide::new(reader);
    let write = Mutex::new(WriteSide::new(
        writer,
        config.date_header,
        config.server_header,
        ctx.shutdown.clone(),
    ));
    // One list per connection, reused: requests on a connection are served one at a time.
    let background = BackgroundTasks::new();
    let mut written_batches: Vec<Batch> = Vec::new();
    let mut first = true;
    let mut shutdown = ctx.shutdown.listener();
    let mut stop = std::pin::pin!(shutdown.fired());
    let mut timer = std::pin::pin!(tokio::time::sleep(config.header_read_timeout));

    loop {
        // 1. The next head.
        let idle_timeout = if first {
            config.header_read_timeout
        } else {
            config.keep_alive_timeout
        };
        first = false;
        // The head is handed to `serve_request` in a slot it empties before its first await (a
        // head passed by value would stay in its future all along).
        let (mut head, refused) = match read
            .next_head(
                &config.limits,
                idle_timeout,
                config.header_read_timeout,
                timer.as_mut(),
                stop.as_mut(),
            )
            .await
        {
            Ok(Some(next)) => (Some(next), None),
            Ok(None) | Err(HeadError::Timeout) => break,
            Err(HeadError::Invalid(error)) => (None, Some(error)),
        };
        if let Some(error) = refused {
            tracing::debug!(%error, "refused a request head");
            let mut w = lock(&write).await;
            w.begin(RequestFacts {
                version: Version::Http11,
                head: false,
                keep_alive: false,
            });
            w.error_response(error.status(), status_text(error.status()));
            break;
        }
        let keep_alive = serve_request(
            ctx,
            peers,
            &mut head,
            &mut read,
            &write,
            &background,
            &mut written_batches,
        )
        .await;

        // 6. Write now unless more pipelined requests are already waiting.
        let mut w = lock(&write).await;
        let more_waiting = !read.buf.is_empty() && keep_alive;
        if !more_waiting || w.buffered() >= config.write_buffer_flush_bytes {
            let flushed = w.flush().await.is_ok();
            submit_written(&ctx.executor, &mut written_batches, flushed);
        }
        if !more_waiting {
            w.release_buffer();
        }
        if !keep_alive {
            break;
        }
    }
    let mut w = lock(&write).await;
    w.close().await;
    submit_written(&ctx.executor, &mut written_batches, !w.gone);
    drop(w);
    // 7. Closing while the client may still be sending (an unread body, pipelined requests):
    // read and drop a little, so the kernel does not answer with a reset that destroys the
    // response before the client has read it (a lingering close, as nginx does).
    if !read.eof && (read.body.is_some() || !read.buf.is_empty()) {
        read.linger(LINGER_BYTES, LINGER_TIME).await;
    }
}

/// One request, from its head to the end of its response (steps 2 to 5); returns whether the
/// connection can serve another. Its own function, so that the connection's future holds the
/// request's state and the app's future in one slot, shared with the wait for the next head.
async fn serve_request<R, W, A>(
    ctx: &ConnContext<A>,
    peers: &Peers,
    head: &mut Option<RequestHead>,
    read: &mut ReadSide<R>,
    write: &Mutex<WriteSide<W>>,
    background: &BackgroundTasks,
    written_batches: &mut Vec<Batch>,
) -> bool
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
    A: App,
{
    let config = &*ctx.config;
    // Everything taken from the head, in a block: locals that were borrowed keep their room in
    // this function's future until they go out of scope, and the head is large.
    let (scope, facts, method, path, refusal) = {
        let Some(head) = head.take() else {
            return false;
        };
        let facts = RequestFacts {
            version: head.version,
            head: head.method == "HEAD",
            keep_alive: head.keep_alive,
        };
        let method = head.method.clone();
        let path = head.path.clone();

        // 2. Checks the server makes before the app sees the request.
        let refusal = if head.version == Version::Http11 && head.host_count != 1 {
            Some(400)
        } else if matches!(head.body, rasgi_h1::BodyKind::Length(n) if n > config.max_body_bytes) {
            Some(413)
        } else {
            None
        };
        let parts = ScopeParts {
            client: peers.client,
            server: peers.server,
            state: &ctx.state,
            root_path: &ctx.root_path,
            background,
        };
        let scope = Scope::Http(head.into_scope(&parts));
        (scope, facts, method, path, refusal)
    };
    let started = config.access_log.then(Instant::now);
    {
        // Between requests nothing else holds the write side.
        let mut w = lock(write).await;
        w.begin(facts);
        if let Some(status) = refusal {
            w.error_response(status, status_text(status));
            log_access(peers, &method, &path, &w, started);
            return false;
        }
    }

    // 3. The app, inline.
    let outcome = {
        let receive = RequestBody {
            read: &mut *read,
            write,
            max_body_bytes: config.max_body_bytes,
            finished: false,
        };
        let send = ResponseSender { write };
        let mut call = std::pin::pin!(ctx.app.call(scope, receive, send));
        std::future::poll_fn(|cx| {
            if let Poll::Ready(outcome) = call.as_mut().poll(cx) {
                return Poll::Ready(outcome);
            }
            // The app waits: what it has streamed goes out now rather than wait with it.
            // (If a `send` holds the write side, it is writing already.)
            if let Some(mut w) = write.try_lock() {
                if w.unflushed {
                    let _ = w.poll_flush(cx);
                }
            }
            Poll::Pending
        })
        .await
    };

    // 4. Judge how the app behaved.
    let mut w = lock(write).await;
    let complete = matches!(w.response, Response::Complete);
    match (&outcome, w.aborted) {
        (_, Some(status)) if w.nothing_written() => {
            w.error_response(status, status_text(status));
        }
        (Err(error), None) if w.nothing_written() => {
            tracing::error!(%method, %path, %error, "app failed before its response started");
            w.error_response(500, "Internal Server Error");
        }
        (Ok(()), None) if w.nothing_written() => {
            tracing::error!(%method, %path, "app returned without sending a response");
            w.error_response(500, "Internal Server Error");
        }
        (Err(error), _) if !complete => {
            tracing::error!(%method, %path, %error, "app failed after its response started; closing");
            w.keep_alive = false;
        }
        (Ok(()), _) if !complete => {
            tracing::error!(%method, %path, "app returned before its final body; closing");
            w.keep_alive = false;
        }
        (Err(error), _) => {
            tracing::error!(%method, %path, %error, "app failed after its response completed");
        }
        (Ok(()), _) => {}
    }
    let tasks = background.take();
    if !tasks.is_empty() {
        let label = match &w.request_id {
            Some(id) => format!(
                "{method} {path} (request id {})",
                String::from_utf8_lossy(id)
            ),
            None => format!("{method} {path}"),
        };
        let batch = Batch {
            label: label.into(),
            tasks,
        };
        if complete {
            written_batches.push(batch);
        } else {
            ctx.executor
                .drop_batch(batch, "the response did not complete");
        }
    }
    log_access(peers, &method, &path, &w, started);

    // 5. An unread body: drain it, or close.
    let mut keep_alive = w.keep_alive && !w.gone && !ctx.shutdown.is_triggered();
    drop(w);
    if keep_alive && read.body.is_some() {
        keep_alive = !read.continue_pending
            && read
                .drain_body(config.drain_limit_bytes, config.header_read_timeout)
                .await;
    }
    keep_alive
}

/// Most bytes read and dropped while lingering before a close.
const LINGER_BYTES: usize = 256 * 1024;
/// Longest linger before a close.
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// Hand the batches whose responses have been written to the executor (or count them as
/// dropped when the write failed).
fn submit_written(executor: &Executor, batches: &mut Vec<Batch>, written: bool) {
    for batch in batches.drain(..) {
        if written {
            executor.submit(batch);
        } else {
            executor.drop_batch(batch, "the response could not be written");
        }
    }
}

fn log_access<W>(
    peers: &Peers,
    method: &ByteStr,
    path: &ByteStr,
    write: &WriteSide<W>,
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
        write.status,
        write.body_bytes,
        started.elapsed().as_secs_f64() * 1000.0
    );
}

/// The body of the server's own error responses.
pub(crate) fn status_text(status: u16) -> &'static str {
    match rasgi_h1::reason_phrase(status) {
        "" => "Error",
        reason => reason,
    }
}

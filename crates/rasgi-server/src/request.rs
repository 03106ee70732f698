//! The request layer: what happens to one request whatever protocol brought it. A protocol's
//! driver reads the head and owns the stream; this module makes the scope, runs the app (a
//! panic caught, the stream writing for the app while it waits), judges the outcome once
//! through the stream's machine, logs it once, and hands the request's background tasks over
//! once the response is complete (or counts them dropped).
//!
//! One request, in order:
//! 1. [`http_scope`]: the head becomes the `http` scope, with the request's background list.
//! 2. [`call_app`]: the app runs inline; while it waits, its stream writes out what it has sent
//!    ([`WhileTheAppWaits`]), and a peer that reads none of it for the send timeout ends the
//!    call.
//! 3. [`judge`]: the stream's machine judges how the app behaved ([`RequestStream`]), the
//!    verdict is logged, the access line written, and the background batch kept for the
//!    write-out, or dropped.
//!
//! It is a set of functions the driver composes, and its one future is the app's call: the
//! app's future stays in the driver's one slot per request, with no second copy of the
//! request's state.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use rasgi_background::Batch;
use rasgi_h1::conn::Request;
use rasgi_protocol::panic::{panicked, poll_catching};
use rasgi_protocol::{AppError, BackgroundTasks, ByteStr, Scheme, Scope};

use crate::asgi::{self, ScopeParts};
use crate::context::{ConnContext, Peers};

/// How the app behaved, as its stream's machine judged it: the same verdicts for every
/// protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The response is complete.
    Complete,
    /// The app failed after its response was complete: the response stands.
    FailedAfterComplete,
    /// The request body was refused before the response started: answered with this status.
    BodyRefused(u16),
    /// The app failed before its response started: the server answered 500.
    FailedBeforeStart,
    /// The app returned without a response: the server answered 500.
    NoResponse,
    /// The app failed after its response started: the body is cut.
    FailedAfterStart,
    /// The app returned before its final body: the body is cut.
    ReturnedEarly,
    /// The app switched protocols.
    Upgraded,
}

impl Verdict {
    /// Whether the app's own response went out whole (so its background tasks may run).
    pub(crate) fn response_complete(self) -> bool {
        matches!(self, Verdict::Complete | Verdict::FailedAfterComplete)
    }
}

/// What the request layer asks of the stream a request came in on, once the app returned.
pub(crate) trait RequestStream {
    /// The app panicked (told before [`RequestStream::app_returned`]): the stream's
    /// connection serves nothing after this request.
    fn app_panicked(&mut self);
    /// The app gave up on a request body longer than it takes (told before
    /// [`RequestStream::app_returned`]): `status` answers the request if nothing was sent.
    fn app_refused_body(&mut self, status: u16);
    /// The app returned (`failed`: with an error): the machine's verdict, with the server's
    /// own answer queued where one is due.
    fn app_returned(&mut self, failed: bool) -> Verdict;
    /// Whether the peer left (or a write to it failed) during the exchange.
    fn client_gone(&self) -> bool;
    /// The request's HTTP version as the access line names it (`1.1`, `2`).
    fn http_version(&self) -> &'static str;
    /// The status written, for the access line.
    fn status(&self) -> u16;
    /// Body bytes written, for the access line.
    fn body_bytes(&self) -> u64;
}

/// What the stream does while the app waits.
pub(crate) trait WhileTheAppWaits {
    /// Write out what the app has sent; `true` once the peer has read none of it for the send
    /// timeout (the call then ends).
    fn poll_stalled(&self, cx: &mut Context<'_>) -> bool;
}

/// The error an app's call ends with when its peer stopped reading while the app waited.
const STALLED_WHILE_THE_APP_WAITED: &str = "the client stopped reading while the app waited";

/// Step 1: the `http` scope for `request`, with its method and path for the log.
#[inline]
pub(crate) fn http_scope<A>(
    ctx: &ConnContext<A>,
    peers: &Peers,
    request: Request,
    background: BackgroundTasks,
) -> (Scope, ByteStr, ByteStr) {
    let scope = asgi::http_scope(request, scope_parts(ctx, peers), background);
    let (method, path) = (scope.method.clone(), scope.path.clone());
    (Scope::Http(scope), method, path)
}

/// What every scope of a connection shares: the peers, the scheme, the lifespan state and
/// the root path (for `http` scopes here, and for the WebSocket driver's).
pub(crate) fn scope_parts<'c, A>(ctx: &'c ConnContext<A>, peers: &'c Peers) -> ScopeParts<'c> {
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
        tls: peers.tls_info.as_ref(),
    }
}

/// Step 2: the app's call (pinned where the driver keeps it, not moved into a wrapper), its
/// panics caught as it is polled, with the stream writing for it while it waits.
pub(crate) fn call_app<'a, F, W>(
    mut call: Pin<&'a mut F>,
    waiting: &'a W,
) -> impl Future<Output = Result<(), AppError>> + Send + 'a
where
    F: Future<Output = Result<(), AppError>> + Send,
    W: WhileTheAppWaits + Sync,
{
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(result) = poll_catching(call.as_mut(), cx) {
            return Poll::Ready(result);
        }
        // The app waits: what it has streamed goes out now rather than wait with it. A peer
        // that reads none of it for the send timeout ends the exchange here, the app's future
        // and what it holds with it.
        if waiting.poll_stalled(cx) {
            return Poll::Ready(Err(AppError::from(STALLED_WHILE_THE_APP_WAITED)));
        }
        Poll::Pending
    })
}

/// What step 3 is told of the request.
pub(crate) struct Judged<'r> {
    /// The method, for the log.
    pub method: &'r ByteStr,
    /// The path, for the log.
    pub path: &'r ByteStr,
    /// When the app was called, when the access line is written.
    pub started: Option<Instant>,
    /// The request's background list.
    pub background: &'r BackgroundTasks,
}

/// Step 3: the verdict on the app's `result`, logged once; the access line; the background
/// batch kept in `written_batches` until the response is written, or dropped and counted; and
/// at the request limit, the server's graceful shutdown.
#[inline]
pub(crate) fn judge<A, S: RequestStream>(
    ctx: &ConnContext<A>,
    peers: &Peers,
    stream: &mut S,
    result: &Result<(), AppError>,
    request: Judged<'_>,
    written_batches: &mut Vec<Batch>,
) {
    let Judged {
        method,
        path,
        started,
        background,
    } = request;
    let panic = result.as_ref().err().and_then(panicked);
    if panic.is_some() {
        stream.app_panicked();
        ctx.counters.panic();
    }
    if let Some(status) = result.as_ref().err().and_then(refused_body) {
        stream.app_refused_body(status);
    }
    let verdict = stream.app_returned(result.is_err());
    // The id names a panic in the log, or the tasks: read for the one, taken with the other.
    let panic_id = panic.as_ref().and_then(|_| background.request_id());
    let (tasks, request_id) = background.take_with_request_id();
    let request_id = request_id.or(panic_id);
    let request_id = || request_id.as_deref().map(String::from_utf8_lossy);
    match panic {
        Some(panic) => {
            let id = request_id();
            let id = id.as_deref().unwrap_or("-");
            tracing::error!(%method, %path, request_id = id, %panic, "app panicked; closing the connection");
        }
        None if stream.client_gone() => {
            let error = result.as_ref().err().map(ToString::to_string);
            tracing::debug!(%method, %path, ?verdict, ?error, "the client left mid-exchange");
        }
        None => log_verdict(verdict, method, path, result.as_ref().err()),
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
        } else if verdict.response_complete() {
            written_batches.push(batch);
        } else {
            ctx.executor
                .drop_batch(batch, "the response did not complete");
        }
    }
    if let Some(started) = started {
        log_access(peers, method, path, stream, started);
    }
    if let Some(limit) = ctx.config.limit_max_requests {
        if ctx.counters.request_served() == limit {
            tracing::info!(limit, "served the request limit; shutting down");
            ctx.shutdown.trigger();
        }
    }
}

/// The status for an app's error that refuses the request's body: 413 for a body over
/// `read_body`'s limit.
fn refused_body(error: &AppError) -> Option<u16> {
    match error.downcast_ref::<rasgi_protocol::ReadBodyError>() {
        Some(rasgi_protocol::ReadBodyError::TooLarge(_)) => Some(413),
        _ => None,
    }
}

/// One log line for an app that misbehaved (nothing for one that did not).
fn log_verdict(verdict: Verdict, method: &ByteStr, path: &ByteStr, error: Option<&AppError>) {
    let error = error.map(|e| e.to_string()).unwrap_or_default();
    match verdict {
        Verdict::Complete | Verdict::Upgraded | Verdict::BodyRefused(_) => {}
        Verdict::FailedBeforeStart => {
            tracing::error!(%method, %path, %error, "app failed before its response started");
        }
        Verdict::NoResponse => {
            tracing::error!(%method, %path, "app returned without sending a response");
        }
        Verdict::FailedAfterStart => {
            tracing::error!(%method, %path, %error, "app failed after its response started; closing");
        }
        Verdict::ReturnedEarly => {
            tracing::error!(%method, %path, "app returned before its final body; closing");
        }
        Verdict::FailedAfterComplete => {
            tracing::error!(%method, %path, %error, "app failed after its response completed");
        }
    }
}

/// The access line.
fn log_access(
    peers: &Peers,
    method: &ByteStr,
    path: &ByteStr,
    stream: &impl RequestStream,
    started: Instant,
) {
    let client = peers
        .client
        .map_or_else(|| "-".to_string(), |addr| addr.to_string());
    tracing::info!(
        target: "rasgi::access",
        "{client} \"{method} {path} HTTP/{}\" {} {}B {:.3}ms",
        stream.http_version(),
        stream.status(),
        stream.body_bytes(),
        started.elapsed().as_secs_f64() * 1000.0
    );
}

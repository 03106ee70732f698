//! One HTTP/2 stream as one request: its scope, the app's `receive` and `send` over the shared
//! connection, the request layer's verdict, and its background tasks handed over once its
//! last frame is written.
//!
//! The rules it keeps: `send` queues body bytes only within the flow-control windows and
//! while the connection's output is under its high-water mark, waiting (at most the send
//! timeout) otherwise; `receive` gives body bytes back to the peer's window as the app takes
//! them, and waits for more at most the body-read timeout; whatever the app sends, the
//! request layer's verdict decides what the stream's end is (a 500 before the response
//! started, a reset after).

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rasgi_h2::conn::StreamGone;
use rasgi_h2::frame::ErrorCode;
use rasgi_h2::request::RequestHead;
use rasgi_protocol::panic::poll_catching;
use rasgi_protocol::{
    App, BackgroundTasks, Event, FieldLines, FileBody, Message, Receive, SendError, Sender,
};
use tokio::time::Sleep;

use super::fields::{check_fields, ServerFields};
use super::shared::{lock, Shared, OUTPUT_HIGH_WATER};
use crate::asgi;
use crate::context::{ConnContext, Peers};
use crate::request::{self, Judged, RequestStream, Verdict};

/// Serve stream `id`: the app's call, its verdict, and its background tasks once its last
/// frame is written.
pub(super) async fn serve<A: App>(
    ctx: &ConnContext<A>,
    peers: &Peers,
    shared: &Mutex<Shared>,
    fields: &ServerFields,
    id: u32,
    head: RequestHead,
) {
    let config = &*ctx.config;
    let background = BackgroundTasks::new();
    let scope = asgi::h2_scope(
        head,
        request::scope_parts(ctx, peers),
        background.for_next_response(),
    );
    let (method, path) = (scope.method.clone(), scope.path.clone());
    let started = config.access_log.then(Instant::now);
    let receive = StreamReceiver {
        shared,
        id,
        timeout: config.body_read_timeout,
        timer: None,
    };
    let send = StreamSender {
        shared,
        id,
        fields,
        timeout: config.send_timeout,
    };
    let scope = rasgi_protocol::Scope::Http(scope);
    // The app's future pinned where it is made and polled with its panics caught, not moved
    // into a catching wrapper first.
    let result = {
        let mut call = std::pin::pin!(ctx.app.call(scope, receive, send));
        std::future::poll_fn(|cx| poll_catching(call.as_mut(), cx)).await
    };

    let mut batches = Vec::new();
    let mut judge = Judge { shared, id, fields };
    let judged = Judged {
        method: &method,
        path: &path,
        started,
        background: &background,
    };
    request::judge(ctx, peers, &mut judge, &result, judged, &mut batches);

    // The stream leaves the connection's table; what the app did not read is given back to
    // the connection's window.
    let position = {
        let mut s = lock(shared);
        if let Some(io) = s.streams.remove(&id) {
            let unread: usize = io.inbox.iter().map(Bytes::len).sum();
            s.conn.release(id, unread);
        }
        s.conn.finish(id);
        s.wake_driver();
        s.conn.queued_total()
    };
    if batches.is_empty() {
        return;
    }
    let written = std::future::poll_fn(|cx| {
        let mut s = lock(shared);
        if s.conn.written_total() >= position {
            return Poll::Ready(true);
        }
        if s.gone {
            return Poll::Ready(false);
        }
        s.flush_waiters.push(cx.waker().clone());
        Poll::Pending
    })
    .await;
    for batch in batches {
        if written {
            ctx.executor.submit(batch).await;
        } else {
            ctx.executor
                .drop_batch(batch, "the response could not be written");
        }
    }
}

/// The app's `receive` on one stream.
struct StreamReceiver<'a> {
    shared: &'a Mutex<Shared>,
    id: u32,
    timeout: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl Receive for StreamReceiver<'_> {
    fn receive(&mut self) -> impl Future<Output = Event> + Send {
        std::future::poll_fn(move |cx| self.poll_receive(cx))
    }
}

impl StreamReceiver<'_> {
    fn poll_receive(&mut self, cx: &mut Context<'_>) -> Poll<Event> {
        let id = self.id;
        let mut guard = lock(self.shared);
        let s = &mut *guard;
        let Some(io) = s.streams.get_mut(&id) else {
            return Poll::Ready(Event::Disconnect);
        };
        if let Some(body) = io.inbox.pop_front() {
            let more_body = !(io.inbox.is_empty() && io.body_done);
            io.told_end |= !more_body;
            self.timer = None;
            s.conn.release(id, body.len());
            s.wake_driver();
            return Poll::Ready(Event::Request { body, more_body });
        }
        if io.body_done && !io.told_end {
            io.told_end = true;
            return Poll::Ready(Event::Request {
                body: Bytes::new(),
                more_body: false,
            });
        }
        if io.reset || s.gone || io.response.complete {
            return Poll::Ready(Event::Disconnect);
        }
        io.recv_waker = Some(cx.waker().clone());
        if io.told_end {
            // The body is read: what is left to wait for is the client leaving.
            return Poll::Pending;
        }
        let continue_now = std::mem::take(&mut io.expect_continue) && !io.response.started;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(self.timeout)));
        let timed_out = timer.as_mut().poll(cx).is_ready();
        if timed_out {
            io.reset = true;
        }
        if continue_now {
            let _ = s.conn.send_response(id, 100, [], false);
            s.wake_driver();
        }
        if timed_out {
            tracing::debug!(stream = id, "no request body within the body-read timeout");
            s.conn.reset(id, ErrorCode::Cancel);
            s.wake_driver();
            return Poll::Ready(Event::Disconnect);
        }
        Poll::Pending
    }
}

/// The app's `send` on one stream.
struct StreamSender<'a> {
    shared: &'a Mutex<Shared>,
    id: u32,
    fields: &'a ServerFields,
    timeout: Duration,
}

impl Sender for StreamSender<'_> {
    fn send(&mut self, message: Message) -> impl Future<Output = Result<(), SendError>> + Send {
        self.send_message(message)
    }

    async fn send_pair_with_lines(
        &mut self,
        first: Message,
        lines: FieldLines,
        second: Message,
    ) -> Result<(), SendError> {
        match first {
            Message::Start {
                status,
                headers,
                trailers,
            } => self.start(status, headers.as_fields(), &lines, trailers)?,
            other => self.send_message(other).await?,
        }
        drop(lines);
        self.send_message(second).await
    }
}

impl StreamSender<'_> {
    async fn send_message(&mut self, message: Message) -> Result<(), SendError> {
        match message {
            Message::Start {
                status,
                headers,
                trailers,
            } => self.start(status, headers.as_fields(), &FieldLines::new(), trailers),
            Message::Body { body, more_body } => self.body(body, more_body).await,
            Message::Informational { status, headers } => {
                if !(100..200).contains(&status) || status == 101 {
                    return Err(SendError::InvalidStatus(status));
                }
                check_fields(headers.as_fields())?;
                let mut s = lock(self.shared);
                let io = stream(&mut s, self.id)?;
                if io.response.started {
                    return Err(SendError::OutOfOrder(
                        "an informational response after the start",
                    ));
                }
                let fields = headers.as_fields().iter().map(|(n, v)| (&n[..], &v[..]));
                s.conn
                    .send_response(self.id, status, fields, false)
                    .map_err(gone)?;
                s.wake_driver();
                Ok(())
            }
            Message::Trailers { headers } => {
                check_fields(headers.as_fields())?;
                let mut s = lock(self.shared);
                let io = stream(&mut s, self.id)?;
                if !io.response.trailers || !io.response.body_done || io.response.complete {
                    return Err(SendError::OutOfOrder(
                        "trailers not promised, or before the body's end",
                    ));
                }
                io.response.complete = true;
                let fields = headers.as_fields().iter().map(|(n, v)| (&n[..], &v[..]));
                s.conn.send_trailers(self.id, fields).map_err(gone)?;
                s.wake_driver();
                Ok(())
            }
            Message::PathSend(file) => Box::pin(self.file(file)).await,
            _ => Err(SendError::WrongScope),
        }
    }

    /// The response's head: the server's fields, the app's `headers` (checked here) and the
    /// middleware's `lines` (checked when written).
    fn start(
        &mut self,
        status: u16,
        headers: &[(Bytes, Bytes)],
        lines: &FieldLines,
        trailers: bool,
    ) -> Result<(), SendError> {
        if !(200..=999).contains(&status) {
            return Err(SendError::InvalidStatus(status));
        }
        check_fields(headers)?;
        let mut content_length = None;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case(b"content-length") {
                let length = std::str::from_utf8(value)
                    .ok()
                    .and_then(|text| text.parse::<u64>().ok())
                    .ok_or(SendError::InvalidContentLength)?;
                if content_length.replace(length).is_some_and(|l| l != length) {
                    return Err(SendError::InvalidContentLength);
                }
            }
        }
        let mut s = lock(self.shared);
        let io = stream(&mut s, self.id)?;
        if io.response.started {
            return Err(SendError::OutOfOrder("a second response start"));
        }
        io.response = super::shared::Response {
            started: true,
            trailers,
            status,
            content_length,
            ..Default::default()
        };
        let date = self.fields.date.then(crate::date::line);
        let date = date
            .as_ref()
            .map(|line| &line[6..6 + crate::date::DATE_LEN]);
        let own = headers.iter().map(|(n, v)| (&n[..], &v[..]));
        let extra = self.fields.default.as_deref().into_iter().flatten();
        let all = (self
            .fields
            .server
            .then_some((&b"server"[..], &b"rasgi"[..])))
        .into_iter()
        .chain(date.map(|date| (&b"date"[..], date)))
        .chain(extra.map(|(n, v)| (&n[..], &v[..])))
        .chain(own)
        .chain(lines.iter());
        s.conn
            .send_response(self.id, status, all, false)
            .map_err(gone)?;
        s.wake_driver();
        Ok(())
    }

    async fn body(&mut self, body: Bytes, more_body: bool) -> Result<(), SendError> {
        let end = {
            let mut s = lock(self.shared);
            let io = stream(&mut s, self.id)?;
            let response = &io.response;
            if !response.started {
                return Err(SendError::OutOfOrder("a body before the response start"));
            }
            if response.body_done || response.complete {
                return Err(SendError::OutOfOrder("a body after the final one"));
            }
            let total = response.body_bytes + body.len() as u64;
            if let Some(length) = response.content_length {
                if total > length {
                    return Err(SendError::BodyTooLong);
                }
                if !more_body && total < length {
                    return Err(SendError::BodyTooShort);
                }
            }
            !more_body && !response.trailers
        };
        let mut offset = 0;
        let mut first = true;
        let mut timer: Option<Pin<Box<Sleep>>> = None;
        let timeout = self.timeout;
        let (shared, id) = (self.shared, self.id);
        std::future::poll_fn(|cx| {
            let mut guard = lock(shared);
            let s = &mut *guard;
            loop {
                if s.gone || s.streams.get(&id).is_none_or(|io| io.reset) {
                    return Poll::Ready(Err(SendError::Disconnected));
                }
                if !first && offset == body.len() {
                    break;
                }
                let sent = if !body.is_empty() && s.conn.output_len() >= OUTPUT_HIGH_WATER {
                    0
                } else {
                    // The rest of the body; the whole of it (the usual case) without a clone.
                    let rest;
                    let data = if offset == 0 {
                        &body
                    } else {
                        rest = body.slice(offset..);
                        &rest
                    };
                    s.conn.send_shared_data(id, data, end).map_err(gone)?
                };
                let wrote_end = end && offset + sent == body.len() && (sent > 0 || body.is_empty());
                if sent == 0 && !(first && body.is_empty()) && !wrote_end {
                    // The windows are shut, or the output is backed up: wait, within the
                    // send timeout.
                    s.streams.get_mut(&id).expect("checked").send_waker = Some(cx.waker().clone());
                    s.wake_driver();
                    let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                    if timer.as_mut().poll(cx).is_ready() {
                        tracing::debug!(
                            stream = id,
                            "the client opened no window within the send timeout"
                        );
                        s.conn.reset(id, ErrorCode::Cancel);
                        return Poll::Ready(Err(SendError::Disconnected));
                    }
                    return Poll::Pending;
                }
                first = false;
                offset += sent;
                timer = None;
            }
            let io = s.streams.get_mut(&id).expect("checked");
            io.response.body_bytes += body.len() as u64;
            if end {
                io.response.complete = true;
            } else if !more_body {
                io.response.body_done = true;
            }
            s.wake_driver();
            Poll::Ready(Ok(()))
        })
        .await
    }

    /// A file as the body, read in pieces on this task.
    async fn file(&mut self, file: FileBody) -> Result<(), SendError> {
        use std::os::unix::fs::FileExt;
        const PIECE: u64 = 64 * 1024;
        let (mut at, end) = (file.offset(), file.offset() + file.len());
        if at == end {
            return self.body(Bytes::new(), false).await;
        }
        while at < end {
            let mut piece = vec![0; PIECE.min(end - at) as usize];
            let read = file.file().read_at(&mut piece, at).map_err(|error| {
                tracing::warn!(%error, "a file body could not be read");
                SendError::BodyTooShort
            })?;
            if read == 0 {
                tracing::warn!("a file body ended before its length");
                return Err(SendError::BodyTooShort);
            }
            piece.truncate(read);
            at += read as u64;
            self.body(Bytes::from(piece), at < end).await?;
        }
        Ok(())
    }
}

/// The stream's state, or `Disconnected` once it is gone.
fn stream(s: &mut Shared, id: u32) -> Result<&mut super::shared::StreamIo, SendError> {
    if s.gone {
        return Err(SendError::Disconnected);
    }
    match s.streams.get_mut(&id) {
        Some(io) if !io.reset => Ok(io),
        _ => Err(SendError::Disconnected),
    }
}

fn gone(_: StreamGone) -> SendError {
    SendError::Disconnected
}

/// The request layer's view of a stream once its app returned.
struct Judge<'a> {
    shared: &'a Mutex<Shared>,
    id: u32,
    fields: &'a ServerFields,
}

impl RequestStream for Judge<'_> {
    fn app_panicked(&mut self) {}

    fn app_refused_body(&mut self, status: u16) {
        if let Some(io) = lock(self.shared).streams.get_mut(&self.id) {
            io.response.refused_body = Some(status);
        }
    }

    fn app_returned(&mut self, failed: bool) -> Verdict {
        let mut guard = lock(self.shared);
        let s = &mut *guard;
        let id = self.id;
        let Some(io) = s.streams.get_mut(&id) else {
            return Verdict::FailedBeforeStart;
        };
        let response = &io.response;
        if response.complete {
            return if failed {
                Verdict::FailedAfterComplete
            } else {
                Verdict::Complete
            };
        }
        if response.started {
            s.conn.reset(id, ErrorCode::InternalError);
            s.wake_driver();
            return if failed {
                Verdict::FailedAfterStart
            } else {
                Verdict::ReturnedEarly
            };
        }
        let refused = response.refused_body;
        let status = refused.unwrap_or(500);
        if !(io.reset || s.gone) {
            answer(s, id, status, self.fields);
        }
        match refused {
            Some(status) => Verdict::BodyRefused(status),
            None if failed => Verdict::FailedBeforeStart,
            None => Verdict::NoResponse,
        }
    }

    fn client_gone(&self) -> bool {
        let s = lock(self.shared);
        s.gone || s.streams.get(&self.id).is_none_or(|io| io.reset)
    }

    fn http_version(&self) -> &'static str {
        "2"
    }

    fn status(&self) -> u16 {
        lock(self.shared)
            .streams
            .get(&self.id)
            .map_or(0, |io| io.response.status)
    }

    fn body_bytes(&self) -> u64 {
        lock(self.shared)
            .streams
            .get(&self.id)
            .map_or(0, |io| io.response.body_bytes)
    }
}

/// The server's own answer on a stream whose app sent nothing: `status` with its reason as a
/// plain-text body (left out if the window cannot take it now).
fn answer(s: &mut Shared, id: u32, status: u16, fields: &ServerFields) {
    let reason = rasgi_h1::reason_phrase(status).as_bytes();
    let length = reason.len().to_string();
    let body_fits = s.conn.send_capacity(id) >= reason.len();
    let server = fields.server.then_some((&b"server"[..], &b"rasgi"[..]));
    let own = [
        (&b"content-type"[..], &b"text/plain; charset=utf-8"[..]),
        (&b"content-length"[..], length.as_bytes()),
    ];
    let own = if body_fits { &own[..] } else { &own[..0] };
    let all = server.into_iter().chain(own.iter().copied());
    if s.conn.send_response(id, status, all, !body_fits).is_ok() && body_fits {
        let _ = s.conn.send_data(id, reason, true);
    }
    if let Some(io) = s.streams.get_mut(&id) {
        io.response.started = true;
        io.response.complete = true;
        io.response.status = status;
        io.response.body_bytes = if body_fits { reason.len() as u64 } else { 0 };
    }
    s.wake_driver();
}

//! The read half of a connection: bytes from the socket into the buffer the state machine
//! reads heads and bodies from, and the app's `receive`.
//!
//! The rule this module keeps: bytes are read only as the state machine asks for them (a 1 GB
//! upload never sits in memory), and every byte is given to the machine, which alone decides
//! what it is: a head, body bytes, or the next request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::lock::Lock;
use bytes::BytesMut;
use rasgi_h1::conn::{BodyEvent, Drain, HeadEvent, Request};
use rasgi_protocol::{Event, Receive};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep};

use crate::stall::StallTimer;
use crate::wire::Wire;
use crate::{buffers, ServerCounters};

/// Bytes reserved before a read between requests: one typical request head (a browser's is
/// under 1 KiB); larger heads grow it.
const READ_CHUNK: usize = buffers::SMALL;
/// Bytes reserved before a read while a body streams in: fewer, larger reads for uploads.
const BODY_READ_CHUNK: usize = 64 * 1024;
/// Bytes kept while the app waits for the client to leave (a pipelined request, say); past
/// this, what the client sends stays in the socket: it is evidently still there.
const WAIT_FOR_DISCONNECT_BYTES: usize = READ_CHUNK * 8;

/// How long an idle connection may still send a request once the server is stopping: a client
/// that sent one just as the server decided to close would otherwise get no answer at all. The
/// request is served, with `connection: close`.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(100);

/// How far behind its deadline a connection's timer may run before it is moved (see
/// `next_head`).
const TIMER_SLACK: Duration = Duration::from_secs(1);

/// The reading half of a connection.
pub(crate) struct ReadSide<R> {
    /// The transport's read half.
    io: R,
    /// Bytes read and not yet used: the rest of a head, body bytes, pipelined requests.
    buf: BytesMut,
    /// The stream ended, or reading failed.
    eof: bool,
    /// How long a body read may make no progress ([`crate::ServerConfig::body_read_timeout`]).
    body_stall: StallTimer,
}

/// Why no request came.
pub(crate) enum HeadError {
    /// The head was refused; its answer is queued.
    Refused(u16),
    /// The head did not arrive within the header-read timeout.
    Timeout,
}

/// How a wait for bytes between requests ended.
enum Wait {
    Read(bool),
    TimedOut,
    Stopped,
}

impl<R: AsyncRead + Unpin + Send> ReadSide<R> {
    pub(crate) fn new(io: R, body_read_timeout: Duration) -> ReadSide<R> {
        ReadSide {
            io,
            buf: BytesMut::new(),
            eof: false,
            body_stall: StallTimer::new(body_read_timeout),
        }
    }

    /// Whether bytes wait in the buffer (a pipelined request).
    pub(crate) fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Whether the stream has ended.
    pub(crate) fn is_eof(&self) -> bool {
        self.eof
    }

    /// The bytes read and not yet used.
    pub(crate) fn buf_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// One read attempt for a WebSocket, in larger pieces once a frame is under way. An empty
    /// buffer goes back to the pool while the read waits, unless `keep` (a busy WebSocket,
    /// which would take it back at once).
    pub(crate) fn poll_fill_frames(&mut self, cx: &mut Context<'_>, keep: bool) -> Poll<bool> {
        let want = if self.buf.is_empty() {
            READ_CHUNK
        } else {
            BODY_READ_CHUNK
        };
        self.poll_read_more(cx, want, !keep)
    }

    /// Give the buffer back to the pool if it holds nothing.
    pub(crate) fn release_if_empty(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            buffers::give(std::mem::take(&mut self.buf));
        }
    }

    /// Read more bytes into the buffer; false at end of stream (or on a failed read).
    async fn fill(&mut self, body: bool) -> bool {
        std::future::poll_fn(|cx| self.poll_fill(cx, body)).await
    }

    /// Read more body bytes; `None` when none came within the body-read timeout.
    async fn fill_body(&mut self) -> Option<bool> {
        let mut waiting = false;
        std::future::poll_fn(|cx| {
            if let Poll::Ready(got) = self.poll_fill(cx, true) {
                return Poll::Ready(Some(got));
            }
            if !std::mem::replace(&mut waiting, true) {
                self.body_stall.restart();
            }
            if self.body_stall.poll_expired(cx) {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }

    /// One read attempt, sized for a body or a head. Between requests, with nothing buffered, a
    /// read that would wait hands the buffer back to the thread's pool: an idle connection
    /// holds no buffer.
    fn poll_fill(&mut self, cx: &mut Context<'_>, body: bool) -> Poll<bool> {
        let want = if body { BODY_READ_CHUNK } else { READ_CHUNK };
        self.poll_read_more(cx, want, !body)
    }

    /// One read attempt with room for `want` bytes; with `release`, an empty buffer goes back
    /// to the pool while the read waits.
    fn poll_read_more(&mut self, cx: &mut Context<'_>, want: usize, release: bool) -> Poll<bool> {
        if self.buf.capacity() == 0 {
            self.buf = buffers::take();
        }
        if self.buf.capacity() - self.buf.len() < want / 2 {
            self.buf.reserve(want);
        }
        let Poll::Ready(result) = std::pin::pin!(tokio::io::AsyncReadExt::read_buf(
            &mut self.io,
            &mut self.buf
        ))
        .poll(cx) else {
            if release {
                self.release_if_empty();
            }
            return Poll::Pending;
        };
        let got = matches!(result, Ok(n) if n > 0);
        self.eof |= !got;
        Poll::Ready(got)
    }

    /// Wait for the next request head. `Ok(None)` means the connection should close quietly:
    /// the client left, stayed idle past `idle_timeout` (or past [`SHUTDOWN_GRACE`] once `stop`
    /// resolved while idle), or the state machine serves no more requests.
    ///
    /// `timer` is the connection's one timer, looked at only when a read has to wait (a head
    /// already in the socket costs no timer work) and moved lazily; `stop` is polled only while
    /// idle.
    pub(crate) async fn next_head<W: AsyncWrite + Unpin + Send>(
        &mut self,
        wire: &mut Wire<W>,
        idle_timeout: Duration,
        header_timeout: Duration,
        mut timer: Pin<&mut Sleep>,
        mut stop: Pin<&mut impl Future<Output = ()>>,
    ) -> Result<Option<Request>, HeadError> {
        // Once a byte of the head has arrived, the whole head must follow by this deadline.
        let mut head_deadline: Option<Instant> = None;
        let mut idle_deadline: Option<Instant> = None;
        let mut stopping = false;
        loop {
            // An empty buffer holds no head: the machine is asked once bytes are there.
            if !self.buf.is_empty() {
                match wire.conn().read_head(&mut self.buf) {
                    HeadEvent::Request(request) => {
                        wire.take_buffer();
                        return Ok(Some(request));
                    }
                    HeadEvent::Refused(status) => return Err(HeadError::Refused(status)),
                    HeadEvent::Closed => return Ok(None),
                    HeadEvent::NeedMore => {}
                }
            }
            if !self.buf.is_empty() {
                head_deadline.get_or_insert_with(|| Instant::now() + header_timeout);
            }
            if self.eof {
                return Ok(None);
            }
            let idle = self.buf.is_empty();
            let waited = std::future::poll_fn(|cx| {
                if let Poll::Ready(got) = self.poll_fill(cx, false) {
                    return Poll::Ready(Wait::Read(got));
                }
                let deadline = match head_deadline {
                    Some(at) => at,
                    None => *idle_deadline.get_or_insert_with(|| Instant::now() + idle_timeout),
                };
                // Moving a timer costs more than the rest of a small request's wait, so it moves
                // later only when it is `TIMER_SLACK` or more behind: it may fire early, then it
                // is set to the real deadline and waits again. It never fires late.
                let armed = timer.deadline();
                if armed > deadline || armed + TIMER_SLACK < deadline {
                    timer.as_mut().reset(deadline);
                }
                if timer.as_mut().poll(cx).is_ready() {
                    if Instant::now() >= deadline {
                        return Poll::Ready(Wait::TimedOut);
                    }
                    timer.as_mut().reset(deadline);
                    if timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Wait::TimedOut);
                    }
                }
                if idle && !stopping && stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Wait::Stopped);
                }
                Poll::Pending
            })
            .await;
            match waited {
                Wait::Read(true) => {}
                Wait::Read(false) => return Ok(None),
                Wait::Stopped => {
                    // A last moment for a request already on its way.
                    stopping = true;
                    let grace = Instant::now() + SHUTDOWN_GRACE;
                    idle_deadline = Some(idle_deadline.map_or(grace, |at| at.min(grace)));
                }
                Wait::TimedOut if idle => return Ok(None),
                Wait::TimedOut => return Err(HeadError::Timeout),
            }
        }
    }

    /// Read and drop what is left of an unread body, within `timeout`. Returns whether the body
    /// ended (so the connection can serve its next request).
    pub(crate) async fn drain_body<W: AsyncWrite + Unpin + Send>(
        &mut self,
        wire: &mut Wire<W>,
        timeout: Duration,
    ) -> bool {
        let drain = async {
            loop {
                match wire.conn().drain(&mut self.buf) {
                    Drain::Done => return true,
                    Drain::Close => return false,
                    Drain::NeedMore => {}
                }
                if !self.fill(true).await {
                    wire.conn().read_closed();
                }
            }
        };
        let drained = tokio::time::timeout(timeout, drain).await;
        if drained.is_err() {
            wire.conn().timed_out();
        }
        drained.unwrap_or(false)
    }

    /// Read and drop up to `limit` bytes or until `time` passes or the client closes.
    pub(crate) async fn linger(&mut self, limit: usize, time: Duration) {
        let mut dropped = 0;
        let _ = tokio::time::timeout(time, async {
            while dropped < limit {
                self.buf.clear();
                if !self.fill(false).await {
                    return;
                }
                dropped += self.buf.len();
            }
        })
        .await;
    }
}

/// The app's `receive`: the request body as the state machine decodes it, then `Disconnect`.
pub(crate) struct RequestBody<'a, R, W> {
    /// Where the bytes come from.
    read: &'a mut ReadSide<R>,
    /// The state machine that decodes them.
    wire: &'a Lock<Wire<W>>,
    /// Where a body timeout is counted.
    counters: &'a ServerCounters,
}

impl<'a, R, W> RequestBody<'a, R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    pub(crate) fn new(
        read: &'a mut ReadSide<R>,
        wire: &'a Lock<Wire<W>>,
        counters: &'a ServerCounters,
    ) -> Self {
        RequestBody {
            read,
            wire,
            counters,
        }
    }

    async fn next_event(&mut self) -> Event {
        loop {
            let step = self.wire.lock().await.conn().receive(&mut self.read.buf);
            match step {
                BodyEvent::Body { data, more } => {
                    return Event::Request {
                        body: data,
                        more_body: more,
                    }
                }
                BodyEvent::Disconnect => return Event::Disconnect,
                BodyEvent::NeedMore => match self.read.fill_body().await {
                    Some(true) => {}
                    Some(false) => self.wire.lock().await.conn().read_closed(),
                    None => {
                        tracing::debug!("request body stalled past the body timeout");
                        self.counters.body_timeout();
                        self.wire.lock().await.conn().body_timed_out();
                    }
                },
                BodyEvent::WriteContinue => {
                    // A failed write marks the client gone; the next step says so.
                    let _ = self.wire.lock().await.flush().await;
                }
                BodyEvent::WaitForDisconnect => {
                    // Like ASGI servers, block until the client leaves; what it sends meanwhile
                    // (a pipelined request) is kept for later.
                    while !self.read.eof && self.read.buf.len() <= WAIT_FOR_DISCONNECT_BYTES {
                        self.read.fill(false).await;
                    }
                    if !self.read.eof {
                        std::future::pending::<()>().await;
                    }
                    self.wire.lock().await.conn().read_closed();
                }
            }
        }
    }
}

impl<R, W> Receive for RequestBody<'_, R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    fn receive(&mut self) -> impl Future<Output = Event> + Send {
        self.next_event()
    }
}

//! The HTTP/1.1 driver's reading: the next request head, an unread body drained, and the app's
//! `receive`.
//!
//! The rule this module keeps: every byte read is given to the state machine
//! ([`rasgi_h1::ServerConn`]), which alone decides what it is: a head, body bytes, or the next
//! request.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use crate::lock::Lock;
use rasgi_h1::conn::{BodyEvent, Drain, HeadEvent, Request};
use rasgi_protocol::{Event, Receive};
use tokio::io::AsyncRead;
use tokio::time::{Instant, Sleep};

use super::wire::Wire;
use crate::file_send::Transport;
use crate::reader::{ReadSide, READ_CHUNK};
use crate::ServerCounters;

/// Bytes kept while the app waits for the client to leave (a pipelined request, say); past
/// this, what the client sends stays in the socket: it is evidently still there.
const WAIT_FOR_DISCONNECT_BYTES: usize = READ_CHUNK * 8;

/// How long an idle connection may still send a request once the server is stopping: a client
/// that sent one just as the server decided to close would otherwise get no answer at all. The
/// request is served, with `connection: close`.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(100);

/// How far behind its deadline a connection's timer may run before it is moved (see
/// [`next_head`]).
const TIMER_SLACK: Duration = Duration::from_secs(1);

/// Why no request came.
pub(crate) enum HeadError {
    /// The head was refused; its answer is queued.
    Refused(u16),
    /// The head did not arrive within the header-read timeout.
    Timeout,
    /// The connection opened with HTTP/2's preface.
    Http2,
}

/// How a wait for bytes between requests ended.
enum Wait {
    Read(bool),
    TimedOut,
    Stopped,
}

/// Wait for the next request head. `Ok(None)` means the connection should close quietly:
/// the client left, stayed idle past `idle_timeout` (or past [`SHUTDOWN_GRACE`] once `stop`
/// resolved while idle), or the state machine serves no more requests.
///
/// `timer` is the connection's one timer, looked at only when a read has to wait (a head
/// already in the socket costs no timer work) and moved lazily; `stop` is polled only while
/// idle.
pub(crate) async fn next_head<R: AsyncRead + Unpin + Send, W: Transport>(
    read: &mut ReadSide<R>,
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
        if !read.buf_mut().is_empty() {
            match wire.conn().read_head(read.buf_mut()) {
                HeadEvent::Request(request) => {
                    wire.take_buffer();
                    return Ok(Some(request));
                }
                HeadEvent::Refused(status) => return Err(HeadError::Refused(status)),
                HeadEvent::Closed => return Ok(None),
                HeadEvent::Http2 => return Err(HeadError::Http2),
                HeadEvent::NeedMore => {}
            }
        }
        if !read.buf_mut().is_empty() {
            head_deadline.get_or_insert_with(|| Instant::now() + header_timeout);
        }
        if read.is_eof() {
            return Ok(None);
        }
        let idle = read.buf_mut().is_empty();
        let waited = std::future::poll_fn(|cx| {
            if let Poll::Ready(got) = read.poll_fill(cx, false) {
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
pub(crate) async fn drain_body<R: AsyncRead + Unpin + Send, W: Transport>(
    read: &mut ReadSide<R>,
    wire: &mut Wire<W>,
    timeout: Duration,
) -> bool {
    let drain = async {
        loop {
            match wire.conn().drain(read.buf_mut()) {
                Drain::Done => return true,
                Drain::Close => return false,
                Drain::NeedMore => {}
            }
            if !read.fill(true).await {
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
    W: Transport,
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
            let step = self.wire.lock().await.conn().receive(self.read.buf_mut());
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
                    while !self.read.is_eof()
                        && self.read.buf_mut().len() <= WAIT_FOR_DISCONNECT_BYTES
                    {
                        self.read.fill(false).await;
                    }
                    if !self.read.is_eof() {
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
    W: Transport,
{
    fn receive(&mut self) -> impl Future<Output = Event> + Send {
        self.next_event()
    }
}

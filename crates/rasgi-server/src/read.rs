//! The read side of a connection: request heads, and the request body behind `receive`.
//!
//! The rule this module keeps: bytes are read only as the app asks for them (a 1 GB upload
//! never sits in memory), and the body's framing decides where the next request starts, so an
//! unread body is drained or the connection closed: it is never parsed as a request
//! (CVE-2020-26281).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::lock::Mutex;
use rasgi_h1::{
    parse_request_head, BodyKind, Decoded, Decoder, H1Error, HeaderSpan, Limits, Version,
};
use rasgi_protocol::scope::percent_decode;
use rasgi_protocol::{
    BackgroundTasks, ByteStr, Event, Extensions, Headers, HttpScope, Receive, Scheme, State,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::{Instant, Sleep};

use crate::buffers;
use crate::write::{lock, Response, WriteSide};

/// Bytes reserved before a read between requests: one typical request head (a browser's is
/// under 1 KiB); larger heads grow it.
const READ_CHUNK: usize = buffers::SMALL;
/// Bytes reserved before a read while a body streams in: fewer, larger reads for uploads.
const BODY_READ_CHUNK: usize = 64 * 1024;

/// How far behind its deadline a connection's timer may run before it is moved (see
/// `next_head`).
const TIMER_SLACK: Duration = Duration::from_secs(1);

/// The most header fields the parser has slots for; [`Limits::max_headers`] may lower it.
const MAX_HEADER_SLOTS: usize = 128;

thread_local! {
    /// The parser's field slots, one set per thread: zeroing 4 KiB of slots on the stack for
    /// every request cost more than parsing a small head.
    static HEADER_SLOTS: std::cell::RefCell<[HeaderSpan; MAX_HEADER_SLOTS]> =
        const { std::cell::RefCell::new([HeaderSpan::EMPTY; MAX_HEADER_SLOTS]) };
}

/// The reading half of a connection and the body of the request in flight.
pub(crate) struct ReadSide<R> {
    /// The transport's read half.
    io: R,
    /// Bytes read and not yet consumed: the rest of a head, body bytes, pipelined requests.
    pub buf: BytesMut,
    /// The body decoder of the request in flight; `None` once its body has ended.
    pub body: Option<Decoder>,
    /// Body bytes delivered so far (checked against the body limit).
    pub received: u64,
    /// The request expects `100 Continue` and has not had it.
    pub continue_pending: bool,
    /// The peer closed its side, or reading failed.
    pub eof: bool,
}

/// A parsed request head, ready to become a scope.
pub(crate) struct RequestHead {
    pub method: ByteStr,
    pub path: ByteStr,
    pub raw_path: Bytes,
    pub query_string: Bytes,
    pub headers: Headers,
    pub version: Version,
    pub body: BodyKind,
    pub keep_alive: bool,
    pub host_count: usize,
}

/// Why the request body stopped before its end.
pub(crate) enum BodyError {
    /// The body broke its framing.
    Invalid(H1Error),
    /// The client closed the connection mid-body.
    ClientGone,
}

/// How a wait for bytes between requests ended.
enum Wait {
    Read(io::Result<usize>),
    TimedOut,
    Stopped,
}

/// Why no request head came.
pub(crate) enum HeadError {
    /// The client sent something the parser refuses.
    Invalid(H1Error),
    /// The head did not arrive within the header-read timeout.
    Timeout,
}

impl<R: AsyncRead + Unpin + Send> ReadSide<R> {
    pub fn new(io: R) -> ReadSide<R> {
        ReadSide {
            io,
            buf: BytesMut::new(),
            body: None,
            received: 0,
            continue_pending: false,
            eof: false,
        }
    }

    /// Read more bytes into the buffer; `Ok(0)` at end of stream.
    pub async fn fill(&mut self) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_fill(cx)).await
    }

    /// One read attempt. Between requests, with nothing buffered, a read that would wait hands
    /// the buffer back to the thread's pool: an idle connection holds no buffer.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let want = if self.body.is_some() {
            BODY_READ_CHUNK
        } else {
            READ_CHUNK
        };
        if self.buf.capacity() == 0 {
            self.buf = buffers::take();
        }
        if self.buf.capacity() - self.buf.len() < want / 2 {
            self.buf.reserve(want);
        }
        let Poll::Ready(result) = std::pin::pin!(self.io.read_buf(&mut self.buf)).poll(cx) else {
            if self.buf.is_empty() && self.body.is_none() {
                buffers::give(std::mem::take(&mut self.buf));
            }
            return Poll::Pending;
        };
        if !matches!(result, Ok(n) if n > 0) {
            self.eof = true;
        }
        Poll::Ready(result)
    }

    /// Wait for the next request head. `Ok(None)` means the connection should close quietly:
    /// the client left, stayed idle past `idle_timeout`, or `stop` resolved while idle.
    ///
    /// `timer` is the connection's one timer, looked at only when a read has to wait (a head
    /// already in the socket costs no timer work) and moved lazily; `stop` is polled only while
    /// idle.
    pub async fn next_head(
        &mut self,
        limits: &Limits,
        idle_timeout: Duration,
        header_timeout: Duration,
        mut timer: Pin<&mut Sleep>,
        mut stop: Pin<&mut impl Future<Output = ()>>,
    ) -> Result<Option<RequestHead>, HeadError> {
        // Once a byte of the head has arrived, the whole head must follow by this deadline.
        let mut head_deadline: Option<Instant> = None;
        let mut idle_deadline: Option<Instant> = None;
        loop {
            if !self.buf.is_empty() {
                if let Some(head) = self.parse(limits).map_err(HeadError::Invalid)? {
                    return Ok(Some(head));
                }
                head_deadline.get_or_insert_with(|| Instant::now() + header_timeout);
            }
            if self.eof {
                return Ok(None);
            }
            let idle = self.buf.is_empty();
            let waited = std::future::poll_fn(|cx| {
                if let Poll::Ready(read) = self.poll_fill(cx) {
                    return Poll::Ready(Wait::Read(read));
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
                if idle && stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Wait::Stopped);
                }
                Poll::Pending
            })
            .await;
            match waited {
                Wait::Read(Ok(n)) if n > 0 => {}
                Wait::Read(_) | Wait::Stopped => return Ok(None),
                Wait::TimedOut if idle => return Ok(None),
                Wait::TimedOut => return Err(HeadError::Timeout),
            }
        }
    }

    /// Parse a head from the buffer and turn it into owned, zero-copy parts.
    fn parse(&mut self, limits: &Limits) -> Result<Option<RequestHead>, H1Error> {
        HEADER_SLOTS.with_borrow_mut(|slots| self.parse_with(limits, slots))
    }

    fn parse_with(
        &mut self,
        limits: &Limits,
        slots: &mut [HeaderSpan; MAX_HEADER_SLOTS],
    ) -> Result<Option<RequestHead>, H1Error> {
        let head = match parse_request_head(&mut self.buf, slots, limits)? {
            rasgi_h1::Status::Partial => return Ok(None),
            rasgi_h1::Status::Complete(head) => head,
        };
        let field_count = head.headers.len();
        let (method, path, query) = (head.method, head.path, head.query);
        let (version, body, keep_alive) = (head.version, head.body, head.keep_alive);
        let (expect_continue, host_count, len) = (head.expect_continue, head.host_count, head.len);

        let bytes = self.buf.split_to(len).freeze();
        let slice = |span: rasgi_h1::Span| bytes.slice(span.start..span.end);
        let mut headers = Headers::with_capacity(field_count);
        for field in &slots[..field_count] {
            headers.append(slice(field.name), slice(field.value));
        }
        let raw_path = origin_path(slice(path));
        let decoded = if raw_path.contains(&b'%') {
            ByteStr::from(percent_decode(&raw_path))
        } else {
            ascii(raw_path.clone())
        };
        self.body = match body {
            BodyKind::Empty => None,
            BodyKind::Length(0) => None,
            BodyKind::Length(n) => Some(Decoder::length(n)),
            BodyKind::Chunked => Some(Decoder::chunked(limits)),
        };
        self.received = 0;
        self.continue_pending =
            expect_continue && version == Version::Http11 && self.body.is_some();
        Ok(Some(RequestHead {
            method: ascii(slice(method)),
            path: decoded,
            raw_path,
            query_string: slice(query),
            headers,
            version,
            body,
            keep_alive,
            host_count,
        }))
    }

    /// The next piece of the request body; `Ok(None)` once it has ended.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        loop {
            let Some(decoder) = self.body.as_mut() else {
                return Ok(None);
            };
            let (used, decoded) = decoder.decode(&self.buf).map_err(BodyError::Invalid)?;
            match decoded {
                Decoded::Data(data) => {
                    let offset = data.as_ptr() as usize - self.buf.as_ptr() as usize;
                    let len = data.len();
                    let taken = self.buf.split_to(used).freeze();
                    self.received += len as u64;
                    if decoder.is_done() {
                        self.body = None;
                    }
                    return Ok(Some(taken.slice(offset..offset + len)));
                }
                Decoded::End => {
                    let _ = self.buf.split_to(used);
                    self.body = None;
                    return Ok(None);
                }
                Decoded::NeedMore => {
                    let _ = self.buf.split_to(used);
                    if self.eof || !matches!(self.fill().await, Ok(n) if n > 0) {
                        return Err(BodyError::ClientGone);
                    }
                }
            }
        }
    }

    /// Read and drop what is left of an unread body, up to `limit` bytes and `timeout`.
    /// Returns whether the body ended (so the connection can serve its next request).
    pub async fn drain_body(&mut self, limit: u64, timeout: Duration) -> bool {
        let drain = async {
            let mut drained = 0u64;
            while self.body.is_some() {
                match self.next_chunk().await {
                    Ok(Some(chunk)) => drained += chunk.len() as u64,
                    Ok(None) => return true,
                    Err(_) => return false,
                }
                if drained > limit {
                    return false;
                }
            }
            true
        };
        tokio::time::timeout(timeout, drain).await.unwrap_or(false)
    }
}

impl<R: AsyncRead + Unpin + Send> ReadSide<R> {
    /// Read and drop up to `limit` bytes or until `time` passes or the client closes.
    pub async fn linger(&mut self, limit: usize, time: Duration) {
        let mut dropped = 0;
        let _ = tokio::time::timeout(time, async {
            while dropped < limit {
                self.buf.clear();
                match self.fill().await {
                    Ok(n) if n > 0 => dropped += n,
                    _ => return,
                }
            }
        })
        .await;
    }
}

/// The path of an origin-form target, or the path part of an absolute-form one
/// (`http://host/path`), which RFC 9112 §3.2.2 asks servers to accept.
fn origin_path(target_path: Bytes) -> Bytes {
    for scheme in [&b"http://"[..], b"https://"] {
        if target_path.len() > scheme.len()
            && target_path[..scheme.len()].eq_ignore_ascii_case(scheme)
        {
            let after = &target_path[scheme.len()..];
            return match after.iter().position(|&b| b == b'/') {
                Some(slash) => target_path.slice(scheme.len() + slash..),
                None => Bytes::from_static(b"/"),
            };
        }
    }
    target_path
}

/// Text the parser has already restricted to visible ASCII.
fn ascii(bytes: Bytes) -> ByteStr {
    ByteStr::from_utf8(bytes).unwrap_or_default()
}

/// Everything the driver knows about the connection that a scope needs.
pub(crate) struct ScopeParts<'a> {
    pub client: Option<SocketAddr>,
    pub server: Option<SocketAddr>,
    pub state: &'a State,
    pub root_path: &'a ByteStr,
    pub background: &'a BackgroundTasks,
}

impl RequestHead {
    /// The ASGI scope for this request.
    pub fn into_scope(self, parts: &ScopeParts<'_>) -> HttpScope {
        HttpScope {
            http_version: self.version.as_str(),
            method: self.method,
            scheme: Scheme::Http,
            path: self.path,
            raw_path: self.raw_path,
            query_string: self.query_string,
            root_path: parts.root_path.clone(),
            headers: self.headers,
            client: parts.client,
            server: parts.server,
            state: parts.state.clone(),
            extensions: Extensions::new(),
            background: parts.background.clone(),
        }
    }
}

/// The app's `receive`: the request body as it arrives, then `Disconnect`.
pub(crate) struct RequestBody<'a, R, W> {
    pub read: &'a mut ReadSide<R>,
    pub write: &'a Mutex<WriteSide<W>>,
    /// Largest body accepted.
    pub max_body_bytes: u64,
    /// Whether the final `Request` event has been delivered.
    pub finished: bool,
}

impl<R, W> RequestBody<'_, R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    async fn next_event(&mut self) -> Event {
        if self.read.continue_pending {
            self.read.continue_pending = false;
            let mut write = lock(self.write).await;
            if write.write_continue().await.is_err() {
                return Event::Disconnect;
            }
        }
        {
            let write = lock(self.write).await;
            if write.gone || write.aborted.is_some() || matches!(write.response, Response::Complete)
            {
                return Event::Disconnect;
            }
        }
        if self.finished {
            return self.wait_for_disconnect().await;
        }
        match self.read.next_chunk().await {
            Ok(chunk) => {
                if self.read.received > self.max_body_bytes {
                    return self.abort(413).await;
                }
                let more_body = self.read.body.is_some();
                self.finished = !more_body;
                Event::Request {
                    body: chunk.unwrap_or_default(),
                    more_body,
                }
            }
            Err(BodyError::ClientGone) => {
                lock(self.write).await.gone = true;
                Event::Disconnect
            }
            Err(BodyError::Invalid(error)) => self.abort(error.status()).await,
        }
    }

    /// The body was refused mid-way: the app sees `Disconnect`, and the server answers with
    /// `status` if the response has not started.
    async fn abort(&mut self, status: u16) -> Event {
        self.read.body = None;
        let mut write = lock(self.write).await;
        write.aborted = Some(status);
        write.keep_alive = false;
        Event::Disconnect
    }

    /// The body is over but the response is not: like ASGI servers, block until the client
    /// leaves. Bytes that arrive meanwhile (a pipelined request) are kept for later.
    async fn wait_for_disconnect(&mut self) -> Event {
        // `fill` marks `eof` when the client closes or the read fails. Past the cap, what the
        // client sends stays in the socket: it is evidently still there.
        while !self.read.eof && self.read.buf.len() <= READ_CHUNK * 8 {
            let _ = self.read.fill().await;
        }
        if !self.read.eof {
            std::future::pending::<()>().await;
        }
        lock(self.write).await.gone = true;
        Event::Disconnect
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

//! The write side of a connection: the response state machine behind `send`.
//!
//! The rule this module keeps: every response leaves in exactly one framing, decided once when
//! its head is written, and the bytes sent always match it. The head is written lazily, with the
//! first body message, so that a response whose body arrives whole gets a `content-length`
//! instead of chunked framing. Messages out of order, a `send` after the client left, and a body
//! that contradicts the app's `content-length` are refused here, in one place.

use std::collections::VecDeque;
use std::io::{ErrorKind, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
#[cfg(test)]
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures::lock::{Mutex, MutexGuard};
use rasgi_h1::response::validate_header;
use rasgi_h1::{
    parse_content_length, write_chunk_size, write_last_chunk, write_response_head,
    write_status_line, LengthEncoder, Version,
};
use rasgi_protocol::{Headers, Message, SendError, Sender};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::{buffers, date, Shutdown};

/// Bodies at least this large are queued as the app's own buffers instead of being copied into
/// the write buffer (one copy saved per byte).
const QUEUE_AS_IS_BYTES: usize = 16 * 1024;
/// Streamed bytes the app has sent back to back are written once they reach this much (they
/// also go out as soon as the app waits): few writes for a fast stream, flat memory for a
/// long one.
const STREAM_GATHER_BYTES: usize = 256 * 1024;
/// Most pieces in one vectored write.
const MAX_SLICES: usize = 64;

/// Where the current response is.
#[derive(Debug)]
pub(crate) enum Response {
    /// Nothing sent yet.
    Idle,
    /// `Start` received; its head waits for the first body message.
    Started(PendingStart),
    /// Head written; body messages flow in `framing`.
    Streaming(Framing),
    /// The final body is written; the trailers announced by `Start` are awaited. They are sent
    /// after the last chunk when the body is chunked, and dropped otherwise (a `content-length`
    /// or close-delimited body has nowhere to put them).
    AwaitingTrailers {
        /// Whether the body is chunked (the last chunk is still to be written).
        chunked: bool,
    },
    /// The response is complete on the wire (or in the write buffer).
    Complete,
    /// The response was cut short (the body contradicted its length): the connection must
    /// close.
    Broken,
}

/// A response start whose head is not written yet.
#[derive(Debug)]
pub(crate) struct PendingStart {
    status: u16,
    headers: Headers,
    trailers: bool,
    /// The app's `content-length`, parsed.
    content_length: Option<u64>,
    /// The app asked to close the connection (`connection: close`).
    close: bool,
}

/// How the body bytes of the response in flight are framed.
#[derive(Debug)]
pub(crate) enum Framing {
    /// No body may be sent (HEAD, 1xx, 204, 304): body bytes are dropped.
    Empty,
    /// `content-length` framing.
    Length(LengthEncoder),
    /// Chunked framing.
    Chunked,
    /// HTTP/1.0 without a length: the body ends when the connection closes.
    CloseDelimited,
}

/// What the write side needs to know about the request being answered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestFacts {
    pub version: Version,
    pub head: bool,
    /// The request allows the connection to stay open.
    pub keep_alive: bool,
}

/// The writing half of a connection and the state of the response in flight.
pub(crate) struct WriteSide<W> {
    /// The transport's write half.
    io: W,
    /// Response bytes not yet written: heads, small bodies, pipelined responses.
    buf: BytesMut,
    /// The response state machine.
    pub response: Response,
    /// The request being answered.
    facts: RequestFacts,
    /// Whether the connection stays open after this response.
    pub keep_alive: bool,
    /// The client is gone (a write failed or the read side saw EOF): `send` refuses.
    pub gone: bool,
    /// The request body was refused mid-way (too large, malformed): its status, answered by
    /// the server if the response has not started. `send` refuses meanwhile.
    pub aborted: Option<u16>,
    /// The start announced trailers (`Message::Start { trailers: true }`).
    trailers_announced: bool,
    /// The status written, for the access log.
    pub status: u16,
    /// Body bytes sent, for the access log.
    pub body_bytes: u64,
    /// The response's `x-request-id`, if a middleware set one: background-task logs name it.
    pub request_id: Option<Bytes>,
    /// Add `date`.
    date_header: bool,
    /// Add `server: rasgi`.
    server_header: bool,
    /// Fires when the server stops: responses started after that say `connection: close`.
    shutdown: Shutdown,
    /// Large bodies, kept as the app's own buffers (not copied), to go out before `buf`; a
    /// response's head or framing queued before one of them is frozen into the queue with it.
    /// Never holds an empty piece.
    queue: VecDeque<Bytes>,
    /// Write everything out before the current `send` returns (an informational response, or
    /// streamed bytes past `STREAM_GATHER_BYTES`).
    flush_now: bool,
    /// A streamed chunk waits in the buffers: it goes out as soon as the app waits for
    /// anything (see `serve_request`), so a server-sent event is never held back, while chunks
    /// the app sends back to back leave together.
    pub unflushed: bool,
}

impl<W: AsyncWrite + Unpin + Send> WriteSide<W> {
    pub fn new(io: W, date_header: bool, server_header: bool, shutdown: Shutdown) -> WriteSide<W> {
        WriteSide {
            io,
            buf: BytesMut::new(),
            response: Response::Idle,
            facts: RequestFacts {
                version: Version::Http11,
                head: false,
                keep_alive: true,
            },
            keep_alive: true,
            gone: false,
            aborted: None,
            trailers_announced: false,
            status: 0,
            body_bytes: 0,
            request_id: None,
            date_header,
            server_header,
            shutdown,
            queue: VecDeque::new(),
            flush_now: false,
            unflushed: false,
        }
    }

    /// Get ready to answer a new request.
    pub fn begin(&mut self, facts: RequestFacts) {
        if self.buf.capacity() == 0 {
            self.buf = buffers::take();
        }
        self.response = Response::Idle;
        self.facts = facts;
        self.keep_alive = facts.keep_alive;
        self.aborted = None;
        self.trailers_announced = false;
        self.status = 0;
        self.body_bytes = 0;
        self.request_id = None;
    }

    /// Whether the response has put nothing on the wire yet (so the server may still answer
    /// with an error of its own).
    pub fn nothing_written(&self) -> bool {
        matches!(self.response, Response::Idle | Response::Started(_))
    }

    /// Bytes waiting to be written (the queue and the buffer).
    pub fn buffered(&self) -> usize {
        self.queue.iter().map(Bytes::len).sum::<usize>() + self.buf.len()
    }

    /// Write out everything queued. Cancel-safe: what was written is taken off the queue and
    /// the buffer as it goes, so a write cut short resumes where it stopped.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        std::future::poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// The queue, then the buffer, with as few (vectored) writes as the kernel allows.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while !self.queue.is_empty() || !self.buf.is_empty() {
            let written = if self.queue.is_empty() {
                ready!(Pin::new(&mut self.io).poll_write(cx, &self.buf))
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let mut used = 0;
                for part in self.queue.iter().map(|b| &b[..]).chain([&self.buf[..]]) {
                    if used == MAX_SLICES {
                        break;
                    }
                    slices[used] = IoSlice::new(part);
                    used += 1;
                }
                ready!(Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..used]))
            };
            match written {
                Ok(0) => return Poll::Ready(Err(self.failed(ErrorKind::WriteZero.into()))),
                Ok(n) => self.consume(n),
                Err(error) => return Poll::Ready(Err(self.failed(error))),
            }
        }
        self.unflushed = false;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Take `n` written bytes off the front of the queue, then of the buffer.
    fn consume(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.queue.front_mut() else {
                self.buf.advance(n);
                return;
            };
            let taken = n.min(front.len());
            front.advance(taken);
            n -= taken;
            if front.is_empty() {
                self.queue.pop_front();
            }
        }
    }

    /// A write failed: the client is gone, and what was queued for it is dropped.
    fn failed(&mut self, error: std::io::Error) -> std::io::Error {
        self.gone = true;
        self.buf.clear();
        self.queue.clear();
        self.unflushed = false;
        error
    }

    /// Hand the write buffer back to the thread's pool while the connection waits for its next
    /// request (an idle connection holds no buffer).
    pub fn release_buffer(&mut self) {
        if self.buf.is_empty() && self.queue.is_empty() {
            buffers::give(std::mem::take(&mut self.buf));
        }
    }

    /// Shut the write direction down (sends FIN after the buffered bytes).
    pub async fn close(&mut self) {
        if self.flush().await.is_ok() {
            let _ = self.io.shutdown().await;
        }
    }

    /// `HTTP/1.1 100 Continue`, written and flushed at once (the client is waiting for it).
    pub async fn write_continue(&mut self) -> Result<(), SendError> {
        if self.gone || !self.nothing_written() {
            return Ok(());
        }
        self.buf.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        self.flush().await.map_err(|_| SendError::Disconnected)
    }

    /// A complete plain-text response from the server itself (errors, limits), queued; the
    /// connection closes after it.
    pub fn error_response(&mut self, status: u16, text: &'static str) {
        self.response = Response::Idle;
        self.aborted = None;
        self.keep_alive = false;
        let headers = Headers::with_capacity(1).with("content-type", "text/plain; charset=utf-8");
        if self.handle(Message::start(status, headers)).is_ok() {
            let _ = self.handle(Message::body(Bytes::from_static(text.as_bytes())));
        }
    }

    /// One `send`, the whole state machine: the message is checked and its bytes queued;
    /// the caller then awaits [`WriteSide::write_out`] for what must go out now.
    pub fn handle(&mut self, message: Message) -> Result<(), SendError> {
        if self.gone || self.aborted.is_some() {
            return Err(SendError::Disconnected);
        }
        match message {
            Message::Informational { status, headers } => self.informational(status, headers),
            Message::Start {
                status,
                headers,
                trailers,
            } => self.start(status, headers, trailers),
            Message::Body { body, more_body } => self.body(body, more_body),
            Message::Trailers { headers } => self.trailers(headers),
            Message::StartupComplete
            | Message::StartupFailed(_)
            | Message::ShutdownComplete
            | Message::ShutdownFailed(_) => Err(SendError::WrongScope),
        }
    }

    /// Write what the last `handle` left to go out now. Nothing, usually: responses wait in
    /// the buffers for the end of the request (or of a pipelined batch), and streamed chunks
    /// until the app waits.
    pub async fn write_out(&mut self) -> Result<(), SendError> {
        if !self.flush_now {
            return Ok(());
        }
        self.flush_now = false;
        self.flush().await.map_err(|_| SendError::Disconnected)
    }

    fn informational(&mut self, status: u16, headers: Headers) -> Result<(), SendError> {
        if !matches!(self.response, Response::Idle) {
            return Err(SendError::OutOfOrder(
                "informational response after the start",
            ));
        }
        if !(100..200).contains(&status) || status == 101 {
            return Err(SendError::InvalidStatus(status));
        }
        if self.facts.version == Version::Http10 {
            // HTTP/1.0 clients do not expect 1xx responses (RFC 9110 §15.2).
            return Ok(());
        }
        let fields = headers.iter().map(|(n, v)| (&n[..], &v[..]));
        write_response_head(&mut self.buf, status, fields).map_err(|_| SendError::InvalidHeader)?;
        self.flush_now = true;
        Ok(())
    }

    fn start(&mut self, status: u16, headers: Headers, trailers: bool) -> Result<(), SendError> {
        if !matches!(self.response, Response::Idle) {
            return Err(SendError::OutOfOrder("response already started"));
        }
        if !(200..=999).contains(&status) {
            return Err(SendError::InvalidStatus(status));
        }
        let mut content_length = None;
        let mut close = false;
        for (name, value) in headers.iter() {
            validate_header(name, value).map_err(|_| SendError::InvalidHeader)?;
            if name.eq_ignore_ascii_case(b"content-length") {
                let parsed =
                    parse_content_length(value).map_err(|_| SendError::InvalidContentLength)?;
                if content_length.is_some_and(|earlier| earlier != parsed) {
                    return Err(SendError::InvalidContentLength);
                }
                content_length = Some(parsed);
            } else if name.eq_ignore_ascii_case(b"x-request-id") {
                self.request_id = Some(value.clone());
            } else if name.eq_ignore_ascii_case(b"connection") {
                close |= value
                    .split(|&b| b == b',')
                    .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"));
            }
        }
        self.response = Response::Started(PendingStart {
            status,
            headers,
            trailers,
            content_length,
            close,
        });
        Ok(())
    }

    fn body(&mut self, body: Bytes, more_body: bool) -> Result<(), SendError> {
        let response = std::mem::replace(&mut self.response, Response::Broken);
        let framing = match response {
            Response::Started(start) => self.write_head(start, &body, more_body),
            Response::Streaming(framing) => framing,
            Response::Idle => {
                self.response = Response::Idle;
                return Err(SendError::OutOfOrder("body before the response start"));
            }
            other => {
                self.response = other;
                return Err(SendError::OutOfOrder("body after the final body"));
            }
        };
        self.write_body(framing, body, more_body)
    }

    /// Decide the framing and write the head (RFC 9112 §6.3 from the sender's side).
    fn write_head(&mut self, start: PendingStart, first: &Bytes, more_body: bool) -> Framing {
        let status = start.status;
        self.trailers_announced = start.trailers;
        let bodiless_status = status == 204 || status == 304 || status < 200;
        if start.close {
            self.keep_alive = false;
        }
        if self.shutdown.is_triggered() {
            self.keep_alive = false;
        }
        let known_length = start
            .content_length
            .or((!more_body).then_some(first.len() as u64));
        let framing = if self.facts.head || bodiless_status {
            Framing::Empty
        } else if let Some(length) = known_length {
            Framing::Length(LengthEncoder::new(length))
        } else if self.facts.version == Version::Http11 {
            Framing::Chunked
        } else {
            self.keep_alive = false;
            Framing::CloseDelimited
        };

        // Every field was validated in `start`, and the status too; the fields the server adds
        // are constants. Written piece by piece into room reserved once.
        let strip_length = status == 204 || status < 200;
        let app_bytes: usize = start
            .headers
            .iter()
            .map(|(name, value)| name.len() + value.len() + 4)
            .sum();
        let buf = &mut self.buf;
        buf.reserve(app_bytes + 160);
        let _ = write_status_line(buf, status);
        if self.date_header {
            buf.extend_from_slice(&date::line());
        }
        if self.server_header {
            put_field(buf, b"server", b"rasgi");
        }
        for (name, value) in start.headers.iter() {
            let framing_field = name.eq_ignore_ascii_case(b"transfer-encoding")
                || (strip_length && name.eq_ignore_ascii_case(b"content-length"));
            if !framing_field {
                put_field(buf, name, value);
            }
        }
        match known_length {
            Some(length) if start.content_length.is_none() && !bodiless_status => {
                let mut digits = [0u8; 20];
                put_field(buf, b"content-length", decimal(length, &mut digits));
            }
            _ => {}
        }
        if matches!(framing, Framing::Chunked) {
            put_field(buf, b"transfer-encoding", b"chunked");
        }
        match (self.facts.version, self.keep_alive) {
            (Version::Http11, false) if !start.close => put_field(buf, b"connection", b"close"),
            (Version::Http10, true) => put_field(buf, b"connection", b"keep-alive"),
            _ => {}
        }
        buf.extend_from_slice(b"\r\n");
        self.status = status;
        framing
    }

    /// Frame one body message. The response stays `Broken` if the body contradicts its length
    /// (the connection then closes).
    fn write_body(
        &mut self,
        mut framing: Framing,
        body: Bytes,
        more_body: bool,
    ) -> Result<(), SendError> {
        let len = body.len();
        let mut suffix: &'static [u8] = b"";
        let mut send_body = len > 0;
        match &mut framing {
            Framing::Empty => send_body = false,
            Framing::Length(encoder) => {
                if encoder.write(len).is_err() {
                    return Err(SendError::BodyTooLong);
                }
                if !more_body && encoder.finish().is_err() {
                    return Err(SendError::BodyTooShort);
                }
            }
            Framing::Chunked if len > 0 => {
                write_chunk_size(&mut self.buf, len);
                suffix = b"\r\n";
            }
            Framing::Chunked | Framing::CloseDelimited => {}
        }
        if !matches!(framing, Framing::Empty) {
            self.body_bytes += len as u64;
        }
        let chunked = matches!(framing, Framing::Chunked);
        let then = if more_body {
            Response::Streaming(framing)
        } else if self.trailers_announced {
            Response::AwaitingTrailers { chunked }
        } else {
            if chunked {
                // The last chunk follows the data.
                suffix = if send_body {
                    b"\r\n0\r\n\r\n"
                } else {
                    b"0\r\n\r\n"
                };
            }
            Response::Complete
        };
        if send_body && len >= QUEUE_AS_IS_BYTES {
            // Queued as it is, not copied: what was buffered before it goes first.
            if !self.buf.is_empty() {
                self.queue.push_back(self.buf.split().freeze());
            }
            self.queue.push_back(body);
        } else if send_body {
            self.buf.extend_from_slice(&body);
        }
        self.buf.extend_from_slice(suffix);
        self.response = then;
        if more_body {
            self.unflushed = true;
            self.flush_now = self.buffered() >= STREAM_GATHER_BYTES;
        }
        Ok(())
    }

    fn trailers(&mut self, headers: Headers) -> Result<(), SendError> {
        let Response::AwaitingTrailers { chunked } = self.response else {
            return Err(SendError::OutOfOrder(
                "trailers not announced or not after the final body",
            ));
        };
        for (name, value) in headers.iter() {
            validate_header(name, value).map_err(|_| SendError::InvalidHeader)?;
        }
        if chunked {
            let fields = headers.iter().map(|(n, v)| (&n[..], &v[..]));
            write_last_chunk(&mut self.buf, fields).map_err(|_| SendError::InvalidHeader)?;
        }
        self.response = Response::Complete;
        Ok(())
    }
}

/// The app's `send`: a handle on the connection's write side.
pub(crate) struct ResponseSender<'a, W> {
    pub write: &'a Mutex<WriteSide<W>>,
}

impl<W: AsyncWrite + Unpin + Send> Sender for ResponseSender<'_, W> {
    async fn send(&mut self, message: Message) -> Result<(), SendError> {
        let mut write = lock(self.write).await;
        write.handle(message)?;
        write.write_out().await
    }

    async fn send_pair(&mut self, first: Message, second: Message) -> Result<(), SendError> {
        let mut write = lock(self.write).await;
        write.handle(first)?;
        write.write_out().await?;
        write.handle(second)?;
        write.write_out().await
    }
}

/// The write side, taken at once when it is free (nearly always: one request is served at a time
/// and only that request's `send` and `receive` contend for it), else waited for.
pub(crate) async fn lock<W>(write: &Mutex<WriteSide<W>>) -> MutexGuard<'_, WriteSide<W>> {
    match write.try_lock() {
        Some(guard) => guard,
        None => write.lock().await,
    }
}

/// One header field, `name: value\r\n`, already validated.
fn put_field(buf: &mut BytesMut, name: &[u8], value: &[u8]) {
    buf.extend_from_slice(name);
    buf.extend_from_slice(b": ");
    buf.extend_from_slice(value);
    buf.extend_from_slice(b"\r\n");
}

/// `n` in decimal, written into the end of `digits`.
fn decimal(mut n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[at..];
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn a_write_cut_short_resumes_where_it_stopped() {
        let (client, server) = tokio::io::duplex(4096);
        let mut write = WriteSide::new(server, false, false, Shutdown::new());
        write.begin(RequestFacts {
            version: Version::Http11,
            head: false,
            keep_alive: true,
        });
        let body = Bytes::from(vec![b'x'; 64 * 1024]);
        write.handle(Message::start(200, Headers::new())).unwrap();
        write.handle(Message::body(body)).unwrap();
        // The pipe holds 4 KiB and nobody reads yet: the write stops midway, and the future
        // awaiting it is dropped.
        let cut = tokio::time::timeout(Duration::from_millis(50), write.flush()).await;
        assert!(cut.is_err());
        let reader = tokio::spawn(async move {
            let mut client = client;
            let mut seen = Vec::new();
            let _ = client.read_to_end(&mut seen).await;
            seen
        });
        write.close().await;
        drop(write);
        let seen = reader.await.unwrap();
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 65536\r\n\r\n";
        assert!(seen.starts_with(head));
        assert_eq!(seen.windows(8).filter(|w| w == b"HTTP/1.1").count(), 1);
        assert_eq!(seen.len(), head.len() + 64 * 1024);
        assert!(seen[head.len()..].iter().all(|&b| b == b'x'));
    }

    #[tokio::test]
    async fn chunks_sent_back_to_back_wait_for_one_flush() {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let mut write = WriteSide::new(server, false, false, Shutdown::new());
        write.begin(RequestFacts {
            version: Version::Http11,
            head: false,
            keep_alive: true,
        });
        write.handle(Message::start(200, Headers::new())).unwrap();
        for _ in 0..3 {
            write
                .handle(Message::chunk(Bytes::from(vec![b'x'; 32 * 1024])))
                .unwrap();
            // Under the gathering size: nothing to write now, but marked for the app's wait.
            assert!(!write.flush_now);
            assert!(write.unflushed);
        }
        write.flush().await.unwrap();
        assert!(!write.unflushed);
        let mut seen = vec![0u8; 200 * 1024];
        let n = client.read(&mut seen).await.unwrap();
        // Head, three framed chunks: none written before the flush, all there after it.
        assert_eq!(n, write_len_of_three_chunks());
    }

    fn write_len_of_three_chunks() -> usize {
        let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".len();
        head + 3 * ("8000\r\n".len() + 32 * 1024 + 2)
    }
}

//! [`ServerConn`]: one server connection's HTTP/1.1 protocol state, sans-io, in the manner of
//! h11.
//!
//! The rule this module keeps: **it owns every transition**. Events come in as method calls
//! (a head may be in the buffer, the app wants body bytes, the app sent a message, the app
//! returned, the client left, bytes were written) and each answers what to do next (deliver a
//! body event, read more, write now, close, keep the connection alive, hand it over after a
//! 101). Every rule about order and framing, every app-misbehaviour rule and the keep-alive
//! decision ([`ServerConn::keep_alive`]) are made here, once; the caller moves bytes between
//! the socket and this type and keeps the time.
//!
//! One exchange, as the caller drives it:
//!
//! | step | caller | answer |
//! | --- | --- | --- |
//! | 1 | [`ServerConn::read_head`] with the bytes read so far | a [`Request`] for the app, "need more", a refusal already answered, or "closed" |
//! | 2 | [`ServerConn::receive`], each time the app asks for body bytes | a [`Receive`] event or what to do first |
//! | 3 | [`ServerConn::send_start`], [`ServerConn::send_body`], ... for each app message | whether the bytes must leave now ([`Flush`]) or a [`SendRefused`] |
//! | 4 | [`ServerConn::app_returned`] | how the app behaved ([`AppOutcome`]); a 500 already queued where one is due |
//! | 5 | [`ServerConn::finish`] | [`Next`]: keep alive, drain the unread body, close, or upgrade |
//!
//! Bytes to write are taken with [`ServerConn::output_slices`] and reported written with
//! [`ServerConn::wrote`] (or [`ServerConn::write_failed`]).

use std::io::IoSlice;

use bytes::{Bytes, BytesMut};

use crate::output::Output;
use crate::request::{parse_request_head, BodyKind, HeaderSpan, Span, Version};
use crate::response::{
    put_field, validate_header, write_chunk_size, write_last_chunk, write_response_head,
    write_status_line, LengthEncoder,
};
use crate::{parse_content_length, Decoded, Decoder, H1Error, Limits, Status};

/// The most header fields the parser has slots for; [`Limits::max_headers`] may lower it.
const MAX_HEADER_SLOTS: usize = 128;

/// Streamed bytes the app has sent back to back are written once they reach this much (they
/// also go out as soon as the app waits): few writes for a fast stream, flat memory for a
/// long one.
pub const STREAM_GATHER_BYTES: usize = 256 * 1024;

/// Field lists a thread keeps for reuse (see [`SPARE_FIELD_LISTS`]).
const MAX_SPARE_FIELD_LISTS: usize = 64;
/// A list with room for more fields than this is not kept: one huge response must not pin
/// its room on the thread.
const MAX_SPARE_FIELD_CAPACITY: usize = 32;

thread_local! {
    /// The parser's field slots, one set per thread: zeroing 4 KiB of slots for every request
    /// costs more than parsing a small head, and a set per connection would be 4 KiB idle.
    static HEADER_SLOTS: std::cell::RefCell<[HeaderSpan; MAX_HEADER_SLOTS]> =
        const { std::cell::RefCell::new([HeaderSpan::EMPTY; MAX_HEADER_SLOTS]) };

    /// The field lists of written response heads, emptied, for the next request heads parsed
    /// on this thread: a request and its response allocate one list between them, not two.
    /// Per thread rather than per connection, so an idle connection keeps none.
    static SPARE_FIELD_LISTS: std::cell::RefCell<Vec<Vec<(Bytes, Bytes)>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// An empty field list, reused when the thread has one.
fn field_list() -> Vec<(Bytes, Bytes)> {
    SPARE_FIELD_LISTS
        .with_borrow_mut(Vec::pop)
        .unwrap_or_default()
}

/// Keep `fields`' room for a later [`field_list`].
fn give_back_field_list(mut fields: Vec<(Bytes, Bytes)>) {
    if fields.capacity() == 0 || fields.capacity() > MAX_SPARE_FIELD_CAPACITY {
        return;
    }
    fields.clear();
    SPARE_FIELD_LISTS.with_borrow_mut(|spare| {
        if spare.len() < MAX_SPARE_FIELD_LISTS {
            spare.push(fields);
        }
    });
}

/// What a connection is told once, when it is made.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The parser's limits.
    pub limits: Limits,
    /// Largest request body accepted: a declared length above it is 413 before the app runs,
    /// a chunked body that grows past it is 413 (or a close) midway.
    pub max_body_bytes: u64,
    /// Unread body bytes read and dropped after a response to keep the connection; a longer
    /// unread body closes it (it is never parsed as a request, CVE-2020-26281).
    pub drain_limit_bytes: u64,
    /// Add `server: rasgi` to every response head.
    pub server_header: bool,
    /// Appends the `date: ...\r\n` line to a response head; `None`: no `date` header. The clock
    /// belongs to the caller, so this type stays free of time.
    pub date_line: Option<fn(&mut BytesMut)>,
}

/// A request head, owned: every part is a zero-copy slice of the bytes it arrived in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, as sent (static text for the [`common_method`]s).
    pub method: Bytes,
    /// The target's path, still percent-encoded; for an absolute-form target
    /// (`http://host/path`, RFC 9112 §3.2.2) the path part.
    pub path: Bytes,
    /// The target after the first `?`.
    pub query: Bytes,
    /// The header fields in order, names lowercased.
    pub headers: Vec<(Bytes, Bytes)>,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
}

/// What [`ServerConn::read_head`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadEvent {
    /// A request for the app.
    Request(Request),
    /// The bytes so far are the beginning of a head (or nothing): read more.
    NeedMore,
    /// The head was refused; the error response (this status) is queued and the connection
    /// closes after it.
    Refused(u16),
    /// This connection serves no more requests: write what is queued and close.
    Closed,
}

/// What [`ServerConn::receive`] asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receive {
    /// Deliver a piece of the body; `more: false` marks the last one.
    Body {
        /// The bytes (may be empty).
        data: Bytes,
        /// Whether more body follows.
        more: bool,
    },
    /// Deliver `Disconnect`: the client left, the body was refused, or the response is over.
    Disconnect,
    /// Read more bytes into the buffer and ask again (report end of stream with
    /// [`ServerConn::read_closed`] first).
    NeedMore,
    /// `100 Continue` is queued: write it out now and ask again.
    WriteContinue,
    /// The body was delivered and the response is not over: wait until the client leaves
    /// (report it with [`ServerConn::read_closed`]), then ask again.
    WaitForDisconnect,
}

/// Whether a message's bytes must leave before its `send` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Write everything out now (an informational response, a 101, or a stream past
    /// [`STREAM_GATHER_BYTES`]).
    Now,
    /// The bytes may wait: whole responses for the end of the exchange (or of a pipelined
    /// batch), streamed chunks until the app waits ([`ServerConn::has_streamed_output`]).
    Later,
}

/// Why a message from the app was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendRefused {
    /// The client has gone, or the request body was refused: nothing more can be sent.
    #[error("the client disconnected")]
    Disconnected,
    /// The message is not allowed at this point of the exchange.
    #[error("message out of order: {0}")]
    OutOfOrder(&'static str),
    /// A status the server cannot send here.
    #[error("invalid status {0}")]
    InvalidStatus(u16),
    /// A header field that could split the response or is malformed.
    #[error("invalid header field")]
    InvalidHeader,
    /// A `content-length` that is not a number, or two that disagree.
    #[error("invalid content-length from the app")]
    InvalidContentLength,
    /// More bytes than the app's `content-length`.
    #[error("body longer than its content-length")]
    BodyTooLong,
    /// The final body ended before the app's `content-length`.
    #[error("body shorter than its content-length")]
    BodyTooShort,
}

/// How the app behaved, judged by [`ServerConn::app_returned`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppOutcome {
    /// The response is complete.
    Complete,
    /// The app failed after its response was complete: the response stands.
    FailedAfterComplete,
    /// The request body was refused (too large, malformed) before the response started: the
    /// server answered with this status and closes.
    BodyRefused(u16),
    /// The app failed before its response started: the server answered 500 and closes.
    FailedBeforeStart,
    /// The app returned without a response: the server answered 500 and closes.
    NoResponse,
    /// The app failed after its response started: the body is cut and the connection closes.
    FailedAfterStart,
    /// The app returned before its final body: the body is cut and the connection closes.
    ReturnedEarly,
    /// The app answered 101: the connection belongs to the protocol it switched to.
    Upgraded,
}

impl AppOutcome {
    /// Whether the app's own response went out whole (so its background tasks may run).
    pub fn response_complete(self) -> bool {
        matches!(self, AppOutcome::Complete | AppOutcome::FailedAfterComplete)
    }
}

/// What the connection does once an exchange is over ([`ServerConn::finish`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Serve the next request.
    KeepAlive,
    /// The app left body bytes unread: drop them with [`ServerConn::drain`] first.
    Drain,
    /// Write what is queued and close.
    Close,
    /// Write what is queued; the bytes after the request belong to the protocol the 101
    /// switched to.
    Upgrade,
}

/// What one [`ServerConn::drain`] step found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// The unread body is gone: serve the next request.
    Done,
    /// Read more bytes and drain again.
    NeedMore,
    /// The body is too long, broken, or the client left: close.
    Close,
}

/// Why the connection closes after the current exchange (the first reason wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The request asked for it (`connection: close`, or HTTP/1.0 without keep-alive).
    RequestAsked,
    /// The app's response asked for it (`connection: close`).
    AppAsked,
    /// The response body has no length and HTTP/1.0 has no chunks: its end is the close.
    CloseDelimited,
    /// The server refused the request (its head, a limit, its body).
    Refused,
    /// The app misbehaved; see [`AppOutcome`].
    AppMisbehaved,
    /// The app panicked: nothing more is served on the connection, pipelined requests
    /// included.
    AppPanicked,
    /// An unread body was too long to drain, broken, or owed a `100 Continue`.
    UnreadBody,
    /// The client left, or a write to it failed.
    ClientGone,
    /// The server is shutting down (the response's head said so).
    Stopping,
    /// The caller gave up waiting (a timeout).
    TimedOut,
    /// The connection was upgraded.
    Upgraded,
}

/// Where the request side of the exchange is (for tests and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestPhase {
    /// Waiting for a head.
    AwaitingHead,
    /// Body bytes remain to be read.
    Body,
    /// The body has ended; its final event is not delivered yet.
    BodyEnded,
    /// The final body event was delivered.
    BodyDelivered,
    /// The body was refused midway.
    BodyRefused,
    /// No more requests on this connection.
    Closed,
}

/// Where the response side of the exchange is (for tests and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponsePhase {
    /// Nothing sent yet.
    Idle,
    /// `Start` accepted; its head waits for the first body message.
    StartHeld,
    /// Head written; body messages flow.
    Streaming,
    /// The final body is written; the announced trailers are awaited.
    AwaitingTrailers,
    /// The response is complete.
    Complete,
    /// The body contradicted its length: cut short.
    Broken,
    /// A 101 went out: the connection switched protocols.
    Upgraded,
}

/// The request side's state.
#[derive(Debug)]
enum Read {
    /// Between requests.
    AwaitingHead,
    /// Body bytes remain, framed by `decoder`.
    Body {
        /// The framing and how far through it we are.
        decoder: Decoder,
        /// Body bytes delivered so far (checked against the body limit).
        received: u64,
    },
    /// The body has ended (or there was none); the final event is still to be delivered.
    Ended,
    /// The final event was delivered: `receive` waits for the client to leave.
    Delivered,
    /// The body was refused (its status answers the request if the response has not started).
    Refused(u16),
    /// The connection serves no more requests.
    Closed,
}

/// The response side's state.
#[derive(Debug)]
enum Write {
    /// Nothing sent yet.
    Idle,
    /// `Start` accepted; its head is written with the first body message, so that a body that
    /// arrives whole gets a `content-length` instead of chunks.
    StartHeld(PendingStart),
    /// Head written; body messages flow in this framing.
    Streaming(Framing),
    /// The final body is written and the start announced trailers. They are sent after the last
    /// chunk when the body is chunked, and dropped otherwise (a length-framed or
    /// close-delimited body has nowhere to put them).
    AwaitingTrailers {
        /// Whether the last chunk is still to be written.
        chunked: bool,
    },
    /// Complete on the wire (or in the output).
    Complete,
    /// Cut short (the body contradicted its length): the connection must close.
    Broken,
    /// A 101 went out.
    Upgraded,
}

/// A response start whose head is not written yet.
#[derive(Debug)]
struct PendingStart {
    /// 200..=999.
    status: u16,
    /// The app's fields, each validated.
    fields: Vec<(Bytes, Bytes)>,
    /// A `Trailers` message follows the final body.
    trailers: bool,
    /// The app's `content-length`, parsed.
    content_length: Option<u64>,
    /// The app sent `connection: close`.
    close: bool,
}

/// How the body of the response in flight is framed.
#[derive(Debug)]
enum Framing {
    /// No body may be sent (HEAD, 1xx, 204, 304): body bytes are dropped.
    Empty,
    /// `content-length` framing.
    Length(LengthEncoder),
    /// Chunked framing.
    Chunked,
    /// HTTP/1.0 without a length: the body ends when the connection closes.
    CloseDelimited,
}

/// What the response needs to know about the request it answers.
#[derive(Debug, Clone, Copy)]
struct Exchange {
    /// The request's version (the response is written in HTTP/1.1 either way).
    version: Version,
    /// A HEAD request: the response has no body, whatever its headers say.
    head: bool,
    /// The request may be answered with 101 (it offered an upgrade and has no body).
    upgrade_offered: bool,
}

impl Exchange {
    /// For an answer to a head that could not be parsed.
    const UNPARSED: Exchange = Exchange {
        version: Version::Http11,
        head: false,
        upgrade_offered: false,
    };
}

/// One server connection's protocol state. See the module header for how to drive it.
#[derive(Debug)]
pub struct ServerConn {
    /// The limits and response options, fixed for the connection.
    settings: Settings,
    /// The request side.
    read: Read,
    /// The request expects `100 Continue` and has not had it (sent on the first `receive`).
    continue_owed: bool,
    /// The response side.
    write: Write,
    /// The start announced trailers: the final body is followed by a `Trailers` message.
    trailers_announced: bool,
    /// The request being answered.
    exchange: Exchange,
    /// Bytes owed to the client.
    output: Output,
    /// Why the connection closes after this exchange, if it does.
    close: Option<CloseReason>,
    /// The server is shutting down: heads written from now on close the connection.
    stopping: bool,
    /// The client left (end of stream while it was expected to talk, or a failed write):
    /// `send` refuses and `receive` says `Disconnect`.
    client_gone: bool,
    /// The read direction ended.
    read_closed: bool,
    /// Streamed chunks wait in the output: they go out as soon as the app waits, so a
    /// server-sent event is never held back, while chunks sent back to back leave together.
    streamed_output: bool,
    /// Unread body bytes dropped so far after the response.
    drained: u64,
    /// How far the head in progress has been looked at, so a head trickled in is not parsed
    /// from its first byte on every read.
    head_scan: HeadScan,
    /// Bytes handed to the head parser on this connection (a trickled head costs a few times
    /// its length, not its length squared).
    head_bytes_parsed: u64,
    /// The status written, for the access log.
    status: u16,
    /// Body bytes sent, for the access log.
    body_bytes: u64,
}

impl ServerConn {
    /// A connection waiting for its first request.
    pub fn new(settings: Settings) -> ServerConn {
        ServerConn {
            settings,
            read: Read::AwaitingHead,
            continue_owed: false,
            write: Write::Idle,
            trailers_announced: false,
            exchange: Exchange::UNPARSED,
            output: Output::default(),
            close: None,
            stopping: false,
            client_gone: false,
            read_closed: false,
            streamed_output: false,
            drained: 0,
            head_scan: HeadScan::default(),
            head_bytes_parsed: 0,
            status: 0,
            body_bytes: 0,
        }
    }

    // ----- state, for the caller's decisions and for tests -----

    /// The one keep-alive decision: whether the connection may serve another request after
    /// the current exchange, as far as is known now.
    pub fn keep_alive(&self) -> bool {
        self.close.is_none() && !self.client_gone
    }

    /// Why the connection closes after this exchange, if it does.
    pub fn close_reason(&self) -> Option<CloseReason> {
        if self.client_gone && self.close.is_none() {
            return Some(CloseReason::ClientGone);
        }
        self.close
    }

    /// Whether the client has gone (a failed write, or the end of its stream while it was
    /// expected to talk).
    pub fn client_gone(&self) -> bool {
        self.client_gone
    }

    /// Where the request side is.
    pub fn request_phase(&self) -> RequestPhase {
        match self.read {
            Read::AwaitingHead => RequestPhase::AwaitingHead,
            Read::Body { .. } => RequestPhase::Body,
            Read::Ended => RequestPhase::BodyEnded,
            Read::Delivered => RequestPhase::BodyDelivered,
            Read::Refused(_) => RequestPhase::BodyRefused,
            Read::Closed => RequestPhase::Closed,
        }
    }

    /// Where the response side is.
    pub fn response_phase(&self) -> ResponsePhase {
        match self.write {
            Write::Idle => ResponsePhase::Idle,
            Write::StartHeld(_) => ResponsePhase::StartHeld,
            Write::Streaming(_) => ResponsePhase::Streaming,
            Write::AwaitingTrailers { .. } => ResponsePhase::AwaitingTrailers,
            Write::Complete => ResponsePhase::Complete,
            Write::Broken => ResponsePhase::Broken,
            Write::Upgraded => ResponsePhase::Upgraded,
        }
    }

    /// Whether the response has put nothing on the wire yet (so the server may still answer
    /// with an error of its own).
    pub fn nothing_written(&self) -> bool {
        matches!(self.write, Write::Idle | Write::StartHeld(_))
    }

    /// Whether a request body is in flight: its bytes must not be taken for a head.
    pub fn reading_body(&self) -> bool {
        matches!(self.read, Read::Body { .. })
    }

    /// Bytes handed to the head parser so far on this connection.
    pub fn head_bytes_parsed(&self) -> u64 {
        self.head_bytes_parsed
    }

    /// The status of the response written, 0 before its head (for the access log).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Body bytes of the response so far (for the access log).
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    // ----- events from the caller: the transport -----

    /// Whether the request being served may be answered with 101 (an HTTP/1.1 request without
    /// a body that offered an upgrade).
    pub fn upgrade_offered(&self) -> bool {
        self.exchange.upgrade_offered
    }

    /// The server is shutting down: every head written from now on says `connection: close`,
    /// and the connection closes after it. A response whose head went out before this finishes
    /// as it is, and, since it did not announce the close, the next request on the connection
    /// may still come (the caller decides how long it waits for one).
    pub fn stop(&mut self) {
        self.stopping = true;
    }

    /// The caller gave up waiting (the header-read or drain timeout): no more requests.
    pub fn timed_out(&mut self) {
        self.close_for(CloseReason::TimedOut);
        self.read = Read::Closed;
    }

    /// The request body the app waits for made no progress for too long: the app sees
    /// `Disconnect`, the request is answered 408 if no response has started, and the connection
    /// closes.
    pub fn body_timed_out(&mut self) {
        if matches!(self.read, Read::Body { .. }) {
            self.read = Read::Refused(408);
        }
        self.close_for(CloseReason::TimedOut);
    }

    /// The read direction ended (end of stream, or a failed read). While the client is expected
    /// to talk (mid-body, or while the app waits for it to leave) this means it left.
    pub fn read_closed(&mut self) {
        self.read_closed = true;
        if matches!(self.read, Read::Body { .. } | Read::Delivered) {
            self.client_gone = true;
        }
    }

    /// Whether the read direction has ended.
    pub fn is_read_closed(&self) -> bool {
        self.read_closed
    }

    /// Fill `slices` with the bytes to write, oldest first; returns how many were filled.
    pub fn output_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        self.output.slices(slices)
    }

    /// The bytes to write when they are one contiguous piece (no vectored write needed).
    pub fn output_contiguous(&self) -> Option<&[u8]> {
        self.output.contiguous()
    }

    /// Bytes waiting to be written.
    pub fn output_len(&self) -> usize {
        self.output.len()
    }

    /// Whether bytes wait to be written.
    pub fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    /// Whether streamed chunks wait in the output (write them out once the app waits).
    pub fn has_streamed_output(&self) -> bool {
        self.streamed_output
    }

    /// `n` bytes of the output were written.
    pub fn wrote(&mut self, n: usize) {
        self.output.consume(n);
        if self.output.is_empty() {
            self.streamed_output = false;
        }
    }

    /// A write failed: the client is gone, and what was queued for it is dropped.
    pub fn write_failed(&mut self) {
        self.client_gone = true;
        self.output.clear();
        self.streamed_output = false;
    }

    /// Take the output buffer while nothing is queued (to pool it while the connection idles).
    pub fn take_output_buffer(&mut self) -> Option<BytesMut> {
        self.output.take_buffer()
    }

    /// Whether the output has a buffer allocated.
    pub fn has_output_buffer(&self) -> bool {
        self.output.has_buffer()
    }

    /// Give the output an empty buffer to use if it has none.
    pub fn give_output_buffer(&mut self, buf: BytesMut) {
        self.output.give_buffer(buf);
    }

    // ----- step 1: the head -----

    /// Parse the next request head from `buf` (every byte read and not yet used). On success
    /// the head's bytes are split off `buf`; what follows stays for the body or the next
    /// request.
    pub fn read_head(&mut self, buf: &mut BytesMut) -> HeadEvent {
        if !matches!(self.read, Read::AwaitingHead) || !self.keep_alive() {
            return HeadEvent::Closed;
        }
        if buf.is_empty() {
            return HeadEvent::NeedMore;
        }
        let limits = self.settings.limits;
        if !self.head_scan.worth_parsing(buf, &limits) {
            return HeadEvent::NeedMore;
        }
        self.head_bytes_parsed += buf.len() as u64;
        let parsed = HEADER_SLOTS.with_borrow_mut(|slots| {
            let head = match parse_request_head(buf, slots, &limits)? {
                Status::Partial => return Ok(None),
                Status::Complete(head) => head,
            };
            let len = head.len;
            let parts = HeadParts {
                method: head.method,
                path: head.path,
                query: head.query,
                version: head.version,
                body: head.body,
                persistent: head.persistent,
                expect_continue: head.expect_continue,
                host_count: head.host_count,
                field_count: head.headers.len(),
            };
            // Every slice of the head holds the read buffer by an atomic count, taken when it
            // is made and given back when it is dropped: the method and the common names are
            // static text instead, and the path takes the head's own hold.
            let bytes = buf.split_to(len).freeze();
            let slice = |span: Span| bytes.slice(span.start..span.end);
            let mut headers = field_list();
            headers.extend(slots[..parts.field_count].iter().map(|field| {
                let name = known_name(&bytes[field.name.start..field.name.end])
                    .unwrap_or_else(|| slice(field.name));
                (name, slice(field.value))
            }));
            let method = common_method(&bytes[parts.method.start..parts.method.end])
                .map_or_else(|| slice(parts.method), |m| Bytes::from_static(m.as_bytes()));
            let query = slice(parts.query);
            let request = Request {
                method,
                path: span_of(bytes, parts.path),
                query,
                headers,
                version: parts.version,
            };
            Ok::<_, H1Error>(Some((request, parts)))
        });
        let (mut request, parts) = match parsed {
            Ok(Some(parsed)) => parsed,
            Ok(None) => {
                self.head_scan.parsed(buf);
                return HeadEvent::NeedMore;
            }
            Err(error) => {
                self.exchange = Exchange::UNPARSED;
                return self.refuse_head(error.status());
            }
        };
        self.begin(&request, &parts);
        // Checks made before the app sees the request.
        if request.method == "CONNECT" {
            // No tunnels: an authority-form target is no path to route.
            return self.refuse_head(501);
        }
        if request.version == Version::Http11 && parts.host_count != 1 {
            return self.refuse_head(400);
        }
        match target_form(&request.method, &request.path, &request.query) {
            Err(()) => return self.refuse_head(400),
            Ok(Some((authority, path))) => {
                request.path = path;
                use_target_host(&mut request.headers, authority);
            }
            Ok(None) => {}
        }
        if matches!(parts.body, BodyKind::Length(n) if n > self.settings.max_body_bytes) {
            return self.refuse_head(413);
        }
        HeadEvent::Request(request)
    }

    /// A new exchange: the request side from the head, the response side idle.
    fn begin(&mut self, request: &Request, parts: &HeadParts) {
        self.head_scan = HeadScan::default();
        self.read = match parts.body {
            BodyKind::Empty | BodyKind::Length(0) => Read::Ended,
            BodyKind::Length(n) => Read::Body {
                decoder: Decoder::length(n),
                received: 0,
            },
            BodyKind::Chunked => Read::Body {
                decoder: Decoder::chunked(&self.settings.limits),
                received: 0,
            },
        };
        let has_body = matches!(self.read, Read::Body { .. });
        self.continue_owed = parts.expect_continue && parts.version == Version::Http11 && has_body;
        self.exchange = Exchange {
            version: parts.version,
            head: request.method == "HEAD",
            upgrade_offered: parts.version == Version::Http11
                && !has_body
                && offers_upgrade(&request.headers),
        };
        self.write = Write::Idle;
        self.status = 0;
        self.body_bytes = 0;
        self.drained = 0;
        if !parts.persistent {
            self.close_for(CloseReason::RequestAsked);
        }
    }

    /// Answer a refused head with `status` and close.
    fn refuse_head(&mut self, status: u16) -> HeadEvent {
        self.head_scan = HeadScan::default();
        self.read = Read::Closed;
        self.continue_owed = false;
        self.write = Write::Idle;
        self.close_for(CloseReason::Refused);
        self.answer(status);
        HeadEvent::Refused(status)
    }

    // ----- step 2: the request body -----

    /// The app asks for body bytes; `buf` holds what has been read and not yet used.
    pub fn receive(&mut self, buf: &mut BytesMut) -> Receive {
        if std::mem::take(&mut self.continue_owed) && !self.client_gone && self.nothing_written() {
            self.output
                .buf()
                .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            return Receive::WriteContinue;
        }
        if self.client_gone || matches!(self.write, Write::Complete | Write::Upgraded) {
            return Receive::Disconnect;
        }
        match self.read {
            Read::Ended => {
                self.read = Read::Delivered;
                Receive::Body {
                    data: Bytes::new(),
                    more: false,
                }
            }
            Read::Delivered => Receive::WaitForDisconnect,
            Read::Body { .. } => self.next_body(buf),
            Read::AwaitingHead | Read::Refused(_) | Read::Closed => Receive::Disconnect,
        }
    }

    fn next_body(&mut self, buf: &mut BytesMut) -> Receive {
        let max_body_bytes = self.settings.max_body_bytes;
        let Read::Body { decoder, received } = &mut self.read else {
            return Receive::Disconnect;
        };
        match decode(decoder, buf) {
            Ok(Some(data)) => {
                *received += data.len() as u64;
                if *received > max_body_bytes {
                    return self.refuse_body(413);
                }
                let more = !decoder.is_done();
                if !more {
                    self.read = Read::Delivered;
                }
                Receive::Body { data, more }
            }
            Ok(None) if decoder.is_done() => {
                self.read = Read::Delivered;
                Receive::Body {
                    data: Bytes::new(),
                    more: false,
                }
            }
            Ok(None) if self.read_closed => {
                self.client_gone = true;
                Receive::Disconnect
            }
            Ok(None) => Receive::NeedMore,
            Err(error) => self.refuse_body(error.status()),
        }
    }

    /// The body broke its framing or limit: nothing more is read from it, the app sees
    /// `Disconnect`, and `status` answers the request if the response has not started.
    fn refuse_body(&mut self, status: u16) -> Receive {
        self.read = Read::Refused(status);
        self.close_for(CloseReason::Refused);
        Receive::Disconnect
    }

    // ----- step 3: the app's messages -----

    /// A 1xx response before the final one (103 Early Hints).
    pub fn send_informational(
        &mut self,
        status: u16,
        fields: &[(Bytes, Bytes)],
    ) -> Result<Flush, SendRefused> {
        self.may_send()?;
        if !matches!(self.write, Write::Idle) {
            return Err(SendRefused::OutOfOrder(
                "informational response after the start",
            ));
        }
        if !(100..200).contains(&status) || status == 101 {
            return Err(SendRefused::InvalidStatus(status));
        }
        if self.exchange.version == Version::Http10 {
            // HTTP/1.0 clients do not expect 1xx responses (RFC 9110 §15.2).
            return Ok(Flush::Later);
        }
        let pairs = fields.iter().map(|(n, v)| (&n[..], &v[..]));
        write_response_head(self.output.buf(), status, pairs)
            .map_err(|_| SendRefused::InvalidHeader)?;
        Ok(Flush::Now)
    }

    /// The response's status and fields. Its head is written with the first body message; a
    /// 101 (to a request that offered an upgrade) is written at once and ends HTTP on this
    /// connection.
    pub fn send_start(
        &mut self,
        status: u16,
        fields: Vec<(Bytes, Bytes)>,
        trailers: bool,
    ) -> Result<Flush, SendRefused> {
        self.may_send()?;
        if !matches!(self.write, Write::Idle) {
            return Err(SendRefused::OutOfOrder("response already started"));
        }
        let upgrade = status == 101 && self.exchange.upgrade_offered;
        if !upgrade && !(200..=999).contains(&status) {
            return Err(SendRefused::InvalidStatus(status));
        }
        let mut content_length = None;
        let mut close = false;
        for (name, value) in &fields {
            validate_header(name, value).map_err(|_| SendRefused::InvalidHeader)?;
            if name.eq_ignore_ascii_case(b"content-length") {
                let parsed =
                    parse_content_length(value).map_err(|_| SendRefused::InvalidContentLength)?;
                if content_length.is_some_and(|earlier| earlier != parsed) {
                    return Err(SendRefused::InvalidContentLength);
                }
                content_length = Some(parsed);
            } else if name.eq_ignore_ascii_case(b"connection") {
                close |= value
                    .split(|&b| b == b',')
                    .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"));
            }
        }
        let start = PendingStart {
            status,
            fields,
            trailers,
            content_length,
            close,
        };
        if upgrade {
            self.write_head(start, None);
            self.write = Write::Upgraded;
            self.read = Read::Closed;
            self.close_for(CloseReason::Upgraded);
            return Ok(Flush::Now);
        }
        self.write = Write::StartHeld(start);
        Ok(Flush::Later)
    }

    /// A piece of the response body; `more: false` marks the last one.
    pub fn send_body(&mut self, body: Bytes, more: bool) -> Result<Flush, SendRefused> {
        self.may_send()?;
        let framing = match std::mem::replace(&mut self.write, Write::Broken) {
            Write::StartHeld(start) => {
                let known_length = start
                    .content_length
                    .or((!more).then_some(body.len() as u64));
                self.write_head(start, known_length)
            }
            Write::Streaming(framing) => framing,
            Write::Idle => {
                self.write = Write::Idle;
                return Err(SendRefused::OutOfOrder("body before the response start"));
            }
            Write::Upgraded => {
                self.write = Write::Upgraded;
                return Err(SendRefused::OutOfOrder("the connection was upgraded"));
            }
            other => {
                self.write = other;
                return Err(SendRefused::OutOfOrder("body after the final body"));
            }
        };
        self.write_body(framing, body, more)
    }

    /// Trailer fields, after the final body of a response whose start announced them.
    pub fn send_trailers(&mut self, fields: &[(Bytes, Bytes)]) -> Result<Flush, SendRefused> {
        self.may_send()?;
        let Write::AwaitingTrailers { chunked } = self.write else {
            return Err(SendRefused::OutOfOrder(
                "trailers not announced or not after the final body",
            ));
        };
        for (name, value) in fields {
            validate_header(name, value).map_err(|_| SendRefused::InvalidHeader)?;
        }
        if chunked {
            let pairs = fields.iter().map(|(n, v)| (&n[..], &v[..]));
            write_last_chunk(self.output.buf(), pairs).map_err(|_| SendRefused::InvalidHeader)?;
        }
        self.write = Write::Complete;
        Ok(Flush::Later)
    }

    /// Sends are refused once the client is gone or the body was refused.
    fn may_send(&self) -> Result<(), SendRefused> {
        if self.client_gone || matches!(self.read, Read::Refused(_)) {
            return Err(SendRefused::Disconnected);
        }
        Ok(())
    }

    /// Decide the framing and write the head (RFC 9112 §6.3 from the sender's side).
    /// `known_length` is the body's length if known (the app's `content-length`, or a body that
    /// arrived whole); a 101 passes `None` and gets no framing at all.
    fn write_head(&mut self, start: PendingStart, known_length: Option<u64>) -> Framing {
        let status = start.status;
        let bodiless_status = status == 204 || status == 304 || status < 200;
        if start.close {
            self.close_for(CloseReason::AppAsked);
        }
        if self.stopping {
            self.close_for(CloseReason::Stopping);
        }
        let framing = if self.exchange.head || bodiless_status {
            Framing::Empty
        } else if let Some(length) = known_length {
            Framing::Length(LengthEncoder::new(length))
        } else if self.exchange.version == Version::Http11 {
            Framing::Chunked
        } else {
            self.close_for(CloseReason::CloseDelimited);
            Framing::CloseDelimited
        };
        self.trailers_announced = start.trailers;

        // Every field was validated in `send_start`, and the status too; the fields the server
        // adds are constants. Written piece by piece into room reserved once.
        let strip_length = status == 204 || status < 200;
        let app_bytes: usize = start
            .fields
            .iter()
            .map(|(name, value)| name.len() + value.len() + 4)
            .sum();
        let keep_alive = self.keep_alive();
        let (server_header, date_line) = (self.settings.server_header, self.settings.date_line);
        let version = self.exchange.version;
        let head_request = self.exchange.head;
        self.output.buf().reserve(app_bytes + 160);
        let _ = write_status_line(self.output.buf(), status);
        if let Some(date_line) = date_line {
            self.output.put_date(date_line);
        }
        let buf = self.output.buf();
        if server_header {
            put_field(buf, b"server", b"rasgi");
        }
        for (name, value) in &start.fields {
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
        // A HEAD response names the framing a GET would have had (RFC 9112 §6.1), and sends no body.
        let chunked_for_get = head_request
            && !bodiless_status
            && known_length.is_none()
            && version == Version::Http11;
        if matches!(framing, Framing::Chunked) || chunked_for_get {
            put_field(buf, b"transfer-encoding", b"chunked");
        }
        if status != 101 {
            match (version, keep_alive) {
                (Version::Http11, false) if !start.close => {
                    put_field(buf, b"connection", b"close");
                }
                (Version::Http10, true) => put_field(buf, b"connection", b"keep-alive"),
                _ => {}
            }
        }
        buf.extend_from_slice(b"\r\n");
        self.status = status;
        give_back_field_list(start.fields);
        framing
    }

    /// Frame one body message. The response stays `Broken` if the body contradicts its length.
    fn write_body(
        &mut self,
        mut framing: Framing,
        body: Bytes,
        more: bool,
    ) -> Result<Flush, SendRefused> {
        let len = body.len();
        let mut suffix: &'static [u8] = b"";
        let mut send_body = len > 0;
        match &mut framing {
            Framing::Empty => send_body = false,
            Framing::Length(encoder) => {
                if encoder.write(len).is_err() {
                    return Err(SendRefused::BodyTooLong);
                }
                if !more && encoder.finish().is_err() {
                    return Err(SendRefused::BodyTooShort);
                }
            }
            Framing::Chunked if len > 0 => {
                write_chunk_size(self.output.buf(), len);
                suffix = b"\r\n";
            }
            Framing::Chunked | Framing::CloseDelimited => {}
        }
        if !matches!(framing, Framing::Empty) {
            self.body_bytes += len as u64;
        }
        let chunked = matches!(framing, Framing::Chunked);
        let then = if more {
            Write::Streaming(framing)
        } else if self.trailers_announced {
            Write::AwaitingTrailers { chunked }
        } else {
            if chunked {
                // The last chunk follows the data.
                suffix = if send_body {
                    b"\r\n0\r\n\r\n"
                } else {
                    b"0\r\n\r\n"
                };
            }
            Write::Complete
        };
        if send_body {
            self.output.put_body(body);
        }
        self.output.buf().extend_from_slice(suffix);
        self.write = then;
        if more {
            self.streamed_output = true;
            if self.output.len() >= STREAM_GATHER_BYTES {
                return Ok(Flush::Now);
            }
        }
        Ok(Flush::Later)
    }

    // ----- step 4: the app returned -----

    /// The app panicked (tell the machine before [`ServerConn::app_returned`], so that an
    /// answer it queues says `connection: close`): the connection serves nothing after this
    /// exchange.
    pub fn app_panicked(&mut self) {
        self.close_for(CloseReason::AppPanicked);
    }

    /// The app returned (`failed`: with an error). Judges how it behaved, once: a 500 is queued
    /// where nothing was written yet, a response left incomplete makes the connection close.
    pub fn app_returned(&mut self, failed: bool) -> AppOutcome {
        if self.nothing_written() {
            let (status, outcome) = match self.read {
                Read::Refused(status) => (status, AppOutcome::BodyRefused(status)),
                _ if failed => (500, AppOutcome::FailedBeforeStart),
                _ => (500, AppOutcome::NoResponse),
            };
            self.close_for(CloseReason::AppMisbehaved);
            self.answer(status);
            return outcome;
        }
        match (&self.write, failed) {
            (Write::Upgraded, _) => AppOutcome::Upgraded,
            (Write::Complete, false) => AppOutcome::Complete,
            (Write::Complete, true) => AppOutcome::FailedAfterComplete,
            (_, true) => {
                self.close_for(CloseReason::AppMisbehaved);
                AppOutcome::FailedAfterStart
            }
            (_, false) => {
                self.close_for(CloseReason::AppMisbehaved);
                AppOutcome::ReturnedEarly
            }
        }
    }

    /// A complete plain-text response from the server itself (errors, limits), queued, unless
    /// the client is gone.
    fn answer(&mut self, status: u16) {
        self.write = Write::Idle;
        if self.client_gone {
            return;
        }
        let text = answer_text(status);
        let fields = vec![(
            Bytes::from_static(b"content-type"),
            Bytes::from_static(ANSWER_CONTENT_TYPE.as_bytes()),
        )];
        let start = PendingStart {
            status,
            fields,
            trailers: false,
            content_length: None,
            close: false,
        };
        let framing = self.write_head(start, Some(text.len() as u64));
        let _ = self.write_body(framing, Bytes::from_static(text.as_bytes()), false);
    }

    // ----- step 5: after the exchange -----

    /// The exchange is over (the app returned and was judged): what the connection does next.
    pub fn finish(&mut self) -> Next {
        if matches!(self.write, Write::Upgraded) {
            return Next::Upgrade;
        }
        if matches!(self.read, Read::Body { .. }) && self.continue_owed {
            // The client waits for `100 Continue` before it sends the body nobody read.
            self.close_for(CloseReason::UnreadBody);
        }
        if !self.keep_alive() {
            self.read = Read::Closed;
            return Next::Close;
        }
        if matches!(self.read, Read::Body { .. }) {
            return Next::Drain;
        }
        self.read = Read::AwaitingHead;
        Next::KeepAlive
    }

    /// Read and drop the unread body (after [`Next::Drain`]), up to the drain limit.
    pub fn drain(&mut self, buf: &mut BytesMut) -> Drain {
        loop {
            let Read::Body { decoder, .. } = &mut self.read else {
                return if self.keep_alive() {
                    Drain::Done
                } else {
                    Drain::Close
                };
            };
            match decode(decoder, buf) {
                Ok(Some(data)) => self.drained += data.len() as u64,
                Ok(None) if decoder.is_done() => {}
                Ok(None) if self.read_closed => return self.drain_failed(),
                Ok(None) => return Drain::NeedMore,
                Err(_) => return self.drain_failed(),
            }
            if self.drained > self.settings.drain_limit_bytes {
                return self.drain_failed();
            }
            if matches!(&self.read, Read::Body { decoder, .. } if decoder.is_done()) {
                self.read = Read::AwaitingHead;
                return Drain::Done;
            }
        }
    }

    fn drain_failed(&mut self) -> Drain {
        self.close_for(CloseReason::UnreadBody);
        self.read = Read::Closed;
        Drain::Close
    }

    /// Record why the connection closes (the first reason stays).
    fn close_for(&mut self, reason: CloseReason) {
        self.close.get_or_insert(reason);
    }
}

/// The `content-type` of the server's own answers (errors, limits).
pub const ANSWER_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The body of the server's own answer with `status`: its reason phrase.
pub fn answer_text(status: u16) -> &'static str {
    match crate::reason_phrase(status) {
        "" => "Error",
        reason => reason,
    }
}

/// How far a head in progress has been looked at. The parser is restartable, not resumable: it
/// reads a head from its first byte. So it runs again only when that can change its answer
/// soon enough: when the bytes have doubled since it last ran (every error is still found, and
/// the work stays linear), when a possible end of the head arrives (`\n\r\n`, or `\n\n`,
/// which it refuses), or when a limit is passed. Only the new bytes are searched.
#[derive(Debug, Default, Clone, Copy)]
struct HeadScan {
    /// The buffer's length when the parser last answered "partial"; 0: it has not run yet.
    parsed_len: usize,
    /// Bytes already searched for the end of the head.
    searched: usize,
    /// A line end has been seen (the request line is complete).
    line_end_seen: bool,
}

impl HeadScan {
    /// Whether the parser should run over `buf` now.
    fn worth_parsing(&mut self, buf: &[u8], limits: &Limits) -> bool {
        if self.parsed_len == 0 {
            // The first look at this head (nearly always the whole head): parse it.
            return true;
        }
        let from = self.searched.saturating_sub(2);
        let new = &buf[from.min(buf.len())..];
        self.searched = buf.len();
        self.line_end_seen |= new.contains(&b'\n');
        buf.len() >= 2 * self.parsed_len
            || new.windows(2).any(|w| w == b"\n\n")
            || new.windows(3).any(|w| w == b"\n\r\n")
            || buf.len() > limits.max_head_bytes
            || (!self.line_end_seen && buf.len() > limits.max_request_line_bytes)
    }

    /// The parser answered "partial" for `len` bytes.
    fn parsed(&mut self, buf: &[u8]) {
        if self.parsed_len == 0 {
            self.line_end_seen = buf.contains(&b'\n');
        }
        self.parsed_len = buf.len();
        self.searched = buf.len();
    }
}

/// What the parsed head says beyond the [`Request`] itself.
struct HeadParts {
    method: Span,
    path: Span,
    query: Span,
    version: Version,
    body: BodyKind,
    persistent: bool,
    expect_continue: bool,
    host_count: usize,
    field_count: usize,
}

/// One decode step over `buf`: the bytes used are split off; returns the data, if any.
fn decode(decoder: &mut Decoder, buf: &mut BytesMut) -> Result<Option<Bytes>, H1Error> {
    let (used, decoded) = decoder.decode(buf)?;
    match decoded {
        Decoded::Data(data) => {
            let offset = data.as_ptr() as usize - buf.as_ptr() as usize;
            let len = data.len();
            let taken = buf.split_to(used).freeze();
            Ok(Some(taken.slice(offset..offset + len)))
        }
        Decoded::End | Decoded::NeedMore => {
            let _ = buf.split_to(used);
            Ok(None)
        }
    }
}

/// The request-target forms of RFC 9112 §3.2 a server accepts, given the target's path (up to
/// its first `?`) and query: origin-form (`/path?query`), asterisk-form (`*`) for OPTIONS only,
/// and absolute-form (`http://host/path`), for which the authority and the path are returned:
/// the host stands for `Host` (§3.2.2). Authority-form belongs to CONNECT, refused before this.
/// A fragment (`#`) is never part of a target (§3.2), and an absolute-form target needs a host.
fn target_form(method: &[u8], path: &Bytes, query: &[u8]) -> Result<Option<(Bytes, Bytes)>, ()> {
    if path.contains(&b'#') || query.contains(&b'#') {
        return Err(());
    }
    if path.starts_with(b"/") {
        return Ok(None);
    }
    if &path[..] == b"*" && query.is_empty() {
        return if method == b"OPTIONS" {
            Ok(None)
        } else {
            Err(())
        };
    }
    for scheme in [&b"http://"[..], b"https://"] {
        if path.len() >= scheme.len() && path[..scheme.len()].eq_ignore_ascii_case(scheme) {
            let rest = path.slice(scheme.len()..);
            let end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
            let authority = rest.slice(..end);
            // `user@host` is not sent to servers in http(s) URIs (RFC 9110 §4.2.4).
            if authority.is_empty() || authority.contains(&b'@') {
                return Err(());
            }
            let path = match end {
                end if end == rest.len() => Bytes::from_static(b"/"),
                end => rest.slice(end..),
            };
            return Ok(Some((authority, path)));
        }
    }
    Err(())
}

/// An absolute-form target's host replaces any `Host` field (RFC 9112 §3.2.2).
fn use_target_host(headers: &mut Vec<(Bytes, Bytes)>, host: Bytes) {
    headers.retain(|(name, _)| &name[..] != b"host");
    headers.push((Bytes::from_static(b"host"), host));
}

/// Whether the request asks to switch protocols: an `upgrade` field and `upgrade` among the
/// `connection` options (RFC 9110 §7.8).
fn offers_upgrade(headers: &[(Bytes, Bytes)]) -> bool {
    let mut upgrade = false;
    let mut connection_upgrade = false;
    for (name, value) in headers {
        if &name[..] == b"upgrade" {
            upgrade = true;
        } else if &name[..] == b"connection" {
            connection_upgrade |= value
                .split(|&b| b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"upgrade"));
        }
    }
    upgrade && connection_upgrade
}

/// `span` of `bytes`, keeping `bytes`' own hold on the buffer (no count taken or given).
fn span_of(mut bytes: Bytes, span: Span) -> Bytes {
    bytes.truncate(span.end);
    bytes::Buf::advance(&mut bytes, span.start);
    bytes
}

/// `method` as static text when it is one of the common methods (a request's method is one of
/// these or a slice of its read buffer: [`Request::method`]).
pub fn common_method(method: &[u8]) -> Option<&'static str> {
    Some(match method {
        b"GET" => "GET",
        b"POST" => "POST",
        b"HEAD" => "HEAD",
        b"PUT" => "PUT",
        b"DELETE" => "DELETE",
        b"OPTIONS" => "OPTIONS",
        b"PATCH" => "PATCH",
        _ => return None,
    })
}

/// Request field names common enough to be worth matching (already lowercased by the parser),
/// by length: each is static text instead of a slice of the read buffer.
fn known_name(name: &[u8]) -> Option<Bytes> {
    let candidates: &[&'static [u8]] = match name.len() {
        2 => &[b"te"],
        3 => &[b"dnt"],
        4 => &[b"host"],
        6 => &[b"accept", b"cookie", b"origin", b"expect", b"pragma"],
        7 => &[b"referer", b"upgrade"],
        8 => &[b"priority"],
        10 => &[b"user-agent", b"connection"],
        12 => &[b"content-type", b"x-request-id"],
        13 => &[b"cache-control", b"authorization", b"if-none-match"],
        14 => &[
            b"content-length",
            b"sec-fetch-dest",
            b"sec-fetch-mode",
            b"sec-fetch-site",
        ],
        15 => &[b"accept-encoding", b"accept-language", b"x-forwarded-for"],
        17 => &[
            b"transfer-encoding",
            b"if-modified-since",
            b"x-forwarded-proto",
            b"sec-websocket-key",
        ],
        21 => &[b"sec-websocket-version"],
        22 => &[b"sec-websocket-protocol"],
        24 => &[b"sec-websocket-extensions"],
        25 => &[b"upgrade-insecure-requests"],
        _ => return None,
    };
    candidates
        .iter()
        .find(|known| **known == name)
        .map(|known| Bytes::from_static(known))
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

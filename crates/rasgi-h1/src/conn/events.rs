//! What the caller tells a connection once ([`Settings`]) and what its transitions answer: one
//! type per question the caller asks of [`super::ServerConn`], and the phases tests and logs
//! read.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::incoming::Request;
use crate::Limits;

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
    /// Fields written into every response head after `server` and `date`, the server's own
    /// answers included (the operator's, as uvicorn's `--header`). Each must already be valid
    /// (`validate_header`): they are written as they are.
    pub default_fields: Option<Arc<Vec<(Bytes, Bytes)>>>,
    /// Appends the `date: ...\r\n` line to a response head; `None`: no `date` header. The clock
    /// belongs to the caller, so this type stays free of time.
    pub date_line: Option<fn(&mut BytesMut)>,
    /// What the connection's first bytes may be besides an HTTP/1.1 request: HTTP/2's
    /// connection preface (RFC 9113 §3.4), for which
    /// [`ServerConn::read_head`](super::ServerConn::read_head) answers [`HeadEvent::Http2`].
    pub http2: Http2Preface,
}

/// Whether a connection may open with HTTP/2's preface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Http2Preface {
    /// HTTP/1.1 only: the preface is an HTTP/1.1 request like any other (of version 2.0,
    /// refused with 505).
    #[default]
    Ignored,
    /// Either: the preface is recognised.
    Accepted,
    /// HTTP/2 only: the preface is recognised, and anything else is refused with 505.
    Required,
}

/// What [`ServerConn::read_head`](super::ServerConn::read_head) found.
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
    /// The connection opened with HTTP/2's preface: nothing was taken from the buffer, and the
    /// caller serves the connection as HTTP/2.
    Http2,
}

/// What [`ServerConn::receive`](super::ServerConn::receive) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyEvent {
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
    /// [`ServerConn::read_closed`](super::ServerConn::read_closed) first).
    NeedMore,
    /// `100 Continue` is queued: write it out now and ask again.
    WriteContinue,
    /// The body was delivered and the response is not over: wait until the client leaves
    /// (report it with [`ServerConn::read_closed`](super::ServerConn::read_closed)), then ask again.
    WaitForDisconnect,
}

/// Whether a message's bytes must leave before its `send` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Write everything out now (an informational response, a 101, or a stream past
    /// [`STREAM_GATHER_BYTES`](super::STREAM_GATHER_BYTES)).
    Now,
    /// The bytes may wait: whole responses for the end of the exchange (or of a pipelined
    /// batch), streamed chunks until the app waits ([`ServerConn::has_streamed_output`](super::ServerConn::has_streamed_output)).
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

/// How the app behaved, judged by [`ServerConn::app_returned`](super::ServerConn::app_returned).
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

/// What the connection does once an exchange is over ([`ServerConn::finish`](super::ServerConn::finish)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterExchange {
    /// Serve the next request.
    KeepAlive,
    /// The app left body bytes unread: drop them with [`ServerConn::drain`](super::ServerConn::drain) first.
    Drain,
    /// Write what is queued and close.
    Close,
    /// Write what is queued; the bytes after the request belong to the protocol the 101
    /// switched to.
    Upgrade,
}

/// What one [`ServerConn::drain`](super::ServerConn::drain) step found.
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

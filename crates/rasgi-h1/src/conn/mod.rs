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
//! | 2 | [`ServerConn::receive`], each time the app asks for body bytes | a [`BodyEvent`] or what to do first |
//! | 3 | [`ServerConn::send_start`], [`ServerConn::send_body`], ... for each app message | whether the bytes must leave now ([`Flush`]) or a [`SendRefused`] |
//! | 4 | [`ServerConn::app_returned`] | how the app behaved ([`AppOutcome`]); a 500 already queued where one is due |
//! | 5 | [`ServerConn::finish`] | [`AfterExchange`]: keep alive, drain the unread body, close, or upgrade |
//!
//! Bytes to write are taken with [`ServerConn::output_slices`] and reported written with
//! [`ServerConn::wrote`] (or [`ServerConn::write_failed`]).

use std::io::IoSlice;

use bytes::{Bytes, BytesMut};

pub use crate::incoming::{common_method, Request};
use crate::incoming::{
    offers_upgrade, parse_head, target_form, use_target_host, HeadParts, HeadScan,
};
use crate::outgoing::{Framing, PendingStart};
use crate::request::{BodyKind, Version};
use crate::{Decoded, Decoder, H1Error};
use rasgi_output::Output;

pub use events::*;

mod events;
mod send;

/// Streamed bytes the app has sent back to back are written once they reach this much (they
/// also go out as soon as the app waits): few writes for a fast stream, flat memory for a
/// long one.
pub const STREAM_GATHER_BYTES: usize = 256 * 1024;

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
    /// The bytes read so far may still be HTTP/2's preface (`Settings::http2` allows it, and
    /// the first bytes have not yet decided).
    preface_possible: bool,
}

/// What a connection's first bytes are, when they may be HTTP/2's preface.
enum FirstBytes {
    /// An HTTP/1.1 request (or the start of one).
    Http1,
    /// The whole preface.
    Http2,
    /// The start of the preface: more bytes decide.
    Undecided,
    /// Not the preface, on a connection that must speak HTTP/2.
    Refused,
}

/// HTTP/2's connection preface (RFC 9113 §3.4): as an HTTP/1.1 request line it would be
/// `PRI *` with version `HTTP/2.0`.
const HTTP2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

impl ServerConn {
    /// A connection waiting for its first request.
    pub fn new(settings: Settings) -> ServerConn {
        ServerConn {
            preface_possible: settings.http2 != Http2Preface::Ignored,
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

    /// The version of the request being answered (for the access log).
    pub fn version(&self) -> Version {
        self.exchange.version
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

    /// The app gave up on the request's body: it is longer than the app takes (`read_body`'s
    /// limit). Nothing more is read from it, `status` (413) answers the request if no response
    /// has started, and the connection closes. Tell the machine before
    /// [`ServerConn::app_returned`].
    pub fn app_refused_body(&mut self, status: u16) {
        if matches!(self.read, Read::Body { .. } | Read::Delivered) {
            self.read = Read::Refused(status);
        }
        self.close_for(CloseReason::Refused);
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

    /// What a connection's first bytes are, where they may be HTTP/2's preface. Out of line:
    /// it runs once per connection, and `read_head` runs for every request.
    #[cold]
    #[inline(never)]
    fn first_bytes(&self, buf: &[u8]) -> FirstBytes {
        let seen = buf.len().min(HTTP2_PREFACE.len());
        if buf[..seen] == HTTP2_PREFACE[..seen] {
            if seen == HTTP2_PREFACE.len() {
                FirstBytes::Http2
            } else {
                FirstBytes::Undecided
            }
        } else if self.settings.http2 == Http2Preface::Required {
            FirstBytes::Refused
        } else {
            FirstBytes::Http1
        }
    }

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
        if self.preface_possible {
            match self.first_bytes(buf) {
                FirstBytes::Http1 => self.preface_possible = false,
                FirstBytes::Http2 => return HeadEvent::Http2,
                FirstBytes::Undecided => return HeadEvent::NeedMore,
                FirstBytes::Refused => {
                    self.preface_possible = false;
                    self.exchange = Exchange::UNPARSED;
                    return self.refuse_head(505);
                }
            }
        }
        let limits = self.settings.limits;
        if !self.head_scan.worth_parsing(buf, &limits) {
            return HeadEvent::NeedMore;
        }
        self.head_bytes_parsed += buf.len() as u64;
        let parsed = parse_head(buf, &limits);
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
    pub fn receive(&mut self, buf: &mut BytesMut) -> BodyEvent {
        if std::mem::take(&mut self.continue_owed) && !self.client_gone && self.nothing_written() {
            self.output
                .buf()
                .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            return BodyEvent::WriteContinue;
        }
        if self.client_gone || matches!(self.write, Write::Complete | Write::Upgraded) {
            return BodyEvent::Disconnect;
        }
        match self.read {
            Read::Ended => {
                self.read = Read::Delivered;
                BodyEvent::Body {
                    data: Bytes::new(),
                    more: false,
                }
            }
            Read::Delivered => BodyEvent::WaitForDisconnect,
            Read::Body { .. } => self.next_body(buf),
            Read::AwaitingHead | Read::Refused(_) | Read::Closed => BodyEvent::Disconnect,
        }
    }

    fn next_body(&mut self, buf: &mut BytesMut) -> BodyEvent {
        let max_body_bytes = self.settings.max_body_bytes;
        let Read::Body { decoder, received } = &mut self.read else {
            return BodyEvent::Disconnect;
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
                BodyEvent::Body { data, more }
            }
            Ok(None) if decoder.is_done() => {
                self.read = Read::Delivered;
                BodyEvent::Body {
                    data: Bytes::new(),
                    more: false,
                }
            }
            Ok(None) if self.read_closed => {
                self.client_gone = true;
                BodyEvent::Disconnect
            }
            Ok(None) => BodyEvent::NeedMore,
            Err(error) => self.refuse_body(error.status()),
        }
    }

    /// The body broke its framing or limit: nothing more is read from it, the app sees
    /// `Disconnect`, and `status` answers the request if the response has not started.
    fn refuse_body(&mut self, status: u16) -> BodyEvent {
        self.read = Read::Refused(status);
        self.close_for(CloseReason::Refused);
        BodyEvent::Disconnect
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

    // ----- step 5: after the exchange -----

    /// The exchange is over (the app returned and was judged): what the connection does next.
    pub fn finish(&mut self) -> AfterExchange {
        if matches!(self.write, Write::Upgraded) {
            return AfterExchange::Upgrade;
        }
        if matches!(self.read, Read::Body { .. }) && self.continue_owed {
            // The client waits for `100 Continue` before it sends the body nobody read.
            self.close_for(CloseReason::UnreadBody);
        }
        if !self.keep_alive() {
            self.read = Read::Closed;
            return AfterExchange::Close;
        }
        if matches!(self.read, Read::Body { .. }) {
            return AfterExchange::Drain;
        }
        self.read = Read::AwaitingHead;
        AfterExchange::KeepAlive
    }

    /// Read and drop the unread body (after [`AfterExchange::Drain`]), up to the drain limit.
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

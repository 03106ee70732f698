//! The connection state machine without any I/O: a table of (state, event) → (next state,
//! action). Each row reaches a state with a few events, applies one more, and checks what the
//! machine answered, where both sides of the exchange are afterwards, and what it queued for
//! the wire.

use std::collections::BTreeSet;
use std::io::IoSlice;

use bytes::{Bytes, BytesMut};
use rasgi_h1::conn::{RequestPhase as Rq, ResponsePhase as Rs, Settings};
use rasgi_h1::{Limits, ServerConn};

/// One event, as the server would deliver it.
#[derive(Clone, Copy)]
enum Ev {
    /// Bytes arrive and the head is parsed.
    Head(&'static str),
    /// Bytes arrive (body or a pipelined request), nothing else.
    Bytes(&'static str),
    /// The app asks for body bytes.
    Receive,
    /// The client's stream ended.
    ReadClosed,
    /// A write to the client failed.
    WriteFailed,
    /// The server is shutting down.
    Stop,
    /// `Informational`.
    Info(u16),
    /// `Start` with these fields.
    Start(u16, &'static [(&'static str, &'static str)]),
    /// `Start` announcing trailers.
    StartTrailers,
    /// `Body`.
    Body(&'static str, bool),
    /// `Trailers`.
    Trailers,
    /// The whole body from a file, this many bytes long.
    File(u64),
    /// The app returned (`true`: with an error).
    Returned(bool),
    /// The exchange is over.
    Finish,
    /// Drain the unread body.
    Drain,
    /// The body made no progress within the body timeout.
    BodyTimedOut,
    /// The app panicked.
    Panicked,
    /// The app gave up on a body longer than it takes.
    RefusedBody,
}

struct Row {
    /// What the row pins.
    name: &'static str,
    /// Events that reach the state under test.
    given: &'static [Ev],
    /// The event under test.
    when: Ev,
    /// The machine's answer to it, as `Debug` text.
    then: &'static str,
    /// Where the request and response sides are afterwards.
    phases: (Rq, Rs),
    /// Text the wire must hold (everything queued, from the start).
    wire_has: &'static [&'static str],
    /// Text the wire must not hold.
    wire_lacks: &'static [&'static str],
}

const GET: &str = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
const POST5: &str = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
const CHUNKED: &str = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
const EXPECT: &str =
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
const HEAD: &str = "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n";
const HTTP10: &str = "GET / HTTP/1.0\r\n\r\n";
const HTTP10_KEEP: &str = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
const UPGRADE: &str =
    "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n";
const UPGRADE_WITH_BODY: &str =
    "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: x\r\nContent-Length: 1\r\n\r\n";
const PLAIN: &[(&str, &str)] = &[("content-type", "text/plain")];
const NONE: &[(&str, &str)] = &[];

use Ev::*;

#[rustfmt::skip]
const TABLE: &[Row] = &[
    // ----- heads -----
    Row { name: "a complete head is a request; a body-less one has its body ended",
        given: &[], when: Head(GET), then: "Request", phases: (Rq::BodyEnded, Rs::Idle),
        wire_has: &[], wire_lacks: &["HTTP"] },
    Row { name: "a partial head is not an error",
        given: &[], when: Head("GET / HTTP/1.1\r\nHo"), then: "NeedMore", phases: (Rq::AwaitingHead, Rs::Idle),
        wire_has: &[], wire_lacks: &["HTTP"] },
    Row { name: "a malformed head is answered with its status and closes",
        given: &[], when: Head("GET / HTTP/1.1\r\nHost a\r\n\r\n"), then: "Refused(400)", phases: (Rq::Closed, Rs::Complete),
        wire_has: &["HTTP/1.1 400 Bad Request\r\n", "connection: close", "\r\n\r\nBad Request"], wire_lacks: &[] },
    Row { name: "HTTP/1.1 without Host is 400",
        given: &[], when: Head("GET / HTTP/1.1\r\n\r\n"), then: "Refused(400)", phases: (Rq::Closed, Rs::Complete),
        wire_has: &["400 Bad Request"], wire_lacks: &[] },
    Row { name: "HTTP/1.0 without Host is served",
        given: &[], when: Head(HTTP10), then: "Request", phases: (Rq::BodyEnded, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "CONNECT is refused: no tunnels",
        given: &[], when: Head("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"), then: "Refused(501)", phases: (Rq::Closed, Rs::Complete),
        wire_has: &["501 Not Implemented"], wire_lacks: &[] },
    Row { name: "a declared body over the limit is 413 before the app runs",
        given: &[], when: Head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n"), then: "Refused(413)", phases: (Rq::Closed, Rs::Complete),
        wire_has: &["413 Content Too Large"], wire_lacks: &[] },
    Row { name: "no head is read once the connection is to close",
        given: &[Head(HTTP10), Start(200, PLAIN), Body("x", false), Returned(false), Finish], when: Head(GET), then: "Closed", phases: (Rq::Closed, Rs::Complete),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "no head is read while a body is unread",
        given: &[Head(POST5)], when: Head(GET), then: "Closed", phases: (Rq::Body, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    // ----- the request body -----
    Row { name: "a request without a body receives one empty final event",
        given: &[Head(GET)], when: Receive, then: "Body(\"\", more=false)", phases: (Rq::BodyDelivered, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "body bytes are delivered as they arrive",
        given: &[Head(POST5), Bytes("abc")], when: Receive, then: "Body(\"abc\", more=true)", phases: (Rq::Body, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "the last body bytes end the body",
        given: &[Head(POST5), Bytes("abc"), Receive, Bytes("de")], when: Receive, then: "Body(\"de\", more=false)", phases: (Rq::BodyDelivered, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "no body bytes yet: read more",
        given: &[Head(POST5)], when: Receive, then: "NeedMore", phases: (Rq::Body, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "chunks are delivered one by one, then the end",
        given: &[Head(CHUNKED), Bytes("3\r\nabc\r\n0\r\n\r\n"), Receive], when: Receive, then: "Body(\"\", more=false)", phases: (Rq::BodyDelivered, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "after the body, receive waits for the client to leave",
        given: &[Head(GET), Receive], when: Receive, then: "WaitForDisconnect", phases: (Rq::BodyDelivered, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "the client leaving while the app waits is Disconnect",
        given: &[Head(GET), Receive, ReadClosed], when: Receive, then: "Disconnect", phases: (Rq::BodyDelivered, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "the client leaving mid-body is Disconnect",
        given: &[Head(POST5), Bytes("ab"), Receive, ReadClosed], when: Receive, then: "Disconnect", phases: (Rq::Body, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "send after the client left mid-body is refused",
        given: &[Head(POST5), ReadClosed], when: Start(200, PLAIN), then: "Err(Disconnected)", phases: (Rq::Body, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "100 Continue is owed until the first receive",
        given: &[Head(EXPECT)], when: Receive, then: "WriteContinue", phases: (Rq::Body, Rs::Idle),
        wire_has: &["HTTP/1.1 100 Continue\r\n\r\n"], wire_lacks: &[] },
    Row { name: "100 Continue is not sent once the response started",
        given: &[Head(EXPECT), Start(200, PLAIN), Body("no", false)], when: Receive, then: "Disconnect", phases: (Rq::Body, Rs::Complete),
        wire_has: &[], wire_lacks: &["100 Continue"] },
    Row { name: "a malformed chunked body is Disconnect to the app",
        given: &[Head(CHUNKED), Bytes("zz\r\n")], when: Receive, then: "Disconnect", phases: (Rq::BodyRefused, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "a refused body is answered with its status when nothing was sent",
        given: &[Head(CHUNKED), Bytes("zz\r\n"), Receive], when: Returned(false), then: "BodyRefused(400)", phases: (Rq::BodyRefused, Rs::Complete),
        wire_has: &["400 Bad Request"], wire_lacks: &[] },
    Row { name: "a chunked body growing past the limit is 413",
        given: &[Head(CHUNKED), Bytes("65\r\n"), Bytes("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), Receive], when: Returned(false), then: "BodyRefused(413)", phases: (Rq::BodyRefused, Rs::Complete),
        wire_has: &["413 Content Too Large"], wire_lacks: &[] },
    Row { name: "send after the body was refused is refused",
        given: &[Head(CHUNKED), Bytes("zz\r\n"), Receive], when: Start(200, PLAIN), then: "Err(Disconnected)", phases: (Rq::BodyRefused, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "receive after the response is complete is Disconnect",
        given: &[Head(GET), Start(200, PLAIN), Body("x", false)], when: Receive, then: "Disconnect", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &[], wire_lacks: &[] },
    // ----- the app's messages -----
    Row { name: "a start is held for its first body",
        given: &[Head(GET)], when: Start(200, PLAIN), then: "Ok(Later)", phases: (Rq::BodyEnded, Rs::StartHeld),
        wire_has: &[], wire_lacks: &["HTTP"] },
    Row { name: "a body sent whole gets a content-length",
        given: &[Head(GET), Start(200, PLAIN)], when: Body("hi", false), then: "Ok(Later)", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["HTTP/1.1 200 OK\r\n", "content-type: text/plain\r\n", "content-length: 2\r\n\r\nhi"], wire_lacks: &["chunked"] },
    Row { name: "a streamed body is chunked",
        given: &[Head(GET), Start(200, PLAIN)], when: Body("a", true), then: "Ok(Later)", phases: (Rq::BodyEnded, Rs::Streaming),
        wire_has: &["transfer-encoding: chunked\r\n\r\n1\r\na\r\n"], wire_lacks: &["content-length"] },
    Row { name: "an empty final body ends the chunks",
        given: &[Head(GET), Start(200, PLAIN), Body("a", true)], when: Body("", false), then: "Ok(Later)", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["1\r\na\r\n0\r\n\r\n"], wire_lacks: &[] },
    Row { name: "body before the start is out of order",
        given: &[Head(GET)], when: Body("x", false), then: "Err(OutOfOrder(\"body before the response start\"))", phases: (Rq::BodyEnded, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "a second start is out of order",
        given: &[Head(GET), Start(200, PLAIN)], when: Start(200, PLAIN), then: "Err(OutOfOrder(\"response already started\"))", phases: (Rq::BodyEnded, Rs::StartHeld),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "body after the final body is out of order",
        given: &[Head(GET), Start(200, PLAIN), Body("x", false)], when: Body("y", false), then: "Err(OutOfOrder(\"body after the final body\"))", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["\r\n\r\nx"], wire_lacks: &["xy"] },
    Row { name: "a final status below 200 is refused",
        given: &[Head(GET)], when: Start(199, PLAIN), then: "Err(InvalidStatus(199))", phases: (Rq::BodyEnded, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "101 to a request that offered no upgrade is refused",
        given: &[Head(GET)], when: Start(101, NONE), then: "Err(InvalidStatus(101))", phases: (Rq::BodyEnded, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "a field that would split the response is refused",
        given: &[Head(GET)], when: Start(200, &[("x-evil", "a\r\nset-cookie: b")]), then: "Err(InvalidHeader)", phases: (Rq::BodyEnded, Rs::Idle),
        wire_has: &[], wire_lacks: &["set-cookie"] },
    Row { name: "a content-length that is not a number is refused",
        given: &[Head(GET)], when: Start(200, &[("content-length", "abc")]), then: "Err(InvalidContentLength)", phases: (Rq::BodyEnded, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "two content-lengths that disagree are refused",
        given: &[Head(GET)], when: Start(200, &[("content-length", "1"), ("content-length", "2")]), then: "Err(InvalidContentLength)", phases: (Rq::BodyEnded, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "a body longer than its content-length is refused and breaks the response",
        given: &[Head(GET), Start(200, &[("content-length", "3")])], when: Body("toolong", false), then: "Err(BodyTooLong)", phases: (Rq::BodyEnded, Rs::Broken),
        wire_has: &["content-length: 3\r\n"], wire_lacks: &["toolong"] },
    Row { name: "a final body shorter than its content-length breaks the response",
        given: &[Head(GET), Start(200, &[("content-length", "3")])], when: Body("a", false), then: "Err(BodyTooShort)", phases: (Rq::BodyEnded, Rs::Broken),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "a broken response closes the connection",
        given: &[Head(GET), Start(200, &[("content-length", "3")]), Body("a", false), Returned(false)], when: Finish, then: "Close", phases: (Rq::Closed, Rs::Broken),
        wire_has: &[], wire_lacks: &[] },
    // ----- a body from a file: the machine writes the head, the caller the bytes -----
    Row { name: "a file body's head carries its length, and the caller writes the bytes",
        given: &[Head(GET), Start(200, PLAIN)], when: File(10), then: "Ok(10)", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["HTTP/1.1 200 OK\r\n", "content-length: 10\r\n\r\n"], wire_lacks: &["chunked"] },
    Row { name: "a file body agrees with the content-length the app gave",
        given: &[Head(GET), Start(206, &[("content-length", "4")])], when: File(4), then: "Ok(4)", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["HTTP/1.1 206 Partial Content\r\ncontent-length: 4\r\n"], wire_lacks: &["content-length: 4\r\ncontent-length"] },
    Row { name: "a file body that contradicts the content-length is refused, and the start still held",
        given: &[Head(GET), Start(200, &[("content-length", "4")])], when: File(5), then: "Err(InvalidContentLength)", phases: (Rq::BodyEnded, Rs::StartHeld),
        wire_has: &[], wire_lacks: &["HTTP"] },
    Row { name: "HEAD: a file body's length is named and no byte is to be written",
        given: &[Head(HEAD), Start(200, PLAIN)], when: File(10), then: "Ok(0)", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["content-length: 10\r\n\r\n"], wire_lacks: &[] },
    Row { name: "304: a file body is not written",
        given: &[Head(GET), Start(304, NONE)], when: File(10), then: "Ok(0)", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["HTTP/1.1 304 Not Modified\r\n"], wire_lacks: &["content-length"] },
    Row { name: "a file body with trailers announced leaves them to be dropped",
        given: &[Head(GET), StartTrailers], when: File(3), then: "Ok(3)", phases: (Rq::BodyEnded, Rs::AwaitingTrailers),
        wire_has: &["content-length: 3\r\n\r\n"], wire_lacks: &["chunked"] },
    Row { name: "a file body before the start is out of order",
        given: &[Head(GET)], when: File(3), then: "Err(OutOfOrder(\"file before the response start\"))", phases: (Rq::BodyEnded, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "a file body after a streamed body is out of order",
        given: &[Head(GET), Start(200, PLAIN), Body("a", true)], when: File(3), then: "Err(OutOfOrder(\"file after a body\"))", phases: (Rq::BodyEnded, Rs::Streaming),
        wire_has: &["1\r\na\r\n"], wire_lacks: &[] },
    Row { name: "a file body after the client left is refused",
        given: &[Head(GET), Start(200, PLAIN), WriteFailed], when: File(3), then: "Err(Disconnected)", phases: (Rq::BodyEnded, Rs::StartHeld),
        wire_has: &[], wire_lacks: &["HTTP"] },
    Row { name: "early hints go out at once",
        given: &[Head(GET)], when: Info(103), then: "Ok(Now)", phases: (Rq::BodyEnded, Rs::Idle),
        wire_has: &["HTTP/1.1 103 Early Hints\r\n"], wire_lacks: &[] },
    Row { name: "an informational response after the start is out of order",
        given: &[Head(GET), Start(200, PLAIN)], when: Info(103), then: "Err(OutOfOrder(\"informational response after the start\"))", phases: (Rq::BodyEnded, Rs::StartHeld),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "HTTP/1.0 clients get no 1xx",
        given: &[Head(HTTP10)], when: Info(103), then: "Ok(Later)", phases: (Rq::BodyEnded, Rs::Idle),
        wire_has: &[], wire_lacks: &["103"] },
    Row { name: "announced trailers are awaited after the final body",
        given: &[Head(GET), StartTrailers, Body("d", true)], when: Body("", false), then: "Ok(Later)", phases: (Rq::BodyEnded, Rs::AwaitingTrailers),
        wire_has: &["1\r\nd\r\n"], wire_lacks: &["0\r\n\r\n"] },
    Row { name: "trailers follow the last chunk",
        given: &[Head(GET), StartTrailers, Body("d", true), Body("", false)], when: Trailers, then: "Ok(Later)", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["1\r\nd\r\n0\r\nx-checksum: 42\r\n\r\n"], wire_lacks: &[] },
    Row { name: "trailers on a length-framed body are dropped",
        given: &[Head(GET), StartTrailers, Body("d", false)], when: Trailers, then: "Ok(Later)", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["content-length: 1\r\n\r\nd"], wire_lacks: &["x-checksum"] },
    Row { name: "trailers not announced are out of order",
        given: &[Head(GET), Start(200, PLAIN), Body("d", false)], when: Trailers, then: "Err(OutOfOrder(\"trailers not announced or not after the final body\"))", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &[], wire_lacks: &["x-checksum"] },
    Row { name: "HEAD keeps the headers and drops the body",
        given: &[Head(HEAD), Start(200, PLAIN)], when: Body("hello", false), then: "Ok(Later)", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["content-length: 5\r\n\r\n"], wire_lacks: &["hello"] },
    Row { name: "HEAD of a stream names the chunked framing a GET would get, and sends nothing",
        given: &[Head(HEAD), Start(200, PLAIN), Body("a", true)], when: Body("", false), then: "Ok(Later)", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["transfer-encoding: chunked\r\n\r\n"], wire_lacks: &["1\r\na", "0\r\n\r\n"] },
    Row { name: "204 has neither length nor body",
        given: &[Head(GET), Start(204, &[("content-length", "5")])], when: Body("hello", false), then: "Ok(Later)", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["HTTP/1.1 204 No Content\r\n"], wire_lacks: &["hello", "content-length"] },
    Row { name: "304 keeps the length of the resource and sends no body",
        given: &[Head(GET), Start(304, &[("content-length", "5")])], when: Body("", false), then: "Ok(Later)", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["HTTP/1.1 304 Not Modified\r\n", "content-length: 5\r\n"], wire_lacks: &["chunked"] },
    Row { name: "HTTP/1.0 streams are close-delimited and close",
        given: &[Head(HTTP10_KEEP), Start(200, PLAIN), Body("a", true), Body("", false), Returned(false)], when: Finish, then: "Close", phases: (Rq::Closed, Rs::Complete),
        wire_has: &["\r\n\r\na"], wire_lacks: &["chunked", "keep-alive"] },
    Row { name: "HTTP/1.0 keep-alive is answered in kind",
        given: &[Head(HTTP10_KEEP), Start(200, PLAIN), Body("a", false), Returned(false)], when: Finish, then: "KeepAlive", phases: (Rq::AwaitingHead, Rs::Complete),
        wire_has: &["connection: keep-alive\r\n"], wire_lacks: &[] },
    Row { name: "HTTP/1.0 without keep-alive closes",
        given: &[Head(HTTP10), Start(200, PLAIN), Body("a", false), Returned(false)], when: Finish, then: "Close", phases: (Rq::Closed, Rs::Complete),
        wire_has: &[], wire_lacks: &["connection:"] },
    Row { name: "connection: close from the request closes",
        given: &[Head("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"), Start(200, PLAIN), Body("a", false), Returned(false)], when: Finish, then: "Close", phases: (Rq::Closed, Rs::Complete),
        wire_has: &["connection: close\r\n"], wire_lacks: &[] },
    Row { name: "connection: close from the app closes",
        given: &[Head(GET), Start(200, &[("connection", "close")]), Body("a", false), Returned(false)], when: Finish, then: "Close", phases: (Rq::Closed, Rs::Complete),
        wire_has: &["connection: close\r\n"], wire_lacks: &[] },
    Row { name: "stopping before the head marks it connection: close",
        given: &[Head(GET), Stop, Start(200, PLAIN), Body("a", false), Returned(false)], when: Finish, then: "Close", phases: (Rq::Closed, Rs::Complete),
        wire_has: &["connection: close\r\n"], wire_lacks: &[] },
    Row { name: "a response under way at the stop finishes, and the next request may still come",
        given: &[Head(GET), Start(200, PLAIN), Body("a", true), Stop, Body("", false), Returned(false)], when: Finish, then: "KeepAlive", phases: (Rq::AwaitingHead, Rs::Complete),
        wire_has: &[], wire_lacks: &["connection: close"] },
    Row { name: "a request after the stop is answered with connection: close, then the close",
        given: &[Head(GET), Start(200, PLAIN), Body("a", true), Stop, Body("", false), Returned(false), Finish, Head(GET), Start(200, PLAIN), Body("b", false), Returned(false)], when: Finish, then: "Close", phases: (Rq::Closed, Rs::Complete),
        wire_has: &["connection: close\r\n"], wire_lacks: &[] },
    Row { name: "a failed write means the client is gone",
        given: &[Head(GET), Start(200, PLAIN), Body("a", true), WriteFailed], when: Body("b", false), then: "Err(Disconnected)", phases: (Rq::BodyEnded, Rs::Streaming),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "a stalled body is Disconnect to the app",
        given: &[Head(POST5), Bytes("ab"), Receive, BodyTimedOut], when: Receive, then: "Disconnect", phases: (Rq::BodyRefused, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "a stalled body is answered 408 when nothing was sent",
        given: &[Head(POST5), Receive, BodyTimedOut, Receive], when: Returned(false), then: "BodyRefused(408)", phases: (Rq::BodyRefused, Rs::Complete),
        wire_has: &["HTTP/1.1 408 Request Timeout\r\n", "connection: close"], wire_lacks: &[] },
    Row { name: "a body stalled after the response started closes",
        given: &[Head(POST5), Start(200, PLAIN), Body("a", true), BodyTimedOut, Receive, Returned(false)], when: Finish, then: "Close", phases: (Rq::Closed, Rs::Streaming),
        wire_has: &[], wire_lacks: &["408"] },
    Row { name: "a body the app refused mid-way is answered 413 when nothing was sent",
        given: &[Head(POST5), Bytes("ab"), Receive, RefusedBody], when: Returned(true), then: "BodyRefused(413)", phases: (Rq::BodyRefused, Rs::Complete),
        wire_has: &["HTTP/1.1 413 Content Too Large\r\n", "connection: close"], wire_lacks: &[] },
    Row { name: "a whole body the app refused is answered 413 too",
        given: &[Head(POST5), Bytes("abcde"), Receive, RefusedBody], when: Returned(true), then: "BodyRefused(413)", phases: (Rq::BodyRefused, Rs::Complete),
        wire_has: &["HTTP/1.1 413 Content Too Large\r\n"], wire_lacks: &[] },
    Row { name: "a body refused after the response started closes",
        given: &[Head(POST5), Start(200, PLAIN), Body("a", true), Bytes("ab"), Receive, RefusedBody, Returned(true)], when: Finish, then: "Close", phases: (Rq::Closed, Rs::Streaming),
        wire_has: &[], wire_lacks: &["413"] },
    // ----- the app returned -----
    Row { name: "an error before the start is 500",
        given: &[Head(GET)], when: Returned(true), then: "FailedBeforeStart", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["HTTP/1.1 500 Internal Server Error\r\n", "connection: close", "Internal Server Error"], wire_lacks: &[] },
    Row { name: "an error with the start held is 500, not the held start",
        given: &[Head(GET), Start(201, PLAIN)], when: Returned(true), then: "FailedBeforeStart", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["500 Internal Server Error"], wire_lacks: &["201"] },
    Row { name: "returning without a response is 500",
        given: &[Head(GET)], when: Returned(false), then: "NoResponse", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["500 Internal Server Error"], wire_lacks: &[] },
    Row { name: "a server answer closes the connection",
        given: &[Head(GET), Returned(false)], when: Finish, then: "Close", phases: (Rq::Closed, Rs::Complete),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "an error after the start cuts the response",
        given: &[Head(GET), Start(200, PLAIN), Body("a", true)], when: Returned(true), then: "FailedAfterStart", phases: (Rq::BodyEnded, Rs::Streaming),
        wire_has: &[], wire_lacks: &["0\r\n\r\n", "500"] },
    Row { name: "returning before the final body cuts the response",
        given: &[Head(GET), Start(200, PLAIN), Body("a", true)], when: Returned(false), then: "ReturnedEarly", phases: (Rq::BodyEnded, Rs::Streaming),
        wire_has: &[], wire_lacks: &["0\r\n\r\n"] },
    Row { name: "a cut response closes the connection",
        given: &[Head(GET), Start(200, PLAIN), Body("a", true), Returned(false)], when: Finish, then: "Close", phases: (Rq::Closed, Rs::Streaming),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "a complete response is the app behaving",
        given: &[Head(GET), Start(200, PLAIN), Body("a", false)], when: Returned(false), then: "Complete", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &[], wire_lacks: &["500"] },
    Row { name: "an error after the response completed leaves it standing",
        given: &[Head(GET), Start(200, PLAIN), Body("a", false)], when: Returned(true), then: "FailedAfterComplete", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &[], wire_lacks: &["500"] },
    Row { name: "a complete response keeps the connection",
        given: &[Head(GET), Start(200, PLAIN), Body("a", false), Returned(true)], when: Finish, then: "KeepAlive", phases: (Rq::AwaitingHead, Rs::Complete),
        wire_has: &[], wire_lacks: &["connection: close"] },
    Row { name: "a panic before the start is 500 and says connection: close",
        given: &[Head(GET), Panicked], when: Returned(true), then: "FailedBeforeStart", phases: (Rq::BodyEnded, Rs::Complete),
        wire_has: &["500 Internal Server Error", "connection: close"], wire_lacks: &[] },
    Row { name: "after a panic nothing more is served, even when its response completed",
        given: &[Head("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"), Start(500, PLAIN), Body("x", false), Panicked, Returned(true)], when: Finish, then: "Close", phases: (Rq::Closed, Rs::Complete),
        wire_has: &[], wire_lacks: &[] },
    // ----- after the exchange: pipelining, unread bodies -----
    Row { name: "a pipelined request is read after the first exchange",
        given: &[Head("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"), Start(200, PLAIN), Body("1", false), Returned(false), Finish], when: Head(""), then: "Request", phases: (Rq::BodyEnded, Rs::Idle),
        wire_has: &["\r\n\r\n1"], wire_lacks: &[] },
    Row { name: "an unread body is drained before the next request",
        given: &[Head(POST5), Start(200, PLAIN), Body("x", false), Returned(false)], when: Finish, then: "Drain", phases: (Rq::Body, Rs::Complete),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "the drained body is dropped, never parsed (CVE-2020-26281)",
        given: &[Head(POST5), Start(200, PLAIN), Body("x", false), Returned(false), Finish, Bytes("GET /")], when: Drain, then: "Done", phases: (Rq::AwaitingHead, Rs::Complete),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "draining waits for the rest of the body",
        given: &[Head(POST5), Start(200, PLAIN), Body("x", false), Returned(false), Finish, Bytes("ab")], when: Drain, then: "NeedMore", phases: (Rq::Body, Rs::Complete),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "an unread body over the drain limit closes",
        given: &[Head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n"), Start(200, PLAIN), Body("x", false), Returned(false), Finish, Bytes("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")], when: Drain, then: "Close", phases: (Rq::Closed, Rs::Complete),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "an unread body the client holds back for 100 Continue closes",
        given: &[Head(EXPECT), Start(200, PLAIN), Body("no", false), Returned(false)], when: Finish, then: "Close", phases: (Rq::Closed, Rs::Complete),
        wire_has: &[], wire_lacks: &["100 Continue"] },
    // ----- upgrade -----
    Row { name: "101 to an upgrade request goes out at once",
        given: &[Head(UPGRADE)], when: Start(101, &[("upgrade", "websocket"), ("connection", "upgrade")]), then: "Ok(Now)", phases: (Rq::Closed, Rs::Upgraded),
        wire_has: &["HTTP/1.1 101 Switching Protocols\r\n", "upgrade: websocket\r\n"], wire_lacks: &["content-length", "chunked", "connection: close"] },
    Row { name: "after a 101 the app's HTTP messages are refused",
        given: &[Head(UPGRADE), Start(101, NONE)], when: Body("x", false), then: "Err(OutOfOrder(\"the connection was upgraded\"))", phases: (Rq::Closed, Rs::Upgraded),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "after a 101 the app's receive is Disconnect",
        given: &[Head(UPGRADE), Start(101, NONE)], when: Receive, then: "Disconnect", phases: (Rq::Closed, Rs::Upgraded),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "an upgraded exchange hands the connection over",
        given: &[Head(UPGRADE), Start(101, NONE), Returned(false)], when: Finish, then: "Upgrade", phases: (Rq::Closed, Rs::Upgraded),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "an upgrade request with a body cannot be switched",
        given: &[Head(UPGRADE_WITH_BODY)], when: Start(101, NONE), then: "Err(InvalidStatus(101))", phases: (Rq::Body, Rs::Idle),
        wire_has: &[], wire_lacks: &[] },
    Row { name: "after a body delivered whole, the next request is served",
        given: &[Head(POST5), Bytes("abcde"), Receive, Start(200, PLAIN), Body("ok", false), Returned(false)], when: Finish, then: "KeepAlive", phases: (Rq::AwaitingHead, Rs::Complete),
        wire_has: &["200 OK"], wire_lacks: &["connection: close"] },
    Row { name: "a stream longer than its content-length is cut short",
        given: &[Head(GET), Start(200, &[("content-length", "3")]), Body("ab", true)], when: Body("cd", false), then: "Err(BodyTooLong)", phases: (Rq::BodyEnded, Rs::Broken),
        wire_has: &["content-length: 3\r\n\r\nab"], wire_lacks: &["abcd"] },
    Row { name: "an upgrade request may be answered in plain HTTP",
        given: &[Head(UPGRADE), Start(200, PLAIN), Body("no", false), Returned(false)], when: Finish, then: "KeepAlive", phases: (Rq::AwaitingHead, Rs::Complete),
        wire_has: &["200 OK"], wire_lacks: &[] },
];

fn settings() -> Settings {
    Settings {
        limits: Limits::default(),
        max_body_bytes: 100,
        drain_limit_bytes: 32,
        server_header: false,
        default_fields: None,
        date_line: None,
        http2: rasgi_h1::conn::Http2Preface::Ignored,
    }
}

fn fields(pairs: &[(&'static str, &'static str)]) -> Vec<(Bytes, Bytes)> {
    pairs
        .iter()
        .map(|&(n, v)| {
            (
                Bytes::from_static(n.as_bytes()),
                Bytes::from_static(v.as_bytes()),
            )
        })
        .collect()
}

/// Apply one event; the machine's answer as text. What the machine queues is moved to `wire`.
fn apply(conn: &mut ServerConn, input: &mut BytesMut, wire: &mut Vec<u8>, event: Ev) -> String {
    let answer = match event {
        Head(bytes) => {
            input.extend_from_slice(bytes.as_bytes());
            match conn.read_head(input) {
                rasgi_h1::conn::HeadEvent::Request(_) => "Request".to_string(),
                other => format!("{other:?}"),
            }
        }
        Bytes(bytes) => {
            input.extend_from_slice(bytes.as_bytes());
            String::new()
        }
        Receive => match conn.receive(input) {
            rasgi_h1::conn::BodyEvent::Body { data, more } => {
                format!("Body({:?}, more={more})", String::from_utf8_lossy(&data))
            }
            other => format!("{other:?}"),
        },
        ReadClosed => {
            conn.read_closed();
            String::new()
        }
        WriteFailed => {
            conn.write_failed();
            String::new()
        }
        Stop => {
            conn.stop();
            String::new()
        }
        Info(status) => format!("{:?}", conn.send_informational(status, &fields(NONE))),
        Start(status, pairs) => format!("{:?}", conn.send_start(status, fields(pairs), false)),
        StartTrailers => format!("{:?}", conn.send_start(200, fields(PLAIN), true)),
        Body(body, more) => format!(
            "{:?}",
            conn.send_body(Bytes::from_static(body.as_bytes()), more)
        ),
        Trailers => format!("{:?}", conn.send_trailers(&fields(&[("x-checksum", "42")]))),
        File(len) => format!("{:?}", conn.send_file_body(len)),
        Returned(failed) => format!("{:?}", conn.app_returned(failed)),
        Finish => format!("{:?}", conn.finish()),
        Drain => format!("{:?}", conn.drain(input)),
        BodyTimedOut => {
            conn.body_timed_out();
            String::new()
        }
        Panicked => {
            conn.app_panicked();
            String::new()
        }
        RefusedBody => {
            conn.app_refused_body(413);
            String::new()
        }
    };
    let mut slices = [IoSlice::new(&[]); 16];
    let used = conn.output_slices(&mut slices);
    let queued: Vec<u8> = slices[..used].iter().flat_map(|s| s.to_vec()).collect();
    conn.wrote(queued.len());
    wire.extend_from_slice(&queued);
    answer
}

#[test]
fn every_transition_answers_as_the_table_says() {
    let mut failures = Vec::new();
    for row in TABLE {
        let mut conn = ServerConn::new(settings());
        let mut input = BytesMut::new();
        let mut wire = Vec::new();
        for &event in row.given {
            apply(&mut conn, &mut input, &mut wire, event);
        }
        let answer = apply(&mut conn, &mut input, &mut wire, row.when);
        let phases = (conn.request_phase(), conn.response_phase());
        let wire = String::from_utf8_lossy(&wire);
        let mut wrong = Vec::new();
        if answer != row.then {
            wrong.push(format!("answered {answer}, want {}", row.then));
        }
        if phases != row.phases {
            wrong.push(format!("phases {phases:?}, want {:?}", row.phases));
        }
        for text in row.wire_has {
            if !wire.contains(text) {
                wrong.push(format!("wire lacks {text:?}"));
            }
        }
        for text in row.wire_lacks {
            if wire.contains(text) {
                wrong.push(format!("wire has {text:?}"));
            }
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {}\n  wire: {wire:?}",
                row.name,
                wrong.join("; ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_table_reaches_every_phase_and_answer() {
    let answers: Vec<&str> = TABLE.iter().map(|row| row.then).collect();
    for expected in [
        "Request",
        "NeedMore",
        "Refused(400)",
        "Refused(501)",
        "Refused(413)",
        "Closed",
        "WriteContinue",
        "WaitForDisconnect",
        "Disconnect",
        "Ok(Now)",
        "Ok(Later)",
        "Complete",
        "FailedBeforeStart",
        "NoResponse",
        "FailedAfterStart",
        "ReturnedEarly",
        "FailedAfterComplete",
        "KeepAlive",
        "Drain",
        "Close",
        "Upgrade",
        "Done",
    ] {
        let reached = answers
            .iter()
            .any(|a| *a == expected || a.starts_with(&format!("{expected}(")));
        assert!(reached, "no row answers {expected}");
    }
    let phases: Vec<(Rq, Rs)> = TABLE.iter().map(|row| row.phases).collect();
    for rq in [
        Rq::AwaitingHead,
        Rq::Body,
        Rq::BodyEnded,
        Rq::BodyDelivered,
        Rq::BodyRefused,
        Rq::Closed,
    ] {
        assert!(phases.iter().any(|p| p.0 == rq), "no row ends in {rq:?}");
    }
    for rs in [
        Rs::Idle,
        Rs::StartHeld,
        Rs::Streaming,
        Rs::AwaitingTrailers,
        Rs::Complete,
        Rs::Broken,
        Rs::Upgraded,
    ] {
        assert!(phases.iter().any(|p| p.1 == rs), "no row ends in {rs:?}");
    }
}

#[test]
fn a_stream_past_the_gathering_size_must_be_written_now() {
    let mut conn = ServerConn::new(settings());
    let mut input = BytesMut::from(GET);
    assert!(matches!(
        conn.read_head(&mut input),
        rasgi_h1::conn::HeadEvent::Request(_)
    ));
    conn.send_start(200, fields(PLAIN), false).unwrap();
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(conn.send_body(chunk.clone(), true).unwrap());
        assert!(conn.has_streamed_output());
    }
    use rasgi_h1::conn::Flush::{Later, Now};
    assert_eq!(answers, [Later, Later, Later, Now]);
    conn.wrote(conn.output_len());
    assert!(!conn.has_streamed_output());
}

#[test]
fn a_request_keeps_its_method_names_and_values_whether_or_not_they_are_common() {
    // Common methods and names come out as static text, the rest as slices of the buffer: the
    // app sees the same bytes either way.
    for (method, head) in [
        (
            "GET",
            &b"GET /p?q=1 HTTP/1.1\r\nHost: h\r\nOrigin: o\r\nX-Odd: v\r\nAcceptx: w\r\n\r\n"[..],
        ),
        (
            "PURGE",
            b"PURGE /p?q=1 HTTP/1.1\r\nHost: h\r\nOrigin: o\r\nX-Odd: v\r\nAcceptx: w\r\n\r\n",
        ),
    ] {
        let mut conn = ServerConn::new(settings());
        let mut input = BytesMut::from(head);
        let rasgi_h1::conn::HeadEvent::Request(request) = conn.read_head(&mut input) else {
            panic!("{method}: no request");
        };
        assert_eq!(request.method, method);
        assert_eq!(request.path, "/p");
        assert_eq!(request.query, "q=1");
        let names: Vec<_> = request
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        assert_eq!(
            names,
            fields(&[
                ("host", "h"),
                ("origin", "o"),
                ("x-odd", "v"),
                ("acceptx", "w")
            ]),
            "{method}"
        );
    }
    assert_eq!(rasgi_h1::conn::common_method(b"PATCH"), Some("PATCH"));
    assert_eq!(rasgi_h1::conn::common_method(b"get"), None);
}

/// Feed `head` to a fresh connection one byte per read; the machine's last answer and the bytes
/// it handed to the parser.
fn trickle(head: &[u8]) -> (String, u64) {
    let mut conn = ServerConn::new(settings());
    let mut input = BytesMut::new();
    let mut answer = String::new();
    for &byte in head {
        input.extend_from_slice(&[byte]);
        answer = match conn.read_head(&mut input) {
            rasgi_h1::conn::HeadEvent::Request(_) => "Request".to_string(),
            rasgi_h1::conn::HeadEvent::NeedMore => continue,
            other => format!("{other:?}"),
        };
        break;
    }
    (answer, conn.head_bytes_parsed())
}

#[test]
fn a_head_trickled_one_byte_per_read_costs_work_linear_in_its_length() {
    let head = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nCookie: {}\r\nX-A: 1\r\n\r\n",
        "c".repeat(64 * 1024 - 100)
    );
    let (answer, parsed) = trickle(head.as_bytes());
    assert_eq!(answer, "Request");
    let len = head.len() as u64;
    // Re-parsing from the first byte on every read would hand the parser len²/2 bytes
    // (2.1 GB here); doubling keeps it under 2 × len, plus one pass per head end seen.
    assert!(
        parsed <= 4 * len,
        "{parsed} bytes parsed for a {len}-byte head"
    );
}

#[test]
fn a_trickled_head_still_gets_the_answer_a_whole_one_gets() {
    for (head, whole) in [
        ("GET / HTTP/1.1\r\nHost a\r\n\r\n", "Refused(400)"),
        ("GET / HTTP/1.1\nHost: a\n\n", "Refused(400)"),
        ("GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n", "Refused(400)"),
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", "Refused(505)"),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "Refused(400)",
        ),
        ("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "Request"),
    ] {
        assert_eq!(trickle(head.as_bytes()).0, whole, "{head:?}");
    }
    // Limits are enforced as the bytes arrive, before the head could end.
    let long_line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(9000));
    assert_eq!(trickle(long_line.as_bytes()).0, "Refused(414)");
    let long_head = format!("GET / HTTP/1.1\r\nCookie: {}", "c".repeat(70_000));
    assert_eq!(trickle(long_head.as_bytes()).0, "Refused(431)");
}

// ----- the docs' tables, checked against this one -----

/// The connection's method an event is, as docs/architecture.md names it.
fn method(event: Ev) -> &'static str {
    match event {
        Head(_) => "read_head",
        Bytes(_) => "bytes arrive",
        Receive => "receive",
        ReadClosed => "read_closed",
        WriteFailed => "write_failed",
        Stop => "stop",
        Info(_) => "send_informational",
        Start(..) | StartTrailers => "send_start",
        Body(..) => "send_body",
        Trailers => "send_trailers",
        File(_) => "send_file_body",
        Returned(_) => "app_returned",
        Finish => "finish",
        Drain => "drain",
        BodyTimedOut => "body_timed_out",
        Panicked => "app_panicked",
        RefusedBody => "app_refused_body",
    }
}

/// A phase change the table makes: which side, from, the event's method, to.
type Transition = (&'static str, String, &'static str, String);

/// A verdict the table reaches: the app failed, the response phase it left, the verdict's name.
type Verdict = (bool, String, String);

/// Every phase change and verdict met while running the table's rows, their `given` events too.
fn walked() -> (BTreeSet<Transition>, BTreeSet<Verdict>) {
    let (mut transitions, mut verdicts) = (BTreeSet::new(), BTreeSet::new());
    for row in TABLE {
        let mut conn = ServerConn::new(settings());
        let mut input = BytesMut::new();
        let mut wire = Vec::new();
        for &event in row.given.iter().chain([&row.when]) {
            let before = (conn.request_phase(), conn.response_phase());
            let answer = apply(&mut conn, &mut input, &mut wire, event);
            let after = (conn.request_phase(), conn.response_phase());
            if before.0 != after.0 {
                let (from, to) = (format!("{:?}", before.0), format!("{:?}", after.0));
                transitions.insert(("request", from, method(event), to));
            }
            if before.1 != after.1 {
                let (from, to) = (format!("{:?}", before.1), format!("{:?}", after.1));
                transitions.insert(("response", from, method(event), to));
            }
            if let Returned(failed) = event {
                let verdict = answer.split('(').next().unwrap_or_default().to_string();
                verdicts.insert((failed, format!("{:?}", before.1), verdict));
            }
        }
    }
    (transitions, verdicts)
}

/// docs/architecture.md.
fn architecture_doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/architecture.md");
    std::fs::read_to_string(path).expect("docs/architecture.md")
}

/// The rows of the doc's table whose header begins with `header`, each as its cells.
fn doc_table(doc: &str, header: &str) -> Vec<Vec<String>> {
    let mut lines = doc.lines().skip_while(|line| !line.starts_with(header));
    assert!(lines.next().is_some(), "no table headed {header:?}");
    lines
        .skip(1)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_string())
                .collect()
        })
        .collect()
}

/// The words a cell quotes in backticks.
fn quoted(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn the_docs_phase_tables_are_the_changes_the_table_makes() {
    let doc = architecture_doc();
    let (walked, _) = walked();
    let mut documented = BTreeSet::new();
    for (side, header) in [
        ("request", "| request phase | event | next phase |"),
        ("response", "| response phase | event | next phase |"),
    ] {
        for cells in doc_table(&doc, header) {
            let [from, event, to] = [&cells[0], &cells[1], &cells[2]].map(|c| quoted(c).concat());
            let event = *[
                "read_head",
                "receive",
                "body_timed_out",
                "finish",
                "drain",
                "send_start",
                "send_body",
                "send_trailers",
                "send_file_body",
                "app_refused_body",
                "app_returned",
            ]
            .iter()
            .find(|known| **known == event)
            .unwrap_or_else(|| panic!("an event the table has no name for: {event}"));
            documented.insert((side, from, event, to));
        }
    }
    let undocumented: Vec<_> = walked.difference(&documented).collect();
    let unwalked: Vec<_> = documented.difference(&walked).collect();
    assert!(
        undocumented.is_empty() && unwalked.is_empty(),
        "changes the table makes that docs/architecture.md leaves out: {undocumented:#?}\n\
         changes docs/architecture.md lists that no row makes: {unwalked:#?}"
    );
}

#[test]
fn the_docs_verdict_table_is_every_verdict_the_table_meets() {
    let doc = architecture_doc();
    let (_, walked) = walked();
    let rows: Vec<(Vec<bool>, Vec<String>, String)> =
        doc_table(&doc, "| the app returned | with the response | verdict |")
            .into_iter()
            .map(|cells| {
                let failed = match cells[0].as_str() {
                    "an error" => vec![true],
                    "`Ok`" => vec![false],
                    "either" => vec![false, true],
                    other => panic!("the app returned {other:?}?"),
                };
                let verdict = quoted(&cells[2]).concat();
                let verdict = verdict.split('(').next().unwrap_or_default().to_string();
                (failed, quoted(&cells[1]), verdict)
            })
            .collect();
    // Every verdict the table reaches is the one the doc gives for how the app returned and
    // where its response was...
    for (failed, phase, verdict) in &walked {
        let listed = rows.iter().any(|(ways, phases, named)| {
            ways.contains(failed) && phases.contains(phase) && named == verdict
        });
        assert!(
            listed,
            "docs/architecture.md has no verdict row for {failed} / {phase} / {verdict}"
        );
    }
    // ... and every row of the doc is reached.
    for (ways, phases, named) in &rows {
        let reached = walked.iter().any(|(failed, phase, verdict)| {
            ways.contains(failed) && phases.contains(phase) && named == verdict
        });
        assert!(reached, "no row of the table reaches the doc's {named} row");
    }
}

/// What the machine has queued, taken off its output.
fn queued(conn: &mut ServerConn) -> String {
    let mut slices = [IoSlice::new(&[]); 16];
    let used = conn.output_slices(&mut slices);
    let bytes: Vec<u8> = slices[..used].iter().flat_map(|s| s.to_vec()).collect();
    conn.wrote(bytes.len());
    String::from_utf8(bytes).unwrap()
}

fn requested() -> ServerConn {
    let mut conn = ServerConn::new(settings());
    let mut input = BytesMut::from(GET);
    assert!(matches!(
        conn.read_head(&mut input),
        rasgi_h1::conn::HeadEvent::Request(_)
    ));
    conn
}

#[test]
fn checked_lines_follow_the_fields_and_precede_the_framing() {
    let mut conn = requested();
    conn.send_start(200, fields(PLAIN), false).unwrap();
    let lines = b"x-request-id: 7\r\nvary: Origin\r\n";
    conn.send_body_with_lines(Bytes::from_static(b"hi"), false, lines)
        .unwrap();
    assert_eq!(
        queued(&mut conn),
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-request-id: 7\r\nvary: Origin\r\n\
         content-length: 2\r\n\r\nhi"
    );
}

#[test]
fn lines_for_a_head_already_written_are_refused() {
    let mut conn = requested();
    conn.send_start(200, fields(PLAIN), false).unwrap();
    conn.send_body(Bytes::from_static(b"a"), true).unwrap();
    let refused = conn.send_body_with_lines(Bytes::from_static(b"b"), false, b"vary: x\r\n");
    assert!(matches!(
        refused,
        Err(rasgi_h1::conn::SendRefused::OutOfOrder(_))
    ));
    // The stream goes on as it was: the refused piece wrote nothing.
    conn.send_body(Bytes::from_static(b"c"), false).unwrap();
    let wire = queued(&mut conn);
    assert!(!wire.contains("vary"), "{wire}");
    assert!(wire.ends_with("1\r\na\r\n1\r\nc\r\n0\r\n\r\n"), "{wire}");
}

//! The response head as the client gets it: a start whose head waits for the first body, the
//! framing that body is written in, and the head's bytes.
//!
//! The rule this module keeps: **it writes what was decided, and decides nothing**. Which
//! framing a response gets, whether the connection stays open and what the server adds are
//! [`crate::conn`]'s transitions; here they become bytes, written piece by piece into room
//! reserved once. Every field was validated when the start was accepted, and the fields the
//! server adds are constants.

use bytes::{Bytes, BytesMut};

use rasgi_output::put_field;
use rasgi_output::Output;

use crate::response::{write_status_line, LengthEncoder};

/// A response start whose head is not written yet.
#[derive(Debug)]
pub(crate) struct PendingStart {
    /// 200..=999.
    pub status: u16,
    /// The app's fields, each validated.
    pub fields: Vec<(Bytes, Bytes)>,
    /// A `Trailers` message follows the final body.
    pub trailers: bool,
    /// The app's `content-length`, parsed.
    pub content_length: Option<u64>,
    /// The app sent `connection: close`.
    pub close: bool,
}

/// How the body of the response in flight is framed.
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

/// A response head, decided: what [`put_head`] writes.
pub(crate) struct ResponseHead<'a> {
    /// The status (validated).
    pub status: u16,
    /// The app's fields (validated).
    pub fields: &'a [(Bytes, Bytes)],
    /// More fields, as checked `name: value\r\n` lines.
    pub lines: &'a [u8],
    /// The app's `content-length` is left out (a 204 or 1xx has no body to measure).
    pub strip_length: bool,
    /// A `content-length` the server adds: the app gave none and the body's length is known.
    pub content_length: Option<u64>,
    /// `transfer-encoding: chunked` (the app's own `transfer-encoding` is always left out).
    pub chunked: bool,
    /// The `connection` field's value, where one must be said.
    pub connection: Option<&'static [u8]>,
    /// `server: rasgi`.
    pub server_header: bool,
    /// The operator's fields for every head.
    pub default_fields: &'a [(Bytes, Bytes)],
    /// Appends the `date` line.
    pub date_line: Option<fn(&mut BytesMut)>,
}

/// Write `head` into the output.
pub(crate) fn put_head(output: &mut Output, head: &ResponseHead<'_>) {
    let app_bytes: usize = head
        .fields
        .iter()
        .chain(head.default_fields)
        .map(|(name, value)| name.len() + value.len() + 4)
        .sum();
    output.buf().reserve(app_bytes + head.lines.len() + 160);
    let _ = write_status_line(output.buf(), head.status);
    if let Some(date_line) = head.date_line {
        output.put_date(date_line);
    }
    let buf = output.buf();
    if head.server_header {
        put_field(buf, b"server", b"rasgi");
    }
    for (name, value) in head.default_fields {
        put_field(buf, name, value);
    }
    for (name, value) in head.fields {
        let framing_field = name.eq_ignore_ascii_case(b"transfer-encoding")
            || (head.strip_length && name.eq_ignore_ascii_case(b"content-length"));
        if !framing_field {
            put_field(buf, name, value);
        }
    }
    if !head.lines.is_empty() {
        buf.extend_from_slice(head.lines);
    }
    if let Some(length) = head.content_length {
        let mut digits = [0u8; 20];
        put_field(buf, b"content-length", decimal(length, &mut digits));
    }
    if head.chunked {
        put_field(buf, b"transfer-encoding", b"chunked");
    }
    if let Some(connection) = head.connection {
        put_field(buf, b"connection", connection);
    }
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

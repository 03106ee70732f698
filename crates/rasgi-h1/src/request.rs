//! The request-head parser: request line, header fields and the body framing they imply.
//!
//! The rule this module keeps: it owns every decision about *where a request ends*. Framing
//! (RFC 9112 §6) is decided here, once, from the head alone, and anything ambiguous is refused
//! rather than guessed, so that no second request can be smuggled out of the first.
//!
//! The parser is stateless and restartable like httparse: call it with all the bytes read so
//! far; it answers [`Status::Partial`] until the head is complete. It borrows the caller's buffer
//! and records header fields as [`Span`]s in a caller-owned slice: no allocation. Header names
//! are lowercased in place (so the buffer is `&mut`), which is idempotent across restarts.

use crate::class::{is_token, lower_token_run, skip_field_value, skip_target_query};
use crate::{H1Error, Limits, Status};

/// A byte range of the parsed buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// The bytes this span covers in `buf` (the buffer that was parsed).
    #[inline]
    pub fn of(self, buf: &[u8]) -> &[u8] {
        &buf[self.start..self.end]
    }

    /// Number of bytes covered.
    #[inline]
    pub fn len(self) -> usize {
        self.end - self.start
    }

    /// Whether the span covers no bytes.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// Where one header field's name (lowercased) and value (without surrounding white space) are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderSpan {
    /// The field name, lowercased in place.
    pub name: Span,
    /// The field value, leading and trailing SP/HTAB removed.
    pub value: Span,
}

impl HeaderSpan {
    /// An unused slot, for initialising slot arrays in `const` contexts.
    pub const EMPTY: HeaderSpan = HeaderSpan {
        name: Span { start: 0, end: 0 },
        value: Span { start: 0, end: 0 },
    };
}

/// The protocol versions a server speaks; any other well-formed version is a 505.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: close-delimited unless the client asks for keep-alive.
    Http10,
    /// HTTP/1.1: persistent unless either side says `close`.
    Http11,
}

impl Version {
    /// `"1.0"` or `"1.1"`, as ASGI's `http_version` has it.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "1.0",
            Version::Http11 => "1.1",
        }
    }
}

/// How the request body is framed (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// Neither `Content-Length` nor `Transfer-Encoding`: no body.
    Empty,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// Chunked transfer coding, ended by the last chunk and trailers.
    Chunked,
}

/// A complete request head, borrowing the parsed buffer (`'b`) and the header slots (`'h`).
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'b, 'h> {
    /// The parsed buffer; every [`Span`] here indexes into it.
    pub buf: &'b [u8],
    /// The method token, as sent (methods are case-sensitive).
    pub method: Span,
    /// The whole request target.
    pub target: Span,
    /// The target up to the first `?`.
    pub path: Span,
    /// The target after the first `?` (empty when there is none).
    pub query: Span,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The header fields in the order received, duplicates kept.
    pub headers: &'h [HeaderSpan],
    /// The body framing decided from `Content-Length` / `Transfer-Encoding`.
    pub body: BodyKind,
    /// Whether the request lets the connection persist after it (RFC 9112 §9.3: HTTP/1.1
    /// unless `close`, HTTP/1.0 only with `keep-alive`). Whether it does is decided by
    /// [`crate::ServerConn::keep_alive`].
    pub persistent: bool,
    /// Whether the client sent `Expect: 100-continue`.
    pub expect_continue: bool,
    /// How many `Host` fields were sent (the server requires exactly one on HTTP/1.1).
    pub host_count: usize,
    /// Bytes of the buffer the head used, empty lines before the request line included.
    pub len: usize,
}

impl<'b> RequestHead<'b, '_> {
    /// The method bytes.
    pub fn method(&self) -> &'b [u8] {
        self.method.of(self.buf)
    }

    /// The path bytes (still percent-encoded).
    pub fn path(&self) -> &'b [u8] {
        self.path.of(self.buf)
    }

    /// The query-string bytes.
    pub fn query(&self) -> &'b [u8] {
        self.query.of(self.buf)
    }

    /// The header fields as (lowercase name, value) pairs.
    pub fn header_pairs(&self) -> impl Iterator<Item = (&'b [u8], &'b [u8])> + '_ {
        let buf = self.buf;
        self.headers
            .iter()
            .map(move |h| (h.name.of(buf), h.value.of(buf)))
    }
}

/// Why the inner parse stopped early.
enum Stop {
    Partial,
    Invalid(H1Error),
}

impl From<H1Error> for Stop {
    fn from(error: H1Error) -> Self {
        Stop::Invalid(error)
    }
}

#[inline(always)]
fn at(buf: &[u8], i: usize) -> Result<u8, Stop> {
    buf.get(i).copied().ok_or(Stop::Partial)
}

/// What the framing-relevant header fields said, gathered while the fields are parsed.
#[derive(Default)]
struct Framing {
    content_length: Option<u64>,
    transfer_encoding: bool,
    chunked: bool,
    other_coding: bool,
    close: bool,
    keep_alive_token: bool,
    expect_continue: bool,
    host_count: usize,
}

impl Framing {
    /// Whether a (non-empty, lowercased) name may be one `field` looks at: its length and first
    /// byte tell most other names apart without a call. (`host` is counted by the caller.)
    #[inline(always)]
    fn may_concern(name: &[u8]) -> bool {
        matches!(
            (name.len(), name[0]),
            (6, b'e') | (10, b'c') | (14, b'c') | (17, b't')
        )
    }

    fn field(&mut self, name: &[u8], value: &[u8]) -> Result<(), H1Error> {
        match name.len() {
            6 if name == b"expect" => {
                self.expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
            }
            10 if name == b"connection" => {
                // One token is what clients send; a list is split.
                if value.eq_ignore_ascii_case(b"keep-alive") {
                    self.keep_alive_token = true;
                    return Ok(());
                }
                for token in list_elements(value) {
                    self.close |= token.eq_ignore_ascii_case(b"close");
                    self.keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            14 if name == b"content-length" => {
                if self.content_length.is_some() {
                    return Err(H1Error::DuplicateContentLength);
                }
                self.content_length = Some(parse_content_length(value)?);
            }
            17 if name == b"transfer-encoding" => {
                self.transfer_encoding = true;
                // One `chunked` is what clients send; a list is split.
                if !self.chunked && value.eq_ignore_ascii_case(b"chunked") {
                    self.chunked = true;
                    return Ok(());
                }
                for coding in list_elements(value) {
                    if self.chunked {
                        // Anything after `chunked`, including a second `chunked`
                        // (CVE-2021-21299), leaves the body's end undecidable.
                        return Err(H1Error::ChunkedNotFinal);
                    }
                    if coding.eq_ignore_ascii_case(b"chunked") {
                        self.chunked = true;
                    } else if coding.iter().all(|&b| is_token(b)) {
                        self.other_coding = true;
                    } else {
                        return Err(H1Error::InvalidHeaderValue);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn body(&self, version: Version) -> Result<BodyKind, H1Error> {
        if !self.transfer_encoding {
            return Ok(match self.content_length {
                Some(n) => BodyKind::Length(n),
                None => BodyKind::Empty,
            });
        }
        if version == Version::Http10 {
            return Err(H1Error::TransferEncodingOnHttp10);
        }
        if self.content_length.is_some() {
            return Err(H1Error::TransferEncodingWithContentLength);
        }
        if !self.chunked {
            return Err(H1Error::ChunkedNotFinal);
        }
        if self.other_coding {
            return Err(H1Error::UnsupportedTransferCoding);
        }
        Ok(BodyKind::Chunked)
    }
}

/// The non-empty elements of a comma-separated field value, trimmed of SP/HTAB.
fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|element| !element.is_empty())
}

fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// `Content-Length = 1*DIGIT`: no sign (CVE-2021-32715), no hex, no list, no overflow. Used for
/// requests here and for the length an app declares on its response.
pub fn parse_content_length(value: &[u8]) -> Result<u64, H1Error> {
    if value.is_empty() {
        return Err(H1Error::InvalidContentLength);
    }
    let mut n: u64 = 0;
    for &b in value {
        if b == b',' {
            return Err(H1Error::DuplicateContentLength);
        }
        if !b.is_ascii_digit() {
            return Err(H1Error::InvalidContentLength);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(H1Error::InvalidContentLength)?;
    }
    Ok(n)
}

/// Parse a request head from the start of `buf`.
///
/// `headers` provides the slots for the header fields; at most
/// `min(headers.len(), limits.max_headers)` are accepted before [`H1Error::TooManyHeaders`].
/// Empty lines (CRLF) before the request line are skipped and counted in
/// [`RequestHead::len`]. The `Host` rule of HTTP/1.1 is left to the caller
/// ([`RequestHead::host_count`]).
pub fn parse_request_head<'b, 'h>(
    buf: &'b mut [u8],
    headers: &'h mut [HeaderSpan],
    limits: &Limits,
) -> Result<Status<RequestHead<'b, 'h>>, H1Error> {
    let slots = headers.len().min(limits.max_headers);
    match parse_head(buf, &mut headers[..slots], limits) {
        Ok(parsed) => {
            let buf: &'b [u8] = buf;
            let headers: &'h [HeaderSpan] = headers;
            Ok(Status::Complete(RequestHead {
                buf,
                headers: &headers[..parsed.header_count],
                ..parsed.head
            }))
        }
        Err(Stop::Invalid(error)) => Err(error),
        Err(Stop::Partial) => partial(buf, limits),
    }
}

/// The head as offsets, before the buffer is handed back as shared.
struct Parsed {
    head: RequestHead<'static, 'static>,
    header_count: usize,
}

/// A prefix that is valid so far: still refuse it once it is over a limit, so that a client
/// cannot make the server buffer an endless request line or head.
fn partial<T>(buf: &[u8], limits: &Limits) -> Result<Status<T>, H1Error> {
    let line_start = leading_empty_lines(buf);
    let line = &buf[line_start..];
    if !line.contains(&b'\n') && line.len() > limits.max_request_line_bytes {
        return Err(H1Error::RequestLineTooLong);
    }
    if buf.len() > limits.max_head_bytes {
        return Err(H1Error::HeadTooLarge);
    }
    Ok(Status::Partial)
}

fn leading_empty_lines(buf: &[u8]) -> usize {
    let mut i = 0;
    while buf.len() >= i + 2 && buf[i] == b'\r' && buf[i + 1] == b'\n' {
        i += 2;
    }
    i
}

fn parse_head(buf: &mut [u8], slots: &mut [HeaderSpan], limits: &Limits) -> Result<Parsed, Stop> {
    let mut i = 0;
    loop {
        match at(buf, i)? {
            b'\r' => {
                if at(buf, i + 1)? != b'\n' {
                    return Err(H1Error::BareCr.into());
                }
                i += 2;
            }
            b'\n' => return Err(H1Error::BareLf.into()),
            _ => break,
        }
    }
    let line_start = i;

    // method SP (the usual two at once)
    if limits.max_method_bytes >= 4 {
        if buf[i..].starts_with(b"GET ") {
            i += 3;
        } else if buf[i..].starts_with(b"POST ") {
            i += 4;
        }
    }
    while is_token(at(buf, i)?) {
        i += 1;
        if i - line_start > limits.max_method_bytes {
            return Err(H1Error::MethodTooLong.into());
        }
    }
    if buf[i] != b' ' || i == line_start {
        return Err(H1Error::InvalidMethod.into());
    }
    let method = Span {
        start: line_start,
        end: i,
    };
    i += 1;

    // request-target SP
    let target_start = i;
    let query_at;
    (i, query_at) = skip_target_query(buf, i);
    if at(buf, i)? != b' ' || i == target_start {
        return Err(H1Error::InvalidTarget.into());
    }
    let target = Span {
        start: target_start,
        end: i,
    };
    i += 1;

    // HTTP-version CRLF
    let version_bytes = buf.get(i..i + 8).ok_or(Stop::Partial)?;
    let version = match version_bytes {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            match (major, minor) {
                (b'1', b'1') => Version::Http11,
                (b'1', b'0') => Version::Http10,
                _ => return Err(H1Error::UnsupportedVersion.into()),
            }
        }
        _ => return Err(H1Error::InvalidVersion.into()),
    };
    i += 8;
    if i - line_start > limits.max_request_line_bytes {
        return Err(H1Error::RequestLineTooLong.into());
    }
    i = line_end(buf, i, H1Error::InvalidVersion)?;

    let (path, query) = match query_at {
        q if q < target.end => (
            Span {
                start: target.start,
                end: q,
            },
            Span {
                start: q + 1,
                end: target.end,
            },
        ),
        _ => (
            target,
            Span {
                start: target.end,
                end: target.end,
            },
        ),
    };

    let mut framing = Framing::default();
    let mut count = 0;
    loop {
        match at(buf, i)? {
            b'\r' => {
                i = line_end(buf, i, H1Error::BareCr)?;
                break;
            }
            b'\n' => return Err(H1Error::BareLf.into()),
            b' ' | b'\t' => return Err(H1Error::ObsFold.into()),
            _ => {}
        }

        // field-name ":" (lowercased in place)
        let name_start = i;
        i = lower_token_run(buf, i);
        match at(buf, i)? {
            b':' if i > name_start => {}
            b' ' | b'\t' if i > name_start => return Err(H1Error::WhitespaceBeforeColon.into()),
            _ => return Err(H1Error::InvalidHeaderName.into()),
        }
        let name = Span {
            start: name_start,
            end: i,
        };
        i += 1;

        // OWS field-value OWS CRLF
        while let b' ' | b'\t' = at(buf, i)? {
            i += 1;
        }
        let value_start = i;
        i = skip_field_value(buf, i);
        let mut value_end = i;
        i = line_end(buf, i, H1Error::InvalidHeaderValue)?;
        while value_end > value_start && matches!(buf[value_end - 1], b' ' | b'\t') {
            value_end -= 1;
        }
        let value = Span {
            start: value_start,
            end: value_end,
        };

        if i > limits.max_head_bytes {
            return Err(H1Error::HeadTooLarge.into());
        }
        let slot = slots.get_mut(count).ok_or(H1Error::TooManyHeaders)?;
        *slot = HeaderSpan { name, value };
        count += 1;
        let name = name.of(buf);
        if name == b"host" {
            framing.host_count += 1;
        } else if Framing::may_concern(name) {
            framing.field(name, value.of(buf))?;
        }
    }
    if i > limits.max_head_bytes {
        return Err(H1Error::HeadTooLarge.into());
    }

    let body = framing.body(version)?;
    let persistent = match version {
        Version::Http11 => !framing.close,
        Version::Http10 => framing.keep_alive_token && !framing.close,
    };
    Ok(Parsed {
        head: RequestHead {
            buf: &[],
            method,
            target,
            path,
            query,
            version,
            headers: &[],
            body,
            persistent,
            expect_continue: framing.expect_continue,
            host_count: framing.host_count,
            len: i,
        },
        header_count: count,
    })
}

/// Expect CRLF at `i` and return the index after it; a lone CR or LF is refused, and any other
/// byte is `otherwise`.
#[inline(always)]
fn line_end(buf: &[u8], i: usize, otherwise: H1Error) -> Result<usize, Stop> {
    match at(buf, i)? {
        b'\r' => match at(buf, i + 1)? {
            b'\n' => Ok(i + 2),
            _ => Err(H1Error::BareCr.into()),
        },
        b'\n' => Err(H1Error::BareLf.into()),
        _ => Err(otherwise.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> Result<Status<(String, usize)>, H1Error> {
        let mut buf = input.to_vec();
        let mut slots = [HeaderSpan::default(); 16];
        let status = parse_request_head(&mut buf, &mut slots, &Limits::default())?;
        Ok(match status {
            Status::Complete(head) => {
                Status::Complete((String::from_utf8_lossy(head.method()).into(), head.len))
            }
            Status::Partial => Status::Partial,
        })
    }

    #[test]
    fn simple_get_is_complete_and_reports_its_length() {
        let input = b"GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\nrest";
        assert_eq!(
            parse(input),
            Ok(Status::Complete(("GET".into(), input.len() - 4)))
        );
    }

    #[test]
    fn every_prefix_of_a_valid_head_is_partial() {
        let input = b"\r\nGET /a?b=c HTTP/1.1\r\nHost: x\r\nX-A:  b \r\n\r\n";
        for cut in 0..input.len() {
            assert_eq!(parse(&input[..cut]), Ok(Status::Partial), "cut at {cut}");
        }
    }

    #[test]
    fn names_are_lowercased_and_values_trimmed() {
        let mut buf = b"GET / HTTP/1.1\r\nX-Forwarded-FOR: \t 1.2.3.4 \t\r\n\r\n".to_vec();
        let mut slots = [HeaderSpan::default(); 4];
        let head = parse_request_head(&mut buf, &mut slots, &Limits::default())
            .unwrap()
            .complete()
            .unwrap();
        let pairs: Vec<_> = head.header_pairs().collect();
        assert_eq!(pairs, vec![(&b"x-forwarded-for"[..], &b"1.2.3.4"[..])]);
    }

    #[test]
    fn request_line_over_the_limit_is_414_even_before_it_ends() {
        let mut long = b"GET /".to_vec();
        long.extend(std::iter::repeat_n(b'a', 9000));
        assert_eq!(parse(&long), Err(H1Error::RequestLineTooLong));
        assert_eq!(H1Error::RequestLineTooLong.status(), 414);
    }

    #[test]
    fn head_over_the_limit_is_431_even_before_it_ends() {
        let mut long = b"GET / HTTP/1.1\r\nCookie: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 70_000));
        assert_eq!(parse(&long), Err(H1Error::HeadTooLarge));
    }

    #[test]
    fn more_fields_than_slots_is_431() {
        let mut input = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..17 {
            input.extend(format!("x-{i}: v\r\n").bytes());
        }
        input.extend(b"\r\n");
        assert_eq!(parse(&input), Err(H1Error::TooManyHeaders));
    }
}

//! Response encoders: the status line and header fields, chunk framing, and the
//! `Content-Length` bookkeeping that keeps a response from saying one length and sending another.
//!
//! The rule: nothing the app supplies can split a response. Header names must be tokens and
//! values may not hold CR, LF, NUL or other control characters (HTAB aside); a status must be
//! three digits. Refusals are [`EncodeError`]s, returned to the app, never written.

use bytes::BufMut;

use crate::class::{is_field_value, is_token_name};

/// Why a response part was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A status outside 100..=999.
    #[error("invalid status code {0}")]
    InvalidStatus(u16),
    /// A header name that is empty or holds a non-token byte.
    #[error("invalid response header name")]
    InvalidHeaderName,
    /// A header value holding CR, LF, NUL or another control character (response splitting).
    #[error("invalid response header value")]
    InvalidHeaderValue,
    /// More body bytes than the declared `Content-Length`.
    #[error("body longer than its Content-Length")]
    BodyTooLong,
    /// The body ended before the declared `Content-Length`.
    #[error("body shorter than its Content-Length")]
    BodyTooShort,
}

/// The reason phrase for a status: every code in IANA's HTTP Status Code Registry, by RFC 9110
/// §15's name where it has one, or `""` for a code the registry does not name (the status line
/// then ends after the code and its space, which RFC 9112 §4 allows).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => "",
    }
}

/// Check one response header field.
pub fn validate_header(name: &[u8], value: &[u8]) -> Result<(), EncodeError> {
    if !is_token_name(name) {
        return Err(EncodeError::InvalidHeaderName);
    }
    if !is_field_value(value) {
        return Err(EncodeError::InvalidHeaderValue);
    }
    Ok(())
}

/// Write `HTTP/1.1 <status> <reason>\r\n`, each header as `name: value\r\n`, and the final
/// CRLF into `out`. Every field is validated before anything is written, so a refusal leaves
/// `out` untouched.
pub fn write_response_head<'a, B, I>(
    out: &mut B,
    status: u16,
    headers: I,
) -> Result<(), EncodeError>
where
    B: BufMut,
    I: IntoIterator<Item = (&'a [u8], &'a [u8])> + Clone,
{
    if !(100..=999).contains(&status) {
        return Err(EncodeError::InvalidStatus(status));
    }
    let digits = status_digits(status);
    let reason = reason_phrase(status).as_bytes();
    write_fields(
        out,
        &[b"HTTP/1.1 ", &digits, b" ", reason, b"\r\n"],
        headers,
    )
}

/// Write the status line alone, `HTTP/1.1 <status> <reason>\r\n`, for callers that write the
/// fields themselves (after checking each with [`validate_header`]) and the final CRLF.
pub fn write_status_line<B: BufMut>(out: &mut B, status: u16) -> Result<(), EncodeError> {
    if !(100..=999).contains(&status) {
        return Err(EncodeError::InvalidStatus(status));
    }
    if status == 200 {
        out.put_slice(b"HTTP/1.1 200 OK\r\n");
        return Ok(());
    }
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(&status_digits(status));
    out.put_slice(b" ");
    out.put_slice(reason_phrase(status).as_bytes());
    out.put_slice(b"\r\n");
    Ok(())
}

/// Validate every field, then write the `first` pieces, the fields (`name: value\r\n` each) and
/// the final CRLF; a refusal writes nothing.
fn write_fields<'a, B, I>(out: &mut B, first: &[&[u8]], fields: I) -> Result<(), EncodeError>
where
    B: BufMut,
    I: IntoIterator<Item = (&'a [u8], &'a [u8])> + Clone,
{
    for (name, value) in fields.clone() {
        validate_header(name, value)?;
    }
    for piece in first {
        out.put_slice(piece);
    }
    for (name, value) in fields {
        out.put_slice(name);
        out.put_slice(b": ");
        out.put_slice(value);
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"\r\n");
    Ok(())
}

fn status_digits(status: u16) -> [u8; 3] {
    [
        b'0' + (status / 100) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
    ]
}

/// Write a chunk's size line (`<hex>\r\n`); the data and its closing CRLF follow it.
pub fn write_chunk_size<B: BufMut>(out: &mut B, len: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut n = len;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = HEX[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[at..]);
    out.put_slice(b"\r\n");
}

/// Write the last chunk (`0\r\n`), the trailer fields, and the final CRLF. Trailers are
/// validated like header fields first; a refusal writes nothing.
pub fn write_last_chunk<'a, B, I>(out: &mut B, trailers: I) -> Result<(), EncodeError>
where
    B: BufMut,
    I: IntoIterator<Item = (&'a [u8], &'a [u8])> + Clone,
{
    write_fields(out, &[b"0\r\n"], trailers)
}

/// Keeps a `Content-Length` body honest: the bytes written must add up to the declared length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthEncoder {
    remaining: u64,
}

impl LengthEncoder {
    /// A body declared as `length` bytes.
    pub fn new(length: u64) -> LengthEncoder {
        LengthEncoder { remaining: length }
    }

    /// Account for `n` more body bytes; refuses bytes past the declared length.
    pub fn write(&mut self, n: usize) -> Result<(), EncodeError> {
        self.remaining = self
            .remaining
            .checked_sub(n as u64)
            .ok_or(EncodeError::BodyTooLong)?;
        Ok(())
    }

    /// The body is over: refuses a body shorter than declared.
    pub fn finish(&self) -> Result<(), EncodeError> {
        match self.remaining {
            0 => Ok(()),
            _ => Err(EncodeError::BodyTooShort),
        }
    }

    /// Bytes still owed.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_is_status_line_fields_and_empty_line() {
        let mut out = Vec::new();
        let headers = [(&b"content-type"[..], &b"text/plain"[..])];
        write_response_head(&mut out, 200, headers).unwrap();
        assert_eq!(out, b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n");
    }

    #[test]
    fn response_splitting_is_refused_and_nothing_is_written() {
        let mut out = Vec::new();
        for value in [&b"a\r\nx: y"[..], b"a\nb", b"a\0b", b"a\rb"] {
            let headers = [(&b"x"[..], value)];
            assert_eq!(
                write_response_head(&mut out, 200, headers),
                Err(EncodeError::InvalidHeaderValue)
            );
        }
        let headers = [(&b"x\r\ny"[..], &b"v"[..])];
        assert_eq!(
            write_response_head(&mut out, 200, headers),
            Err(EncodeError::InvalidHeaderName)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn status_must_have_three_digits() {
        let mut out = Vec::new();
        let none: [(&[u8], &[u8]); 0] = [];
        assert_eq!(
            write_response_head(&mut out, 99, none),
            Err(EncodeError::InvalidStatus(99))
        );
        assert_eq!(
            write_response_head(&mut out, 1000, none),
            Err(EncodeError::InvalidStatus(1000))
        );
        write_response_head(&mut out, 599, none).unwrap();
        assert_eq!(out, b"HTTP/1.1 599 \r\n\r\n");
    }

    #[test]
    fn every_registered_status_has_its_registry_phrase() {
        // IANA's HTTP Status Code Registry, with RFC 9110's names where it renamed one (413,
        // 414, 416, 422); 306 and 418 are registered as unused.
        let registry: [(u16, &str); 61] = [
            (100, "Continue"),
            (101, "Switching Protocols"),
            (102, "Processing"),
            (103, "Early Hints"),
            (200, "OK"),
            (201, "Created"),
            (202, "Accepted"),
            (203, "Non-Authoritative Information"),
            (204, "No Content"),
            (205, "Reset Content"),
            (206, "Partial Content"),
            (207, "Multi-Status"),
            (208, "Already Reported"),
            (226, "IM Used"),
            (300, "Multiple Choices"),
            (301, "Moved Permanently"),
            (302, "Found"),
            (303, "See Other"),
            (304, "Not Modified"),
            (305, "Use Proxy"),
            (307, "Temporary Redirect"),
            (308, "Permanent Redirect"),
            (400, "Bad Request"),
            (401, "Unauthorized"),
            (402, "Payment Required"),
            (403, "Forbidden"),
            (404, "Not Found"),
            (405, "Method Not Allowed"),
            (406, "Not Acceptable"),
            (407, "Proxy Authentication Required"),
            (408, "Request Timeout"),
            (409, "Conflict"),
            (410, "Gone"),
            (411, "Length Required"),
            (412, "Precondition Failed"),
            (413, "Content Too Large"),
            (414, "URI Too Long"),
            (415, "Unsupported Media Type"),
            (416, "Range Not Satisfiable"),
            (417, "Expectation Failed"),
            (421, "Misdirected Request"),
            (422, "Unprocessable Content"),
            (423, "Locked"),
            (424, "Failed Dependency"),
            (425, "Too Early"),
            (426, "Upgrade Required"),
            (428, "Precondition Required"),
            (429, "Too Many Requests"),
            (431, "Request Header Fields Too Large"),
            (451, "Unavailable For Legal Reasons"),
            (500, "Internal Server Error"),
            (501, "Not Implemented"),
            (502, "Bad Gateway"),
            (503, "Service Unavailable"),
            (504, "Gateway Timeout"),
            (505, "HTTP Version Not Supported"),
            (506, "Variant Also Negotiates"),
            (507, "Insufficient Storage"),
            (508, "Loop Detected"),
            (510, "Not Extended"),
            (511, "Network Authentication Required"),
        ];
        for (status, phrase) in registry {
            assert_eq!(reason_phrase(status), phrase, "{status}");
            let mut line = Vec::new();
            write_status_line(&mut line, status).unwrap();
            assert_eq!(line, format!("HTTP/1.1 {status} {phrase}\r\n").into_bytes());
        }
        // Unregistered and unused codes have none: the line ends after the code and its space.
        for status in [199, 299, 306, 418, 499, 599, 999] {
            assert_eq!(reason_phrase(status), "", "{status}");
        }
    }

    #[test]
    fn status_line_alone_matches_the_whole_head() {
        let none: [(&[u8], &[u8]); 0] = [];
        for status in [200, 204, 404, 599] {
            let (mut alone, mut whole) = (Vec::new(), Vec::new());
            write_status_line(&mut alone, status).unwrap();
            alone.extend_from_slice(b"\r\n");
            write_response_head(&mut whole, status, none).unwrap();
            assert_eq!(alone, whole, "{status}");
        }
        assert_eq!(
            write_status_line(&mut Vec::new(), 1000),
            Err(EncodeError::InvalidStatus(1000))
        );
    }

    #[test]
    fn chunk_sizes_are_lowercase_hex() {
        for (len, text) in [
            (0, "0\r\n"),
            (10, "a\r\n"),
            (4096, "1000\r\n"),
            (255, "ff\r\n"),
        ] {
            let mut out = Vec::new();
            write_chunk_size(&mut out, len);
            assert_eq!(out, text.as_bytes());
        }
    }

    #[test]
    fn last_chunk_carries_trailers() {
        let mut out = Vec::new();
        write_last_chunk(&mut out, [(&b"x-sum"[..], &b"1"[..])]).unwrap();
        assert_eq!(out, b"0\r\nx-sum: 1\r\n\r\n");
    }

    #[test]
    fn length_encoder_refuses_too_long_and_too_short() {
        let mut encoder = LengthEncoder::new(5);
        encoder.write(3).unwrap();
        assert_eq!(encoder.finish(), Err(EncodeError::BodyTooShort));
        assert_eq!(encoder.write(3), Err(EncodeError::BodyTooLong));
        encoder.write(2).unwrap();
        encoder.finish().unwrap();
    }
}

//! The parser's limits. Each is a setting with a default and the reason for it; going over one
//! is an [`crate::H1Error`] with its own status, never a panic or an unbounded buffer.

/// Default for [`Limits::max_request_line_bytes`]: 8 KiB, nginx's and hyper's ballpark; longer
/// targets are answered 414 (RFC 9112 §3 recommends supporting at least 8000 octets).
pub const DEFAULT_MAX_REQUEST_LINE_BYTES: usize = 8 * 1024;
/// Default for [`Limits::max_method_bytes`]: 32 bytes; the longest registered method,
/// `UPDATEREDIRECTREF`, has 17, and a longer token is a method no server implements (501, as
/// RFC 9110 §9.1 answers an unknown method).
pub const DEFAULT_MAX_METHOD_BYTES: usize = 32;
/// Default for [`Limits::max_head_bytes`]: 64 KiB leaves room for browsers' large cookies
/// while bounding the bytes held before any app code runs (answered 431).
pub const DEFAULT_MAX_HEAD_BYTES: usize = 64 * 1024;
/// Default for [`Limits::max_headers`]: 100 fields, hyper's default (answered 431).
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// Default for [`Limits::max_chunk_extension_bytes`]: 16 KiB per body, Node's fix for
/// CVE-2024-22019 (extension bytes cost the server reads but carry no data; answered 413).
pub const DEFAULT_MAX_CHUNK_EXTENSION_BYTES: usize = 16 * 1024;
/// Default for [`Limits::max_trailer_bytes`]: 16 KiB; trailers are rare and small (answered 431).
pub const DEFAULT_MAX_TRAILER_BYTES: usize = 16 * 1024;

/// The parser's limits; `Limits::default()` holds the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line (method, target, version; without CRLF) before 414.
    pub max_request_line_bytes: usize,
    /// Longest method token before 501.
    pub max_method_bytes: usize,
    /// Longest head (request line and header fields, with the final empty line) before 431.
    pub max_head_bytes: usize,
    /// Most header fields before 431.
    pub max_headers: usize,
    /// Most chunk-extension bytes in one body before 413.
    pub max_chunk_extension_bytes: usize,
    /// Most trailer-section bytes in one body before 431.
    pub max_trailer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_line_bytes: DEFAULT_MAX_REQUEST_LINE_BYTES,
            max_method_bytes: DEFAULT_MAX_METHOD_BYTES,
            max_head_bytes: DEFAULT_MAX_HEAD_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            max_chunk_extension_bytes: DEFAULT_MAX_CHUNK_EXTENSION_BYTES,
            max_trailer_bytes: DEFAULT_MAX_TRAILER_BYTES,
        }
    }
}

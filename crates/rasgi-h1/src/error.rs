//! Every way the bytes from a client can be wrong, and the status each one is answered with.
//!
//! The rule: an error is the client's fault and carries its status hint ([`H1Error::status`]);
//! "need more data" is never an error (see [`crate::Status::Partial`]).

/// A request the parser or a body decoder refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum H1Error {
    /// The method is empty or holds a byte that is not a token character.
    #[error("invalid method")]
    InvalidMethod,
    /// The request target is empty or holds a control character, a space or a non-ASCII byte.
    #[error("invalid request target")]
    InvalidTarget,
    /// The version is not `HTTP/<digit>.<digit>`.
    #[error("invalid HTTP version")]
    InvalidVersion,
    /// A well-formed version other than HTTP/1.0 and HTTP/1.1.
    #[error("HTTP version not supported")]
    UnsupportedVersion,
    /// The request line is longer than [`crate::Limits::max_request_line_bytes`].
    #[error("request line too long")]
    RequestLineTooLong,
    /// The head is longer than [`crate::Limits::max_head_bytes`].
    #[error("request header fields too large")]
    HeadTooLarge,
    /// More header fields than [`crate::Limits::max_headers`].
    #[error("too many header fields")]
    TooManyHeaders,
    /// A header name is empty or holds a byte that is not a token character.
    #[error("invalid header name")]
    InvalidHeaderName,
    /// White space between a header name and its colon (CVE-2021-22959).
    #[error("white space before the colon of a header field")]
    WhitespaceBeforeColon,
    /// A header line starting with white space: obs-fold, or space before the first header.
    #[error("obsolete line folding or white space before a header line")]
    ObsFold,
    /// A header value holds a control character (CR, LF, NUL, ...).
    #[error("invalid header value")]
    InvalidHeaderValue,
    /// A CR not followed by LF.
    #[error("bare CR")]
    BareCr,
    /// A line ended by LF without CR.
    #[error("bare LF as a line end")]
    BareLf,
    /// A `Content-Length` that is not a plain decimal number, or that overflows.
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// More than one `Content-Length` field, or a list of values.
    #[error("duplicate Content-Length")]
    DuplicateContentLength,
    /// Both `Transfer-Encoding` and `Content-Length` (a smuggling vector).
    #[error("both Transfer-Encoding and Content-Length")]
    TransferEncodingWithContentLength,
    /// `Transfer-Encoding` on an HTTP/1.0 request (RFC 9112 §6.1).
    #[error("Transfer-Encoding on HTTP/1.0")]
    TransferEncodingOnHttp10,
    /// `chunked` is missing from the end of the codings, or appears twice.
    #[error("chunked is not the final transfer coding")]
    ChunkedNotFinal,
    /// A transfer coding other than `chunked`.
    #[error("transfer coding not implemented")]
    UnsupportedTransferCoding,
    /// A chunk size that is not hexadecimal, or is followed by something other than `;` or CRLF.
    #[error("invalid chunk size")]
    InvalidChunkSize,
    /// A chunk size larger than 64 bits (CVE-2021-32714).
    #[error("chunk size overflow")]
    ChunkSizeOverflow,
    /// A chunk extension holds a control character.
    #[error("invalid chunk extension")]
    InvalidChunkExtension,
    /// Chunk extensions over [`crate::Limits::max_chunk_extension_bytes`] (CVE-2024-22019).
    #[error("chunk extensions too large")]
    ChunkExtensionsTooLarge,
    /// Chunk data not followed by exactly CRLF (CVE-2025-43859).
    #[error("chunk data not followed by CRLF")]
    InvalidChunkEnd,
    /// A malformed trailer field.
    #[error("invalid trailer field")]
    InvalidTrailer,
    /// Trailers over [`crate::Limits::max_trailer_bytes`].
    #[error("trailer fields too large")]
    TrailersTooLarge,
    /// The method is longer than [`crate::Limits::max_method_bytes`]: no server implements it.
    #[error("method too long")]
    MethodTooLong,
}

impl H1Error {
    /// The HTTP status a server answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            H1Error::UnsupportedVersion => 505,
            H1Error::RequestLineTooLong => 414,
            H1Error::HeadTooLarge | H1Error::TooManyHeaders | H1Error::TrailersTooLarge => 431,
            H1Error::UnsupportedTransferCoding | H1Error::MethodTooLong => 501,
            H1Error::ChunkExtensionsTooLarge => 413,
            _ => 400,
        }
    }
}

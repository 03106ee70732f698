//! Sans-io HTTP/1.1 for rasgi: bytes in, events or errors out, never a socket.
//!
//! The rule this crate keeps: **incomplete is not invalid**. Every entry point answers with
//! exactly one of "here is what the bytes mean", "need more bytes" ([`Status::Partial`]) or an
//! [`H1Error`] that names the HTTP status to answer with. Nothing here allocates on the parse
//! path: results borrow from the caller's buffer.
//!
//! | concept | file |
//! | --- | --- |
//! | byte classes (`const` tables) and the word-at-a-time scanners | [`class`] |
//! | limits, each with its reason | [`limits`] |
//! | errors and their statuses | [`error`] |
//! | the request-head parser and body framing | [`request`] |
//! | body decoders (`Content-Length`, chunked) | [`body`] |
//! | response head and body encoders | [`response`] |
//! | a server connection's state machine: every transition of an exchange | [`conn`] |
//! | the request a connection hands its app, built from a parsed head | `incoming.rs` |
//! | the response head a connection writes, as its transitions decided it | `outgoing.rs` |
//!
//! The bytes a connection owes its client wait in a [`rasgi_output::Output`], the queue every
//! protocol's machine writes into.

#![warn(missing_docs)]

pub mod body;
pub mod class;
pub mod conn;
pub mod error;
mod incoming;
pub mod limits;
mod outgoing;
pub mod request;
pub mod response;

pub use body::{Decoded, Decoder};
pub use conn::ServerConn;
pub use error::H1Error;
pub use limits::Limits;
pub use request::{
    parse_content_length, parse_request_head, BodyKind, HeaderSpan, RequestHead, Span, Version,
};
pub use response::{
    reason_phrase, validate_header, write_chunk_size, write_last_chunk, write_response_head,
    write_status_line, EncodeError, LengthEncoder,
};

/// The outcome of a parse step that may need more bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// The value is complete.
    Complete(T),
    /// The bytes so far are a valid prefix; read more and call again with all of them.
    Partial,
}

impl<T> Status<T> {
    /// The complete value, if there is one.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(value) => Some(value),
            Status::Partial => None,
        }
    }
}

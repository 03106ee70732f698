//! What flows between server and app: [`Event`]s the app receives, [`Message`]s it sends.
//!
//! The rules of an HTTP exchange, as ASGI 2.4 states them and rasgi's server enforces them:
//! - `send` takes exactly one [`Message::Start`] (any number of 1xx early hints before it may come
//!   as [`Message::Informational`]), then [`Message::Body`] messages until one has
//!   `more_body: false`, then [`Message::Trailers`] if the start announced them. Anything else is
//!   refused with [`SendError::OutOfOrder`].
//! - After the client has gone, `send` fails with [`SendError::Disconnected`]; `receive` answers
//!   [`Event::Disconnect`] from then on, and also once the response is complete.

use bytes::Bytes;

use crate::Headers;

/// What the app receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A piece of the request body; `more_body: false` marks the last one.
    Request {
        /// The bytes (may be empty).
        body: Bytes,
        /// Whether more body follows.
        more_body: bool,
    },
    /// The client is gone, or the response is complete: nothing more will arrive.
    Disconnect,
    /// Lifespan: the server is starting; answer [`Message::StartupComplete`] or
    /// [`Message::StartupFailed`].
    Startup,
    /// Lifespan: the server is stopping; answer [`Message::ShutdownComplete`] or
    /// [`Message::ShutdownFailed`].
    Shutdown,
}

/// What the app sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A 1xx response before the final one (103 Early Hints).
    Informational {
        /// 100..=199, but not 101.
        status: u16,
        /// Its header fields.
        headers: Headers,
    },
    /// The response's status and header fields.
    Start {
        /// 200..=999 (the server refuses less).
        status: u16,
        /// Header fields; `content-length` is used and enforced, `transfer-encoding` ignored.
        headers: Headers,
        /// Whether a [`Message::Trailers`] follows the body.
        trailers: bool,
    },
    /// A piece of the response body.
    Body {
        /// The bytes (may be empty).
        body: Bytes,
        /// Whether more body follows.
        more_body: bool,
    },
    /// Trailer fields after the body (only when `Start` announced them).
    Trailers {
        /// The fields.
        headers: Headers,
    },
    /// Lifespan: startup went well.
    StartupComplete,
    /// Lifespan: startup failed; the server exits with this message.
    StartupFailed(String),
    /// Lifespan: shutdown went well.
    ShutdownComplete,
    /// Lifespan: shutdown failed; logged.
    ShutdownFailed(String),
}

impl Message {
    /// A response start with these header fields and no trailers.
    pub fn start(status: u16, headers: Headers) -> Message {
        Message::Start {
            status,
            headers,
            trailers: false,
        }
    }

    /// The final body message.
    pub fn body(body: impl Into<Bytes>) -> Message {
        Message::Body {
            body: body.into(),
            more_body: false,
        }
    }

    /// A body message with more to come.
    pub fn chunk(body: impl Into<Bytes>) -> Message {
        Message::Body {
            body: body.into(),
            more_body: true,
        }
    }
}

/// Why `send` refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The client has gone; nothing more can be sent.
    #[error("the client disconnected")]
    Disconnected,
    /// The message is not allowed at this point of the exchange.
    #[error("message out of order: {0}")]
    OutOfOrder(&'static str),
    /// A status the server cannot send.
    #[error("invalid status {0}")]
    InvalidStatus(u16),
    /// A header field that could split the response or is malformed.
    #[error("invalid header field")]
    InvalidHeader,
    /// A `content-length` the app set that is not a number.
    #[error("invalid content-length from the app")]
    InvalidContentLength,
    /// More bytes than the app's `content-length`.
    #[error("body longer than its content-length")]
    BodyTooLong,
    /// The final body ended before the app's `content-length`.
    #[error("body shorter than its content-length")]
    BodyTooShort,
    /// The message is not one this kind of scope takes (an HTTP message in lifespan, ...).
    #[error("message not valid for this scope")]
    WrongScope,
}

//! What flows between server and app: [`Event`]s the app receives, [`Message`]s it sends.
//!
//! The rules of an HTTP exchange, as ASGI 2.4 states them and rasgi's server enforces them:
//! - `send` takes exactly one [`Message::Start`] (any number of 1xx early hints before it may come
//!   as [`Message::Informational`]), then [`Message::Body`] messages until one has
//!   `more_body: false`, then [`Message::Trailers`] if the start announced them. Anything else is
//!   refused with [`SendError::OutOfOrder`]. Instead of the body messages, one
//!   [`Message::PathSend`] may follow the start: the whole body, from a file.
//! - After the client has gone, `send` fails with [`SendError::Disconnected`]; `receive` answers
//!   [`Event::Disconnect`] from then on, and also once the response is complete.
//!
//! And of a WebSocket (ASGI's websocket protocol):
//! - `receive` answers [`Event::WebSocketConnect`] first. The app answers the handshake with
//!   [`Message::WebSocketAccept`], or refuses it: [`Message::WebSocketClose`] before accepting
//!   is a 403, and a [`Message::Start`] with its [`Message::Body`] messages is an ordinary HTTP
//!   response instead of the 101 (the Denial Response extension).
//! - Once accepted, `receive` answers [`Event::WebSocketReceive`] for each message and one
//!   [`Event::WebSocketDisconnect`] at the end; `send` takes [`Message::WebSocketSend`] and one
//!   [`Message::WebSocketClose`]. A send after the close, or after the client left, fails.

use bytes::Bytes;

use crate::{ByteStr, FileBody, Headers};

/// An error an app returns: any error type, boxed. Middleware can downcast it to map typed
/// errors to responses.
pub type AppError = Box<dyn std::error::Error + Send + Sync + 'static>;

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
    /// WebSocket: a client asks to open a WebSocket; accept, close, or deny it.
    WebSocketConnect,
    /// WebSocket: a whole message from the client.
    WebSocketReceive(WebSocketData),
    /// WebSocket: the connection is closed (by the client, by the server, or it was lost).
    WebSocketDisconnect {
        /// The close code: the client's, the server's own when it closed, 1006 for a lost
        /// connection.
        code: u16,
        /// The close frame's reason, possibly empty.
        reason: String,
    },
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
    /// The whole body, sent by the server from a file (ASGI's `http.response.pathsend`):
    /// instead of [`Message::Body`] messages, right after the start. Its length is the
    /// response's `content-length` (a different one the start gave is refused with
    /// [`SendError::InvalidContentLength`]); a file that turns out shorter while it is sent
    /// ends the connection.
    PathSend(FileBody),
    /// Trailer fields after the body (only when `Start` announced them).
    Trailers {
        /// The fields.
        headers: Headers,
    },
    /// WebSocket: accept the handshake (the server answers 101).
    WebSocketAccept {
        /// The subprotocol chosen, one of those the client offered.
        subprotocol: Option<String>,
        /// Extra header fields for the 101.
        headers: Headers,
    },
    /// WebSocket: one message to the client.
    WebSocketSend(WebSocketData),
    /// WebSocket: close the connection (before accepting: refuse it with 403).
    WebSocketClose {
        /// The close code (1000 for a normal close).
        code: u16,
        /// The reason, at most 123 bytes.
        reason: String,
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

/// A WebSocket message's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebSocketData {
    /// A text message.
    Text(ByteStr),
    /// A binary message.
    Binary(Bytes),
}

impl WebSocketData {
    /// The message's bytes (text as UTF-8).
    pub fn as_bytes(&self) -> &Bytes {
        match self {
            WebSocketData::Text(text) => text.as_bytes(),
            WebSocketData::Binary(bytes) => bytes,
        }
    }
}

impl Message {
    /// Accept a WebSocket with no subprotocol and no extra fields.
    pub fn accept() -> Message {
        Message::WebSocketAccept {
            subprotocol: None,
            headers: Headers::new(),
        }
    }

    /// A WebSocket text message.
    pub fn text(text: impl Into<String>) -> Message {
        Message::WebSocketSend(WebSocketData::Text(ByteStr::from(text.into())))
    }

    /// A WebSocket binary message.
    pub fn binary(bytes: impl Into<Bytes>) -> Message {
        Message::WebSocketSend(WebSocketData::Binary(bytes.into()))
    }

    /// Close a WebSocket with `code` and no reason.
    pub fn close(code: u16) -> Message {
        Message::WebSocketClose {
            code,
            reason: String::new(),
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
    /// A WebSocket close code that may not be sent, a reason over 123 bytes, or a
    /// subprotocol the client did not offer.
    #[error("invalid WebSocket message: {0}")]
    InvalidWebSocket(&'static str),
    /// The WebSocket is closed: nothing may be sent after its close.
    #[error("the WebSocket is closed")]
    Closed,
    /// The message is not one this kind of scope takes (an HTTP message in lifespan, ...).
    #[error("message not valid for this scope")]
    WrongScope,
}

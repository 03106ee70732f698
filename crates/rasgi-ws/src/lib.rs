//! Sans-io WebSocket (RFC 6455), with permessage-deflate (RFC 7692). No I/O, no runtime: bytes
//! in, messages out; messages in, bytes out. The server drives it on a connection that the HTTP
//! state machine upgraded.
//!
//! | concept | file |
//! | --- | --- |
//! | the opening handshake's checks and accept key | [`handshake`] |
//! | frame heads and masking | [`frame`] |
//! | a connection after the handshake: messages, control frames, closing | [`session`] |
//! | UTF-8 checked across fragments | [`utf8`] |
//! | permessage-deflate negotiation and codec | [`deflate`] |
//! | what fails a connection, with its close code | [`error`] |
//!
//! Strict by design: every rule RFC 6455 says must fail the connection does, at once, with the
//! close code for it (1002 protocol error, 1007 invalid UTF-8, 1009 too big).

#![warn(missing_docs)]

pub mod deflate;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod session;
pub mod utf8;

pub use deflate::{negotiate, DeflateParams};
pub use error::{close_code, Error};
pub use handshake::{HandshakeError, Offer};
pub use session::{CloseFrame, Config, Data, Incoming, Role, SendError, Session};

//! The protocol between a rasgi server and an app, modelled on ASGI 3 (spec 2.4) with Rust types
//! instead of dictionaries.
//!
//! An app is called once per connection-level event stream: `call(scope, receive, send)`. For
//! HTTP the app `receive`s [`Event::Request`] chunks of the request body (then
//! [`Event::Disconnect`]) and `send`s one [`Message::Start`] and one or more [`Message::Body`].
//! For lifespan it receives [`Event::Startup`] / [`Event::Shutdown`] and answers with the
//! matching `*Complete` or `*Failed` message. The rule every server and app keeps is written on
//! each type; docs/protocol.md gathers them.
//!
//! | concept | file |
//! | --- | --- |
//! | scopes (what the request is) | [`scope`] |
//! | events and messages (what flows) | [`message`] |
//! | a body sent from a file (path send) | [`mod@file`] |
//! | the `App`, `Receive`, `Sender` traits and the boxed form | [`app`] |
//! | header lists | [`headers`] |
//! | lifespan state and per-request extensions | [`state`] |
//! | background tasks attached to a response | [`background`] |
//! | the TLS session a request came over | [`tls`] |
//! | panics caught and carried as errors | [`panic`](mod@panic) |
//! | UTF-8 text that shares the request buffer | [`bytestr`] |

#![warn(missing_docs)]

pub mod app;
pub mod background;
pub mod bytestr;
pub mod file;
pub mod headers;
pub mod lines;
pub mod message;
pub mod panic;
pub mod scope;
pub mod state;
pub mod tls;

pub use app::{
    is_client_gone, read_body, send_response, App, BoxApp, OnHeap, ReadBodyError, Receive, Sender,
};
pub use background::{BackgroundTasks, Task, TaskBody};
pub use bytestr::ByteStr;
pub use file::FileBody;
pub use headers::Headers;
pub use lines::{FieldLine, FieldLines, FieldName, InvalidField};
pub use message::{AppError, Event, Message, SendError, WebSocketData};
pub use panic::{catch_panic, Panicked};
pub use scope::{HttpScope, LifespanScope, Scheme, Scope, WebSocketScope};
pub use state::{Extensions, State};
pub use tls::TlsInfo;

pub use bytes::Bytes;

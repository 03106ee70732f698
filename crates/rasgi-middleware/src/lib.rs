//! Middleware for rasgi: each one an app that wraps an app, rewriting the response start on its
//! way out and passing the body through chunk by chunk. None ever buffers a stream.
//!
//! | concept | file |
//! | --- | --- |
//! | the one send-wrapper shape, responses, and the `Middleware` trait with its `Inner` | [`hook`] |
//! | composing middleware in order, and printing the onion | [`stack`] |
//! | synchronous middleware, a run of them as one layer | [`step`] |
//! | `x-process-time` | [`timing`] |
//! | `x-request-id` | [`request_id`] |
//! | static response headers | [`custom_headers`] |
//! | CORS | [`cors`] |
//! | gzip, flushed at every chunk | [`gzip`] |
//! | allowed `Host` values | [`trusted_host`] |
//! | http → https | [`https_redirect`] |
//! | `X-Forwarded-*` / `Forwarded` from trusted proxies | [`proxy_headers`] |
//! | app errors → 500 | [`server_errors`] |
//! | typed errors → responses | [`exception_handlers`] |
//! | calling an app and answering its error, for the two above | `answer_errors.rs` |
//! | `@app.middleware("http")`-style closures | [`from_fn`](mod@from_fn) |
//!
//! Each middleware validates its configuration in `new` and passes non-HTTP scopes straight
//! through first.
//!
//! # Write a middleware
//!
//! The common middleware looks at the request, then edits the response start: a [`Step`]. Its
//! `on_request` is plain code that lets the request go on with a [`ResponseHook`] for its
//! response, or answers it. One that adds a field to every response:
//!
//! ```
//! use rasgi_middleware::{Decision, ResponseHook, ResponseStart, Step};
//! use rasgi_protocol::{Bytes, Scope, SendError};
//! struct PoweredBy;
//! struct Stamp;
//! impl ResponseHook for Stamp {
//!     fn on_start(&mut self, start: &mut ResponseStart, _: &Bytes, _: bool) -> Result<(), SendError> {
//!         start.headers.append("x-powered-by", "rasgi");
//!         Ok(())
//!     }
//! }
//! impl Step for PoweredBy {
//!     type Hook<'a> = Option<Stamp>;
//!     fn describe(&self) -> String { "PoweredBy".into() }
//!     fn on_request(&self, _: &mut Scope) -> Decision<Option<Stamp>> { Decision::Continue(Some(Stamp)) }
//! }
//! # let mut scope = Scope::Http(rasgi_protocol::HttpScope::new("GET", "/"));
//! # let Decision::Continue(Some(mut hook)) = PoweredBy.on_request(&mut scope) else { panic!() };
//! # let mut start = ResponseStart::new(200, Default::default(), false);
//! # hook.on_start(&mut start, &Bytes::new(), false).unwrap();
//! # assert_eq!(start.headers.get_str("x-powered-by"), Some("rasgi"));
//! ```
//!
//! One that refuses requests without the right API key (401); the app never sees them:
//!
//! ```
//! use rasgi_middleware::{Decision, Response, Step};
//! use rasgi_protocol::{Headers, Scope};
//! struct ApiKey(&'static str);
//! impl Step for ApiKey {
//!     type Hook<'a> = ();
//!     fn describe(&self) -> String { "ApiKey".into() }
//!     fn on_request(&self, scope: &mut Scope) -> Decision<()> {
//!         match scope {
//!             Scope::Http(http) if http.header("x-api-key") != Some(self.0) => {
//!                 Decision::Respond(Response::new(401, Headers::new(), "a valid x-api-key is required"))
//!             }
//!             _ => Decision::Continue(()),
//!         }
//!     }
//! }
//! # let mut scope = Scope::Http(rasgi_protocol::HttpScope::new("GET", "/"));
//! # assert!(matches!(ApiKey("k").on_request(&mut scope), Decision::Respond(r) if r.status == 401));
//! ```
//!
//! `Stack::new().step(ApiKey("k")).step(PoweredBy).app(app)` runs both as one layer, outermost
//! first. A middleware that must await around the inner app (error handling, a timeout) is a
//! [`Middleware`]; [`from_fn`](mod@from_fn) writes one as a closure.

#![warn(missing_docs)]

mod answer_errors;
pub mod cors;
pub mod custom_headers;
pub mod exception_handlers;
pub mod from_fn;
pub mod gzip;
mod gzip_stream;
pub mod hook;
pub mod https_redirect;
pub mod proxy_headers;
pub mod request_id;
pub mod server_errors;
pub mod stack;
pub mod step;
pub mod timing;
pub mod trusted_host;

pub use cors::Cors;
pub use custom_headers::CustomHeaders;
pub use exception_handlers::ExceptionHandlers;
pub use from_fn::{from_fn, Next};
pub use gzip::GZip;
pub use hook::{HookedSender, Inner, Middleware, Response, ResponseHook, ResponseStart};
pub use https_redirect::HttpsRedirect;
pub use proxy_headers::ProxyHeaders;
pub use request_id::{RequestId, RequestIdValue};
pub use server_errors::ServerErrors;
pub use stack::{Stack, StackApp};
pub use step::{Decision, Step, StepList, Steps};
pub use timing::Timing;
pub use trusted_host::TrustedHost;

/// Why a middleware refused its configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// CORS with `*` origins and credentials (the CORS spec forbids the combination).
    #[error("CORS cannot allow any origin (*) together with credentials")]
    WildcardWithCredentials,
    /// A header name or value that could not be sent.
    #[error("invalid header {0:?}")]
    InvalidHeader(String),
    /// A host pattern that is not a host name, `*`, or `*.domain`.
    #[error("invalid host pattern {0:?}")]
    InvalidHostPattern(String),
    /// A setting outside its range.
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// Whether `name: value` could be sent as a header field (token name, no control characters).
pub(crate) fn valid_header(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        && value
            .bytes()
            .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

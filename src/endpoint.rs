//! An async closure as an [`App`]: [`app_fn`], for handlers that take the request whole and
//! answer with one [`Response`] (the way axum's `service_fn` turns a closure into a service).
//!
//! ```
//! use rasgi::endpoint::{app_fn, Request};
//! use rasgi::middleware::Response;
//! use rasgi::protocol::Headers;
//!
//! let app = app_fn(|request: Request| async move {
//!     let text = format!("{} bytes to {}", request.body.len(), request.scope.path);
//!     Ok(Response::new(200, Headers::new().with("content-type", "text/plain"), text))
//! });
//! # let _ = app;
//! ```
//!
//! The body is read whole before the closure runs, up to a limit ([`AppFn::body_limit`],
//! 1 MiB by default); a longer one is answered 413. A handler that streams its body, or reads
//! its request as it arrives, implements [`App`] itself. WebSocket handshakes are refused (403);
//! lifespan events are not answered (the server then runs without a lifespan).

use std::future::Future;

use bytes::Bytes;
use rasgi_middleware::Response;
use rasgi_protocol::{
    read_body, send_response, App, AppError, Event, HttpScope, Message, Receive, Scope, Sender,
};

/// The default for [`AppFn::body_limit`].
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// A request, whole: its scope and its body.
#[derive(Debug)]
pub struct Request {
    /// The request's scope.
    pub scope: HttpScope,
    /// The whole body.
    pub body: Bytes,
}

/// `handler` as an app.
pub fn app_fn<F, Fut>(handler: F) -> AppFn<F>
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, AppError>> + Send,
{
    AppFn {
        handler,
        body_limit: DEFAULT_BODY_LIMIT,
    }
}

/// An async closure as an app: see [`app_fn`].
#[derive(Debug, Clone)]
pub struct AppFn<F> {
    handler: F,
    body_limit: usize,
}

impl<F> AppFn<F> {
    /// The longest body read for the handler; a longer one is answered 413.
    pub fn body_limit(mut self, bytes: usize) -> AppFn<F> {
        self.body_limit = bytes;
        self
    }
}

impl<F, Fut> App for AppFn<F>
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, AppError>> + Send,
{
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        mut receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        match scope {
            Scope::Http(scope) => {
                let body = read_body(&mut receive, self.body_limit).await?;
                let response = (self.handler)(Request { scope, body }).await?;
                let (status, headers, body) = response.into_parts();
                send_response(&mut send, status, headers, body).await?;
                Ok(())
            }
            Scope::WebSocket(_) => {
                if receive.receive().await == Event::WebSocketConnect {
                    send.send(Message::close(1000)).await?;
                }
                Ok(())
            }
            Scope::Lifespan(_) => Ok(()),
        }
    }
}

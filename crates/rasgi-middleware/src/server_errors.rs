//! ServerErrors: the last line of defence. An app error before the response start becomes a
//! 500 (plain text, or the response a handler builds) and is logged; after the start nothing
//! can be taken back, so the error goes on to the server, which closes the connection.
//!
//! A panic below it is caught and answered the same way, with `connection: close` added: the
//! panic still goes on to the server (as a `Panicked` error), which logs it once, counts it,
//! drops the request's background tasks and serves nothing more on that connection.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use rasgi_protocol::panic::panicked;
use rasgi_protocol::{App, AppError, Headers, ReadBodyError, Receive, Scope, Sender};

use crate::answer_errors::call_answering_errors;
use crate::{ExceptionHandlers, Inner, Middleware, Response};

type Handler = Arc<dyn Fn(&AppError) -> Response + Send + Sync>;

/// Turns app errors into 500 responses.
#[derive(Clone, Default)]
pub struct ServerErrors {
    handler: Option<Handler>,
    /// Typed errors answered first, in this same layer.
    typed: ExceptionHandlers,
}

impl fmt::Debug for ServerErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerErrors")
            .field("custom_handler", &self.handler.is_some())
            .field("typed", &self.typed)
            .finish()
    }
}

impl ServerErrors {
    /// Answer errors with 500 "Internal Server Error" in plain text.
    pub fn new() -> ServerErrors {
        ServerErrors::default()
    }

    /// Answer errors with the response `handler` builds (its status is used as given).
    pub fn with_handler(
        handler: impl Fn(&AppError) -> Response + Send + Sync + 'static,
    ) -> ServerErrors {
        ServerErrors {
            handler: Some(Arc::new(handler)),
            typed: ExceptionHandlers::new(),
        }
    }

    /// Answer the errors `handlers` know with their responses first, and only the others with
    /// 500: what [`ExceptionHandlers`] pushed right inside this middleware does, in one layer
    /// instead of two.
    pub fn with_exception_handlers(mut self, handlers: ExceptionHandlers) -> ServerErrors {
        self.typed = handlers;
        self
    }
}

impl Middleware for ServerErrors {
    type Hook<'a> = ();

    fn describe(&self) -> String {
        if self.typed.is_empty() {
            "ServerErrors(500)".into()
        } else {
            format!("ServerErrors(500; {})", self.typed.describe())
        }
    }

    fn call<'a, A: App, R: Receive, S: Sender>(
        &'a self,
        scope: Scope,
        inner: Inner<'a, A, R, S, ()>,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        let answer = |error: &AppError| {
            if let Some(response) = self.typed.answer(error) {
                return Some(response);
            }
            // A body over `read_body`'s limit is the client's fault, not the app's: 413, as the
            // server answers it without this middleware.
            if let Some(ReadBodyError::TooLarge(_)) = error.downcast_ref::<ReadBodyError>() {
                return Some(Response::new(
                    413,
                    Headers::new().with("content-type", "text/plain; charset=utf-8"),
                    "Content Too Large",
                ));
            }
            if panicked(error).is_none() {
                tracing::error!(%error, "app failed; answering 500");
            }
            Some(match &self.handler {
                Some(handler) => handler(error),
                None => Response::new(
                    500,
                    Headers::new().with("content-type", "text/plain; charset=utf-8"),
                    "Internal Server Error",
                ),
            })
        };
        // The middleware's future is `call_answering_errors`'s own: no wrapper future.
        call_answering_errors(inner, scope, answer)
    }
}

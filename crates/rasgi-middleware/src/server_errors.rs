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
use rasgi_protocol::{catch_panic, is_client_gone, App, AppError, Headers, Receive, Scope, Sender};

use crate::{ExceptionHandlers, HookedSender, Middleware, Response};

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
    fn describe(&self) -> String {
        if self.typed.is_empty() {
            "ServerErrors(500)".into()
        } else {
            format!("ServerErrors(500; {})", self.typed.describe())
        }
    }

    fn call<A: App, R: Receive, S: Sender>(
        &self,
        inner: &A,
        scope: Scope,
        receive: R,
        send: S,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        let answer = |error: &AppError| {
            if let Some(response) = self.typed.answer(error) {
                return Some(response);
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
        call_answering_errors(inner, scope, receive, send, answer)
    }
}

/// Call `inner`; if it fails before its response start went out, send the response `answer`
/// makes of the error instead (or pass the error on when `answer` has none). An error after the
/// start, in a non-HTTP scope, or from a client that left, is passed on untouched: nothing can
/// be taken back, and the server logs it.
pub(crate) fn call_answering_errors<'i, A, R, S, F>(
    inner: &'i A,
    scope: Scope,
    receive: R,
    send: S,
    answer: F,
) -> impl Future<Output = Result<(), AppError>> + Send + use<'i, A, R, S, F>
where
    A: App,
    R: Receive,
    S: Sender,
    F: Fn(&AppError) -> Option<Response> + Send,
{
    // A plain function returning an `async` block, not an `async fn`: an `async fn` keeps a
    // copy of each argument beside the one it works with, and the sender and scope are large.
    // Lifespan takes the same path (one sender type): no response start ever reaches the
    // wrapper there. A WebSocket that fails before it is accepted is answered like a request
    // (the accept counts as the start); after it, the server closes it with 1011.
    let http = matches!(scope, Scope::Http(_) | Scope::WebSocket(_));
    let mut send = HookedSender::new(send, ());
    async move {
        let Err(error) = catch_panic(inner.call(scope, receive, &mut send)).await else {
            return Ok(());
        };
        let panic = panicked(&error).is_some();
        // After the start nothing can be taken back, and a client that left has nobody to
        // answer: the error goes on to the server, which logs it once.
        if send.start_sent() || !http || is_client_gone(&error) {
            return Err(error);
        }
        let Some(response) = answer(&error) else {
            return Err(error);
        };
        let (status, mut headers, body) = response.into_parts();
        if panic {
            // Nothing more is served on this connection: say so.
            headers.set("connection", "close");
        }
        send.replace_response(status, headers, body).await?;
        if panic {
            return Err(error);
        }
        Ok(())
    }
}

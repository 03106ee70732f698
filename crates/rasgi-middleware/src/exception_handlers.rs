//! ExceptionHandlers: typed app errors mapped to responses, like FastAPI's
//! `@app.exception_handler(RateLimitExceeded)`. The first handler whose error type matches
//! (by downcast) answers, if the response has not started; anything unmatched goes on, to
//! ServerErrors.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use rasgi_protocol::{App, AppError, Receive, Scope, Sender};

use crate::answer_errors::call_answering_errors;
use crate::{Inner, Middleware, Response};

type Handler = Arc<dyn Fn(&AppError) -> Option<Response> + Send + Sync>;

/// Maps error types to responses.
#[derive(Clone, Default)]
pub struct ExceptionHandlers {
    handlers: Vec<(&'static str, Handler)>,
}

impl fmt::Debug for ExceptionHandlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.handlers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("ExceptionHandlers")
            .field("handles", &names)
            .finish()
    }
}

impl ExceptionHandlers {
    /// No handlers yet.
    pub fn new() -> ExceptionHandlers {
        ExceptionHandlers::default()
    }

    /// Answer errors of type `E` with the response `handler` builds.
    pub fn handle<E: Error + 'static>(
        mut self,
        handler: impl Fn(&E) -> Response + Send + Sync + 'static,
    ) -> ExceptionHandlers {
        let name = std::any::type_name::<E>()
            .rsplit("::")
            .next()
            .unwrap_or("?");
        let erased: Handler =
            Arc::new(move |error: &AppError| error.downcast_ref::<E>().map(&handler));
        self.handlers.push((name, erased));
        self
    }

    /// Whether no handler was added.
    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }

    /// The response of the first handler for `error`'s type.
    pub(crate) fn answer(&self, error: &AppError) -> Option<Response> {
        self.handlers.iter().find_map(|(_, handler)| handler(error))
    }
}

impl Middleware for ExceptionHandlers {
    type Hook<'a> = ();

    fn describe(&self) -> String {
        let names: Vec<_> = self.handlers.iter().map(|(n, _)| *n).collect();
        format!("ExceptionHandlers({})", names.join(", "))
    }

    fn call<'a, A: App, R: Receive, S: Sender>(
        &'a self,
        scope: Scope,
        inner: Inner<'a, A, R, S, ()>,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        call_answering_errors(inner, scope, |error| self.answer(error))
    }
}

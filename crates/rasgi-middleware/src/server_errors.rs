//! ServerErrors: the last line of defence. An app error before the response start becomes a
//! 500 (plain text, or the response a handler builds) and is logged; after the start nothing
//! can be taken back, so the error goes on to the server, which closes the connection.

use std::fmt;
use std::sync::Arc;

use rasgi_protocol::{App, AppError, Headers, Receive, Scope, Sender};

use crate::{HookedSender, Middleware, Response};

type Handler = Arc<dyn Fn(&AppError) -> Response + Send + Sync>;

/// Turns app errors into 500 responses.
#[derive(Clone, Default)]
pub struct ServerErrors {
    handler: Option<Handler>,
}

impl fmt::Debug for ServerErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerErrors")
            .field("custom_handler", &self.handler.is_some())
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
        }
    }
}

impl Middleware for ServerErrors {
    fn describe(&self) -> String {
        "ServerErrors(500)".into()
    }

    async fn call<A: App, R: Receive, S: Sender>(
        &self,
        inner: &A,
        scope: Scope,
        receive: R,
        send: S,
    ) -> Result<(), AppError> {
        // Non-HTTP scopes take the same path: an error there is passed on untouched, since no
        // response start ever reaches the wrapper.
        let http = matches!(scope, Scope::Http(_));
        let mut send = HookedSender::new(send, ());
        let Err(error) = inner.call(scope, receive, &mut send).await else {
            return Ok(());
        };
        if send.start_sent() || !http {
            tracing::error!(%error, "app failed after its response started");
            return Err(error);
        }
        tracing::error!(%error, "app failed; answering 500");
        let response = match &self.handler {
            Some(handler) => handler(&error),
            None => Response::new(
                500,
                Headers::new().with("content-type", "text/plain; charset=utf-8"),
                "Internal Server Error",
            ),
        };
        let (status, headers, body) = response.into_parts();
        send.replace_response(status, headers, body).await?;
        Ok(())
    }
}

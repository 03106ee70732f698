//! Calling an app and answering its error: what [`crate::ServerErrors`] and
//! [`crate::ExceptionHandlers`] share. The rule: an error (or a panic) before the response
//! start went out is answered with the response made of it; after the start, in a non-HTTP
//! scope, or from a client that left, it goes on to the server untouched.

use std::future::Future;

use rasgi_protocol::panic::panicked;
use rasgi_protocol::panic::poll_catching;
use rasgi_protocol::{is_client_gone, App, AppError, Receive, Scope, Sender};

use crate::{Inner, Response};

/// Call `inner`; if it fails before its response start went out, send the response `answer`
/// makes of the error instead (or pass the error on when `answer` has none). An error after the
/// start, in a non-HTTP scope, or from a client that left, is passed on untouched: nothing can
/// be taken back, and the server logs it.
pub(crate) fn call_answering_errors<'i, A, R, S, F>(
    inner: Inner<'i, A, R, S, ()>,
    scope: Scope,
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
    let (app, receive, mut send) = inner.into_parts();
    async move {
        // The app's future pinned where it is made, and polled with its panics caught: not
        // moved into a catching wrapper first.
        let outcome = {
            let mut call = std::pin::pin!(app.call(scope, receive, &mut send));
            std::future::poll_fn(|cx| poll_catching(call.as_mut(), cx)).await
        };
        let Err(error) = outcome else {
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

//! `from_fn`: middleware written as an async closure, in the style of FastAPI's
//! `@app.middleware("http")`:
//!
//! ```ignore
//! from_fn("AddServerTiming", |scope, next| async move {
//!     let mut response = next.run(scope).await?;      // the inner app's start...
//!     response.headers.append("x-seen-by", "closure"); // ...read and changed here
//!     Ok(response)                                      // the body streams on untouched
//! })
//! ```
//!
//! `next.run` resolves as soon as the inner app sends its response start; the body then flows
//! from the inner app to the client directly, never through the closure. The closure and the
//! inner app run as two futures joined on the same task: no buffering, no spawned task, and
//! task-locals set around the middleware are seen on both sides.

use std::future::Future;

use futures::channel::oneshot;
use rasgi_protocol::{App, AppError, HttpScope, Message, Receive, Scope, SendError, Sender};

use crate::{HookedSender, Inner, Middleware, Response, ResponseStart};

/// The rest of the stack, handed to a `from_fn` closure.
pub struct Next {
    scope: oneshot::Sender<HttpScope>,
    start: oneshot::Receiver<ResponseStart>,
}

impl Next {
    /// Run the inner app with `scope`; resolves with its response start, before its body.
    pub async fn run(self, scope: HttpScope) -> Result<Response, AppError> {
        self.scope
            .send(scope)
            .map_err(|_| AppError::from("the inner app is gone"))?;
        match self.start.await {
            Ok(start) => Ok(Response {
                status: start.status,
                headers: start.headers,
                body: None,
                trailers: start.trailers,
            }),
            Err(_) => Err("the inner app ended without a response start".into()),
        }
    }
}

/// A middleware made from a closure; see the module docs.
pub struct FromFn<F> {
    name: &'static str,
    f: F,
}

/// Make a middleware from `f`, shown as `name` in the stack's printout.
pub fn from_fn<F, Fut>(name: &'static str, f: F) -> FromFn<F>
where
    F: Fn(HttpScope, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, AppError>> + Send,
{
    FromFn { name, f }
}

/// Hands the inner app's start to `Next::run`, and waits for the closure's version of it.
struct Relay {
    start: Option<oneshot::Sender<ResponseStart>>,
    closure_start: Option<oneshot::Receiver<Option<ResponseStart>>>,
}

impl Relay {
    /// Give the inner app's start to the closure; resolves with the start to send instead.
    async fn exchange(&mut self, start: ResponseStart) -> Result<ResponseStart, SendError> {
        let (Some(to_closure), Some(from_closure)) = (self.start.take(), self.closure_start.take())
        else {
            return Err(SendError::OutOfOrder("response already started"));
        };
        to_closure
            .send(start)
            .map_err(|_| SendError::Disconnected)?;
        match from_closure.await {
            Ok(Some(changed)) => Ok(changed),
            // The closure answered on its own or failed: the inner app's response is not sent.
            _ => Err(SendError::Disconnected),
        }
    }
}

/// The inner app's sender under `from_fn`: the one wrapper whose work on the start has to
/// wait (for the closure), so it is async where [`HookedSender`]'s hooks are not. Below it, a
/// plain [`HookedSender`] still holds the start until the first body.
struct RelaySender<S> {
    inner: HookedSender<S, ()>,
    relay: Option<Relay>,
}

impl<S: Sender> Sender for RelaySender<S> {
    async fn send(&mut self, message: Message) -> Result<(), SendError> {
        match (message, self.relay.as_mut()) {
            (
                Message::Start {
                    status,
                    headers,
                    trailers,
                },
                Some(relay),
            ) => {
                let start = ResponseStart::new(status, headers, trailers);
                let (changed, lines) = relay.exchange(start).await?.into_message();
                self.inner
                    .send(rasgi_protocol::app::with_lines(changed, lines))
                    .await
            }
            (message, _) => self.inner.send(message).await,
        }
    }
}

impl<F, Fut> Middleware for FromFn<F>
where
    F: Fn(HttpScope, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, AppError>> + Send,
{
    type Hook<'a> = ();

    fn describe(&self) -> String {
        format!("{}(from_fn)", self.name)
    }

    async fn call<'a, A: App, R: Receive, S: Sender>(
        &'a self,
        scope: Scope,
        inner: Inner<'a, A, R, S, ()>,
    ) -> Result<(), AppError> {
        let (app, receive, send) = inner.into_parts();
        let Scope::Http(http) = scope else {
            let mut send = RelaySender {
                inner: send,
                relay: None,
            };
            return app.call(scope, receive, &mut send).await;
        };
        let (scope_tx, scope_rx) = oneshot::channel();
        let (start_tx, start_rx) = oneshot::channel();
        let (closure_tx, closure_rx) = oneshot::channel();
        let mut send = RelaySender {
            inner: send,
            relay: Some(Relay {
                start: Some(start_tx),
                closure_start: Some(closure_rx),
            }),
        };
        let closure = async {
            let result = (self.f)(
                http,
                Next {
                    scope: scope_tx,
                    start: start_rx,
                },
            )
            .await;
            let passed_on = match &result {
                Ok(response) if response.is_streamed() => Some(ResponseStart::new(
                    response.status,
                    response.headers.clone(),
                    response.trailers,
                )),
                _ => None,
            };
            let _ = closure_tx.send(passed_on);
            result
        };
        let app = async {
            let Ok(scope) = scope_rx.await else {
                return Ok(());
            };
            let result = app.call(Scope::Http(scope), receive, &mut send).await;
            // If the app ended without a start, `Next::run` must not wait for one.
            if let Some(relay) = send.relay.as_mut() {
                relay.start = None;
            }
            result
        };
        let (closure_result, app_result) = futures::future::join(closure, app).await;
        match closure_result {
            Ok(response) if response.is_streamed() => app_result,
            Ok(response) => {
                let (status, headers, body) = response.into_parts();
                send.inner.replace_response(status, headers, body).await?;
                Ok(())
            }
            Err(error) => Err(app_result.err().unwrap_or(error)),
        }
    }
}

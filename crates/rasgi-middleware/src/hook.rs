//! The one send-wrapper shape every middleware uses: [`HookedSender`] and its [`ResponseHook`].
//!
//! The rule: a middleware never buffers a body. The wrapper holds back only the response
//! *start*, until the first body message arrives, so that the hook sees the start together with
//! the first piece of body (enough for gzip to tell a small whole body from a stream). Every body
//! message then goes straight through the hook and on to the inner sender, one for one.

use std::future::Future;

use bytes::Bytes;
use rasgi_protocol::{AppError, Headers, Message, Receive, Scope, SendError, Sender};

/// A response start on its way out, open to rewriting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseStart {
    /// The status code.
    pub status: u16,
    /// The header fields.
    pub headers: Headers,
    /// Whether trailers follow the body.
    pub trailers: bool,
}

/// What a middleware does to the response on its way out. The hook is created per request and
/// holds that request's state; the middleware struct holds configuration only.
pub trait ResponseHook: Send {
    /// The start is about to be sent, with the first body message in hand.
    fn on_start(
        &mut self,
        start: &mut ResponseStart,
        first_body: &Bytes,
        more_body: bool,
    ) -> impl Future<Output = Result<(), SendError>> + Send {
        let _ = (start, first_body, more_body);
        async { Ok(()) }
    }

    /// A body message is about to be sent; return what to send instead.
    fn on_body(&mut self, body: Bytes, more_body: bool) -> Bytes {
        let _ = more_body;
        body
    }
}

/// A hook that changes nothing (for middleware that only needs to know what went out).
impl ResponseHook for () {}

/// A hook that may be switched off for this call (`None`: pass everything through).
///
/// Middleware use it to call their inner app with **one sender type on every path**, the
/// non-HTTP pass-through included. Two paths with two sender types would instantiate the whole
/// inner stack twice per layer: 2^n copies for n layers.
impl<H: ResponseHook> ResponseHook for Option<H> {
    async fn on_start(
        &mut self,
        start: &mut ResponseStart,
        first_body: &Bytes,
        more_body: bool,
    ) -> Result<(), SendError> {
        match self {
            Some(hook) => hook.on_start(start, first_body, more_body).await,
            None => Ok(()),
        }
    }

    fn on_body(&mut self, body: Bytes, more_body: bool) -> Bytes {
        match self {
            Some(hook) => hook.on_body(body, more_body),
            None => body,
        }
    }
}

/// The send wrapper: `Start` is held until the first `Body`, then both pass through the hook.
pub struct HookedSender<S, H> {
    inner: S,
    hook: H,
    pending: Option<ResponseStart>,
    start_sent: bool,
}

impl<S: Sender, H: ResponseHook> HookedSender<S, H> {
    /// Wrap `inner` with `hook`.
    pub fn new(inner: S, hook: H) -> HookedSender<S, H> {
        HookedSender {
            inner,
            hook,
            pending: None,
            start_sent: false,
        }
    }

    /// Whether the start has gone to the inner sender (after which no other response can be
    /// sent in its place).
    pub fn start_sent(&self) -> bool {
        self.start_sent
    }

    /// The hook, to read what it recorded.
    pub fn hook(&self) -> &H {
        &self.hook
    }

    /// The hook, to change its state from outside the send path.
    pub fn hook_mut(&mut self) -> &mut H {
        &mut self.hook
    }

    /// Drop a held-back start and send a response of the middleware's own instead. Refused
    /// once the start has gone out.
    pub async fn replace_response(
        &mut self,
        status: u16,
        headers: Headers,
        body: impl Into<Bytes>,
    ) -> Result<(), SendError> {
        if self.start_sent {
            return Err(SendError::OutOfOrder("response already started"));
        }
        self.pending = None;
        self.start_sent = true;
        rasgi_protocol::send_response(&mut self.inner, status, headers, body).await
    }
}

impl<S: Sender, H: ResponseHook> Sender for HookedSender<S, H> {
    async fn send(&mut self, message: Message) -> Result<(), SendError> {
        match message {
            Message::Start {
                status,
                headers,
                trailers,
            } => {
                if self.pending.is_some() || self.start_sent {
                    return Err(SendError::OutOfOrder("response already started"));
                }
                self.pending = Some(ResponseStart {
                    status,
                    headers,
                    trailers,
                });
                Ok(())
            }
            Message::Body { body, more_body } => {
                if let Some(mut start) = self.pending.take() {
                    self.hook.on_start(&mut start, &body, more_body).await?;
                    self.start_sent = true;
                    self.inner
                        .send(Message::Start {
                            status: start.status,
                            headers: start.headers,
                            trailers: start.trailers,
                        })
                        .await?;
                }
                let body = self.hook.on_body(body, more_body);
                self.inner.send(Message::Body { body, more_body }).await
            }
            other => self.inner.send(other).await,
        }
    }
}

/// A middleware: wraps an inner app, in one shape. Implement `call` by checking the scope,
/// then calling `inner` with a [`HookedSender`] (or answering on its own). Every call of
/// `inner` in one middleware passes the same sender type (see the `Option` hook above).
pub trait Middleware: Send + Sync + 'static {
    /// One line for the stack's printout (name and the settings that matter).
    fn describe(&self) -> String;

    /// Handle one call around `inner`.
    fn call<A, R, S>(
        &self,
        inner: &A,
        scope: Scope,
        receive: R,
        send: S,
    ) -> impl Future<Output = Result<(), AppError>> + Send
    where
        A: rasgi_protocol::App,
        R: Receive,
        S: Sender;
}

/// Send a whole response of a middleware's own (a refusal, a redirect), when the inner app is
/// not called at all.
pub(crate) async fn respond<S: Sender>(
    mut send: S,
    status: u16,
    headers: Headers,
    body: &'static str,
) -> Result<(), AppError> {
    rasgi_protocol::send_response(&mut send, status, headers, body).await?;
    Ok(())
}

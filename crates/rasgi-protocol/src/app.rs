//! The [`App`] trait and the two halves of a call: [`Receive`] and [`Sender`].
//!
//! The fast path composes statically: a middleware is an `App` generic over the app it wraps,
//! and wraps the `Sender` it is given in a concrete type, so a whole stack is one monomorphised
//! future with no boxing and no allocation per message. [`BoxApp`] is the dynamic form, for apps
//! chosen at run time; it costs one boxed future per call.

use std::future::Future;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;

pub use crate::message::AppError;
use crate::{Event, FieldLines, Headers, Message, Scope, SendError};

/// The receiving half of a call: the request body, then [`Event::Disconnect`].
pub trait Receive: Send {
    /// The next event. Never fails: a gone client is [`Event::Disconnect`].
    fn receive(&mut self) -> impl Future<Output = Event> + Send;
}

/// The sending half of a call: the response, message by message.
pub trait Sender: Send {
    /// Send one message; refused when it is out of order or the client has gone. A sender may
    /// take the message when `send` is called rather than when its future is first polled
    /// (middleware hooks and the HTTP/1.1 server do): await the future for the outcome, and do
    /// not count on a future dropped unawaited having sent nothing.
    fn send(&mut self, message: Message) -> impl Future<Output = Result<(), SendError>> + Send;

    /// Send two messages in order: what a wrapper that held the response start back until its
    /// first body passes on. Wrappers forward pairs as pairs, so a stack of them hands the
    /// response down without a future of its own per layer; the default sends one, then the
    /// other. The server's and the stack's fast path: an app calls `send` (or `send_response`).
    #[doc(hidden)]
    fn send_pair(
        &mut self,
        first: Message,
        second: Message,
    ) -> impl Future<Output = Result<(), SendError>> + Send {
        async move {
            self.send(first).await?;
            self.send(second).await
        }
    }

    /// Send a response start, the fields a middleware wrote for it as [`FieldLines`], and its
    /// first body: how the stack hands such fields down to the server, which copies the lines
    /// into the head whole. The default makes the lines fields of the start and sends the pair.
    #[doc(hidden)]
    fn send_pair_with_lines(
        &mut self,
        first: Message,
        lines: FieldLines,
        second: Message,
    ) -> impl Future<Output = Result<(), SendError>> + Send {
        self.send_pair(with_lines(first, lines), second)
    }
}

/// `start` with `lines` appended to its fields (any other message as it is): for the senders
/// and wrappers that pass lines on as fields.
#[doc(hidden)]
pub fn with_lines(start: Message, lines: FieldLines) -> Message {
    match start {
        Message::Start {
            status,
            mut headers,
            trailers,
        } => {
            lines.append_to(&mut headers);
            Message::Start {
                status,
                headers,
                trailers,
            }
        }
        other => other,
    }
}

impl<R: Receive + ?Sized> Receive for &mut R {
    fn receive(&mut self) -> impl Future<Output = Event> + Send {
        (**self).receive()
    }
}

impl<S: Sender + ?Sized> Sender for &mut S {
    fn send(&mut self, message: Message) -> impl Future<Output = Result<(), SendError>> + Send {
        (**self).send(message)
    }

    fn send_pair(
        &mut self,
        first: Message,
        second: Message,
    ) -> impl Future<Output = Result<(), SendError>> + Send {
        (**self).send_pair(first, second)
    }

    fn send_pair_with_lines(
        &mut self,
        first: Message,
        lines: FieldLines,
        second: Message,
    ) -> impl Future<Output = Result<(), SendError>> + Send {
        (**self).send_pair_with_lines(first, lines, second)
    }
}

/// An ASGI-style application: called once per scope with its two halves.
pub trait App: Send + Sync + 'static {
    /// Handle `scope`, reading events from `receive` and writing messages to `send`.
    fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        receive: R,
        send: S,
    ) -> impl Future<Output = Result<(), AppError>> + Send;
}

impl<A: App> App for Arc<A> {
    fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        receive: R,
        send: S,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        (**self).call(scope, receive, send)
    }
}

/// Object-safe form of [`Receive`].
pub trait DynReceive: Send {
    /// [`Receive::receive`], boxed.
    fn receive_boxed(&mut self) -> BoxFuture<'_, Event>;
}

impl<R: Receive> DynReceive for R {
    fn receive_boxed(&mut self) -> BoxFuture<'_, Event> {
        Box::pin(self.receive())
    }
}

/// Object-safe form of [`Sender`].
pub trait DynSender: Send {
    /// [`Sender::send`], boxed.
    fn send_boxed(&mut self, message: Message) -> BoxFuture<'_, Result<(), SendError>>;
}

impl<S: Sender> DynSender for S {
    fn send_boxed(&mut self, message: Message) -> BoxFuture<'_, Result<(), SendError>> {
        Box::pin(self.send(message))
    }
}

/// A borrowed, type-erased receiving half.
pub struct DynReceiver<'a>(pub &'a mut dyn DynReceive);

impl Receive for DynReceiver<'_> {
    fn receive(&mut self) -> impl Future<Output = Event> + Send {
        self.0.receive_boxed()
    }
}

/// A borrowed, type-erased sending half.
pub struct DynSenderRef<'a>(pub &'a mut dyn DynSender);

impl Sender for DynSenderRef<'_> {
    fn send(&mut self, message: Message) -> impl Future<Output = Result<(), SendError>> + Send {
        self.0.send_boxed(message)
    }
}

trait ErasedApp: Send + Sync {
    fn call_erased<'a>(
        &'a self,
        scope: Scope,
        receive: DynReceiver<'a>,
        send: DynSenderRef<'a>,
    ) -> BoxFuture<'a, Result<(), AppError>>;
}

impl<A: App> ErasedApp for A {
    fn call_erased<'a>(
        &'a self,
        scope: Scope,
        receive: DynReceiver<'a>,
        send: DynSenderRef<'a>,
    ) -> BoxFuture<'a, Result<(), AppError>> {
        Box::pin(self.call(scope, receive, send))
    }
}

/// Any [`App`], boxed: one type for apps chosen at run time. Cloning shares the app.
#[derive(Clone)]
pub struct BoxApp(Arc<dyn ErasedApp>);

impl BoxApp {
    /// Box `app`.
    pub fn new(app: impl App) -> BoxApp {
        BoxApp(Arc::new(app))
    }
}

impl App for BoxApp {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        mut receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        self.0
            .call_erased(scope, DynReceiver(&mut receive), DynSenderRef(&mut send))
            .await
    }
}

/// An app whose request futures live on the heap: a connection's task keeps a pointer for it
/// instead of the whole future, so an idle connection does not carry room for the largest
/// request the app can serve. The price is one allocation per request; worth it when the
/// future is large (a deep stack, big routes) and connections wait long between requests.
pub struct OnHeap<A>(pub A);

impl<A: App> App for OnHeap<A> {
    fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        receive: R,
        send: S,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        Box::pin(self.0.call(scope, receive, send))
    }
}

/// Why [`read_body`] gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadBodyError {
    /// The client left before the body ended.
    #[error("the client disconnected before the body ended")]
    Disconnected,
    /// The body is longer than the caller's limit.
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
}

/// Whether `error` says the client left (a `send` refused with [`SendError::Disconnected`], or a
/// body that ended early): nothing is wrong with the app, and there is nobody to answer.
pub fn is_client_gone(error: &AppError) -> bool {
    matches!(
        error.downcast_ref::<SendError>(),
        Some(SendError::Disconnected)
    ) || matches!(
        error.downcast_ref::<ReadBodyError>(),
        Some(ReadBodyError::Disconnected)
    )
}

/// Read the whole request body, up to `limit` bytes. For small bodies (JSON, forms); stream
/// anything larger with [`Receive::receive`] directly.
pub async fn read_body<R: Receive>(receive: &mut R, limit: usize) -> Result<Bytes, ReadBodyError> {
    let mut first: Option<Bytes> = None;
    let mut joined = BytesMut::new();
    loop {
        match receive.receive().await {
            Event::Request { body, more_body } => {
                if first.as_ref().map_or(0, Bytes::len) + joined.len() + body.len() > limit {
                    return Err(ReadBodyError::TooLarge(limit));
                }
                match first.take() {
                    None if joined.is_empty() => first = Some(body),
                    earlier => {
                        if let Some(earlier) = earlier {
                            joined.extend_from_slice(&earlier);
                        }
                        joined.extend_from_slice(&body);
                    }
                }
                if !more_body {
                    return Ok(first.unwrap_or_else(|| joined.freeze()));
                }
            }
            _ => return Err(ReadBodyError::Disconnected),
        }
    }
}

/// Send a complete response: the start with `headers`, then `body` as the one, final body
/// message. The server frames it (a body that arrives whole gets its `content-length`).
pub async fn send_response<S: Sender>(
    send: &mut S,
    status: u16,
    headers: Headers,
    body: impl Into<Bytes>,
) -> Result<(), SendError> {
    // As a pair: the server takes its wire once for both, and a hook sees them together.
    send.send_pair(Message::start(status, headers), Message::body(body.into()))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HttpScope;

    /// Feeds a fixed list of events, then Disconnect.
    struct Script(Vec<Event>);

    impl Receive for Script {
        async fn receive(&mut self) -> Event {
            if self.0.is_empty() {
                Event::Disconnect
            } else {
                self.0.remove(0)
            }
        }
    }

    #[derive(Default)]
    struct Record(Vec<Message>);

    impl Sender for Record {
        async fn send(&mut self, message: Message) -> Result<(), SendError> {
            self.0.push(message);
            Ok(())
        }
    }

    struct Echo;

    impl App for Echo {
        async fn call<R: Receive, S: Sender>(
            &self,
            _scope: Scope,
            mut receive: R,
            mut send: S,
        ) -> Result<(), AppError> {
            let body = read_body(&mut receive, 1024).await?;
            send_response(&mut send, 200, Headers::new(), body).await?;
            Ok(())
        }
    }

    fn chunks(parts: &[&'static str]) -> Script {
        let last = parts.len() - 1;
        Script(
            parts
                .iter()
                .enumerate()
                .map(|(i, p)| Event::Request {
                    body: Bytes::from_static(p.as_bytes()),
                    more_body: i < last,
                })
                .collect(),
        )
    }

    #[tokio::test]
    async fn static_and_boxed_apps_give_the_same_messages() {
        let mut direct = Record::default();
        let scope = Scope::Http(HttpScope::new("POST", "/echo"));
        Echo.call(scope, chunks(&["he", "llo"]), &mut direct)
            .await
            .unwrap();

        let mut boxed = Record::default();
        let scope = Scope::Http(HttpScope::new("POST", "/echo"));
        BoxApp::new(Echo)
            .call(scope, chunks(&["he", "llo"]), &mut boxed)
            .await
            .unwrap();

        assert_eq!(direct.0, boxed.0);
        assert_eq!(direct.0[1], Message::body("hello"));
        assert!(matches!(direct.0[0], Message::Start { status: 200, .. }));
    }

    #[tokio::test]
    async fn read_body_stops_at_the_limit_and_on_disconnect() {
        let mut receive = chunks(&["aaaa", "bbbb"]);
        assert_eq!(
            read_body(&mut receive, 6).await,
            Err(ReadBodyError::TooLarge(6))
        );
        let mut receive = Script(vec![Event::Request {
            body: Bytes::from_static(b"x"),
            more_body: true,
        }]);
        assert_eq!(
            read_body(&mut receive, 6).await,
            Err(ReadBodyError::Disconnected)
        );
    }
}

//! The one send-wrapper shape every middleware uses: [`HookedSender`] and its [`ResponseHook`].
//!
//! The rule: a middleware never buffers a body. The wrapper holds back only the response
//! *start*, until the first body message arrives, so that the hook sees the start together with
//! the first piece of body (enough for gzip to tell a small whole body from a stream). Every body
//! message then goes straight through the hook and on to the inner sender, one for one.
//!
//! Hooks are synchronous, and the wrapper's `send` is a plain function: it runs the hook, then
//! returns the inner sender's future for what is left to send (the start and first body go on
//! together, with [`Sender::send_pair`]). A stack of nine wrappers is nine function calls on
//! the way down and one future at the bottom, not nine nested futures.

use std::future::{ready, Future};

use bytes::Bytes;
use futures::future::Either;
use rasgi_protocol::{
    App, AppError, FieldLines, Headers, Message, Receive, Scope, SendError, Sender,
};

/// A response start on its way out, open to rewriting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseStart {
    /// The status code.
    pub status: u16,
    /// The header fields.
    pub headers: Headers,
    /// Whether trailers follow the body.
    pub trailers: bool,
    /// Fields the middleware added, checked as they were written and written as the head's
    /// lines: the server copies them whole, after `headers`.
    pub lines: FieldLines,
}

impl ResponseStart {
    /// A start with `headers` and no lines yet.
    pub fn new(status: u16, headers: Headers, trailers: bool) -> ResponseStart {
        ResponseStart {
            status,
            headers,
            trailers,
            lines: FieldLines::new(),
        }
    }

    /// The first value of `name`, in `headers` or else in `lines`.
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        match self.headers.get(name) {
            Some(value) => Some(value),
            None => self.lines.get(name),
        }
    }

    /// The start as a message, and its lines.
    pub(crate) fn into_message(self) -> (Message, FieldLines) {
        let message = Message::Start {
            status: self.status,
            headers: self.headers,
            trailers: self.trailers,
        };
        (message, self.lines)
    }
}

/// A response as middleware sees it: a start, and either a body of its own or the inner app's
/// body, still to stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The header fields.
    pub headers: Headers,
    /// `None`: the inner app's body follows (a response from [`Next::run`](crate::Next::run)).
    pub(crate) body: Option<Bytes>,
    pub(crate) trailers: bool,
}

impl Response {
    /// A complete response with its own body.
    pub fn new(status: u16, headers: Headers, body: impl Into<Bytes>) -> Response {
        Response {
            status,
            headers,
            body: Some(body.into()),
            trailers: false,
        }
    }

    /// Whether this is the inner app's response, whose body is still to stream.
    pub fn is_streamed(&self) -> bool {
        self.body.is_none()
    }

    /// The status, the fields and the body (empty for a streamed response, whose body is the
    /// inner app's to send).
    pub fn into_parts(self) -> (u16, Headers, Bytes) {
        (self.status, self.headers, self.body.unwrap_or_default())
    }
}

/// What a middleware does to the response on its way out. The hook is created per request and
/// holds that request's state; the middleware struct holds configuration only.
pub trait ResponseHook: Send {
    /// The hook changes nothing: every method is the default. A wrapper with such a hook only
    /// keeps track of what went out, and passes a start and its first body on as they came,
    /// without calling the hook; a hook that overrides any method must leave this `false`.
    const CHANGES_NOTHING: bool = false;

    /// The start is about to be sent, with the first body message in hand. An error refuses
    /// the response: the app's `send` fails with it and nothing is sent.
    fn on_start(
        &mut self,
        start: &mut ResponseStart,
        first_body: &Bytes,
        more_body: bool,
    ) -> Result<(), SendError> {
        let _ = (start, first_body, more_body);
        Ok(())
    }

    /// A WebSocket is about to be accepted: `headers` are the 101's extra fields. Middleware
    /// that add fields to every response add them here too.
    fn on_accept(&mut self, headers: &mut Headers) {
        let _ = headers;
    }

    /// A body message is about to be sent; return what to send instead.
    fn on_body(&mut self, body: Bytes, more_body: bool) -> Bytes {
        let _ = more_body;
        body
    }

    /// The start of a response whose whole body is a file the server sends
    /// ([`Message::PathSend`], `len` bytes): the hook may edit the start, and never sees the
    /// body. By default, `on_start` as for a body sent whole and empty; a hook that transforms
    /// bodies overrides it to leave such a response alone.
    fn on_file(&mut self, start: &mut ResponseStart, len: u64) -> Result<(), SendError> {
        let _ = len;
        self.on_start(start, &Bytes::new(), false)
    }

    /// The start and its first body, together: `on_start`, then `on_body` of that body. A
    /// chain of hooks overrides it, so that each hook sees the start and the first body the
    /// hook inside it left (as a stack of wrappers would pass them on).
    fn on_first(
        &mut self,
        start: &mut ResponseStart,
        body: Bytes,
        more_body: bool,
    ) -> Result<Bytes, SendError> {
        self.on_start(start, &body, more_body)?;
        Ok(self.on_body(body, more_body))
    }
}

/// A hook that changes nothing (for middleware that only needs to know what went out).
impl ResponseHook for () {
    const CHANGES_NOTHING: bool = true;
}

/// A hook that may be switched off for this call (`None`: pass everything through).
///
/// Steps use it to leave a request alone (a non-HTTP scope, a request that needs nothing): the
/// hook's type stays the same on every path, and so does the inner app's sender.
impl<H: ResponseHook> ResponseHook for Option<H> {
    fn on_start(
        &mut self,
        start: &mut ResponseStart,
        first_body: &Bytes,
        more_body: bool,
    ) -> Result<(), SendError> {
        match self {
            Some(hook) => hook.on_start(start, first_body, more_body),
            None => Ok(()),
        }
    }

    fn on_accept(&mut self, headers: &mut Headers) {
        if let Some(hook) = self {
            hook.on_accept(headers);
        }
    }

    fn on_body(&mut self, body: Bytes, more_body: bool) -> Bytes {
        match self {
            Some(hook) => hook.on_body(body, more_body),
            None => body,
        }
    }

    fn on_file(&mut self, start: &mut ResponseStart, len: u64) -> Result<(), SendError> {
        match self {
            Some(hook) => hook.on_file(start, len),
            None => Ok(()),
        }
    }

    fn on_first(
        &mut self,
        start: &mut ResponseStart,
        body: Bytes,
        more_body: bool,
    ) -> Result<Bytes, SendError> {
        match self {
            Some(hook) => hook.on_first(start, body, more_body),
            None => Ok(body),
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

/// What a [`HookedSender`] passes on for one message.
enum Forward {
    /// Nothing yet (a start held back).
    Nothing,
    One(Message),
    /// The held start, its lines and its first body.
    Two(Message, FieldLines, Message),
}

impl<S: Sender, H: ResponseHook> HookedSender<S, H> {
    /// Run the hook over `message`; returns what goes on to the inner sender.
    fn accept(&mut self, message: Message) -> Result<Forward, SendError> {
        match message {
            Message::Start {
                status,
                headers,
                trailers,
            } => {
                self.hold(ResponseStart::new(status, headers, trailers))?;
                Ok(Forward::Nothing)
            }
            Message::Body { body, more_body } => {
                let Some(mut start) = self.pending.take() else {
                    let body = self.hook.on_body(body, more_body);
                    return Ok(Forward::One(Message::Body { body, more_body }));
                };
                let body = self.hook.on_first(&mut start, body, more_body)?;
                self.start_sent = true;
                let (start, lines) = start.into_message();
                Ok(Forward::Two(
                    start,
                    lines,
                    Message::Body { body, more_body },
                ))
            }
            Message::PathSend(file) => {
                let Some(mut start) = self.pending.take() else {
                    return Ok(Forward::One(Message::PathSend(file)));
                };
                self.hook.on_file(&mut start, file.len())?;
                self.start_sent = true;
                let (start, lines) = start.into_message();
                Ok(Forward::Two(start, lines, Message::PathSend(file)))
            }
            Message::WebSocketAccept {
                subprotocol,
                mut headers,
            } => {
                if self.pending.is_some() || self.start_sent {
                    return Err(SendError::OutOfOrder("response already started"));
                }
                self.hook.on_accept(&mut headers);
                self.start_sent = true;
                Ok(Forward::One(Message::WebSocketAccept {
                    subprotocol,
                    headers,
                }))
            }
            other => Ok(Forward::One(other)),
        }
    }

    /// Keep the start until the first body arrives.
    fn hold(&mut self, start: ResponseStart) -> Result<(), SendError> {
        if self.pending.is_some() || self.start_sent {
            return Err(SendError::OutOfOrder("response already started"));
        }
        self.pending = Some(start);
        Ok(())
    }

    /// The inner sender's future for what `accept` left to send.
    fn forward(
        &mut self,
        forward: Result<Forward, SendError>,
    ) -> impl Future<Output = Result<(), SendError>> + Send + '_ {
        match forward {
            Ok(Forward::One(message)) => Either::Left(self.inner.send(message)),
            Ok(Forward::Two(first, lines, second)) => Either::Right(Either::Left(
                self.inner.send_pair_with_lines(first, lines, second),
            )),
            Ok(Forward::Nothing) => Either::Right(Either::Right(ready(Ok(())))),
            Err(error) => Either::Right(Either::Right(ready(Err(error)))),
        }
    }
}

impl<S: Sender, H: ResponseHook> Sender for HookedSender<S, H> {
    fn send(&mut self, message: Message) -> impl Future<Output = Result<(), SendError>> + Send {
        let forward = self.accept(message);
        self.forward(forward)
    }

    fn send_pair(
        &mut self,
        first: Message,
        second: Message,
    ) -> impl Future<Output = Result<(), SendError>> + Send {
        self.send_pair_with_lines(first, FieldLines::new(), second)
    }

    fn send_pair_with_lines(
        &mut self,
        first: Message,
        lines: FieldLines,
        second: Message,
    ) -> impl Future<Output = Result<(), SendError>> + Send {
        // The pair a wrapper below this one receives is a start and its first body: the start
        // is held, and the body sends both on. Any other pair goes one message at a time.
        if H::CHANGES_NOTHING
            && self.pending.is_none()
            && !self.start_sent
            && matches!(
                (&first, &second),
                (Message::Start { .. }, Message::Body { .. })
            )
        {
            self.start_sent = true;
            return Either::Left(Either::Right(
                self.inner.send_pair_with_lines(first, lines, second),
            ));
        }
        match (first, second) {
            // A start and its first body with nothing held: through the hook and on as a pair,
            // with no stop in `pending`.
            (
                Message::Start {
                    status,
                    headers,
                    trailers,
                },
                Message::Body { body, more_body },
            ) if self.pending.is_none() && !self.start_sent => {
                let mut start = ResponseStart {
                    status,
                    headers,
                    trailers,
                    lines,
                };
                let forward = self.hook.on_first(&mut start, body, more_body).map(|body| {
                    self.start_sent = true;
                    let (start, lines) = start.into_message();
                    Forward::Two(start, lines, Message::Body { body, more_body })
                });
                Either::Left(Either::Left(self.forward(forward)))
            }
            (
                Message::Start {
                    status,
                    headers,
                    trailers,
                },
                second,
            ) => {
                let start = ResponseStart {
                    status,
                    headers,
                    trailers,
                    lines,
                };
                let forward = self.hold(start).and_then(|()| self.accept(second));
                Either::Left(Either::Left(self.forward(forward)))
            }
            // Only a caller of `send_pair` itself sends other pairs; boxed, so that this rare
            // path does not grow every wrapper's future by a layer.
            (first, second) => Either::Right(Box::pin(async move {
                self.send(rasgi_protocol::app::with_lines(first, lines))
                    .await?;
                self.send(second).await
            })
                as futures::future::BoxFuture<'_, Result<(), SendError>>),
        }
    }
}

/// A middleware that must await around the inner app (error handling, a timeout, a task-local):
/// the general form. Most middleware are a [`Step`](crate::Step) instead.
///
/// `call` is not given the inner app or the sender: it is given an [`Inner`], which calls the
/// app, or answers without it, through a [`HookedSender`] carrying the middleware's
/// [`Hook`](Middleware::Hook). So every path reaches the inner app with one sender type, and the
/// inner stack is compiled once per layer, not once per path (two sender types per layer would
/// make 2^n copies of an n-layer stack).
///
/// ```
/// use rasgi_middleware::{Inner, Middleware};
/// use rasgi_protocol::{App, AppError, Receive, Scope, Sender};
/// tokio::task_local! { static TRACE: u64; }
/// struct Trace;
/// impl Middleware for Trace {
///     type Hook<'a> = ();
///     fn describe(&self) -> String { "Trace".into() }
///     async fn call<'a, A: App, R: Receive, S: Sender>(&'a self, scope: Scope, inner: Inner<'a, A, R, S, ()>) -> Result<(), AppError> {
///         TRACE.scope(7, inner.call(scope)).await
///     }
/// }
/// ```
///
/// A middleware cannot hand the inner app a sender of its own: it has none, and `Inner` takes
/// none. This does not compile:
///
/// ```compile_fail,E0061
/// # use rasgi_middleware::{Inner, Middleware};
/// # use rasgi_protocol::{App, AppError, Receive, Scope, Sender, Message};
/// struct Bare;
/// struct Quiet;
/// impl Sender for Quiet {
///     async fn send(&mut self, _: Message) -> Result<(), rasgi_protocol::SendError> { Ok(()) }
/// }
/// impl Middleware for Bare {
///     type Hook<'a> = ();
///     fn describe(&self) -> String { "Bare".into() }
///     async fn call<'a, A: App, R: Receive, S: Sender>(&'a self, scope: Scope, inner: Inner<'a, A, R, S, ()>) -> Result<(), AppError> {
///         inner.call(scope, Quiet).await
///     }
/// }
/// ```
///
/// nor does choosing another hook on one path (the hook's type is the middleware's `Hook`):
///
/// ```compile_fail,E0308
/// # use rasgi_middleware::{Inner, Middleware};
/// # use rasgi_protocol::{App, AppError, Receive, Scope, Sender};
/// struct TwoHooks;
/// impl Middleware for TwoHooks {
///     type Hook<'a> = ();
///     fn describe(&self) -> String { "TwoHooks".into() }
///     async fn call<'a, A: App, R: Receive, S: Sender>(&'a self, scope: Scope, mut inner: Inner<'a, A, R, S, ()>) -> Result<(), AppError> {
///         if matches!(scope, Scope::Http(_)) {
///             *inner.hook_mut() = Some(());
///         }
///         inner.call(scope).await
///     }
/// }
/// ```
pub trait Middleware: Send + Sync + 'static {
    /// The hook the inner app's sender carries, one type on every path. `Default` is what a
    /// request the middleware leaves alone gets; `()` when the middleware edits no response.
    type Hook<'a>: ResponseHook + Default
    where
        Self: 'a;

    /// One line for the stack's printout (name and the settings that matter).
    fn describe(&self) -> String;

    /// Handle one call: look at `scope`, then call `inner` with it, or answer through
    /// [`Inner::respond`].
    fn call<'a, A, R, S>(
        &'a self,
        scope: Scope,
        inner: Inner<'a, A, R, S, Self::Hook<'a>>,
    ) -> impl Future<Output = Result<(), AppError>> + Send
    where
        A: App,
        R: Receive,
        S: Sender;
}

/// The rest of the stack, as a [`Middleware`] is given it: the inner app, the request's receive
/// side, and the sender, already wrapped with the middleware's hook.
pub struct Inner<'a, A, R, S, H> {
    app: &'a A,
    receive: R,
    send: HookedSender<S, H>,
}

impl<'a, A: App, R: Receive, S: Sender, H: ResponseHook> Inner<'a, A, R, S, H> {
    /// The rest of the stack below a middleware whose hook starts as its default.
    pub(crate) fn new(app: &'a A, receive: R, send: S) -> Inner<'a, A, R, S, H>
    where
        H: Default,
    {
        Inner {
            app,
            receive,
            send: HookedSender::new(send, H::default()),
        }
    }

    /// The hook the response will pass through, to set it for this request.
    pub fn hook_mut(&mut self) -> &mut H {
        self.send.hook_mut()
    }

    /// Call the inner app with `scope`.
    pub fn call(
        self,
        scope: Scope,
    ) -> impl Future<Output = Result<(), AppError>> + Send + use<'a, A, R, S, H> {
        self.app.call(scope, self.receive, self.send)
    }

    /// Answer with `response` instead of calling the inner app; it passes through the hook.
    pub fn respond(
        self,
        response: Response,
    ) -> impl Future<Output = Result<(), AppError>> + Send + use<'a, A, R, S, H> {
        let mut send = self.send;
        async move {
            let (status, headers, body) = response.into_parts();
            rasgi_protocol::send_response(&mut send, status, headers, body).await?;
            Ok(())
        }
    }

    /// The app, the receive side and the wrapped sender, for this crate's middleware that keep
    /// the sender past the inner call (to answer an error); each calls the app with
    /// `&mut` of it on every path.
    pub(crate) fn into_parts(self) -> (&'a A, R, HookedSender<S, H>) {
        (self.app, self.receive, self.send)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what reaches the bottom of a stack of wrappers, and how.
    #[derive(Default)]
    struct Recorder {
        calls: Vec<&'static str>,
        messages: Vec<Message>,
    }

    impl Sender for Recorder {
        async fn send(&mut self, message: Message) -> Result<(), SendError> {
            self.calls.push("send");
            self.messages.push(message);
            Ok(())
        }

        async fn send_pair(&mut self, first: Message, second: Message) -> Result<(), SendError> {
            self.calls.push("pair");
            self.messages.extend([first, second]);
            Ok(())
        }
    }

    /// Adds a header naming itself, and counts the bodies it sees.
    struct Tag(&'static str, usize);

    impl ResponseHook for Tag {
        fn on_start(
            &mut self,
            start: &mut ResponseStart,
            _: &Bytes,
            _: bool,
        ) -> Result<(), SendError> {
            if self.0 == "refuse" {
                return Err(SendError::InvalidHeader);
            }
            start.headers.append("x-tag", self.0);
            Ok(())
        }

        fn on_body(&mut self, body: Bytes, _: bool) -> Bytes {
            self.1 += 1;
            body
        }
    }

    fn tags(message: &Message) -> Vec<String> {
        match message {
            Message::Start { headers, .. } => headers
                .get_all("x-tag")
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect(),
            _ => Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_hook_that_changes_nothing_passes_a_pair_on_and_still_knows_the_start_went_out() {
        let mut bottom = Recorder::default();
        {
            let mut tracker = HookedSender::new(&mut bottom, ());
            assert!(!tracker.start_sent());
            tracker
                .send_pair(Message::start(201, Headers::new()), Message::body("whole"))
                .await
                .unwrap();
            assert!(tracker.start_sent());
            // Nothing can be sent in the response's place now.
            let replaced = tracker.replace_response(500, Headers::new(), "no").await;
            assert!(matches!(replaced, Err(SendError::OutOfOrder(_))));
            // A second start is refused, as it is through the general path.
            let again = tracker
                .send_pair(Message::start(200, Headers::new()), Message::body("again"))
                .await;
            assert!(matches!(again, Err(SendError::OutOfOrder(_))));
        }
        assert_eq!(bottom.calls, ["pair"]);
        assert!(matches!(
            bottom.messages[0],
            Message::Start { status: 201, .. }
        ));
        assert!(
            matches!(&bottom.messages[1], Message::Body { body, more_body: false } if body == "whole")
        );
    }

    #[tokio::test]
    async fn a_start_and_its_first_body_reach_the_bottom_as_one_pair() {
        let mut bottom = Recorder::default();
        {
            let inner = HookedSender::new(&mut bottom, Tag("inner", 0));
            let mut outer = HookedSender::new(inner, Tag("outer", 0));
            outer
                .send(Message::start(200, Headers::new()))
                .await
                .unwrap();
            outer.send(Message::chunk(Bytes::from("a"))).await.unwrap();
            outer.send(Message::body(Bytes::from("b"))).await.unwrap();
        }
        assert_eq!(bottom.calls, ["pair", "send"]);
        assert_eq!(tags(&bottom.messages[0]), ["outer", "inner"]);
        assert!(
            matches!(&bottom.messages[1], Message::Body { body, more_body: true } if body == "a")
        );
        assert!(
            matches!(&bottom.messages[2], Message::Body { body, more_body: false } if body == "b")
        );
    }

    #[tokio::test]
    async fn a_pair_sent_as_one_passes_every_hook_once_and_counts_as_the_start() {
        let mut bottom = Recorder::default();
        {
            let inner = HookedSender::new(&mut bottom, Tag("inner", 0));
            let mut outer = HookedSender::new(inner, Tag("outer", 0));
            outer
                .send_pair(Message::start(200, Headers::new()), Message::body("whole"))
                .await
                .unwrap();
            assert!(outer.start_sent());
            assert_eq!(outer.hook().1, 1);
            let again = outer
                .send_pair(Message::start(200, Headers::new()), Message::body("again"))
                .await;
            assert!(matches!(again, Err(SendError::OutOfOrder(_))));
        }
        assert_eq!(bottom.calls, ["pair"]);
        assert_eq!(tags(&bottom.messages[0]), ["outer", "inner"]);

        // A hook that refuses the start: nothing goes on, and the start did not go out.
        let mut bottom = Recorder::default();
        {
            let mut send = HookedSender::new(&mut bottom, Tag("refuse", 0));
            let refused = send
                .send_pair(Message::start(200, Headers::new()), Message::body("x"))
                .await;
            assert_eq!(refused, Err(SendError::InvalidHeader));
            assert!(!send.start_sent());
        }
        assert!(bottom.messages.is_empty());
    }

    #[tokio::test]
    async fn any_other_pair_arrives_in_order() {
        let mut bottom = Recorder::default();
        {
            let mut send = HookedSender::new(&mut bottom, Tag("only", 0));
            send.send(Message::start(200, Headers::new()))
                .await
                .unwrap();
            // Two bodies: the held start goes first, with the first of them.
            send.send_pair(
                Message::chunk(Bytes::from("a")),
                Message::body(Bytes::from("b")),
            )
            .await
            .unwrap();
            assert_eq!(send.hook().1, 2);
        }
        assert_eq!(bottom.calls, ["pair", "send"]);
        assert_eq!(tags(&bottom.messages[0]), ["only"]);
        assert!(matches!(&bottom.messages[2], Message::Body { body, .. } if body == "b"));
    }

    #[tokio::test]
    async fn a_hook_that_refuses_the_start_sends_nothing() {
        let mut bottom = Recorder::default();
        {
            let mut send = HookedSender::new(&mut bottom, Tag("refuse", 0));
            send.send(Message::start(200, Headers::new()))
                .await
                .unwrap();
            let refused = send.send(Message::body(Bytes::from("x"))).await;
            assert_eq!(refused, Err(SendError::InvalidHeader));
            assert!(!send.start_sent());
        }
        assert!(bottom.messages.is_empty());
    }

    #[tokio::test]
    async fn a_second_start_is_out_of_order() {
        let mut send = HookedSender::new(Recorder::default(), ());
        send.send(Message::start(200, Headers::new()))
            .await
            .unwrap();
        let again = send
            .send_pair(
                Message::start(200, Headers::new()),
                Message::body(Bytes::new()),
            )
            .await;
        assert!(matches!(again, Err(SendError::OutOfOrder(_))));
    }
}

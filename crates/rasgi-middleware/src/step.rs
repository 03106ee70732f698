//! Synchronous middleware: a [`Step`] looks at the request's scope (and may change it), then
//! either lets the request go on, with a hook for its response, or answers it itself.
//!
//! The rule: a run of steps is **one layer**. [`Stack::step`](crate::Stack::step) gathers
//! consecutive steps into a [`Steps`] group, which runs every step's request side in one plain
//! loop over the scope and wraps the sender once, with all the steps' hooks chained in one
//! [`HookedSender`](crate::HookedSender). A stack of seven steps costs one send wrapper and one future of the inner
//! app's, not seven of each.
//!
//! The onion is kept exactly: the steps see the request outermost first, their hooks see the
//! response innermost first (each hook's start is the one the hook inside it left, with the
//! first body it left), and a step that answers on its own is answered through the hooks of the
//! steps outside it, never those inside it.
//!
//! Every step is also a [`Middleware`] of its own (one step, one layer), so
//! [`Stack::push`](crate::Stack::push) takes one too.

use std::future::Future;

use bytes::Bytes;
use futures::future::Either;
use rasgi_protocol::{App, AppError, Headers, Receive, Scope, SendError, Sender};

use crate::{Inner, Middleware, Response, ResponseHook, ResponseStart};

/// What a step decides about one request.
pub enum Decision<H> {
    /// Go on to the app; `H` sees the response on its way out.
    Continue(H),
    /// Answer with this response; the app is not called.
    Respond(Response),
}

/// A middleware whose request side is plain code: it reads or changes the scope and decides,
/// without awaiting anything. Its response side is a [`ResponseHook`].
pub trait Step: Send + Sync + 'static {
    /// The per-request hook (usually an `Option`, `None` for scopes the step leaves alone).
    /// Its default does nothing: it stands for the step when a step outside it answered.
    type Hook<'a>: ResponseHook + Default
    where
        Self: 'a;

    /// One line for the stack's printout (name and the settings that matter).
    fn describe(&self) -> String;

    /// Decide about the request in `scope`: go on with a hook, or answer. Non-HTTP scopes the
    /// step has nothing to do with go on with a hook that does nothing.
    fn on_request<'a>(&'a self, scope: &mut Scope) -> Decision<Self::Hook<'a>>;
}

/// A chain of hooks, `.0` outside `.1`: the response reaches `.1` first.
impl<Outside: ResponseHook, Inside: ResponseHook> ResponseHook for (Outside, Inside) {
    fn on_first(
        &mut self,
        start: &mut ResponseStart,
        body: Bytes,
        more_body: bool,
    ) -> Result<Bytes, SendError> {
        let body = self.1.on_first(start, body, more_body)?;
        self.0.on_first(start, body, more_body)
    }

    fn on_accept(&mut self, headers: &mut Headers) {
        self.1.on_accept(headers);
        self.0.on_accept(headers);
    }

    fn on_body(&mut self, body: Bytes, more_body: bool) -> Bytes {
        let body = self.1.on_body(body, more_body);
        self.0.on_body(body, more_body)
    }

    fn on_file(&mut self, start: &mut ResponseStart, len: u64) -> Result<(), SendError> {
        self.1.on_file(start, len)?;
        self.0.on_file(start, len)
    }
}

/// A list of steps as a nested tuple, outermost first: `(A, (B, ()))`. The stack's builder's own
/// machinery: public only because `Stack`'s methods name it.
#[doc(hidden)]
pub trait StepList: Send + Sync + 'static {
    /// The steps' hooks, chained in the same order; by default, hooks that do nothing.
    type Hooks<'a>: ResponseHook + Default
    where
        Self: 'a;

    /// Run each step's request side, outermost first, until one answers, putting each step's
    /// hook in its place in `hooks` (which start as their defaults: the steps after the one
    /// that answered keep those, and do nothing). Filled in place rather than returned, so
    /// that no step moves the hooks of the steps inside it.
    fn run<'a>(&'a self, scope: &mut Scope, hooks: &mut Self::Hooks<'a>) -> Option<Response>;

    /// Each step's printout line, outermost first.
    fn describe_into(&self, names: &mut Vec<String>);
}

impl StepList for () {
    type Hooks<'a> = ();

    fn run(&self, _: &mut Scope, _: &mut ()) -> Option<Response> {
        None
    }

    fn describe_into(&self, _: &mut Vec<String>) {}
}

impl<S: Step, Rest: StepList> StepList for (S, Rest) {
    type Hooks<'a> = (S::Hook<'a>, Rest::Hooks<'a>);

    #[inline(always)]
    fn run<'a>(&'a self, scope: &mut Scope, hooks: &mut Self::Hooks<'a>) -> Option<Response> {
        match self.0.on_request(scope) {
            Decision::Continue(hook) => {
                hooks.0 = hook;
                self.1.run(scope, &mut hooks.1)
            }
            Decision::Respond(response) => Some(response),
        }
    }

    fn describe_into(&self, names: &mut Vec<String>) {
        names.push(self.0.describe());
        self.1.describe_into(names);
    }
}

/// A run of steps as one layer (built by [`Stack::step`](crate::Stack::step)).
pub struct Steps<L>(pub(crate) L);

impl<L: StepList> Middleware for Steps<L> {
    type Hook<'a> = L::Hooks<'a>;

    fn describe(&self) -> String {
        let mut names = Vec::new();
        self.0.describe_into(&mut names);
        names.join(" + ")
    }

    fn call<'a, A: App, R: Receive, S: Sender>(
        &'a self,
        mut scope: Scope,
        mut inner: Inner<'a, A, R, S, L::Hooks<'a>>,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        match self.0.run(&mut scope, inner.hook_mut()) {
            None => Either::Left(inner.call(scope)),
            Some(response) => Either::Right(inner.respond(response)),
        }
    }
}

/// One step alone is a layer of its own.
impl<T: Step> Middleware for T {
    type Hook<'a> = T::Hook<'a>;

    fn describe(&self) -> String {
        Step::describe(self)
    }

    fn call<'a, A: App, R: Receive, S: Sender>(
        &'a self,
        mut scope: Scope,
        mut inner: Inner<'a, A, R, S, T::Hook<'a>>,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        match self.on_request(&mut scope) {
            Decision::Continue(hook) => {
                *inner.hook_mut() = hook;
                Either::Left(inner.call(scope))
            }
            Decision::Respond(response) => Either::Right(inner.respond(response)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Stack;
    use rasgi_protocol::{Event, HttpScope, Message};

    /// Marks the request with its name, or answers 403 when named "refuse"; its hook marks the
    /// response's start and appends its name to every body.
    struct Mark(&'static str);

    struct MarkHook(&'static str);

    impl ResponseHook for MarkHook {
        fn on_start(
            &mut self,
            start: &mut ResponseStart,
            first: &Bytes,
            _: bool,
        ) -> Result<(), SendError> {
            // What the hook inside left as the first body, seen with the start.
            let seen = format!("{}<{}", self.0, String::from_utf8_lossy(first));
            start.headers.append("x-hook", seen);
            Ok(())
        }

        fn on_body(&mut self, body: Bytes, _: bool) -> Bytes {
            [&body[..], self.0.as_bytes()].concat().into()
        }
    }

    impl Step for Mark {
        type Hook<'a> = Option<MarkHook>;

        fn describe(&self) -> String {
            format!("Mark({})", self.0)
        }

        fn on_request(&self, scope: &mut Scope) -> Decision<Option<MarkHook>> {
            if self.0 == "refuse" {
                return Decision::Respond(Response::new(403, Headers::new(), "no"));
            }
            if let Scope::Http(http) = scope {
                http.headers.append("x-seen", self.0);
            }
            Decision::Continue(Some(MarkHook(self.0)))
        }
    }

    /// Answers with the order the steps saw the request in, as its body.
    struct Seen;

    impl App for Seen {
        async fn call<R: Receive, S: Sender>(
            &self,
            scope: Scope,
            _: R,
            mut send: S,
        ) -> Result<(), AppError> {
            let Scope::Http(http) = scope else {
                return Ok(());
            };
            let seen: Vec<&str> = http
                .headers
                .get_all("x-seen")
                .map(|v| std::str::from_utf8(v).unwrap())
                .collect();
            let body = format!("[{}]", seen.join(","));
            rasgi_protocol::send_response(&mut send, 200, Headers::new(), body).await?;
            Ok(())
        }
    }

    struct Nothing;

    impl Receive for Nothing {
        async fn receive(&mut self) -> Event {
            Event::Disconnect
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

    async fn serve(app: &impl App) -> (u16, Vec<String>, String) {
        let mut record = Record::default();
        let scope = Scope::Http(HttpScope::new("GET", "/"));
        app.call(scope, Nothing, &mut record).await.unwrap();
        let Message::Start {
            status, headers, ..
        } = &record.0[0]
        else {
            panic!("no start: {:?}", record.0);
        };
        let hooks = headers
            .get_all("x-hook")
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        let Message::Body { body, .. } = &record.0[1] else {
            panic!("no body: {:?}", record.0);
        };
        (*status, hooks, String::from_utf8_lossy(body).into_owned())
    }

    #[tokio::test]
    async fn steps_in_one_layer_keep_the_onion_of_separate_layers() {
        let grouped = Stack::new()
            .step(Mark("a"))
            .step(Mark("b"))
            .step(Mark("c"))
            .app(Seen);
        let layered = Stack::new()
            .push(Mark("a"))
            .push(Mark("b"))
            .push(Mark("c"))
            .app(Seen);
        let (status, hooks, body) = serve(&grouped).await;
        assert_eq!(status, 200);
        // The request outermost first; the response innermost first, each hook seeing the
        // first body as the hook inside it left it.
        assert_eq!(body, "[a,b,c]cba");
        assert_eq!(hooks, ["c<[a,b,c]", "b<[a,b,c]c", "a<[a,b,c]cb"]);
        assert_eq!(serve(&layered).await, (status, hooks, body));
        assert_eq!(grouped.names(), ["Mark(a)", "Mark(b)", "Mark(c)"]);
    }

    #[tokio::test]
    async fn a_step_that_answers_is_answered_through_the_steps_outside_it_only() {
        let app = Stack::new()
            .step(Mark("outer"))
            .step(Mark("refuse"))
            .step(Mark("inner"))
            .app(Seen);
        let (status, hooks, body) = serve(&app).await;
        assert_eq!(status, 403);
        assert_eq!(hooks, ["outer<no"]);
        assert_eq!(body, "noouter");
    }

    #[tokio::test]
    async fn a_pushed_layer_splits_the_steps_into_two_groups() {
        let app = Stack::new()
            .step(Mark("a"))
            .push(Mark("b"))
            .step(Mark("c"))
            .app(Seen);
        let (_, hooks, body) = serve(&app).await;
        assert_eq!(body, "[a,b,c]cba");
        assert_eq!(hooks, ["c<[a,b,c]", "b<[a,b,c]c", "a<[a,b,c]cb"]);
    }
}

//! [`Stack`]: the builder that composes middleware in one explicit order, outermost first, and
//! can print the onion it built.
//!
//! ```text
//!            request ↓                         ↑ response
//!   ┌──────────────────── 1. first pushed ─────────────────────┐
//!   │ ┌────────────────── 2. second pushed ──────────────────┐ │
//!   │ │                        app                           │ │
//!   │ └──────────────────────────────────────────────────────┘ │
//!   └──────────────────────────────────────────────────────────┘
//! ```
//!
//! The rule: the first middleware pushed sees the request first and the response last.
//! Composition is static (nested generic types): no boxing, no dynamic dispatch per message.
//! [`Stack::push`] adds a layer; [`Stack::step`] adds a synchronous [`Step`], and consecutive
//! steps share one layer (see [`crate::step`]).
//! A crate that serves a stack of ten or more middleware may need `#![recursion_limit = "256"]`
//! for the compiler to lay out the nested future.

use std::future::Future;

use rasgi_protocol::{App, AppError, OnHeap, Receive, Scope, Sender};

use crate::step::{Step, Steps};
use crate::{Inner, Middleware};

/// A middleware wrapped around an inner app.
pub struct Layered<M, A> {
    middleware: M,
    inner: A,
}

impl<M: Middleware, A: App> App for Layered<M, A> {
    // Returns the middleware's future itself: a layer adds no future of its own around it, so a
    // request's future is not moved through an extra level per layer.
    fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        receive: R,
        send: S,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        self.middleware
            .call(scope, Inner::new(&self.inner, receive, send))
    }
}

/// Appends a middleware at the inner end of a list of middleware (a nested tuple). The stack's
/// builder's own machinery: public only because `Stack`'s methods name it.
#[doc(hidden)]
pub trait Append<M> {
    /// The list with `M` at its inner end.
    type Output;
    /// Append `middleware`.
    fn append(self, middleware: M) -> Self::Output;
}

impl<M> Append<M> for () {
    type Output = (M, ());
    fn append(self, middleware: M) -> (M, ()) {
        (middleware, ())
    }
}

impl<M, Head, Tail: Append<M>> Append<M> for (Head, Tail) {
    type Output = (Head, Tail::Output);
    fn append(self, middleware: M) -> Self::Output {
        (self.0, self.1.append(middleware))
    }
}

/// Wraps an app in a list of middleware, the list's head outermost. The stack's builder's own
/// machinery: public only because `Stack`'s methods name it.
#[doc(hidden)]
pub trait Wrap<A> {
    /// The wrapped app's type.
    type Output: App;
    /// Wrap `app`.
    fn wrap(self, app: A) -> Self::Output;
}

impl<A: App> Wrap<A> for () {
    type Output = A;
    fn wrap(self, app: A) -> A {
        app
    }
}

impl<A: App, Head: Middleware, Tail: Wrap<A>> Wrap<A> for (Head, Tail) {
    type Output = Layered<Head, Tail::Output>;
    fn wrap(self, app: A) -> Self::Output {
        Layered {
            middleware: self.0,
            inner: self.1.wrap(app),
        }
    }
}

/// Ends a run of steps: appends it to the layers as one [`Steps`] layer (an empty run adds
/// nothing).
#[doc(hidden)]
pub trait Close<L> {
    /// The layers with the run appended.
    type Output;
    /// Append the run to `layers`.
    fn close(self, layers: L) -> Self::Output;
}

impl<L> Close<L> for () {
    type Output = L;
    fn close(self, layers: L) -> L {
        layers
    }
}

impl<L: Append<Steps<(Head, Tail)>>, Head, Tail> Close<L> for (Head, Tail) {
    type Output = L::Output;
    fn close(self, layers: L) -> Self::Output {
        layers.append(Steps(self))
    }
}

/// The middleware builder: push from the outside in, then wrap the app. `L` is the layers
/// so far, `G` the run of steps not yet closed into a layer.
pub struct Stack<L, G = ()> {
    layers: L,
    steps: G,
    names: Vec<String>,
}

impl Default for Stack<()> {
    fn default() -> Self {
        Stack::new()
    }
}

impl Stack<()> {
    /// No middleware yet.
    pub fn new() -> Stack<()> {
        Stack {
            layers: (),
            steps: (),
            names: Vec::new(),
        }
    }
}

impl<L, G: Close<L>> Stack<L, G> {
    /// Add `middleware` inside every middleware pushed before it, as a layer of its own.
    pub fn push<M: Middleware>(self, middleware: M) -> Stack<<G::Output as Append<M>>::Output>
    where
        G::Output: Append<M>,
    {
        let mut names = self.names;
        names.push(middleware.describe());
        Stack {
            layers: self.steps.close(self.layers).append(middleware),
            steps: (),
            names,
        }
    }

    /// Add a synchronous `step` inside everything pushed before it. It shares one layer with
    /// the steps added right before and after it.
    pub fn step<S: Step>(self, step: S) -> Stack<L, <G as Append<S>>::Output>
    where
        G: Append<S>,
    {
        let mut names = self.names;
        names.push(step.describe());
        Stack {
            layers: self.layers,
            steps: self.steps.append(step),
            names,
        }
    }

    /// The middleware, outermost first.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The onion as text: the request going down, the response coming up.
    pub fn describe(&self) -> String {
        describe(&self.names)
    }

    /// Wrap `app` in the stack.
    pub fn app<A: App>(self, app: A) -> StackApp<<G::Output as Wrap<A>>::Output>
    where
        G::Output: Wrap<A>,
    {
        StackApp {
            app: self.steps.close(self.layers).wrap(app),
            names: self.names,
        }
    }
}

/// An app wrapped in its middleware, which still knows its order.
pub struct StackApp<A> {
    app: A,
    names: Vec<String>,
}

impl<A> StackApp<A> {
    /// The same stack with its request futures on the heap (see [`OnHeap`]).
    pub fn on_heap(self) -> StackApp<OnHeap<A>> {
        StackApp {
            app: OnHeap(self.app),
            names: self.names,
        }
    }

    /// The middleware, outermost first.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The onion as text (see [`Stack::describe`]).
    pub fn describe(&self) -> String {
        describe(&self.names)
    }
}

impl<A: App> App for StackApp<A> {
    fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        receive: R,
        send: S,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        self.app.call(scope, receive, send)
    }
}

fn describe(names: &[String]) -> String {
    let mut out = String::from("request ↓ (outermost first)\n");
    for (i, name) in names.iter().enumerate() {
        out.push_str(&format!("{}{}. {}\n", "  ".repeat(i), i + 1, name));
    }
    out.push_str(&format!("{}→ app\n", "  ".repeat(names.len())));
    for (i, name) in names.iter().enumerate().rev() {
        out.push_str(&format!("{}{}. {} ↑\n", "  ".repeat(i), i + 1, short(name)));
    }
    out.push_str("response ↑ (outermost last)\n");
    out
}

fn short(name: &str) -> &str {
    name.split('(').next().unwrap_or(name)
}

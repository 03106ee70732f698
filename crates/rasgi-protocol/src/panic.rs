//! Panics in apps and middleware: caught by [`catch_panic`], carried up as an [`AppError`]
//! holding [`Panicked`], so the layers above can answer them (`ServerErrors` with a 500) and the
//! server can close the connection, count them and log each once.
//!
//! The rule: a panic is an error like any other, with one more consequence: the connection it
//! happened on serves nothing after it.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::AppError;

thread_local! {
    /// How many [`catch_panic`] futures are being polled on this thread.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
    /// Where the last caught panic happened, as a panic hook noted it.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// An app or middleware panicked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("panicked: {message}{}", location.as_ref().map(|at| format!(" at {at}")).unwrap_or_default())]
pub struct Panicked {
    /// The panic's message (`"explicit panic"` when it had none that is text).
    pub message: String,
    /// Where it happened, if a panic hook noted it ([`note_panic_location`]).
    pub location: Option<String>,
}

/// Whether `error` is a caught panic.
pub fn panicked(error: &AppError) -> Option<&Panicked> {
    error.downcast_ref::<Panicked>()
}

/// Run `future`, turning a panic while it is polled into `Err(Panicked)`.
pub fn catch_panic<F>(future: F) -> CatchPanic<F>
where
    F: Future<Output = Result<(), AppError>>,
{
    CatchPanic { inner: future }
}

/// The future of [`catch_panic`]: the inner future in place (a wrapper that moved it into an
/// `async` block would hold it twice).
pub struct CatchPanic<F> {
    inner: F,
}

impl<F> Future for CatchPanic<F>
where
    F: Future<Output = Result<(), AppError>>,
{
    type Output = Result<(), AppError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is pinned structurally: it is never moved out of `self`, `CatchPanic`
        // has no `Drop` impl, and it is `Unpin` only when `inner` is.
        let inner = unsafe { self.map_unchecked_mut(|this| &mut this.inner) };
        poll_catching(inner, cx)
    }
}

/// Poll `future` once as [`catch_panic`] does, a panic while it is polled turned into
/// `Err(Panicked)`: for a caller that keeps the future pinned in place itself (so that it is
/// not moved into a wrapper first).
pub fn poll_catching<F>(future: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<Result<(), AppError>>
where
    F: Future<Output = Result<(), AppError>> + ?Sized,
{
    CATCHING.with(|n| n.set(n.get() + 1));
    let polled = std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx)));
    CATCHING.with(|n| n.set(n.get() - 1));
    match polled {
        Ok(poll) => poll,
        Err(payload) => {
            let message = if let Some(text) = payload.downcast_ref::<&str>() {
                (*text).to_string()
            } else if let Some(text) = payload.downcast_ref::<String>() {
                text.clone()
            } else {
                "explicit panic".to_string()
            };
            let location = LOCATION.with_borrow_mut(Option::take);
            Poll::Ready(Err(Box::new(Panicked { message, location }) as AppError))
        }
    }
}

/// For a panic hook: whether the panic happens inside [`catch_panic`] (it will be caught,
/// answered and logged; the hook need not print it).
pub fn is_caught_here() -> bool {
    CATCHING.with(Cell::get) > 0
}

/// For a panic hook: note where a panic that [`is_caught_here`] happened, for its log line.
pub fn note_panic_location(location: String) {
    LOCATION.with_borrow_mut(|slot| *slot = Some(location));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_an_error_that_says_so() {
        let result = catch_panic(async {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            Ok(())
        })
        .await;
        let error = result.unwrap_err();
        assert_eq!(panicked(&error).map(|p| p.message.as_str()), Some("boom"));
        assert!(!is_caught_here());
    }

    #[tokio::test]
    async fn errors_and_successes_pass_through() {
        assert!(catch_panic(async { Ok(()) }).await.is_ok());
        let error = catch_panic(async { Err("plain".into()) })
            .await
            .unwrap_err();
        assert!(panicked(&error).is_none());
    }
}

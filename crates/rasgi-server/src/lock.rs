//! The lock a connection's parts share while an app runs: the app's `receive` and `send`, and
//! the connection's driver (which writes out what waits while the app waits, and on a
//! WebSocket reads, pings and closes) take turns at the wire and the read half behind it.
//! Between requests the connection is the lock's only owner and reaches the wire through
//! [`Lock::get_mut`], taking nothing.
//!
//! The rule it keeps: taking a free lock is one atomic exchange and giving it back one store,
//! and nothing else, because it happens for every request and every message; only a lock
//! somebody waits for touches the list of waiting tasks. A waiter is woken by the
//! giving back that follows its registration, never lost: a waiter marks itself before its
//! last try, and the holder looks for the mark after letting go (both in one sequentially
//! consistent order, so one of the two sees the other).
//!
//! Nearly always every part belongs to one task and the lock is free when asked for; it is a
//! real lock all the same (every part is `Send`, and an app may poll a `send` from anywhere).

use std::cell::UnsafeCell;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// A value taken in turns by the futures of one connection.
pub(crate) struct Lock<T> {
    /// Somebody holds the value.
    locked: AtomicBool,
    /// Somebody waits in `waiters`: the next holder to let go wakes them.
    contended: AtomicBool,
    /// The tasks waiting for the value (one entry per task).
    waiters: Mutex<Vec<Waker>>,
    /// The value, reached only through a [`LockGuard`].
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a `LockGuard`, and `locked` lets one guard exist
// at a time (its exchange is the acquire, its store the release), so sharing the lock moves the
// value between threads but never lets two reach it at once: `T: Send` is all it needs.
unsafe impl<T: Send> Send for Lock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Lock<T> {}

impl<T> Lock<T> {
    /// A free lock around `value`.
    pub(crate) fn new(value: T) -> Lock<T> {
        Lock {
            locked: AtomicBool::new(false),
            contended: AtomicBool::new(false),
            waiters: Mutex::new(Vec::new()),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, if nobody holds it.
    #[inline]
    pub(crate) fn try_lock(&self) -> Option<LockGuard<'_, T>> {
        if self.locked.swap(true, Ordering::SeqCst) {
            None
        } else {
            Some(LockGuard {
                lock: self,
                lent: PhantomData,
            })
        }
    }

    /// The value, once it is this task's turn.
    pub(crate) fn lock(&self) -> Acquire<'_, T> {
        Acquire { lock: self }
    }

    /// The value, reached through the only reference to the lock: nobody can hold it, so
    /// nothing is taken (the connection's own steps between requests use the wire this way).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// The value, the lock used up.
    pub(crate) fn into_inner(self) -> T {
        self.value.into_inner()
    }

    /// Wake every waiting task (one of them gets the value, the others wait again).
    #[cold]
    fn wake_waiters(&self) {
        self.contended.store(false, Ordering::SeqCst);
        let waiters =
            std::mem::take(&mut *self.waiters.lock().unwrap_or_else(PoisonError::into_inner));
        for waker in waiters {
            waker.wake();
        }
    }
}

/// Waiting for a [`Lock`]'s value.
pub(crate) struct Acquire<'a, T> {
    /// The lock waited for.
    lock: &'a Lock<T>,
}

impl<'a, T> Future for Acquire<'a, T> {
    type Output = LockGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard<'a, T>> {
        let lock = self.lock;
        if let Some(guard) = lock.try_lock() {
            return Poll::Ready(guard);
        }
        {
            let mut waiters = lock.waiters.lock().unwrap_or_else(PoisonError::into_inner);
            if !waiters.iter().any(|waiter| waiter.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
        }
        lock.contended.store(true, Ordering::SeqCst);
        // The last try, after the mark: a holder that let go before it saw no mark, and this
        // try sees the lock free.
        match lock.try_lock() {
            Some(guard) => Poll::Ready(guard),
            None => Poll::Pending,
        }
    }
}

/// The value of a [`Lock`], held; let go when dropped.
pub(crate) struct LockGuard<'a, T> {
    /// The lock held.
    lock: &'a Lock<T>,
    /// The guard lends the value out as a `&mut T` would, and is `Send` and `Sync` as one is
    /// (sharing a guard shares the value: `T: Sync`, which `Lock` itself does not ask for).
    lent: PhantomData<&'a mut T>,
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard is the only one (see `Lock`), and it lends the value no longer
        // than it lives.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only loan.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for LockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::SeqCst);
        if self.lock.contended.load(Ordering::SeqCst) {
            self.lock.wake_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_free_lock_is_taken_once_until_given_back() {
        let lock = Lock::new(1);
        let mut guard = lock.try_lock().expect("free");
        assert!(lock.try_lock().is_none());
        *guard += 1;
        drop(guard);
        assert_eq!(*lock.try_lock().expect("free again"), 2);
        assert_eq!(lock.into_inner(), 2);
    }

    /// Counts its wakes.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_waiter_is_woken_once_when_the_holder_lets_go() {
        let lock = Lock::new(0);
        let count = Arc::new(Count(Default::default()));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        let guard = lock.try_lock().expect("free");
        let mut waiting = std::pin::pin!(lock.lock());
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        // Polled again while still held: one entry, one wake.
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        drop(guard);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        let Poll::Ready(mut turn) = waiting.as_mut().poll(&mut cx) else {
            panic!("the lock is free after the wake");
        };
        *turn = 7;
        drop(turn);
        // Nobody waits any more: letting go again wakes nobody.
        drop(lock.try_lock().expect("free"));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(lock.into_inner(), 7);
    }

    #[test]
    fn threads_taking_turns_lose_no_update_and_no_wakeup() {
        const THREADS: usize = 4;
        const TURNS: usize = 20_000;
        let lock = Arc::new(Lock::new(0usize));
        let runners: Vec<_> = (0..THREADS)
            .map(|_| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .expect("a runtime");
                    runtime.block_on(async {
                        for _ in 0..TURNS {
                            let mut value = lock.lock().await;
                            *value += 1;
                            // Held across a yield now and then, so the others wait for it.
                            if *value % 64 == 0 {
                                tokio::task::yield_now().await;
                            }
                        }
                    })
                })
            })
            .collect();
        for runner in runners {
            runner.join().expect("a runner");
        }
        let lock = Arc::try_unwrap(lock).ok().expect("the last owner");
        assert_eq!(lock.into_inner(), THREADS * TURNS);
    }
}

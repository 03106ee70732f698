//! [`BackgroundTasks`]: the tasks a request leaves behind, to run after its response is sent.
//!
//! One list per request, shared by every middleware, helper and handler that sees the scope:
//! the handle is cheap to clone, and all clones add to the same list. The server takes the list
//! once the final body is written and hands it to the executor (crate `rasgi-background`),
//! which runs the tasks in the order they were added.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;

use crate::AppError;

/// A named unit of work to run after the response.
pub struct Task {
    /// Shown in logs and counters (`send_welcome_email`).
    pub name: Cow<'static, str>,
    /// What to run.
    pub body: TaskBody,
}

/// What a task runs.
pub enum TaskBody {
    /// A future, run on the async runtime.
    Async(BoxFuture<'static, Result<(), AppError>>),
    /// A blocking closure, run on the blocking thread pool.
    Blocking(Box<dyn FnOnce() -> Result<(), AppError> + Send + 'static>),
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.body {
            TaskBody::Async(_) => "async",
            TaskBody::Blocking(_) => "blocking",
        };
        f.debug_struct("Task")
            .field("name", &self.name)
            .field("kind", &kind)
            .finish()
    }
}

/// The shared, ordered list of one request's background tasks.
///
/// A server may reuse one list for the requests of a connection (they are served one at a
/// time): each response gets handles of its own ([`BackgroundTasks::for_next_response`]), and a
/// handle kept past its response can no longer add to the list: what it adds is dropped with a
/// warning, never run with another response.
#[derive(Clone, Default)]
pub struct BackgroundTasks {
    /// The list all handles of a response share.
    list: Arc<Shared>,
    /// Which response this handle belongs to; it may add only while that one is the list's.
    response: u64,
}

/// What the handles share.
#[derive(Default)]
struct Shared {
    /// The response the list is collecting for; taking the tasks moves it on (under the lock,
    /// so an `add` that holds the lock sees it settled). Outside the lock, so that a new
    /// response's handle is made without taking it.
    response: AtomicU64,
    /// Something was added (a task or a request id) since the list was last taken: set under
    /// the lock, read without it by a take that finds no other handle alive.
    touched: AtomicBool,
    /// The tasks and the id that names them.
    list: Mutex<List>,
}

/// The tasks of one response.
#[derive(Default)]
struct List {
    /// The tasks, in the order they were added.
    tasks: Vec<Task>,
    /// The request id that names these tasks in logs, if a middleware gave one: its bytes (the
    /// room kept from response to response) and the response it was given for.
    request_id: Vec<u8>,
    id_for: Option<u64>,
}

impl BackgroundTasks {
    /// An empty list.
    pub fn new() -> BackgroundTasks {
        BackgroundTasks::default()
    }

    /// Add an async task; it runs after the response, after every task added before it.
    pub fn add<F>(&self, name: impl Into<Cow<'static, str>>, task: F)
    where
        F: Future<Output = Result<(), AppError>> + Send + 'static,
    {
        self.push(Task {
            name: name.into(),
            body: TaskBody::Async(Box::pin(task)),
        });
    }

    /// Add a blocking task; it runs on the blocking pool, in order with the others.
    pub fn add_blocking<F>(&self, name: impl Into<Cow<'static, str>>, task: F)
    where
        F: FnOnce() -> Result<(), AppError> + Send + 'static,
    {
        self.push(Task {
            name: name.into(),
            body: TaskBody::Blocking(Box::new(task)),
        });
    }

    fn push(&self, task: Task) {
        let mut list = self.lock();
        if !self.current() {
            drop(list);
            tracing::warn!(task = %task.name, "background task added after its response was over; dropped");
            return;
        }
        list.tasks.push(task);
        self.list.touched.store(true, Ordering::Release);
    }

    /// A handle for the response the list collects for now: the server gives one to each
    /// request's scope, so that a handle kept from an earlier request adds nothing to this one.
    pub fn for_next_response(&self) -> BackgroundTasks {
        BackgroundTasks {
            list: Arc::clone(&self.list),
            response: self.list.response.load(Ordering::Acquire),
        }
    }

    /// Name this request's tasks in logs by its request id (the `RequestId` middleware does
    /// this), so the server needs no knowledge of where the id came from. The id is kept for
    /// this response only; a list with an id and no task is still taken without the lock.
    pub fn set_request_id(&self, id: &[u8]) {
        let mut list = self.lock();
        if self.current() {
            list.request_id.clear();
            list.request_id.extend_from_slice(id);
            list.id_for = Some(self.response);
        }
    }

    /// The request id given by [`BackgroundTasks::set_request_id`] for the response the list
    /// collects for now, if any.
    pub fn request_id(&self) -> Option<Bytes> {
        let list = self.lock();
        let now = self.list.response.load(Ordering::Acquire);
        list.id(now)
    }

    /// Take every task added so far, leaving the list empty (and the request id unset).
    pub fn take(&self) -> Vec<Task> {
        self.take_with_request_id().0
    }

    /// Take every task added so far and, when there are any, the request id that names them,
    /// leaving the list empty for the next response (the server does this once the response is
    /// written). The handles of this response can add no more.
    pub fn take_with_request_id(&self) -> (Vec<Task>, Option<Bytes>) {
        let next = self.list.response.load(Ordering::Relaxed).wrapping_add(1);
        // The common case, a response that left nothing, without the lock: no other handle is
        // alive (so none can add while this looks), and the last one dropped made what it
        // added visible here: its count's decrement is a release, and the fence makes this
        // (relaxed) reading of the count an acquire, as `Arc::get_mut` does.
        if Arc::strong_count(&self.list) == 1 {
            std::sync::atomic::fence(Ordering::Acquire);
            if !self.list.touched.load(Ordering::Relaxed) {
                self.list.response.store(next, Ordering::Release);
                return (Vec::new(), None);
            }
        }
        let mut list = self.lock();
        let id = list.id(next.wrapping_sub(1));
        self.list.response.store(next, Ordering::Release);
        self.list.touched.store(false, Ordering::Relaxed);
        let tasks = std::mem::take(&mut list.tasks);
        (tasks, id)
    }

    /// How many tasks are waiting.
    pub fn len(&self) -> usize {
        self.lock().tasks.len()
    }

    /// Whether no task is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this handle's response is the one the list collects for (asked with the lock
    /// held: only a holder of the lock moves it on).
    fn current(&self) -> bool {
        self.list.response.load(Ordering::Acquire) == self.response
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, List> {
        // A panic while holding this lock can only come from `Vec::push` running out of memory;
        // the list itself is still consistent, so keep using it.
        self.list
            .list
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl List {
    /// The request id given for `response`, if one was.
    fn id(&self, response: u64) -> Option<Bytes> {
        (self.id_for == Some(response)).then(|| Bytes::copy_from_slice(&self.request_id))
    }
}

impl fmt::Debug for BackgroundTasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundTasks")
            .field("pending", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_ordered_list() {
        let tasks = BackgroundTasks::new();
        let from_middleware = tasks.clone();
        from_middleware.add("first", async { Ok(()) });
        tasks.add_blocking("second", || Ok(()));
        let taken = tasks.take();
        let names: Vec<_> = taken.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, vec!["first", "second"]);
        assert!(from_middleware.is_empty());
    }

    #[test]
    fn what_a_dropped_handle_added_is_taken_and_an_untouched_list_gives_nothing() {
        let connection = BackgroundTasks::new();
        for round in 0..3 {
            let scope = connection.for_next_response();
            // Added on another thread, the handle dropped there: the take that follows finds
            // no other handle alive and must still see the task.
            std::thread::spawn(move || scope.add_blocking("from another thread", || Ok(())))
                .join()
                .expect("the adding thread");
            assert_eq!(connection.take().len(), 1, "round {round}");
            let untouched = connection.for_next_response();
            drop(untouched);
            let (tasks, id) = connection.take_with_request_id();
            assert!(tasks.is_empty() && id.is_none(), "round {round}");
        }
    }

    #[test]
    fn a_handle_kept_past_its_response_adds_nothing_to_the_next() {
        let connection = BackgroundTasks::new();
        let first = connection.for_next_response();
        first.add("first", async { Ok(()) });
        assert_eq!(connection.take().len(), 1);
        let second = connection.for_next_response();
        first.add("late, from the first request", async { Ok(()) });
        first.set_request_id(b"stale");
        second.add("second", async { Ok(()) });
        let (taken, id) = connection.take_with_request_id();
        let names: Vec<_> = taken.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, vec!["second"]);
        assert_eq!(id, None);
    }

    #[test]
    fn the_request_id_names_one_batch_only() {
        let tasks = BackgroundTasks::new();
        tasks.set_request_id(b"abc");
        assert_eq!(tasks.request_id().as_deref(), Some(&b"abc"[..]));
        tasks.take();
        assert_eq!(tasks.request_id(), None);
        // Taken with its tasks; a response without tasks gives no id with them, and leaves
        // none behind for the next.
        let scope = tasks.for_next_response();
        scope.set_request_id(b"def");
        scope.add("named", async { Ok(()) });
        drop(scope);
        let (taken, id) = tasks.take_with_request_id();
        assert_eq!((taken.len(), id.as_deref()), (1, Some(&b"def"[..])));
        let scope = tasks.for_next_response();
        scope.set_request_id(b"ghi");
        drop(scope);
        assert_eq!(tasks.request_id().as_deref(), Some(&b"ghi"[..]));
        let (taken, id) = tasks.take_with_request_id();
        assert!(taken.is_empty() && id.is_none());
        assert_eq!(tasks.request_id(), None);
        let scope = tasks.for_next_response();
        scope.add("unnamed", async { Ok(()) });
        drop(scope);
        assert_eq!(tasks.take_with_request_id().1, None);
    }
}

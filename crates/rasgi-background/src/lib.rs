//! The background executor: runs a response's tasks after its final body has been written.
//!
//! The guarantees, each kept in one place below:
//! 1. One response's tasks run in the order they were added; blocking ones on the blocking pool.
//! 2. A task that fails or panics is logged with its batch's label and counted; by default the
//!    batch's later tasks still run ([`FailurePolicy::StopBatch`] stops them, as Starlette does).
//! 3. [`Executor::submit`] returns at once while fewer than `max_waiting` batches wait for a
//!    slot: the connection goes on to its next request. At most `concurrency` batches run at a
//!    time; the others wait their turn, and none is dropped. Past `max_waiting`, `submit` waits
//!    for room, so the connection that submits pauses before its next request (backpressure
//!    reaches the client) and memory stays bounded.
//! 4. A response that failed before its final body hands its tasks to [`Executor::drop_batch`]:
//!    they do not run, and that is logged and counted.
//! 5. [`Executor::shutdown`] drains pending and running batches up to a deadline, then cancels
//!    what is left, logging each cancelled task by name and counting it.
//! 6. [`Executor::counters`] reads every counter at run time.

#![warn(missing_docs)]

use std::borrow::Cow;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use rasgi_protocol::{Task, TaskBody};
use tokio::sync::{watch, Semaphore};

/// Default for [`ExecutorConfig::concurrency`]: 64 batches at once, enough to keep a few dozen
/// slow e-mail sends going without letting a burst of requests start thousands of tasks.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// Default for [`ExecutorConfig::max_waiting`]: 1,024 batches waiting for a slot, a few seconds
/// of a busy server's tasks; each holds its futures, so more would only be memory.
pub const DEFAULT_MAX_WAITING: usize = 1024;

/// What happens to a batch's later tasks when one fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Run them anyway (the default: one failed e-mail should not cancel the audit log).
    #[default]
    RunRest,
    /// Skip them, as Starlette does; the skipped tasks are counted as dropped.
    StopBatch,
}

/// The executor's settings.
#[derive(Debug, Clone, Copy)]
pub struct ExecutorConfig {
    /// Most batches running at once; more wait (backpressure), none is dropped.
    pub concurrency: usize,
    /// Most batches waiting for a running slot; past it, [`Executor::submit`] waits.
    pub max_waiting: usize,
    /// What a failure does to the rest of its batch.
    pub failure_policy: FailurePolicy,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            concurrency: DEFAULT_CONCURRENCY,
            max_waiting: DEFAULT_MAX_WAITING,
            failure_policy: FailurePolicy::RunRest,
        }
    }
}

/// The counters, as read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Tasks handed to the executor.
    pub submitted: u64,
    /// Tasks running now.
    pub running: u64,
    /// Batches waiting for a running slot now.
    pub waiting: u64,
    /// Tasks that returned `Ok`.
    pub completed: u64,
    /// Tasks that returned an error.
    pub failed: u64,
    /// Tasks that panicked.
    pub panicked: u64,
    /// Tasks cancelled at the shutdown deadline.
    pub cancelled: u64,
    /// Tasks that never ran: their response failed, or an earlier task failed under
    /// [`FailurePolicy::StopBatch`].
    pub dropped: u64,
}

#[derive(Default)]
struct AtomicCounters {
    submitted: AtomicU64,
    running: AtomicU64,
    waiting: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    panicked: AtomicU64,
    cancelled: AtomicU64,
    dropped: AtomicU64,
}

fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// One response's tasks, with a label for the logs (the request id, or method and path).
pub struct Batch {
    /// Shown in every log line about these tasks.
    pub label: Cow<'static, str>,
    /// The tasks, in the order they were added.
    pub tasks: Vec<Task>,
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("label", &self.label)
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

struct Inner {
    config: ExecutorConfig,
    counters: AtomicCounters,
    /// Bounds the batches that run at once.
    slots: Arc<Semaphore>,
    /// Bounds the batches that wait for a slot.
    queue: Arc<Semaphore>,
    /// Batches submitted and not yet finished (waiting or running); `shutdown` waits for 0.
    outstanding: watch::Sender<usize>,
    /// Turns true at the shutdown deadline: every batch still going cancels itself.
    cancel: watch::Sender<bool>,
}

/// The background executor. Cloning shares it.
#[derive(Clone)]
pub struct Executor(Arc<Inner>);

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("config", &self.0.config)
            .field("counters", &self.counters())
            .finish()
    }
}

impl Default for Executor {
    fn default() -> Self {
        Executor::new(ExecutorConfig::default())
    }
}

impl Executor {
    /// An executor with `config` (a concurrency or queue of 0 is taken as 1).
    pub fn new(config: ExecutorConfig) -> Executor {
        let concurrency = config.concurrency.max(1);
        let max_waiting = config.max_waiting.max(1);
        Executor(Arc::new(Inner {
            config: ExecutorConfig {
                concurrency,
                max_waiting,
                ..config
            },
            counters: AtomicCounters::default(),
            slots: Arc::new(Semaphore::new(concurrency)),
            queue: Arc::new(Semaphore::new(max_waiting)),
            outstanding: watch::Sender::new(0),
            cancel: watch::Sender::new(false),
        }))
    }

    /// The counters now.
    pub fn counters(&self) -> Counters {
        let c = &self.0.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Counters {
            submitted: load(&c.submitted),
            running: load(&c.running),
            waiting: load(&c.waiting),
            completed: load(&c.completed),
            failed: load(&c.failed),
            panicked: load(&c.panicked),
            cancelled: load(&c.cancelled),
            dropped: load(&c.dropped),
        }
    }

    /// Run `batch` after the batches before it got a slot. Returns at once while the queue of
    /// waiting batches has room, else once it has (guarantee 3). Must be called inside a tokio
    /// runtime.
    pub async fn submit(&self, batch: Batch) {
        if batch.tasks.is_empty() {
            return;
        }
        let queued = match Arc::clone(&self.0.queue).try_acquire_owned() {
            Ok(place) => Some(place),
            Err(_) => {
                tracing::debug!(batch = %batch.label, "background queue full; the connection waits");
                let mut cancel = self.0.cancel.subscribe();
                tokio::select! {
                    place = Arc::clone(&self.0.queue).acquire_owned() => place.ok(),
                    // At the shutdown deadline nothing waits any more: the batch is cancelled.
                    _ = cancel.wait_for(|&cancelled| cancelled) => None,
                }
            }
        };
        bump(&self.0.counters.submitted, batch.tasks.len() as u64);
        bump(&self.0.counters.waiting, 1);
        self.0.outstanding.send_modify(|n| *n += 1);
        let inner = Arc::clone(&self.0);
        tokio::spawn(async move {
            let mut cancel = inner.cancel.subscribe();
            let permit = match queued {
                Some(_) => tokio::select! {
                    permit = Arc::clone(&inner.slots).acquire_owned() => permit.ok(),
                    _ = cancel.wait_for(|&cancelled| cancelled) => None,
                },
                None => None,
            };
            // Running (or cancelled): no longer waiting.
            inner.counters.waiting.fetch_sub(1, Ordering::Relaxed);
            drop(queued);
            let mut tasks = batch.tasks.into_iter();
            if permit.is_some() {
                inner.run_batch(&batch.label, &mut tasks, &mut cancel).await;
            }
            inner.cancel_rest(&batch.label, tasks);
            drop(permit);
            inner.outstanding.send_modify(|n| *n -= 1);
        });
    }

    /// A response failed before its final body: its tasks do not run (guarantee 4).
    pub fn drop_batch(&self, batch: Batch, reason: &str) {
        if batch.tasks.is_empty() {
            return;
        }
        bump(&self.0.counters.dropped, batch.tasks.len() as u64);
        for task in &batch.tasks {
            tracing::warn!(
                batch = %batch.label,
                task = %task.name,
                reason,
                "background task dropped: its response did not complete"
            );
        }
    }

    /// Wait for every submitted batch up to `deadline`, then cancel what is left (guarantee 5).
    /// Returns the counters after the drain.
    pub async fn shutdown(&self, deadline: Duration) -> Counters {
        let mut outstanding = self.0.outstanding.subscribe();
        let drained = tokio::time::timeout(deadline, outstanding.wait_for(|&n| n == 0))
            .await
            .is_ok();
        if !drained {
            self.0.cancel.send_replace(true);
            // Cancelled batches log and count, then finish promptly.
            let _ = outstanding.wait_for(|&n| n == 0).await;
        }
        self.counters()
    }
}

impl Inner {
    /// Guarantees 1 and 2: run the tasks in order, each failure or panic logged and counted.
    async fn run_batch(
        &self,
        label: &str,
        tasks: &mut std::vec::IntoIter<Task>,
        cancel: &mut watch::Receiver<bool>,
    ) {
        while let Some(task) = tasks.next() {
            let name = task.name.clone();
            bump(&self.counters.running, 1);
            let outcome = tokio::select! {
                outcome = run_task(task.body) => Some(outcome),
                _ = cancel.wait_for(|&cancelled| cancelled) => None,
            };
            self.counters.running.fetch_sub(1, Ordering::Relaxed);
            let failed = !matches!(outcome, Some(Outcome::Completed));
            match outcome {
                Some(Outcome::Completed) => bump(&self.counters.completed, 1),
                Some(Outcome::Failed(error)) => {
                    bump(&self.counters.failed, 1);
                    tracing::error!(batch = %label, task = %name, %error, "background task failed");
                }
                Some(Outcome::Panicked(message)) => {
                    bump(&self.counters.panicked, 1);
                    tracing::error!(batch = %label, task = %name, panic = %message, "background task panicked");
                }
                None => {
                    bump(&self.counters.cancelled, 1);
                    tracing::warn!(batch = %label, task = %name, "background task cancelled at the shutdown deadline");
                    return;
                }
            }
            if failed && self.config.failure_policy == FailurePolicy::StopBatch {
                let skipped = tasks.len() as u64;
                bump(&self.counters.dropped, skipped);
                for task in tasks.by_ref() {
                    tracing::warn!(batch = %label, task = %task.name, "background task skipped after an earlier failure");
                }
                return;
            }
        }
    }

    /// Tasks that never started because of the shutdown deadline: logged and counted.
    fn cancel_rest(&self, label: &str, tasks: std::vec::IntoIter<Task>) {
        for task in tasks {
            bump(&self.counters.cancelled, 1);
            tracing::warn!(batch = %label, task = %task.name, "background task cancelled at the shutdown deadline before it started");
        }
    }
}

enum Outcome {
    Completed,
    Failed(String),
    Panicked(String),
}

async fn run_task(body: TaskBody) -> Outcome {
    match body {
        TaskBody::Async(future) => match AssertUnwindSafe(future).catch_unwind().await {
            Ok(Ok(())) => Outcome::Completed,
            Ok(Err(error)) => Outcome::Failed(error.to_string()),
            Err(panic) => Outcome::Panicked(panic_message(panic.as_ref())),
        },
        TaskBody::Blocking(work) => match tokio::task::spawn_blocking(work).await {
            Ok(Ok(())) => Outcome::Completed,
            Ok(Err(error)) => Outcome::Failed(error.to_string()),
            Err(join) => match join.try_into_panic() {
                Ok(panic) => Outcome::Panicked(panic_message(panic.as_ref())),
                Err(join) => Outcome::Failed(join.to_string()),
            },
        },
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-text panic payload".to_string()
    }
}

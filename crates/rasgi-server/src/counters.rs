//! [`ServerCounters`]: what the server counts that no response shows: panics it caught and
//! connections it cut for being too slow. Readable at run time (the demo's `/metrics`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counters shared by every connection of a server; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ServerCounters(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    panics: AtomicU64,
    body_timeouts: AtomicU64,
    send_timeouts: AtomicU64,
    websockets_open: AtomicU64,
    /// HTTP requests judged, for [`crate::ServerConfig::limit_max_requests`].
    requests: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Panics in the app or its middleware.
    pub panics: u64,
    /// Request bodies that made no progress within the body timeout.
    pub body_timeouts: u64,
    /// Response writes that made no progress within the send timeout.
    pub send_timeouts: u64,
    /// WebSockets open now (accepted and not yet closed).
    pub websockets_open: u64,
}

impl ServerCounters {
    /// All at zero.
    pub fn new() -> ServerCounters {
        ServerCounters::default()
    }

    /// The counts now.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            panics: self.0.panics.load(Ordering::Relaxed),
            body_timeouts: self.0.body_timeouts.load(Ordering::Relaxed),
            send_timeouts: self.0.send_timeouts.load(Ordering::Relaxed),
            websockets_open: self.0.websockets_open.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn panic(&self) {
        self.0.panics.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn body_timeout(&self) {
        self.0.body_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn send_timeout(&self) {
        self.0.send_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn websocket_opened(&self) {
        self.0.websockets_open.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn websocket_closed(&self) {
        self.0.websockets_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// One more HTTP request served; how many so far.
    pub(crate) fn request_served(&self) -> u64 {
        self.0.requests.fetch_add(1, Ordering::Relaxed) + 1
    }
}

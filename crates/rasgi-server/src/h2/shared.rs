//! What the HTTP/2 driver and its streams' apps share: the sans-io connection, each stream's
//! inbox and response bookkeeping, and the wakers that tie them together.
//!
//! The rule this module keeps: everything of one connection runs on its one task (the driver
//! polls the streams' futures itself), so the lock is never contended; it is a lock because
//! the futures are `Send`. Nobody holds it across an await, and the driver never holds it
//! while it polls a stream.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use bytes::Bytes;
use rasgi_h2::conn::ServerConnection;
use rasgi_h2::stream::StreamMap;

/// Output queued and not yet written past which streams wait to send and the driver stops
/// reading: a peer that does not read cannot make the server queue more.
pub(super) const OUTPUT_HIGH_WATER: usize = 256 * 1024;

/// A connection's shared state.
pub(super) struct Shared {
    /// The protocol.
    pub conn: ServerConnection,
    /// The streams whose apps run.
    pub streams: StreamMap<StreamIo>,
    /// The driver's task.
    pub driver: Option<Waker>,
    /// The connection is gone (the peer left, a write failed or stalled, a connection error):
    /// every app is told its client left.
    pub gone: bool,
    /// Streams waiting for their last bytes to be written.
    pub flush_waiters: Vec<Waker>,
}

/// One stream, as its app's `receive` and `send` see it.
#[derive(Default)]
pub(super) struct StreamIo {
    /// Request body pieces not yet received by the app.
    pub inbox: VecDeque<Bytes>,
    /// The request body is complete (END_STREAM, or trailers).
    pub body_done: bool,
    /// The app was told the body is complete.
    pub told_end: bool,
    /// The stream was reset (by the peer, or for an error).
    pub reset: bool,
    /// The app waits in `receive`.
    pub recv_waker: Option<Waker>,
    /// The app waits in `send`.
    pub send_waker: Option<Waker>,
    /// The request asked for `100 Continue` before its body.
    pub expect_continue: bool,
    /// The response so far.
    pub response: Response,
}

/// A stream's response, as the app has sent it.
#[derive(Default)]
pub(super) struct Response {
    /// The head went out.
    pub started: bool,
    /// The app promised trailers.
    pub trailers: bool,
    /// The final body message went out (trailers may follow).
    pub body_done: bool,
    /// The response is complete.
    pub complete: bool,
    /// The status sent.
    pub status: u16,
    /// Body bytes sent.
    pub body_bytes: u64,
    /// The app's `content-length`.
    pub content_length: Option<u64>,
    /// The app gave up on the request body: answer this status if nothing was sent.
    pub refused_body: Option<u16>,
}

impl Shared {
    pub(super) fn new(conn: ServerConnection) -> Shared {
        Shared {
            conn,
            streams: StreamMap::default(),
            driver: None,
            gone: false,
            flush_waiters: Vec::new(),
        }
    }

    /// Wake the driver: output is queued, or a stream finished.
    pub(super) fn wake_driver(&mut self) {
        if let Some(waker) = self.driver.take() {
            waker.wake();
        }
    }

    /// Wake every stream waiting to send (a window opened, or output was written).
    pub(super) fn wake_senders(&mut self) {
        for io in self.streams.values_mut() {
            if let Some(waker) = io.send_waker.take() {
                waker.wake();
            }
        }
    }

    /// Wake every stream waiting for its bytes to be written.
    pub(super) fn wake_flushed(&mut self) {
        for waker in self.flush_waiters.drain(..) {
            waker.wake();
        }
    }

    /// The connection is gone: every app is told so.
    pub(super) fn lose(&mut self) {
        self.gone = true;
        for io in self.streams.values_mut() {
            io.reset = true;
            if let Some(waker) = io.recv_waker.take() {
                waker.wake();
            }
            if let Some(waker) = io.send_waker.take() {
                waker.wake();
            }
        }
        self.wake_flushed();
    }
}

/// The shared state, locked.
pub(super) fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

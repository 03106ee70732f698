//! [`StallTimer`]: "no progress for this long", for the body-read and send timeouts.
//!
//! The rule: a connection that never stalls never pays for a timer. The timer is made the
//! first time a read or write has to wait, and reused (moved, not remade) after that.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// One countdown, restarted whenever progress is made.
pub(crate) struct StallTimer {
    /// How long a wait may last without progress.
    limit: Duration,
    /// Made on the first wait; boxed so that a connection's future does not carry it.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl StallTimer {
    pub(crate) fn new(limit: Duration) -> StallTimer {
        StallTimer { limit, sleep: None }
    }

    /// Start the countdown again: a wait begins, or progress was made.
    pub(crate) fn restart(&mut self) {
        let deadline = Instant::now() + self.limit;
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().reset(deadline),
            None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
    }

    /// Whether the countdown has run out; if not, `cx` is woken when it does.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.sleep
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready())
    }
}

//! [`Shutdown`]: a cancellation signal every connection can check or wait on, in the manner of
//! tokio-util's `CancellationToken` (built on `tokio::sync::watch`, no extra dependency).

use tokio::sync::watch;

/// A clonable "the server is stopping" signal.
#[derive(Clone, Debug)]
pub struct Shutdown {
    sender: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A signal that has not fired.
    pub fn new() -> Shutdown {
        Shutdown {
            sender: std::sync::Arc::new(watch::Sender::new(false)),
        }
    }

    /// Fire the signal (idempotent).
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Whether the signal has fired.
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// Wait until the signal fires.
    pub async fn triggered(&self) {
        self.listener().fired().await;
    }

    /// A listener to wait on many times (one per connection, not one per wait).
    pub fn listener(&self) -> ShutdownListener {
        ShutdownListener(self.sender.subscribe())
    }
}

/// Waits for a [`Shutdown`] signal; reusable.
#[derive(Debug)]
pub struct ShutdownListener(watch::Receiver<bool>);

impl ShutdownListener {
    /// Resolves once the signal has fired (at once if it already has).
    pub async fn fired(&mut self) {
        // A closed channel means the server is gone: treat it as fired.
        let _ = self.0.wait_for(|&fired| fired).await;
    }
}

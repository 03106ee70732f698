//! [`ServerError`]: why the server stopped with an error.

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The app's lifespan startup failed; the message is the app's.
    #[error("lifespan startup failed: {0}")]
    StartupFailed(String),
    /// Binding or accepting failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

//! The lifespan protocol: the app's startup before the first accept, its shutdown after the last
//! connection.
//!
//! The app is called once with [`Scope::Lifespan`] on its own task and talks to the server over
//! two small channels. An app that returns (or fails) before answering `Startup` does not speak
//! lifespan: the server goes on without it, as uvicorn's `--lifespan auto` does.

use std::sync::Arc;
use std::time::Duration;

use rasgi_protocol::{
    App, AppError, Event, LifespanScope, Message, Receive, Scope, SendError, Sender, State,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::ServerError;

/// A running lifespan call, waiting for `Shutdown`: what [`startup`] hands back for
/// [`shutdown`] (the server's own, or an in-memory client's such as `rasgi::testing`).
pub struct Lifespan {
    events: mpsc::Sender<Event>,
    messages: mpsc::Receiver<Message>,
    task: JoinHandle<Result<(), AppError>>,
}

struct EventChannel(mpsc::Receiver<Event>);

impl Receive for EventChannel {
    async fn receive(&mut self) -> Event {
        self.0.recv().await.unwrap_or(Event::Disconnect)
    }
}

struct MessageChannel(mpsc::Sender<Message>);

impl Sender for MessageChannel {
    async fn send(&mut self, message: Message) -> Result<(), SendError> {
        match message {
            Message::StartupComplete
            | Message::StartupFailed(_)
            | Message::ShutdownComplete
            | Message::ShutdownFailed(_) => self
                .0
                .send(message)
                .await
                .map_err(|_| SendError::Disconnected),
            _ => Err(SendError::WrongScope),
        }
    }
}

/// Run the app's startup, on a task of its own that stays for the shutdown; `state` is the
/// state every request will see. `Ok(None)`: the app does not speak lifespan.
pub async fn startup<A: App>(app: Arc<A>, state: State) -> Result<Option<Lifespan>, ServerError> {
    let (events, event_rx) = mpsc::channel(1);
    let (message_tx, mut messages) = mpsc::channel(1);
    let task = tokio::spawn(async move {
        let scope = Scope::Lifespan(LifespanScope { state });
        app.call(scope, EventChannel(event_rx), MessageChannel(message_tx))
            .await
    });
    let _ = events.send(Event::Startup).await;
    match messages.recv().await {
        Some(Message::StartupComplete) => Ok(Some(Lifespan {
            events,
            messages,
            task,
        })),
        Some(Message::StartupFailed(message)) => Err(ServerError::StartupFailed(message)),
        Some(other) => Err(ServerError::StartupFailed(format!(
            "unexpected lifespan message {other:?}"
        ))),
        None => {
            match task.await {
                Ok(Err(error)) => tracing::info!(%error, "the app does not support lifespan"),
                Err(join) if join.is_panic() => {
                    return Err(ServerError::StartupFailed(
                        "lifespan startup panicked".into(),
                    ))
                }
                _ => tracing::debug!("the app returned from lifespan without startup; going on"),
            }
            Ok(None)
        }
    }
}

/// Run the app's shutdown, waiting at most `timeout`.
pub async fn shutdown(mut lifespan: Lifespan, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    let _ = lifespan.events.send(Event::Shutdown).await;
    match tokio::time::timeout_at(deadline, lifespan.messages.recv()).await {
        Ok(Some(Message::ShutdownComplete)) => tracing::debug!("lifespan shutdown complete"),
        Ok(Some(Message::ShutdownFailed(message))) => {
            tracing::error!(%message, "lifespan shutdown failed")
        }
        Ok(_) => tracing::warn!("the app ended lifespan without answering shutdown"),
        Err(_) => tracing::warn!("lifespan shutdown did not finish in time"),
    }
    drop(lifespan.events);
    let abort = lifespan.task.abort_handle();
    if tokio::time::timeout_at(deadline, lifespan.task)
        .await
        .is_err()
    {
        // Past the one deadline: the lifespan does not keep the server from stopping.
        abort.abort();
    }
}

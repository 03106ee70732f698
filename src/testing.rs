//! [`TestClient`]: drive an [`App`] in memory, without sockets, as Starlette's TestClient does.
//!
//! The app runs on its own task; the client feeds the request body as `Event::Request`
//! messages and reads the response messages as they are sent, so a streaming response can be
//! read chunk by chunk while the app is still producing it. Background tasks run on the
//! client's executor once the final body has been sent, exactly as the server hands them over.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use rasgi_background::{Batch, Counters, Executor};
use rasgi_protocol::{
    App, AppError, BackgroundTasks, Event, Headers, HttpScope, Message, Receive, Scheme, Scope,
    SendError, Sender, State,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// An in-memory client for one app.
pub struct TestClient<A> {
    app: Arc<A>,
    executor: Executor,
    state: State,
}

impl<A: App> TestClient<A> {
    /// A client for `app`, with its own executor and lifespan state.
    pub fn new(app: A) -> TestClient<A> {
        TestClient {
            app: Arc::new(app),
            executor: Executor::default(),
            state: State::new(),
        }
    }

    /// The lifespan state the requests see.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// A request for `method` and `target` (`/path?query`).
    pub fn request(&self, method: &str, target: &str) -> RequestBuilder<'_, A> {
        let mut scope = HttpScope::new(method, target);
        scope.headers.append("host", "testserver");
        scope.client = Some(SocketAddr::from(([127, 0, 0, 1], 50000)));
        scope.server = Some(SocketAddr::from(([127, 0, 0, 1], 80)));
        scope.state = self.state.clone();
        RequestBuilder {
            client: self,
            scope,
            chunks: Vec::new(),
        }
    }

    /// `GET target`.
    pub fn get(&self, target: &str) -> RequestBuilder<'_, A> {
        self.request("GET", target)
    }

    /// `POST target`.
    pub fn post(&self, target: &str) -> RequestBuilder<'_, A> {
        self.request("POST", target)
    }

    /// Wait until every background task handed over so far has finished; returns the counters.
    pub async fn background_done(&self) -> Counters {
        loop {
            let counters = self.executor.counters();
            let finished =
                counters.completed + counters.failed + counters.panicked + counters.cancelled;
            if finished >= counters.submitted && counters.running == 0 {
                return counters;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    /// The executor's counters now.
    pub fn background_counters(&self) -> Counters {
        self.executor.counters()
    }
}

/// A request being built.
pub struct RequestBuilder<'c, A> {
    client: &'c TestClient<A>,
    scope: HttpScope,
    chunks: Vec<Bytes>,
}

impl<A: App> RequestBuilder<'_, A> {
    /// Add a request header (`host` replaces the default `testserver`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if name.eq_ignore_ascii_case("host") {
            self.scope.headers.set("host", value.to_string());
        } else {
            self.scope
                .headers
                .append(name.to_ascii_lowercase(), value.to_string());
        }
        self
    }

    /// The whole request body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.chunks = vec![body.into()];
        self
    }

    /// The request body, sent as several `Event::Request` messages.
    pub fn chunks<I: IntoIterator<Item = B>, B: Into<Bytes>>(mut self, chunks: I) -> Self {
        self.chunks = chunks.into_iter().map(Into::into).collect();
        self
    }

    /// The client's address as the scope reports it.
    pub fn client_addr(mut self, addr: SocketAddr) -> Self {
        self.scope.client = Some(addr);
        self
    }

    /// `https` instead of `http`.
    pub fn https(mut self) -> Self {
        self.scope.scheme = Scheme::Https;
        self
    }

    /// Send the request and read the whole response.
    pub async fn send(self) -> TestResponse {
        let mut stream = self.stream().await;
        let mut body = Vec::new();
        while let Some(chunk) = stream.chunk().await {
            body.extend_from_slice(&chunk);
        }
        let error = stream.finish().await.err().map(|e| e.to_string());
        TestResponse {
            status: stream.status,
            headers: stream.headers,
            body: Bytes::from(body),
            error,
        }
    }

    /// Send the request and return as soon as the response start arrives; read the body with
    /// [`StreamingResponse::chunk`].
    pub async fn stream(self) -> StreamingResponse {
        let (messages_tx, mut messages) = mpsc::unbounded_channel();
        let background = BackgroundTasks::new();
        let mut scope = self.scope;
        scope.background = background.clone();
        let label = format!("{} {}", scope.method, scope.path);
        let app = Arc::clone(&self.client.app);
        let executor = self.client.executor.clone();
        let chunks = self.chunks;
        let task = tokio::spawn(async move {
            let receive = BodyFeed {
                chunks: chunks.into_iter().collect(),
                done: false,
            };
            let mut send = Collect {
                messages: messages_tx,
                complete: false,
            };
            let result = app.call(Scope::Http(scope), receive, &mut send).await;
            let batch = Batch {
                label: label.into(),
                tasks: background.take(),
            };
            if send.complete {
                executor.submit(batch);
            } else {
                executor.drop_batch(batch, "the response did not complete");
            }
            result
        });
        let mut status = 0;
        let mut headers = Headers::new();
        // Informational responses (103) are skipped; the start is what a client acts on.
        while let Some(message) = messages.recv().await {
            if let Message::Start {
                status: s,
                headers: h,
                ..
            } = message
            {
                status = s;
                headers = h;
                break;
            }
        }
        StreamingResponse {
            status,
            headers,
            messages,
            task: Some(task),
            ended: false,
        }
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// The status (0 if the app sent no start).
    pub status: u16,
    /// The header fields.
    pub headers: Headers,
    /// The whole body.
    pub body: Bytes,
    /// The app's error, if it returned one.
    pub error: Option<String>,
}

impl TestResponse {
    /// A header value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get_str(name)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A response whose body is read as it is sent.
pub struct StreamingResponse {
    /// The status (0 if the app sent no start).
    pub status: u16,
    /// The header fields.
    pub headers: Headers,
    messages: mpsc::UnboundedReceiver<Message>,
    task: Option<JoinHandle<Result<(), AppError>>>,
    ended: bool,
}

impl StreamingResponse {
    /// The next body message's bytes; `None` after the final one (or if the app stopped).
    pub async fn chunk(&mut self) -> Option<Bytes> {
        if self.ended {
            return None;
        }
        loop {
            match self.messages.recv().await {
                Some(Message::Body { body, more_body }) => {
                    self.ended = !more_body;
                    return Some(body);
                }
                Some(_) => continue,
                None => {
                    self.ended = true;
                    return None;
                }
            }
        }
    }

    /// Wait for the app to return; its result.
    pub async fn finish(&mut self) -> Result<(), AppError> {
        match self.task.take() {
            Some(task) => task.await.map_err(|e| AppError::from(e.to_string()))?,
            None => Ok(()),
        }
    }
}

/// Feeds the request body, then `Disconnect`.
struct BodyFeed {
    chunks: std::collections::VecDeque<Bytes>,
    done: bool,
}

impl Receive for BodyFeed {
    async fn receive(&mut self) -> Event {
        if self.done {
            return Event::Disconnect;
        }
        let body = self.chunks.pop_front().unwrap_or_default();
        let more_body = !self.chunks.is_empty();
        self.done = !more_body;
        Event::Request { body, more_body }
    }
}

/// Forwards the response messages to the client, keeping the order rules of a server.
struct Collect {
    messages: mpsc::UnboundedSender<Message>,
    complete: bool,
}

impl Sender for Collect {
    async fn send(&mut self, message: Message) -> Result<(), SendError> {
        if self.complete {
            return Err(SendError::OutOfOrder("body after the final body"));
        }
        if let Message::Body {
            more_body: false, ..
        } = &message
        {
            self.complete = true;
        }
        self.messages
            .send(message)
            .map_err(|_| SendError::Disconnected)
    }
}

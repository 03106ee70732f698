//! [`TestClient`]: drive an [`App`] in memory, without sockets, as Starlette's TestClient does,
//! through the server's own connection state machine ([`rasgi::h1::ServerConn`]).
//!
//! The request is written as HTTP/1.1 bytes and read by the machine, so the scope, the body's
//! framing, `100 Continue` and the `Disconnect` timing are the server's. Every message the app
//! sends goes through the machine first: what it refuses on a socket it refuses here, with the
//! same error, and what it answers itself (a 500 for an app that failed before its response, a
//! 413 for a body over the limit) is what the client reads. The client sees the messages the
//! machine accepted, as they are sent, so a streaming response can be read chunk by chunk while
//! the app is still producing it. Background tasks run on the client's executor once the final
//! body has been sent, exactly as the server hands them over.
//!
//! [`rasgi::h1::ServerConn`]: crate::h1::ServerConn

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use rasgi_background::{Batch, Counters, Executor};
use rasgi_h1::conn::{
    answer_text, AppOutcome, BodyEvent, HeadEvent, ResponsePhase, Settings, ANSWER_CONTENT_TYPE,
};
use rasgi_h1::{Limits, ServerConn};
use rasgi_protocol::{
    App, AppError, BackgroundTasks, ByteStr, Event, Headers, Message, Receive, Scheme, Scope,
    SendError, Sender, State,
};
use rasgi_server::asgi::{http_scope, send_message, ScopeParts};
use rasgi_server::config::{DEFAULT_DRAIN_LIMIT_BYTES, DEFAULT_MAX_BODY_BYTES};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

mod websocket;
pub use websocket::{TestWebSocket, WebSocketBuilder, WebSocketClosed, WebSocketRefused};

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
        RequestBuilder {
            client: self,
            method: method.to_string(),
            target: target.to_string(),
            headers: vec![("host".to_string(), "testserver".to_string())],
            chunks: Vec::new(),
            client_addr: SocketAddr::from(([127, 0, 0, 1], 50000)),
            https: false,
        }
    }

    /// `GET target`.
    pub fn get(&self, target: &str) -> RequestBuilder<'_, A> {
        self.request("GET", target)
    }

    /// A WebSocket to `path` (`/path?query`), to add fields and subprotocols to before
    /// connecting.
    pub fn websocket(&self, path: &str) -> WebSocketBuilder<'_, A> {
        WebSocketBuilder::new(self, path)
    }

    /// Open a WebSocket to `path`, as Starlette's `websocket_connect`: the handshake goes
    /// through the server's own connection driver over an in-memory stream, so what the app
    /// answers (accept, close, a denial response) is what a socket client would see.
    pub async fn websocket_connect(&self, path: &str) -> Result<TestWebSocket, WebSocketRefused> {
        self.websocket(path).connect().await
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
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    chunks: Vec<Bytes>,
    client_addr: SocketAddr,
    https: bool,
}

impl<A: App> RequestBuilder<'_, A> {
    /// Add a request header (`host` replaces the default `testserver`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = name.to_ascii_lowercase();
        if name == "host" {
            self.headers.retain(|(n, _)| n != "host");
        }
        self.headers.push((name, value.to_string()));
        self
    }

    /// The whole request body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.chunks = vec![body.into()];
        self
    }

    /// The request body, sent as several `Event::Request` messages (chunked on the wire).
    pub fn chunks<I: IntoIterator<Item = B>, B: Into<Bytes>>(mut self, chunks: I) -> Self {
        self.chunks = chunks.into_iter().map(Into::into).collect();
        self
    }

    /// The client's address as the scope reports it.
    pub fn client_addr(mut self, addr: SocketAddr) -> Self {
        self.client_addr = addr;
        self
    }

    /// `https` instead of `http`.
    pub fn https(mut self) -> Self {
        self.https = true;
        self
    }

    /// The request as HTTP/1.1 bytes: one body is framed by `content-length`, several by
    /// chunks (one per piece, so the app receives them as they were given).
    fn wire_bytes(&self) -> BytesMut {
        let mut bytes = BytesMut::new();
        let line = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        bytes.extend_from_slice(line.as_bytes());
        for (name, value) in &self.headers {
            bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        let framed_by_caller = self
            .headers
            .iter()
            .any(|(n, _)| n == "content-length" || n == "transfer-encoding");
        match &self.chunks[..] {
            [] => bytes.extend_from_slice(b"\r\n"),
            [body] if !framed_by_caller => {
                bytes.extend_from_slice(
                    format!("content-length: {}\r\n\r\n", body.len()).as_bytes(),
                );
                bytes.extend_from_slice(body);
            }
            _ if framed_by_caller => {
                bytes.extend_from_slice(b"\r\n");
                for chunk in &self.chunks {
                    bytes.extend_from_slice(chunk);
                }
            }
            chunks => {
                bytes.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
                for chunk in chunks.iter().filter(|c| !c.is_empty()) {
                    bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    bytes.extend_from_slice(chunk);
                    bytes.extend_from_slice(b"\r\n");
                }
                bytes.extend_from_slice(b"0\r\n\r\n");
            }
        }
        bytes
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
            complete: stream.complete,
        }
    }

    /// Send the request and return as soon as the response start arrives; read the body with
    /// [`StreamingResponse::chunk`].
    pub async fn stream(self) -> StreamingResponse {
        let (messages_tx, messages) = mpsc::unbounded_channel();
        let mut input = self.wire_bytes();
        let mut conn = ServerConn::new(settings());
        let request = match conn.read_head(&mut input) {
            HeadEvent::Request(request) => request,
            HeadEvent::Refused(status) => {
                answer(&messages_tx, status);
                return StreamingResponse::read(messages, None).await;
            }
            HeadEvent::NeedMore | HeadEvent::Closed => {
                answer(&messages_tx, 400);
                return StreamingResponse::read(messages, None).await;
            }
        };
        let background = BackgroundTasks::new();
        let root_path = ByteStr::default();
        let scope = http_scope(
            request,
            ScopeParts {
                client: Some(self.client_addr),
                server: Some(SocketAddr::from(([127, 0, 0, 1], 80))),
                state: &self.client.state,
                root_path: &root_path,
                scheme: if self.https {
                    Scheme::Https
                } else {
                    Scheme::Http
                },
            },
            background.clone(),
        );
        let label = format!("{} {}", scope.method, scope.path);
        let app = Arc::clone(&self.client.app);
        let executor = self.client.executor.clone();
        let exchange = Arc::new(Mutex::new(Exchange { conn, input }));
        let task = tokio::spawn(async move {
            let receive = Feed {
                exchange: Arc::clone(&exchange),
                client: messages_tx.clone(),
            };
            let mut send = Collect {
                exchange: Arc::clone(&exchange),
                messages: messages_tx.clone(),
                held: None,
            };
            let result = app.call(Scope::Http(scope), receive, &mut send).await;
            let outcome = lock(&exchange).conn.app_returned(result.is_err());
            match outcome {
                AppOutcome::BodyRefused(status) => answer(&messages_tx, status),
                AppOutcome::FailedBeforeStart | AppOutcome::NoResponse => {
                    answer(&messages_tx, 500);
                }
                _ => {}
            }
            let batch = Batch {
                label: label.into(),
                tasks: background.take(),
            };
            if outcome.response_complete() {
                executor.submit(batch).await;
            } else {
                executor.drop_batch(batch, "the response did not complete");
            }
            result
        });
        StreamingResponse::read(messages, Some(task)).await
    }
}

/// The state machine's settings: the server's defaults, without `date` and `server` (the
/// client reads messages, not bytes).
fn settings() -> Settings {
    Settings {
        limits: Limits::default(),
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        drain_limit_bytes: DEFAULT_DRAIN_LIMIT_BYTES,
        server_header: false,
        date_line: None,
    }
}

/// The server's own answer with `status`, as the messages the client reads.
fn answer(messages: &mpsc::UnboundedSender<Message>, status: u16) {
    let headers = Headers::new().with("content-type", ANSWER_CONTENT_TYPE);
    let _ = messages.send(Message::start(status, headers));
    let _ = messages.send(Message::body(answer_text(status)));
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
    /// Whether the final body arrived (false: the response was cut short, where a socket would
    /// be closed mid-body).
    pub complete: bool,
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
    /// The final body arrived.
    complete: bool,
}

impl StreamingResponse {
    /// Wait for the response start (informational responses such as 103 are skipped: the start
    /// is what a client acts on).
    async fn read(
        mut messages: mpsc::UnboundedReceiver<Message>,
        task: Option<JoinHandle<Result<(), AppError>>>,
    ) -> StreamingResponse {
        let mut status = 0;
        let mut headers = Headers::new();
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
            task,
            ended: false,
            complete: false,
        }
    }

    /// The next body message's bytes; `None` after the final one (or if the app stopped).
    pub async fn chunk(&mut self) -> Option<Bytes> {
        if self.ended {
            return None;
        }
        loop {
            match self.messages.recv().await {
                Some(Message::Body { body, more_body }) => {
                    self.ended = !more_body;
                    self.complete = !more_body;
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

    /// Whether the final body has arrived.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Wait for the app to return; its result.
    pub async fn finish(&mut self) -> Result<(), AppError> {
        match self.task.take() {
            Some(task) => task.await.map_err(|e| AppError::from(e.to_string()))?,
            None => Ok(()),
        }
    }
}

/// The state machine and the request bytes it reads, shared by the app's `receive` and
/// `send` (on one task; the lock is never held across an await).
struct Exchange {
    conn: ServerConn,
    input: BytesMut,
}

fn lock(exchange: &Mutex<Exchange>) -> MutexGuard<'_, Exchange> {
    exchange
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The app's `receive`: the request body as the state machine decodes it, then `Disconnect`
/// when the machine says so.
struct Feed {
    exchange: Arc<Mutex<Exchange>>,
    /// The client's end of the response: it "leaves" when the response is dropped.
    client: mpsc::UnboundedSender<Message>,
}

impl Receive for Feed {
    async fn receive(&mut self) -> Event {
        loop {
            let step = {
                let mut exchange = lock(&self.exchange);
                let Exchange { conn, input } = &mut *exchange;
                conn.receive(input)
            };
            match step {
                BodyEvent::Body { data, more } => {
                    return Event::Request {
                        body: data,
                        more_body: more,
                    }
                }
                BodyEvent::Disconnect => return Event::Disconnect,
                // The whole request was there from the start: nothing more will come.
                BodyEvent::NeedMore => lock(&self.exchange).conn.read_closed(),
                BodyEvent::WriteContinue => discard_output(&mut lock(&self.exchange).conn),
                BodyEvent::WaitForDisconnect => {
                    self.client.closed().await;
                    lock(&self.exchange).conn.read_closed();
                }
            }
        }
    }
}

/// The app's `send`: each message goes through the state machine, and on to the client only if
/// the machine took it (with the body the framing let through: none for HEAD, 204, 304). A
/// start reaches the client when the machine writes its head, with the first body: until then
/// the server may still answer in its place.
struct Collect {
    exchange: Arc<Mutex<Exchange>>,
    messages: mpsc::UnboundedSender<Message>,
    /// A start the machine holds for its first body.
    held: Option<Message>,
}

impl Sender for Collect {
    async fn send(&mut self, message: Message) -> Result<(), SendError> {
        let forwarded = {
            let mut exchange = lock(&self.exchange);
            let conn = &mut exchange.conn;
            let sent_before = conn.body_bytes();
            let forwarded = match &message {
                Message::Body { more_body, .. } => Message::Body {
                    body: Bytes::new(),
                    more_body: *more_body,
                },
                other => other.clone(),
            };
            let body = match &message {
                Message::Body { body, .. } => body.clone(),
                _ => Bytes::new(),
            };
            let sent = send_message(conn, message);
            discard_output(conn);
            let held_on = conn.response_phase() == ResponsePhase::StartHeld;
            match sent {
                Ok(_) if held_on => {
                    self.held = Some(forwarded);
                    return Ok(());
                }
                Ok(_) => match forwarded {
                    Message::Body { more_body, .. } if conn.body_bytes() > sent_before => {
                        Some(Message::Body { body, more_body })
                    }
                    other => Some(other),
                },
                // A head the machine wrote before it refused the body is on the wire.
                Err(error) if held_on => return Err(error),
                Err(error) => {
                    if let Some(start) = self.held.take() {
                        let _ = self.messages.send(start);
                    }
                    return Err(error);
                }
            }
        };
        let held = self.held.take();
        for message in held.into_iter().chain(forwarded) {
            if self.messages.send(message).is_err() {
                lock(&self.exchange).conn.write_failed();
                return Err(SendError::Disconnected);
            }
        }
        Ok(())
    }
}

/// The bytes the machine queued have nowhere to go: the client reads messages.
fn discard_output(conn: &mut ServerConn) {
    let queued = conn.output_len();
    conn.wrote(queued);
}

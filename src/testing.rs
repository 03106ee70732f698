//! [`TestClient`]: drive an [`App`] in memory, without sockets, as Starlette's TestClient does,
//! through the server's own connection driver.
//!
//! Each request opens an in-memory stream to a server of its own
//! ([`rasgi::server::Server::serve_connection`]) and is written as HTTP/1.1 bytes; the response
//! is read back as bytes. So everything an app meets on a socket it meets here: the scope, the
//! body's framing, `100 Continue`, the `Disconnect` timing, the server's own answers (a 500 for
//! an app that failed or panicked before its response, a 413 for a body over the limit), a
//! body cut short when an app fails after its start, the `date` and `server` fields, the
//! timeouts. A streaming response is read as it is written, chunk by chunk. Background tasks
//! run on the client's executor once their response has been written, as the server hands them
//! over.
//!
//! Lifespan runs as in Starlette's `with TestClient(app)`: the app's startup before the first
//! request ([`TestClient::start`] runs it at once and returns its failure as an error), its
//! shutdown at [`TestClient::close`] (or, without waiting for it, when the client is dropped),
//! and the state it leaves is the state every request sees.
//!
//! [`rasgi::server::Server::serve_connection`]: crate::server::Server::serve_connection

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use rasgi_background::{Counters, Executor};
use rasgi_protocol::{App, AppError, Headers, Receive, Scope, Sender, State};
use rasgi_server::lifespan::{self, Lifespan};
use rasgi_server::{Peers, Server, ServerConfig, ServerError};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{oneshot, OnceCell};

mod websocket;
pub use websocket::{TestWebSocket, WebSocketBuilder, WebSocketClosed, WebSocketRefused};

/// Bytes the in-memory stream holds each way.
const PIPE_BYTES: usize = 256 * 1024;

/// How long [`TestClient::close`] gives the app's lifespan shutdown.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// An in-memory client for one app.
pub struct TestClient<A: App> {
    app: Arc<A>,
    executor: Executor,
    state: State,
    /// The app's lifespan: started before the first request, shut down at close or drop.
    lifespan: OnceCell<Mutex<Option<Lifespan>>>,
}

impl<A: App> TestClient<A> {
    /// A client for `app`, with its own executor and lifespan state. The app's lifespan
    /// startup runs before the first request; a failed startup fails that request's test.
    pub fn new(app: A) -> TestClient<A> {
        TestClient {
            app: Arc::new(app),
            executor: Executor::default(),
            state: State::new(),
            lifespan: OnceCell::new(),
        }
    }

    /// A client for `app` whose lifespan startup has run (Starlette's `with TestClient(app)`);
    /// its failure is the error.
    pub async fn start(app: A) -> Result<TestClient<A>, ServerError> {
        let client = TestClient::new(app);
        client.started().await?;
        Ok(client)
    }

    /// Run the app's lifespan shutdown (if its startup ran) and wait for it.
    pub async fn close(self) {
        let running = self
            .lifespan
            .get()
            .and_then(|slot| slot.lock().unwrap_or_else(PoisonError::into_inner).take());
        if let Some(running) = running {
            lifespan::shutdown(running, SHUTDOWN_TIMEOUT).await;
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

    /// `POST target`.
    pub fn post(&self, target: &str) -> RequestBuilder<'_, A> {
        self.request("POST", target)
    }

    /// A WebSocket to `path` (`/path?query`), to add fields and subprotocols to before
    /// connecting.
    pub fn websocket(&self, path: &str) -> WebSocketBuilder<'_, A> {
        WebSocketBuilder::new(self, path)
    }

    /// Open a WebSocket to `path`, as Starlette's `websocket_connect`: what the app answers
    /// (accept, close, a denial response) is what a socket client would see.
    pub async fn websocket_connect(&self, path: &str) -> Result<TestWebSocket, WebSocketRefused> {
        self.websocket(path).connect().await
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
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The executor's counters now.
    pub fn background_counters(&self) -> Counters {
        self.executor.counters()
    }

    /// The lifespan startup, run once.
    async fn started(&self) -> Result<(), ServerError> {
        self.lifespan
            .get_or_try_init(|| async {
                let running = lifespan::startup(Arc::clone(&self.app), self.state.clone()).await?;
                Ok::<_, ServerError>(Mutex::new(running))
            })
            .await
            .map(|_| ())
    }

    /// A connection to a server of its own for `app`: the client's end of the stream, and where
    /// the app's result arrives. The server side ends by itself once the client's end is
    /// dropped.
    async fn connect(&self, peers: Peers) -> (DuplexStream, oneshot::Receiver<Option<String>>) {
        if let Err(error) = self.started().await {
            panic!("{error}");
        }
        let (io, server_io) = tokio::io::duplex(PIPE_BYTES);
        let (result, outcome) = oneshot::channel();
        let app = Recorded {
            app: Arc::clone(&self.app),
            result: Mutex::new(Some(result)),
        };
        let config = ServerConfig {
            access_log: false,
            ..ServerConfig::default()
        };
        let server = Server::with_config(app, config)
            .executor(self.executor.clone())
            .with_state(self.state.clone());
        tokio::spawn(async move { server.serve_connection(server_io, peers).await });
        (io, outcome)
    }
}

impl<A: App> Drop for TestClient<A> {
    fn drop(&mut self) {
        // Not closed: the shutdown runs on the runtime, if there still is one, unawaited.
        let running = self.lifespan.get_mut().and_then(|slot| {
            slot.get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
        });
        if let (Some(running), Ok(runtime)) = (running, tokio::runtime::Handle::try_current()) {
            runtime.spawn(lifespan::shutdown(running, SHUTDOWN_TIMEOUT));
        }
    }
}

/// The app, passing its result on to the client that made the connection.
struct Recorded<A> {
    app: Arc<A>,
    /// Where the result goes: the connection's one call takes it.
    result: Mutex<Option<oneshot::Sender<Option<String>>>>,
}

impl<A: App> App for Recorded<A> {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        receive: R,
        send: S,
    ) -> Result<(), AppError> {
        let taken = self
            .result
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let mut report = Report(taken);
        let result = self.app.call(scope, receive, send).await;
        report.send(result.as_ref().err().map(ToString::to_string));
        result
    }
}

/// The app's result on its way to the client; a call that never returned reports why.
struct Report(Option<oneshot::Sender<Option<String>>>);

impl Report {
    fn send(&mut self, error: Option<String>) {
        if let Some(result) = self.0.take() {
            let _ = result.send(error);
        }
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        let why = if std::thread::panicking() {
            "the app panicked"
        } else {
            "the app's call was cut off by the server"
        };
        self.send(Some(why.to_string()));
    }
}

/// A request being built.
pub struct RequestBuilder<'c, A: App> {
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

    /// `https` instead of `http` (the connection counts as TLS).
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
            headers: std::mem::take(&mut stream.headers),
            body: Bytes::from(body),
            error,
            complete: stream.complete,
        }
    }

    /// Send the request and return as soon as the response's head arrives; read the body with
    /// [`StreamingResponse::chunk`].
    pub async fn stream(self) -> StreamingResponse {
        let peers = Peers {
            client: Some(self.client_addr),
            server: Some(SocketAddr::from(([127, 0, 0, 1], 80))),
            tls: self.https,
            tls_info: None,
        };
        let (mut io, outcome) = self.client.connect(peers).await;
        // A request the server refuses before reading all of it is answered all the same.
        let _ = io.write_all(&self.wire_bytes()).await;
        StreamingResponse::read(io, outcome, self.method == "HEAD").await
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// The status (0 if no response came).
    pub status: u16,
    /// The header fields.
    pub headers: Headers,
    /// The whole body.
    pub body: Bytes,
    /// The app's error, if it returned one (or panicked).
    pub error: Option<String>,
    /// Whether the body arrived whole (false: the server cut it short and closed, as it does
    /// when an app fails mid-body).
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

/// How the response's body is framed on the wire.
#[derive(Debug)]
enum Framing {
    /// No body (HEAD, 204, 304), or it has been read.
    Done,
    /// `content-length`: this many bytes left.
    Length(usize),
    /// Chunked.
    Chunked,
    /// Until the server closes.
    UntilClose,
}

/// A response whose body is read as it is sent.
pub struct StreamingResponse {
    /// The status (0 if no response came).
    pub status: u16,
    /// The header fields.
    pub headers: Headers,
    /// The client's end of the connection.
    io: DuplexStream,
    /// Bytes read and not yet used.
    buf: BytesMut,
    framing: Framing,
    /// The body arrived whole.
    complete: bool,
    /// Where the app's result arrives.
    outcome: Option<oneshot::Receiver<Option<String>>>,
}

impl StreamingResponse {
    /// Read the response's head (informational responses such as 103 are skipped: the final
    /// head is what a client acts on).
    async fn read(
        io: DuplexStream,
        outcome: oneshot::Receiver<Option<String>>,
        head_request: bool,
    ) -> StreamingResponse {
        let mut response = StreamingResponse {
            status: 0,
            headers: Headers::new(),
            io,
            buf: BytesMut::new(),
            framing: Framing::Done,
            complete: false,
            outcome: Some(outcome),
        };
        loop {
            let Some(head) = response.head().await else {
                return response;
            };
            let Some((status, headers)) = parse_head(&head) else {
                return response;
            };
            if (100..200).contains(&status) && status != 101 {
                continue;
            }
            response.framing = if head_request || status == 204 || status == 304 {
                Framing::Done
            } else if headers
                .get_str("transfer-encoding")
                .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
            {
                Framing::Chunked
            } else if let Some(length) = headers.get_str("content-length") {
                Framing::Length(length.parse().unwrap_or(0))
            } else {
                Framing::UntilClose
            };
            response.complete = matches!(response.framing, Framing::Done);
            response.status = status;
            response.headers = headers;
            return response;
        }
    }

    /// The next head's bytes; `None` if the stream ends first.
    async fn head(&mut self) -> Option<BytesMut> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Some(self.buf.split_to(end + 4));
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// Read more bytes; false at the end of the stream.
    async fn fill(&mut self) -> bool {
        matches!(self.io.read_buf(&mut self.buf).await, Ok(n) if n > 0)
    }

    /// The next piece of the body: a chunk as the server framed it (one per message the app
    /// sent), or what has arrived of a body with a length. `None` once the body is over, or
    /// cut short.
    pub async fn chunk(&mut self) -> Option<Bytes> {
        loop {
            match self.framing {
                Framing::Done => return None,
                Framing::Length(0) => {
                    self.framing = Framing::Done;
                    self.complete = true;
                    return None;
                }
                Framing::Length(left) if !self.buf.is_empty() => {
                    let piece = self.buf.split_to(left.min(self.buf.len())).freeze();
                    self.framing = Framing::Length(left - piece.len());
                    return Some(piece);
                }
                Framing::UntilClose if !self.buf.is_empty() => {
                    return Some(self.buf.split().freeze());
                }
                Framing::Chunked => {
                    if let Some(piece) = self.next_chunk() {
                        return piece;
                    }
                }
                Framing::Length(_) | Framing::UntilClose => {}
            }
            if !self.fill().await {
                // The server closed: a body that ends with the connection is whole.
                self.complete = matches!(self.framing, Framing::UntilClose);
                self.framing = Framing::Done;
                return None;
            }
        }
    }

    /// One whole chunk from the buffer: `Some(Some(data))`, `Some(None)` for the last chunk
    /// (trailers read and dropped), `None` for more bytes.
    fn next_chunk(&mut self) -> Option<Option<Bytes>> {
        let line_end = self.buf.windows(2).position(|w| w == b"\r\n")?;
        let line = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            self.framing = Framing::Done;
            return Some(None);
        };
        if size == 0 {
            let trailers_end = self.buf[line_end..]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")?;
            self.buf.advance(line_end + trailers_end + 4);
            self.framing = Framing::Done;
            self.complete = true;
            return Some(None);
        }
        if self.buf.len() < line_end + 2 + size + 2 {
            return None;
        }
        self.buf.advance(line_end + 2);
        let data = self.buf.split_to(size).freeze();
        self.buf.advance(2);
        Some(Some(data))
    }

    /// Whether the body has arrived whole.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Leave (the app's `receive` says `Disconnect` once it has read the request) and wait for
    /// the app to return; its result.
    pub async fn finish(&mut self) -> Result<(), AppError> {
        let _ = self.io.shutdown().await;
        let Some(outcome) = self.outcome.take() else {
            return Ok(());
        };
        match outcome.await {
            Ok(None) => Ok(()),
            Ok(Some(error)) => Err(error.into()),
            // The server refused the request before the app ran.
            Err(_) => Ok(()),
        }
    }
}

/// The status and fields of a response head.
fn parse_head(head: &[u8]) -> Option<(u16, Headers)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let status = lines.next()?.get(9..12)?.parse().ok()?;
    let mut headers = Headers::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        headers.append(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    Some((status, headers))
}

//! The demo's routes. Each shows one idea: a plain response, a streamed echo, background tasks
//! added by a handler and by a dependency-style helper, streaming and server-sent events,
//! a compressible body, errors turned into responses, metrics, and a WebSocket echo.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use rasgi_protocol::{
    read_body, send_response, AppError, BackgroundTasks, Event, Headers, HttpScope, Message,
    ReadBodyError, Receive, SendError, Sender, State, WebSocketScope,
};

use crate::routing::{Routed, Router};

use super::{metrics, Demo, LogFile};

/// Largest JSON body `/send-data` reads.
const MAX_JSON_BYTES: usize = 1024 * 1024;

/// The FastAPI tutorial's typed error, answered 429 with `Retry-After` by the demo's exception handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitExceeded {
    /// Seconds the client should wait.
    pub retry_after: u32,
}

impl fmt::Display for RateLimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rate limit exceeded; retry after {} seconds",
            self.retry_after
        )
    }
}

impl std::error::Error for RateLimitExceeded {}

/// The demo's WebSocket routes: `/ws/echo` sends every message back as it came (text as text,
/// binary as binary). Any other path is refused (403).
pub(super) fn websocket<R: Receive, S: Sender>(
    scope: WebSocketScope,
    mut receive: R,
    mut send: S,
) -> impl Future<Output = Result<(), AppError>> + Send {
    let echo = scope.path == "/ws/echo";
    // The scope is not needed past the handshake: dropped here, before the future is made, it
    // gives back the handshake's fields and the read buffer they are slices of, and takes no
    // room in a future that lives as long as the WebSocket.
    drop(scope);
    async move {
        if receive.receive().await != Event::WebSocketConnect {
            return Ok(());
        }
        if !echo {
            send.send(Message::close(1000)).await?;
            return Ok(());
        }
        send.send(Message::accept()).await?;
        loop {
            match receive.receive().await {
                Event::WebSocketReceive(data) => {
                    match send.send(Message::WebSocketSend(data)).await {
                        Ok(()) => {}
                        // The client closed (or went) while its echo was on the way.
                        Err(SendError::Closed | SendError::Disconnected) => return Ok(()),
                        Err(error) => return Err(error.into()),
                    }
                }
                Event::WebSocketDisconnect { .. } => return Ok(()),
                _ => {}
            }
        }
    }
}

/// The demo's HTTP routes, in the order they are tried (the busiest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Page {
    Hello,
    Health,
    Whoami,
    Echo,
    Register,
    SendData,
    Notify,
    Stream,
    Sse,
    Big,
    Error,
    Panic,
    RateLimited,
    Metrics,
    Static,
}

/// The routes `route` serves; `/static` only with `--static-dir`.
pub(super) fn router(static_files: bool) -> Router<Page> {
    let router = Router::new()
        .get("/", Page::Hello)
        .get("/health", Page::Health)
        .get("/whoami", Page::Whoami)
        .post("/echo", Page::Echo)
        .post("/register", Page::Register)
        .post("/send-data", Page::SendData)
        .post("/send-notification/{email}", Page::Notify)
        .get("/stream", Page::Stream)
        .get("/sse", Page::Sse)
        .get("/big", Page::Big)
        .get("/error", Page::Error)
        .get("/panic", Page::Panic)
        .get("/rate-limited", Page::RateLimited)
        .get("/metrics", Page::Metrics);
    if static_files {
        router.mount("/static", Page::Static)
    } else {
        router
    }
}

/// A plain function returning an `async` block, not an `async fn`: an `async fn` keeps the
/// scope it is passed beside the one it binds (352 bytes more for the whole request).
#[allow(clippy::manual_async_fn)] // deliberately not an `async fn`: see above
pub(super) fn route<R: Receive, S: Sender>(
    demo: &Demo,
    scope: HttpScope,
    receive: R,
    mut send: S,
) -> impl Future<Output = Result<(), AppError>> + Send + use<'_, R, S> {
    async move {
        // `HEAD` reaches the `GET` route (the server sends no body for it); a miss is 404, or
        // 405 naming the methods the path takes, as FastAPI answers.
        let (page, email) = match demo.routes.route_scope(&scope) {
            Routed::Found(found) => (*found.target(), found.param("email")),
            Routed::Missed(miss) => {
                miss.answer(&mut send).await?;
                return Ok(());
            }
        };
        match page {
            Page::Hello => text(&mut send, 200, "Hello, World!").await,
            Page::Health => text(&mut send, 200, "ok").await,
            Page::Whoami => whoami(&scope, &mut send).await,
            Page::Echo => echo(&scope, receive, &mut send).await,
            Page::Register => register(demo, &scope, &mut send).await,
            // The two largest routes' futures are on the heap: a request's future is as large as
            // its largest route, and these two are rare.
            Page::SendData => Box::pin(send_data(&scope, receive, &mut send)).await,
            Page::Notify => {
                let email = email.unwrap_or_default();
                send_notification(demo, &scope, email, &mut send).await
            }
            Page::Stream => Box::pin(stream(&scope, &mut send)).await,
            Page::Sse => sse(&scope, &mut send).await,
            Page::Big => big(&scope, &mut send).await,
            Page::Error => Err("the /error route always fails".into()),
            Page::Panic => panic!("the /panic route always panics"),
            Page::RateLimited => Err(RateLimitExceeded { retry_after: 30 }.into()),
            Page::Metrics => {
                let body = metrics::render(
                    &demo.counts,
                    demo.executor.counters(),
                    demo.server_counters.snapshot(),
                );
                let headers =
                    Headers::new().with("content-type", "text/plain; version=0.0.4; charset=utf-8");
                send_response(&mut send, 200, headers, body).await?;
                Ok(())
            }
            // `--static-dir`'s files (boxed: rare next to the other routes, and large).
            Page::Static => Box::pin(static_file(demo, &scope, &mut send)).await,
        }
    }
}

async fn text<S: Sender>(send: &mut S, status: u16, body: &'static str) -> Result<(), AppError> {
    let headers = Headers::with_capacity(4).with("content-type", "text/plain; charset=utf-8");
    send_response(send, status, headers, Bytes::from_static(body.as_bytes())).await?;
    Ok(())
}

async fn json<S: Sender>(
    send: &mut S,
    status: u16,
    value: serde_json::Value,
) -> Result<(), AppError> {
    let headers = Headers::with_capacity(4).with("content-type", "application/json");
    send_response(send, status, headers, value.to_string()).await?;
    Ok(())
}

async fn bad_request<S: Sender>(send: &mut S, detail: String) -> Result<(), AppError> {
    json(send, 400, serde_json::json!({ "detail": detail })).await
}

/// `POST /echo`: the request body streamed back as it arrives, with its content type.
async fn echo<R: Receive, S: Sender>(
    scope: &HttpScope,
    mut receive: R,
    send: &mut S,
) -> Result<(), AppError> {
    let content_type = scope
        .headers
        .get("content-type")
        .cloned()
        .unwrap_or_else(|| Bytes::from_static(b"application/octet-stream"));
    send.send(Message::start(
        200,
        Headers::with_capacity(4).with("content-type", content_type),
    ))
    .await?;
    loop {
        match receive.receive().await {
            Event::Request { body, more_body } => {
                send.send(Message::Body { body, more_body }).await?;
                if !more_body {
                    return Ok(());
                }
            }
            _ => return Err(Box::new(ReadBodyError::Disconnected)),
        }
    }
}

/// Append `line` to the demo's log file (from the lifespan state).
fn log_line(state: &State, line: String) -> Result<(), AppError> {
    let log = state.get::<LogFile>().ok_or("the log file is not open")?;
    log.append(&line)?;
    Ok(())
}

/// `GET /whoami`: the client and scheme the app sees (after the proxy headers, if trusted).
async fn whoami<S: Sender>(scope: &HttpScope, send: &mut S) -> Result<(), AppError> {
    let client = scope.client.map(|addr| addr.to_string());
    let tls = scope.tls().map(|tls| {
        let cipher_suite = match tls.cipher_suite_name() {
            Some(name) => name.to_string(),
            None => format!("{:#06x}", tls.cipher_suite),
        };
        serde_json::json!({
            "version": tls.version_name(),
            "cipher_suite": cipher_suite,
            "client_cert_name": tls.client_cert_name,
        })
    });
    let who = serde_json::json!({ "client": client, "scheme": scope.scheme.as_str(), "tls": tls });
    json(send, 200, who).await
}

/// `GET /static/{path}`: the file, from `--static-dir`.
async fn static_file<S: Sender>(
    demo: &Demo,
    scope: &HttpScope,
    send: &mut S,
) -> Result<(), AppError> {
    let (Some(files), Some(raw)) = (
        &demo.config.static_files,
        scope.raw_path.strip_prefix(b"/static/"),
    ) else {
        return json(send, 404, serde_json::json!({ "detail": "Not Found" })).await;
    };
    files.serve(scope, raw, send).await?;
    Ok(())
}

/// `POST /register?email=E`: answer at once; the welcome e-mail is a background task.
async fn register<S: Sender>(demo: &Demo, scope: &HttpScope, send: &mut S) -> Result<(), AppError> {
    let Some(email) = scope.query_param("email").filter(|e| !e.is_empty()) else {
        return bad_request(send, "the query parameter email is required".into()).await;
    };
    let state = scope.state.clone();
    let delay = demo.config.email_delay;
    scope.background.add("send_welcome_email", async move {
        tokio::time::sleep(delay).await;
        log_line(&state, format!("welcome email sent to {email}"))
    });
    json(
        send,
        200,
        serde_json::json!({ "message": "Registration successful! Welcome email on the way" }),
    )
    .await
}

/// The dependency of `/send-notification`: logs the query, when there is one, as a task of its
/// own (FastAPI's `Depends(get_query)` with `background_tasks`).
fn get_query(scope: &HttpScope, tasks: &BackgroundTasks) -> Option<String> {
    let q = scope.query_param("q")?;
    let state = scope.state.clone();
    let line = format!("found query: {q}");
    tasks.add("log_query", async move { log_line(&state, line) });
    Some(q)
}

/// `POST /send-notification/{email}?q=Q`: two tasks, the dependency's first. The notification
/// is written by a blocking task, on the blocking pool (FastAPI runs a plain `def` task in its
/// thread pool).
async fn send_notification<S: Sender>(
    demo: &Demo,
    scope: &HttpScope,
    email: &str,
    send: &mut S,
) -> Result<(), AppError> {
    if email.is_empty() {
        return bad_request(send, "an email is required in the path".into()).await;
    }
    let _query = get_query(scope, &scope.background);
    let state = scope.state.clone();
    let line = format!("message to {email}");
    let delay = demo.config.notification_delay;
    scope
        .background
        .add_blocking("write_notification", move || {
            std::thread::sleep(delay);
            log_line(&state, line)
        });
    json(send, 200, serde_json::json!({ "message": "Message sent" })).await
}

/// `POST /send-data`: a JSON body, logged in the background.
async fn send_data<R: Receive, S: Sender>(
    scope: &HttpScope,
    mut receive: R,
    send: &mut S,
) -> Result<(), AppError> {
    let body = match read_body(&mut receive, MAX_JSON_BYTES).await {
        Ok(body) => body,
        // Answered 413 by ServerErrors (and by the server without it).
        Err(error @ ReadBodyError::TooLarge(_)) => return Err(error.into()),
        Err(error) => return bad_request(send, error.to_string()).await,
    };
    let data: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(data) => data,
        Err(error) => return bad_request(send, format!("the body is not JSON: {error}")).await,
    };
    let state = scope.state.clone();
    scope.background.add("log_data", async move {
        log_line(&state, format!("Received: {data}"))
    });
    json(
        send,
        200,
        serde_json::json!({ "message": "Data received. Logging in background." }),
    )
    .await
}

/// A query parameter that must be a whole number in `range` (or absent: `default`).
fn number(
    scope: &HttpScope,
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, String> {
    match scope.query_param(name) {
        None => Ok(default),
        Some(text) => match text.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(format!(
                "{name} must be a whole number from {} to {}, not {text:?}",
                range.start(),
                range.end()
            )),
        },
    }
}

/// `GET /stream?chunks=N&size=B&interval_ms=D`: each chunk written as soon as it is made.
async fn stream<S: Sender>(scope: &HttpScope, send: &mut S) -> Result<(), AppError> {
    let params = (|| {
        Ok::<_, String>((
            number(scope, "chunks", 10, 0..=1_000_000)?,
            number(scope, "size", 64, 1..=1 << 20)?,
            number(scope, "interval_ms", 100, 0..=60_000)?,
        ))
    })();
    let (chunks, size, interval) = match params {
        Ok(params) => params,
        Err(detail) => return bad_request(send, detail).await,
    };
    send.send(Message::start(
        200,
        Headers::with_capacity(4).with("content-type", "application/octet-stream"),
    ))
    .await?;
    let chunk = Bytes::from(vec![b'x'; size as usize]);
    for i in 0..chunks {
        if i > 0 && interval > 0 {
            tokio::time::sleep(Duration::from_millis(interval)).await;
        }
        send.send(Message::chunk(chunk.clone())).await?;
    }
    send.send(Message::body(Bytes::new())).await?;
    Ok(())
}

/// `GET /sse?events=N&interval_ms=D`: server-sent events, one every D ms.
async fn sse<S: Sender>(scope: &HttpScope, send: &mut S) -> Result<(), AppError> {
    let params = (|| {
        Ok::<_, String>((
            number(scope, "events", 5, 0..=1_000_000)?,
            number(scope, "interval_ms", 500, 0..=60_000)?,
        ))
    })();
    let (events, interval) = match params {
        Ok(params) => params,
        Err(detail) => return bad_request(send, detail).await,
    };
    let headers = Headers::with_capacity(4)
        .with("content-type", "text/event-stream")
        .with("cache-control", "no-cache");
    send.send(Message::start(200, headers)).await?;
    for i in 0..events {
        if i > 0 && interval > 0 {
            tokio::time::sleep(Duration::from_millis(interval)).await;
        }
        send.send(Message::chunk(format!("id: {i}\ndata: event {i}\n\n")))
            .await?;
    }
    send.send(Message::body(Bytes::new())).await?;
    Ok(())
}

/// `GET /big?size=N`: N bytes of compressible text.
async fn big<S: Sender>(scope: &HttpScope, send: &mut S) -> Result<(), AppError> {
    let size = match number(scope, "size", 100 * 1024, 0..=64 << 20) {
        Ok(size) => size as usize,
        Err(detail) => return bad_request(send, detail).await,
    };
    let headers = Headers::with_capacity(4).with("content-type", "text/plain; charset=utf-8");
    send_response(send, 200, headers, big_body(size)).await?;
    Ok(())
}

/// The bytes of a `/big` body, shared.
struct BigBody(std::sync::Arc<Vec<u8>>);

impl AsRef<[u8]> for BigBody {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// `size` bytes of `/big`'s text. Every response in flight shares one body, made when the first
/// asks and let go when the last is done: a thousand slow readers hold one body, not a thousand.
fn big_body(size: usize) -> Bytes {
    use std::sync::{Arc, Mutex, PoisonError, Weak};
    const LINE: &[u8] = b"rasgi streams, compresses and never buffers. ";
    static SHARED: Mutex<Weak<Vec<u8>>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    let body = match shared.upgrade() {
        Some(body) if body.len() >= size => body,
        _ => {
            let body = Arc::new(LINE.iter().copied().cycle().take(size).collect::<Vec<u8>>());
            *shared = Arc::downgrade(&body);
            body
        }
    };
    drop(shared);
    Bytes::from_owner(BigBody(body)).slice(..size)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rasgi_background::Executor;
    use rasgi_server::ServerCounters;

    use super::*;
    use crate::demo::{DemoConfig, RequestCounts};
    use crate::testing::TestClient;

    /// Every path the demo serves (a trailing `/` stands for a path with a parameter under it)
    /// and the methods a 405's `allow` names there.
    const ROUTES: [(&str, &str); 14] = [
        ("/", "GET, HEAD"),
        ("/health", "GET, HEAD"),
        ("/whoami", "GET, HEAD"),
        ("/stream", "GET, HEAD"),
        ("/sse", "GET, HEAD"),
        ("/big", "GET, HEAD"),
        ("/error", "GET, HEAD"),
        ("/panic", "GET, HEAD"),
        ("/rate-limited", "GET, HEAD"),
        ("/metrics", "GET, HEAD"),
        ("/echo", "POST"),
        ("/register", "POST"),
        ("/send-data", "POST"),
        ("/send-notification/", "POST"),
    ];

    #[tokio::test]
    async fn every_path_takes_its_methods_and_answers_any_other_with_405() {
        let client = TestClient::new(Demo {
            config: Arc::new(DemoConfig::default()),
            executor: Executor::default(),
            counts: Arc::new(RequestCounts::default()),
            server_counters: ServerCounters::new(),
            routes: Arc::new(router(false)),
        });
        for (route, allow) in ROUTES {
            let path = if route.len() > 1 && route.ends_with('/') {
                format!("{route}bob@example.com")
            } else {
                route.to_string()
            };
            // `/panic` is left out here: its arm is reached, but a panic is all it says.
            if route != "/panic" {
                for method in allow.split(", ") {
                    // The query serves `/register` and keeps `/sse` short; the others ignore it.
                    let target = format!("{path}?email=ann%40example.com&events=1&interval_ms=0");
                    let status = client.request(method, &target).stream().await.status;
                    assert!(!matches!(status, 404 | 405), "{method} {path}: {status}");
                }
            }
            let refused = client.request("DELETE", &path).send().await;
            assert_eq!(refused.status, 405, "DELETE {path}");
            assert_eq!(refused.header("allow"), Some(allow), "DELETE {path}");
            assert_eq!(refused.text(), r#"{"detail":"Method Not Allowed"}"#);
        }
        for path in ["/nope", "/send-notification", "/healthz", "/static/x"] {
            let missing = client.request("DELETE", path).send().await;
            assert_eq!(missing.status, 404, "{path}");
        }
    }
}

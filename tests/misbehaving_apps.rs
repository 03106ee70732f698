//! One list of misbehaving apps, run through `TestClient` and over a real socket: each must
//! end the same way both times (status, body, whether the body was completed, and what the app
//! was told), because both go through the same connection state machine.

mod support;

use std::time::Duration;

use rasgi::protocol::{App, AppError, Event, Headers, Message, Receive, Scope, Sender};
use rasgi::testing::TestClient;
use support::apps::Log;
use support::{TestServer, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An app with one route per way to misbehave; what `send` answered goes to the log.
#[derive(Clone, Default)]
struct Misbehaving {
    log: Log,
}

fn plain() -> Headers {
    Headers::new().with("content-type", "text/plain")
}

impl App for Misbehaving {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        mut receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let Scope::Http(scope) = scope else {
            return Ok(());
        };
        let log = |what: &str, result: &dyn std::fmt::Debug| {
            self.log.push(format!("{} {what}: {result:?}", scope.path));
        };
        match scope.path.as_str() {
            "/error-before-start" => return Err("boom".into()),
            "/return-before-start" => {}
            "/panic-before-start" => panic!("the handler panicked before its start"),
            "/panic-mid-body" => {
                send.send(Message::start(200, plain())).await?;
                send.send(Message::chunk("partial")).await?;
                panic!("the handler panicked mid-body");
            }
            "/error-with-start-held" => {
                send.send(Message::start(201, plain())).await?;
                return Err("boom".into());
            }
            "/error-after-start" => {
                send.send(Message::start(200, plain())).await?;
                send.send(Message::chunk("partial")).await?;
                return Err("boom".into());
            }
            "/return-before-final-body" => {
                send.send(Message::start(200, plain())).await?;
                send.send(Message::chunk("partial")).await?;
            }
            "/start-twice" => {
                send.send(Message::start(200, plain())).await?;
                log(
                    "second start",
                    &send.send(Message::start(200, plain())).await,
                );
                send.send(Message::body("one start")).await?;
            }
            "/body-before-start" => {
                log("early body", &send.send(Message::body("x")).await);
                send.send(Message::start(200, plain())).await?;
                send.send(Message::body("late start")).await?;
            }
            "/body-after-final-body" => {
                send.send(Message::start(200, plain())).await?;
                send.send(Message::body("done")).await?;
                log("extra body", &send.send(Message::body("more")).await);
            }
            "/longer-than-content-length" => {
                send.send(Message::start(200, plain().with("content-length", "3")))
                    .await?;
                let sent = send.send(Message::body("too long")).await;
                log("long body", &sent);
                sent?;
            }
            "/shorter-than-content-length" => {
                send.send(Message::start(200, plain().with("content-length", "30")))
                    .await?;
                let sent = send.send(Message::body("short")).await;
                log("short body", &sent);
                sent?;
            }
            "/invalid-content-length" => {
                let sent = send
                    .send(Message::start(200, plain().with("content-length", "x")))
                    .await;
                log("start", &sent);
                sent?;
            }
            "/header-injection" => {
                let sent = send
                    .send(Message::start(200, plain().with("x-a", "1\r\nx-b: 2")))
                    .await;
                log("start", &sent);
                sent?;
            }
            "/status-out-of-range" => {
                let sent = send.send(Message::start(42, plain())).await;
                log("start", &sent);
                sent?;
            }
            "/trailers-not-announced" => {
                send.send(Message::start(200, plain())).await?;
                send.send(Message::body("body")).await?;
                let sent = send
                    .send(Message::Trailers {
                        headers: Headers::new().with("x-t", "1"),
                    })
                    .await;
                log("trailers", &sent);
            }
            "/lifespan-message-in-http" => {
                let sent = send.send(Message::StartupComplete).await;
                log("startup", &sent);
                send.send(Message::start(200, plain())).await?;
                send.send(Message::body("ok")).await?;
            }
            "/send-after-client-left" => {
                send.send(Message::start(200, plain())).await?;
                send.send(Message::chunk("first")).await?;
                // The (empty) body first; then receive waits until the client leaves.
                let mut event = receive.receive().await;
                while matches!(event, Event::Request { .. }) {
                    event = receive.receive().await;
                }
                log("receive", &event);
                log("send", &send.send(Message::chunk("second")).await);
            }
            "/receive-after-response" => {
                send.send(Message::start(200, plain())).await?;
                send.send(Message::body("done")).await?;
                log("receive", &receive.receive().await);
            }
            _ => {
                send.send(Message::start(404, plain())).await?;
                send.send(Message::body("")).await?;
            }
        }
        Ok(())
    }
}

/// How one request ended, as a client sees it, plus what the app was told.
#[derive(Debug, PartialEq, Eq)]
struct Ending {
    status: u16,
    body: String,
    complete: bool,
    app_was_told: Vec<String>,
}

const CASES: &[&str] = &[
    "/error-before-start",
    "/return-before-start",
    "/panic-before-start",
    "/panic-mid-body",
    "/error-with-start-held",
    "/error-after-start",
    "/return-before-final-body",
    "/start-twice",
    "/body-before-start",
    "/body-after-final-body",
    "/longer-than-content-length",
    "/shorter-than-content-length",
    "/invalid-content-length",
    "/header-injection",
    "/status-out-of-range",
    "/trailers-not-announced",
    "/lifespan-message-in-http",
    "/receive-after-response",
];

/// The app's log lines for `path` (it may still be finishing: wait a little for them).
async fn told(log: &Log, path: &str, expect_some: bool) -> Vec<String> {
    let prefix = format!("{path} ");
    for _ in 0..200 {
        let lines: Vec<String> = log
            .lines()
            .into_iter()
            .filter(|l| l.starts_with(&prefix))
            .collect();
        if !expect_some || !lines.is_empty() {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Vec::new()
}

/// What a raw HTTP/1.1 response read until the server closed says.
fn parse(raw: &[u8]) -> (u16, String, bool) {
    let end = support::find(raw, b"\r\n\r\n").expect("a response head") + 4;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let status = head[9..12].parse().expect("status");
    let mut rest = &raw[end..];
    if let Some(at) = head.find("content-length: ") {
        let digits: String = head[at + 16..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let length: usize = digits.parse().expect("length");
        let complete = rest.len() >= length;
        let body = &rest[..length.min(rest.len())];
        return (status, String::from_utf8_lossy(body).into_owned(), complete);
    }
    let mut body = Vec::new();
    loop {
        let Some(line_end) = support::find(rest, b"\r\n") else {
            return (status, String::from_utf8_lossy(&body).into_owned(), false);
        };
        let size = usize::from_str_radix(&String::from_utf8_lossy(&rest[..line_end]), 16)
            .expect("chunk size");
        rest = &rest[line_end + 2..];
        if size == 0 {
            let complete = rest.starts_with(b"\r\n");
            return (
                status,
                String::from_utf8_lossy(&body).into_owned(),
                complete,
            );
        }
        if rest.len() < size + 2 {
            body.extend_from_slice(&rest[..size.min(rest.len())]);
            return (status, String::from_utf8_lossy(&body).into_owned(), false);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

async fn over_a_socket(server: &TestServer, log: &Log, path: &str) -> Ending {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("the server closes in time")
        .unwrap();
    let (status, body, complete) = parse(&raw);
    Ending {
        status,
        body,
        complete,
        app_was_told: told(log, path, logs_something(path)).await,
    }
}

async fn in_memory(client: &TestClient<Misbehaving>, log: &Log, path: &str) -> Ending {
    let response = client.get(path).send().await;
    Ending {
        status: response.status,
        body: response.text(),
        complete: response.complete,
        app_was_told: told(log, path, logs_something(path)).await,
    }
}

fn logs_something(path: &str) -> bool {
    !path.contains("-before-start")
        && !path.contains("error-")
        && !path.starts_with("/panic")
        && path != "/return-before-final-body"
}

#[tokio::test]
async fn misbehaving_apps_end_the_same_in_memory_and_on_a_socket() {
    let socket_app = Misbehaving::default();
    let memory_app = Misbehaving::default();
    let (socket_log, memory_log) = (socket_app.log.clone(), memory_app.log.clone());
    let server = TestServer::start(socket_app).await;
    let client = TestClient::new(memory_app);
    for path in CASES {
        let on_socket = over_a_socket(&server, &socket_log, path).await;
        let in_memory = in_memory(&client, &memory_log, path).await;
        assert_eq!(on_socket, in_memory, "{path}");
    }
}

#[tokio::test]
async fn the_outcomes_are_the_server_rules() {
    let app = Misbehaving::default();
    let log = app.log.clone();
    let client = TestClient::new(app);
    let expect = |path: &str, status: u16, body: &str, complete: bool| {
        (path.to_string(), status, body.to_string(), complete)
    };
    let cases = [
        expect("/error-before-start", 500, "Internal Server Error", true),
        expect("/return-before-start", 500, "Internal Server Error", true),
        expect("/panic-before-start", 500, "Internal Server Error", true),
        expect("/panic-mid-body", 200, "partial", false),
        expect("/error-with-start-held", 500, "Internal Server Error", true),
        expect("/error-after-start", 200, "partial", false),
        expect("/return-before-final-body", 200, "partial", false),
        expect("/start-twice", 200, "one start", true),
        expect("/body-before-start", 200, "late start", true),
        expect("/longer-than-content-length", 200, "", false),
        expect("/shorter-than-content-length", 200, "", false),
        expect(
            "/invalid-content-length",
            500,
            "Internal Server Error",
            true,
        ),
        expect("/header-injection", 500, "Internal Server Error", true),
        expect("/status-out-of-range", 500, "Internal Server Error", true),
        expect("/body-after-final-body", 200, "done", true),
        expect("/trailers-not-announced", 200, "body", true),
        expect("/lifespan-message-in-http", 200, "ok", true),
        expect("/receive-after-response", 200, "done", true),
    ];
    assert_eq!(
        cases.len(),
        CASES.len(),
        "every case has its expected ending"
    );
    for (path, status, body, complete) in cases {
        let ending = in_memory(&client, &log, &path).await;
        assert_eq!(
            (ending.status, ending.body.as_str(), ending.complete),
            (status, body.as_str(), complete),
            "{path}"
        );
    }
    let lines = log.lines().join("\n");
    for told in [
        "/start-twice second start: Err(OutOfOrder(\"response already started\"))",
        "/body-before-start early body: Err(OutOfOrder(\"body before the response start\"))",
        "/body-after-final-body extra body: Err(OutOfOrder(\"body after the final body\"))",
        "/longer-than-content-length long body: Err(BodyTooLong)",
        "/shorter-than-content-length short body: Err(BodyTooShort)",
        "/invalid-content-length start: Err(InvalidContentLength)",
        "/header-injection start: Err(InvalidHeader)",
        "/status-out-of-range start: Err(InvalidStatus(42))",
        "/trailers-not-announced trailers: Err(OutOfOrder(",
        "/lifespan-message-in-http startup: Err(WrongScope)",
        "/receive-after-response receive: Disconnect",
    ] {
        assert!(lines.contains(told), "missing {told:?} in\n{lines}");
    }
}

#[tokio::test]
async fn a_panic_is_the_apps_error_in_memory_as_an_error_is() {
    let client = TestClient::new(Misbehaving::default());
    for (path, error) in [
        ("/panic-before-start", "the app panicked"),
        ("/panic-mid-body", "the app panicked"),
        ("/error-before-start", "boom"),
    ] {
        let response = client.get(path).send().await;
        assert_eq!(response.error.as_deref(), Some(error), "{path}");
    }
    assert_eq!(client.get("/start-twice").send().await.error, None);
}

#[tokio::test]
async fn send_after_the_client_left_is_refused_the_same_way_both_ways() {
    let path = "/send-after-client-left";
    // On a socket: read the first chunk, then leave.
    let socket_app = Misbehaving::default();
    let socket_log = socket_app.log.clone();
    let server = TestServer::start(socket_app).await;
    let mut client = server.connect().await;
    client
        .send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .await;
    let head = client.head().await;
    assert_eq!(head.status, 200);
    assert_eq!(client.line().await, "5");
    drop(client);
    // In memory: read the first chunk, then drop the response.
    let memory_app = Misbehaving::default();
    let memory_log = memory_app.log.clone();
    let test_client = TestClient::new(memory_app);
    let mut stream = test_client.get(path).stream().await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.chunk().await.as_deref(), Some(&b"first"[..]));
    drop(stream);
    let on_socket = wait_for_lines(&socket_log, path, 2).await;
    let in_memory = wait_for_lines(&memory_log, path, 2).await;
    assert_eq!(
        on_socket,
        vec![
            format!("{path} receive: Disconnect"),
            format!("{path} send: Err(Disconnected)"),
        ]
    );
    assert_eq!(on_socket, in_memory);
}

async fn wait_for_lines(log: &Log, path: &str, count: usize) -> Vec<String> {
    let started = std::time::Instant::now();
    loop {
        let lines = told(log, path, false).await;
        if lines.len() >= count || started.elapsed() > PATIENCE {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

//! Panics become answers, slow clients are cut off: over real sockets, against the binary and
//! against servers in the test.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rasgi::protocol::{App, AppError, Bytes, Headers, Message, Receive, Scope, Sender};
use rasgi::server::ServerConfig;
use support::apps::{Log, Probe};
use support::binary::{request, Rasgi};
use support::{test_config, TestServer, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Panics where its path says; streams 64 MiB on `/huge`, noting how far it got.
#[derive(Clone, Default)]
struct Faulty {
    log: Log,
    /// Bytes `/huge` had sent when a send failed.
    accepted: Arc<AtomicU64>,
}

impl App for Faulty {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        _receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let Scope::Http(scope) = scope else {
            return Ok(());
        };
        let plain = Headers::new().with("content-type", "text/plain");
        match scope.path.as_str() {
            "/panic" => {
                let log = self.log.clone();
                scope.background.add("never runs", async move {
                    log.push("the task of a panicked request ran");
                    Ok(())
                });
                panic!("handler panicked before its response");
            }
            "/panic-mid-stream" => {
                send.send(Message::start(200, plain)).await?;
                send.send(Message::chunk("first part ")).await?;
                panic!("handler panicked mid-stream");
            }
            "/huge" => {
                send.send(Message::start(200, plain)).await?;
                let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
                for sent in 0..1024u64 {
                    if let Err(error) = send.send(Message::chunk(chunk.clone())).await {
                        self.accepted.store(sent * 64 * 1024, Ordering::SeqCst);
                        self.log.push(format!("huge: {error}"));
                        return Ok(());
                    }
                }
                send.send(Message::body("")).await?;
                self.log.push("huge: finished");
            }
            _ => {
                send.send(Message::start(200, plain)).await?;
                send.send(Message::body("fine")).await?;
            }
        }
        Ok(())
    }
}

async fn wait_for(what: &str, condition: impl Fn() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < PATIENCE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ----- panics -----

#[test]
fn a_panic_before_the_start_is_500_with_the_stack_headers() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    let reply = request(
        &rasgi,
        "GET",
        "/panic",
        &[("Origin", "http://localhost:3000")],
        b"",
    );
    assert_eq!(reply.status, 500);
    assert_eq!(reply.text(), "Internal Server Error");
    let id = reply
        .header("x-request-id")
        .expect("x-request-id")
        .to_string();
    assert_eq!(id.len(), 32);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(reply.header("x-custom-header"), Some("Custom Header Value"));
    assert_eq!(reply.header("connection"), Some("close"));
    // The server goes on.
    assert_eq!(request(&rasgi, "GET", "/", &[], b"").status, 200);
    let metrics = request(&rasgi, "GET", "/metrics", &[], b"").text();
    assert!(metrics.contains("rasgi_panics_total 1\n"), "{metrics}");
    // Logged once, by the server, with the request id; not by the default panic hook. (The
    // log reaches the test through a pipe: wait for it.)
    let started = Instant::now();
    while !rasgi.stderr().contains("app panicked") && started.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stderr = rasgi.stderr();
    assert_eq!(stderr.matches("app panicked").count(), 1, "{stderr}");
    let line = stderr.lines().find(|l| l.contains("app panicked")).unwrap();
    assert!(line.contains(&id), "{line}");
    assert!(line.contains("the /panic route always panics"), "{line}");
    assert!(!stderr.contains("thread '"), "{stderr}");
}

#[tokio::test]
async fn a_panic_without_server_errors_is_500_from_the_server_and_its_tasks_are_dropped() {
    let app = Faulty::default();
    let log = app.log.clone();
    let server = TestServer::start(app).await;
    let mut client = server.connect().await;
    // A pipelined request behind the panicking one is not answered.
    client
        .send(b"GET /panic HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    let response = client.response().await;
    assert_eq!(response.status, 500);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.closed().await, "nothing after the panic is served");
    wait_for("the dropped batch", || {
        server.executor.counters().dropped == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!log.contains("the task of a panicked request ran"));
    // The next connection is served.
    assert_eq!(server.connect().await.get("/").await.text(), "fine");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_panic_mid_stream_cuts_the_body_and_closes() {
    let server = TestServer::start(Faulty::default()).await;
    let mut client = server.connect().await;
    client
        .send(b"GET /panic-mid-stream HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    let head = client.head().await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    let rest = client.rest().await;
    let text = String::from_utf8_lossy(&rest);
    assert!(text.contains("first part "), "{text}");
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "the body is not completed: {text:?}"
    );
    assert_eq!(server.connect().await.get("/").await.status, 200);
    server.stop().await.unwrap();
}

// ----- timeouts -----

fn short_timeouts() -> ServerConfig {
    ServerConfig {
        body_read_timeout: Duration::from_secs(1),
        send_timeout: Duration::from_secs(1),
        ..test_config()
    }
}

#[tokio::test]
async fn a_stalled_body_gets_408_and_a_close() {
    let server = TestServer::with_config(Probe::default(), short_timeouts()).await;
    let mut client = server.connect().await;
    let started = Instant::now();
    client
        .send(b"POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        .await;
    let response = client.response().await;
    let waited = started.elapsed();
    assert_eq!(response.status, 408);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.closed().await);
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_body_stalled_after_the_response_started_closes_the_connection() {
    let probe = Probe::default();
    let log = probe.log.clone();
    let server = TestServer::with_config(probe, short_timeouts()).await;
    let mut client = server.connect().await;
    client
        .send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        .await;
    let head = client.head().await;
    assert_eq!(head.status, 200);
    assert_eq!(client.line().await, "3");
    let rest = client.rest().await;
    assert!(!rest.ends_with(b"0\r\n\r\n"), "{rest:?}");
    wait_for("the app's Disconnect", || {
        log.contains("echo saw Disconnect")
    })
    .await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_after_the_send_timeout() {
    let app = Faulty::default();
    let (log, accepted) = (app.log.clone(), app.accepted.clone());
    let server = TestServer::with_config(app, short_timeouts()).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /huge HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    // Read nothing: the server's writes stall once the socket buffers are full.
    let started = Instant::now();
    wait_for("the app's failed send", || log.contains("huge:")).await;
    let waited = started.elapsed();
    assert!(
        log.contains("huge: the client disconnected"),
        "{:?}",
        log.lines()
    );
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    // Memory stayed bounded: the app could hand over only what the socket buffers and one
    // gathering batch hold, nowhere near its 64 MiB.
    let accepted = accepted.load(Ordering::SeqCst);
    assert!(accepted < 16 << 20, "{accepted} bytes accepted");
    // The connection is closed: what the client reads now ends.
    let mut seen = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut seen))
        .await
        .expect("the server closed the connection")
        .ok();
    assert!(seen.len() < 64 << 20);
    assert_eq!(server.counters.snapshot().send_timeouts, 1);
    server.stop().await.unwrap();
}

/// The kernel's entry for this machine's TCP socket bound to local port `port`: its state
/// (`0x01` established) and the bytes waiting in its receive queue. `None` once the socket has
/// left the table (closed, or reset by its peer).
fn local_tcp_socket(port: u16) -> Option<(u8, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let local_port = fields[1].rsplit(':').next()?;
        if u16::from_str_radix(local_port, 16).ok()? != port {
            return None;
        }
        let state = u8::from_str_radix(fields[3], 16).ok()?;
        let rx_queue = u64::from_str_radix(fields[4].rsplit(':').next()?, 16).ok()?;
        Some((state, rx_queue))
    })
}

/// The time of day, in seconds, of the first stderr line of `rasgi` that holds `needle` (its
/// log lines begin with an RFC 3339 timestamp).
fn logged_at(stderr: &str, needle: &str) -> Option<f64> {
    let line = stderr.lines().find(|line| line.contains(needle))?;
    let time = line.split('T').nth(1)?.split('Z').next()?;
    let mut parts = time.split(':');
    let (hours, minutes, seconds): (f64, f64, f64) = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    Some(hours * 3600.0 + minutes * 60.0 + seconds)
}

#[tokio::test]
async fn a_client_that_reads_nothing_of_a_response_sent_in_one_message_is_closed_after_the_send_timeout(
) {
    let rasgi = Rasgi::start(&[
        "--workers",
        "1",
        "--timeout-send",
        "1",
        "--log-level",
        "debug",
        "--no-use-colors",
    ]);
    let idle_kib = rasgi.rss_kib();
    // A client with a small receive buffer that asks for 64 MiB, which the demo's `/big` sends
    // in one message, and then reads nothing.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket
        .connect(([127, 0, 0, 1], rasgi.port).into())
        .await
        .unwrap();
    let port = stream.local_addr().unwrap().port();
    stream
        .write_all(b"GET /big?size=67108864 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    // The server resets the connection: the client's socket leaves the table. (Making 64 MiB
    // takes the debug build a few seconds, more on a busy machine.)
    let deadline = Instant::now() + 3 * PATIENCE;
    while local_tcp_socket(port).is_some_and(|(state, _)| state == 0x01) {
        assert!(Instant::now() < deadline, "the connection is still open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // On the server's own clock: from its access line (written when the app returned, the
    // 64 MiB queued and their write about to begin) to the connection reset, within the send
    // timeout + 2 s.
    let read_by = Instant::now() + PATIENCE;
    while !rasgi.stderr().contains("resetting a connection") && Instant::now() < read_by {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stderr = rasgi.stderr();
    let (Some(queued), Some(reset)) = (
        logged_at(&stderr, "\"GET /big HTTP/1.1\" 200"),
        logged_at(&stderr, "resetting a connection"),
    ) else {
        panic!("no access line or no reset in\n{stderr}");
    };
    let took = reset - queued;
    assert!(
        (0.9..3.0).contains(&took),
        "reset {took:.3} s after the response was queued"
    );
    // The 64 MiB were held while the write stalled (the peak resident memory says so), and
    // let go with the connection.
    let peak_kib = rasgi.peak_rss_kib();
    assert!(
        peak_kib > idle_kib + 32 * 1024,
        "peak {peak_kib} KiB, idle {idle_kib} KiB"
    );
    let deadline = Instant::now() + PATIENCE;
    while rasgi.rss_kib() > idle_kib + 16 * 1024 {
        assert!(
            Instant::now() < deadline,
            "resident memory {} KiB after the close, {idle_kib} KiB idle",
            rasgi.rss_kib()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The server goes on serving.
    assert_eq!(request(&rasgi, "GET", "/health", &[], b"").status, 200);
}

/// Streams 64 KiB, then waits a minute before its final body.
struct SlowToFinish;

impl App for SlowToFinish {
    async fn call<R: Receive, S: Sender>(
        &self,
        _scope: Scope,
        _receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        send.send(Message::start(200, Headers::new())).await?;
        send.send(Message::chunk(vec![b'x'; 64 * 1024])).await?;
        tokio::time::sleep(Duration::from_secs(60)).await;
        send.send(Message::body("")).await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_client_that_reads_nothing_while_the_app_waits_is_closed_after_the_send_timeout() {
    let server = rasgi::server::Server::with_config(SlowToFinish, short_timeouts());
    // A pipe that holds 4 KiB, which the client never reads: the chunk the app streamed is
    // written out while the app waits, and that write stalls.
    let (mut client, io) = tokio::io::duplex(4096);
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(3),
        server.serve_connection(io, Default::default()),
    )
    .await
    .expect("the connection ended within the send timeout + 2 s");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(server.server_counters().snapshot().send_timeouts, 1);
}

#[tokio::test]
async fn a_client_that_reads_nothing_of_a_refused_handshake_is_closed_after_the_send_timeout() {
    let server = rasgi::server::Server::with_config(SlowToFinish, short_timeouts());
    // A pipe that holds 16 bytes, never read: the 426 to a handshake of the wrong version
    // cannot be written out.
    let (mut client, io) = tokio::io::duplex(16);
    // Written while the server reads it: the pipe holds 16 bytes each way.
    let writing = tokio::spawn(async move {
        client
            .write_all(
                b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            )
            .await
            .unwrap();
        // Kept open, never read.
        std::future::pending::<()>().await;
        drop(client);
    });
    let started = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(3),
        server.serve_connection(io, Default::default()),
    )
    .await
    .expect("the connection ended within the send timeout + 2 s");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(server.server_counters().snapshot().send_timeouts, 1);
    writing.abort();
}

// ----- per-request background lists -----

/// `/keep` keeps its request's background handle; `/use` adds a task through the kept one
/// and one through its own.
#[derive(Clone, Default)]
struct Keeper {
    log: Log,
    kept: Arc<std::sync::Mutex<Option<rasgi::protocol::BackgroundTasks>>>,
}

impl App for Keeper {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        _receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let Scope::Http(scope) = scope else {
            return Ok(());
        };
        if scope.path == "/keep" {
            *self.kept.lock().unwrap() = Some(scope.background.clone());
        } else {
            let kept = self.kept.lock().unwrap().clone().expect("kept first");
            let log = self.log.clone();
            kept.add("stale", async move {
                log.push("a kept handle added to a later request");
                Ok(())
            });
            let log = self.log.clone();
            scope.background.add("own", async move {
                log.push("own task ran");
                Ok(())
            });
        }
        send.send(Message::start(200, Headers::new())).await?;
        send.send(Message::body("ok")).await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_background_handle_kept_past_its_response_cannot_add_to_the_next_one() {
    let app = Keeper::default();
    let log = app.log.clone();
    let server = TestServer::start(app).await;
    let mut client = server.connect().await;
    assert_eq!(client.get("/keep").await.status, 200);
    assert_eq!(client.get("/use").await.status, 200);
    wait_for("the own task", || log.contains("own task ran")).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!log.contains("a kept handle added"), "{:?}", log.lines());
    assert_eq!(server.executor.counters().submitted, 1);
    server.stop().await.unwrap();
}

// ----- log levels -----

#[test]
fn a_client_leaving_mid_body_is_no_error_in_the_log() {
    use std::io::Write;
    let rasgi = Rasgi::start(&[]);
    for request in [
        &b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789"[..],
        b"POST /send-data HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":",
    ] {
        let mut stream = rasgi.connect();
        stream.write_all(request).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        drop(stream);
    }
    let started = Instant::now();
    while rasgi.stderr().matches("rasgi::access").count() < 2 {
        assert!(started.elapsed() < PATIENCE, "{}", rasgi.stderr());
        std::thread::sleep(Duration::from_millis(10));
    }
    let stderr = rasgi.stderr();
    assert!(!stderr.contains("ERROR"), "{stderr}");
    assert!(!stderr.contains("WARN"), "{stderr}");
}

// ----- bounds -----

/// Every request adds one background task that waits for a permit of `gate`.
#[derive(Clone)]
struct Gated {
    gate: Arc<tokio::sync::Semaphore>,
    ran: Arc<AtomicU64>,
}

impl App for Gated {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        _receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let Scope::Http(scope) = scope else {
            return Ok(());
        };
        let (gate, ran) = (self.gate.clone(), self.ran.clone());
        scope.background.add("gated", async move {
            gate.acquire().await?.forget();
            ran.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        send.send(Message::start(200, Headers::new())).await?;
        send.send(Message::body("ok")).await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_full_background_queue_holds_the_connection_back_and_drops_nothing() {
    use rasgi::background::{Executor, ExecutorConfig};
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let ran = Arc::new(AtomicU64::new(0));
    let app = Gated {
        gate: gate.clone(),
        ran: ran.clone(),
    };
    // One batch runs, one waits: the third response's batch finds the queue full.
    let executor = Executor::new(ExecutorConfig {
        concurrency: 1,
        max_waiting: 1,
        ..ExecutorConfig::default()
    });
    let server = TestServer::with_executor(app, test_config(), executor).await;
    let mut client = server.connect().await;
    for _ in 0..2 {
        assert_eq!(client.get("/").await.status, 200);
    }
    wait_for("one batch running, one waiting", || {
        let counters = server.executor.counters();
        counters.running == 1 && counters.waiting == 1
    })
    .await;
    // The third response is written; its batch waits for room before the next request is read.
    assert_eq!(client.get("/").await.status, 200);
    client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let held = tokio::time::timeout(Duration::from_millis(300), client.response()).await;
    assert!(held.is_err(), "the fourth request waits for the queue");
    assert_eq!(server.executor.counters().waiting, 1);
    gate.add_permits(10);
    // The fourth request is answered once there is room, and every task runs.
    assert_eq!(client.response().await.status, 200);
    wait_for("all four tasks", || ran.load(Ordering::SeqCst) == 4).await;
    assert_eq!(server.executor.counters().dropped, 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_flood_over_the_connection_limit_spawns_a_bounded_number_of_tasks() {
    let config = ServerConfig {
        limit_concurrency: Some(1),
        ..test_config()
    };
    let server = TestServer::with_config(Faulty::default(), config).await;
    let mut held = server.connect().await;
    assert_eq!(held.get("/").await.status, 200);
    let addr = server.addr;
    // 600 connections that send nothing and never close while they wait.
    let flood = std::thread::spawn(move || {
        use std::io::Read;
        let mut streams = Vec::new();
        for _ in 0..600 {
            if let Ok(stream) = std::net::TcpStream::connect(addr) {
                streams.push(stream);
            }
        }
        let mut outcomes = (0, 0);
        for mut stream in streams {
            stream.set_read_timeout(Some(PATIENCE)).unwrap();
            let mut answer = Vec::new();
            match stream.read_to_end(&mut answer) {
                Ok(_) if answer.starts_with(b"HTTP/1.1 503") => outcomes.0 += 1,
                Ok(_) => outcomes.1 += 1,
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {
                    outcomes.1 += 1
                }
                Err(error) => panic!("a flooding connection hung: {error}"),
            }
        }
        outcomes
    });
    let metrics = tokio::runtime::Handle::current().metrics();
    let mut most_tasks = 0;
    while !flood.is_finished() {
        most_tasks = most_tasks.max(metrics.num_alive_tasks());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (busy, closed) = flood.join().unwrap();
    assert_eq!(busy + closed, 600);
    assert!(busy >= 64, "{busy} answered 503");
    // The server's own tasks (accept loop, the held connection, the rejecting ones) stay
    // bounded by the rejecting limit, whatever the size of the flood.
    assert!(most_tasks <= 64 + 8, "{most_tasks} tasks alive at once");
    assert_eq!(
        held.get("/").await.status,
        200,
        "the held connection is still served"
    );
    server.stop().await.unwrap();
}

/// Lifespan whose shutdown takes far longer than any deadline; `/slow-task` leaves a task that
/// does too.
#[derive(Clone, Default)]
struct SlowToStop;

impl App for SlowToStop {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        mut receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        match scope {
            Scope::Lifespan(_) => loop {
                match receive.receive().await {
                    rasgi::protocol::Event::Startup => {
                        send.send(Message::StartupComplete).await?;
                    }
                    rasgi::protocol::Event::Shutdown => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        send.send(Message::ShutdownComplete).await?;
                        return Ok(());
                    }
                    _ => return Ok(()),
                }
            },
            Scope::WebSocket(_) => Ok(()),
            Scope::Http(scope) => {
                scope.background.add("slow", async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    Ok(())
                });
                send.send(Message::start(200, Headers::new())).await?;
                send.send(Message::body("ok")).await?;
                Ok(())
            }
        }
    }
}

#[tokio::test]
async fn one_shutdown_deadline_covers_connections_tasks_and_lifespan() {
    let config = ServerConfig {
        graceful_shutdown_timeout: Duration::from_secs(1),
        ..test_config()
    };
    let server = TestServer::with_config(SlowToStop, config).await;
    assert_eq!(server.connect().await.get("/slow-task").await.status, 200);
    let started = Instant::now();
    server.stop().await.unwrap();
    let took = started.elapsed();
    // A task and a lifespan shutdown that each outlast the deadline: one deadline for both.
    assert!(took < Duration::from_millis(1700), "{took:?}");
}

#[test]
fn a_blocking_task_running_at_the_deadline_does_not_keep_the_process_alive() {
    let mut rasgi = Rasgi::start(&[
        "--no-access-log",
        "--notification-delay-ms",
        "600000",
        "--timeout-graceful-shutdown",
        "0.3",
    ]);
    let reply = request(
        &rasgi,
        "POST",
        "/send-notification/kim@example.com",
        &[],
        b"",
    );
    assert_eq!(reply.status, 200);
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    rasgi.terminate();
    assert_eq!(rasgi.wait(Duration::from_secs(10)), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let stderr = rasgi.stderr();
    assert!(
        stderr.contains("cancelled") && stderr.contains("write_notification"),
        "{stderr}"
    );
}

// ----- shutdown -----

#[tokio::test]
async fn at_shutdown_a_request_already_on_its_way_is_answered_with_connection_close() {
    let probe = Probe::default();
    let gate = probe.gate.clone();
    let server = TestServer::start(probe).await;
    // An idle keep-alive connection, and one with a stream under way.
    let mut idle = server.connect().await;
    assert_eq!(idle.get("/").await.header("connection"), None);
    let mut streaming = server.connect().await;
    streaming
        .send(b"GET /gated HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    // The head goes out with the first chunk.
    gate.add_permits(1);
    let head = streaming.head().await;
    assert_eq!(head.header("connection"), None);
    server.shutdown.trigger();
    // The idle connection's next request arrives just after the signal: it is answered, and
    // told that the connection closes.
    let answered = idle.get("/").await;
    assert_eq!(answered.status, 200);
    assert_eq!(answered.header("connection"), Some("close"));
    assert!(idle.closed().await);
    // The stream under way finishes whole; the request after it is answered with a close.
    gate.add_permits(2);
    let body = streaming.rest_of_chunked_body().await;
    assert_eq!(String::from_utf8_lossy(&body), "part0 part1 part2 end");
    let after = streaming.get("/").await;
    assert_eq!(after.header("connection"), Some("close"));
    assert!(streaming.closed().await);
    tokio::time::timeout(PATIENCE, server.task)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
}

//! Lifespan and graceful shutdown of the library server, over real TCP.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rasgi::protocol::{
    send_response, App, AppError, Event, Headers, Message, Receive, Scope, Sender,
};
use rasgi::server::{LifespanMode, Listener, Server, ServerConfig, ServerError};
use rasgi::testing::TestClient;
use support::apps::Probe;
use support::{test_config, TestServer};

/// An app whose lifespan stores a greeting at startup and records shutdown.
#[derive(Clone, Default)]
struct WithLifespan {
    fail_startup: bool,
    events: Arc<Mutex<Vec<&'static str>>>,
}

impl App for WithLifespan {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        mut receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        match scope {
            Scope::Lifespan(lifespan) => loop {
                match receive.receive().await {
                    Event::Startup if self.fail_startup => {
                        send.send(Message::StartupFailed("database unreachable".into()))
                            .await?;
                        return Ok(());
                    }
                    Event::Startup => {
                        lifespan.state.insert(String::from("hello from startup"));
                        self.events.lock().unwrap().push("startup");
                        send.send(Message::StartupComplete).await?;
                    }
                    Event::Shutdown => {
                        self.events.lock().unwrap().push("shutdown");
                        send.send(Message::ShutdownComplete).await?;
                        return Ok(());
                    }
                    _ => return Ok(()),
                }
            },
            Scope::WebSocket(_) => Ok(()),
            Scope::Http(scope) => {
                let greeting = scope
                    .state
                    .get::<String>()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                self.events.lock().unwrap().push("request");
                send_response(&mut send, 200, Headers::new(), greeting).await?;
                Ok(())
            }
        }
    }
}

#[tokio::test]
async fn lifespan_state_is_seen_by_requests_and_shutdown_runs_last() {
    let app = WithLifespan::default();
    let events = app.events.clone();
    let server = TestServer::start(app).await;
    let mut client = server.connect().await;
    assert_eq!(client.get("/").await.text(), "hello from startup");
    drop(client);
    server.stop().await.unwrap();
    assert_eq!(
        *events.lock().unwrap(),
        vec!["startup", "request", "shutdown"]
    );
}

#[tokio::test]
async fn failing_startup_stops_the_server_with_the_apps_message() {
    let app = WithLifespan {
        fail_startup: true,
        ..WithLifespan::default()
    };
    let listener = Listener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let result = Server::with_config(app, test_config())
        .serve(listener)
        .await;
    match result {
        Err(ServerError::StartupFailed(message)) => assert_eq!(message, "database unreachable"),
        other => panic!("expected a startup failure, got {other:?}"),
    }
    // Nothing was ever accepted.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn test_client_runs_the_lifespan_around_its_requests_as_the_server_does() {
    let app = WithLifespan::default();
    let events = app.events.clone();
    let client = TestClient::start(app).await.unwrap();
    assert_eq!(client.get("/").send().await.text(), "hello from startup");
    client.close().await;
    assert_eq!(
        *events.lock().unwrap(),
        vec!["startup", "request", "shutdown"]
    );
}

#[tokio::test]
async fn test_client_returns_a_failed_startup_with_the_apps_message() {
    let app = WithLifespan {
        fail_startup: true,
        ..WithLifespan::default()
    };
    match TestClient::start(app).await {
        Err(ServerError::StartupFailed(message)) => assert_eq!(message, "database unreachable"),
        Err(other) => panic!("expected a startup failure, got {other:?}"),
        Ok(_) => panic!("expected a startup failure, got a client"),
    }
}

#[tokio::test]
#[should_panic(expected = "lifespan startup failed: database unreachable")]
async fn test_client_fails_the_first_request_when_the_startup_fails() {
    let app = WithLifespan {
        fail_startup: true,
        ..WithLifespan::default()
    };
    TestClient::new(app).get("/").send().await;
}

#[tokio::test]
async fn apps_without_lifespan_are_served() {
    let server = TestServer::start(Probe::default()).await;
    assert_eq!(server.connect().await.get("/").await.status, 200);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn lifespan_on_refuses_an_app_without_lifespan_and_off_never_calls_it() {
    let listener = Listener::bind("127.0.0.1:0").await.unwrap();
    let config = ServerConfig {
        lifespan: LifespanMode::On,
        ..test_config()
    };
    match Server::with_config(Probe::default(), config)
        .serve(listener)
        .await
    {
        Err(ServerError::StartupFailed(message)) => {
            assert!(message.contains("does not support lifespan"), "{message}")
        }
        other => panic!("expected a startup failure, got {other:?}"),
    }
    // Off: an app whose startup would fail is never asked.
    let app = WithLifespan {
        fail_startup: true,
        ..WithLifespan::default()
    };
    let events = app.events.clone();
    let config = ServerConfig {
        lifespan: LifespanMode::Off,
        ..test_config()
    };
    let server = TestServer::with_config(app, config).await;
    assert_eq!(server.connect().await.get("/").await.status, 200);
    server.stop().await.unwrap();
    assert_eq!(*events.lock().unwrap(), vec!["request"]);
}

#[tokio::test]
async fn shutdown_lets_a_streaming_response_finish_and_closes_idle_connections() {
    let probe = Probe::default();
    let server = TestServer::start(probe.clone()).await;
    let mut idle = server.connect().await;
    assert_eq!(idle.get("/").await.status, 200);
    let mut streaming = server.connect().await;
    streaming
        .send(b"GET /gated HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    probe.gate.add_permits(1);
    let head = streaming.head().await;
    assert_eq!(head.status, 200);
    assert_eq!(streaming.line().await, "6");

    server.shutdown.trigger();
    // The idle connection is closed at once...
    assert!(idle.closed().await);
    // ...while the stream in flight goes on to its end.
    probe.gate.add_permits(2);
    let rest = String::from_utf8(streaming.rest().await).unwrap();
    assert_eq!(
        rest,
        "part0 \r\n6\r\npart1 \r\n6\r\npart2 \r\n3\r\nend\r\n0\r\n\r\n"
    );
    let stopped = tokio::time::timeout(support::PATIENCE, server.task).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))));
    assert!(probe.log.contains("gated: finished"));
}

#[tokio::test]
async fn responses_started_after_shutdown_say_connection_close() {
    let probe = Probe::default();
    let server = TestServer::start(probe.clone()).await;
    let mut client = server.connect().await;
    client.send(b"GET /gated HTTP/1.1\r\nHost: t\r\n\r\n").await;
    // The request is in the app (waiting on the gate) before shutdown fires.
    for _ in 0..1000 {
        if probe.log.contains("GET /gated") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.shutdown.trigger();
    probe.gate.add_permits(3);
    let response = client.response().await;
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(response.text(), "part0 part1 part2 end");
    assert!(client.closed().await);
}

#[tokio::test]
async fn shutdown_deadline_cuts_off_a_response_that_never_ends() {
    let probe = Probe::default();
    let config = rasgi::server::ServerConfig {
        graceful_shutdown_timeout: Duration::from_millis(200),
        ..test_config()
    };
    let server = TestServer::with_config(probe.clone(), config).await;
    let mut client = server.connect().await;
    client.send(b"GET /gated HTTP/1.1\r\nHost: t\r\n\r\n").await;
    probe.gate.add_permits(1);
    let _ = client.head().await;
    let shutdown = server.stop();
    let stopped = tokio::time::timeout(Duration::from_secs(5), shutdown).await;
    assert!(
        matches!(stopped, Ok(Ok(()))),
        "serve returns after the deadline"
    );
    let rest = client.rest().await;
    assert!(
        !rest.ends_with(b"0\r\n\r\n"),
        "the response was cut off, not completed"
    );
}

#[tokio::test]
async fn serve_with_shutdown_stops_when_the_embedders_future_resolves() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = Listener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(rasgi::server::serve_with_shutdown(
        listener,
        support::apps::Probe::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).await.unwrap();
    assert!(reply.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(!served.is_finished(), "it serves until told to stop");
    stop.send(()).unwrap();
    let result = tokio::time::timeout(std::time::Duration::from_secs(10), served)
        .await
        .expect("it stops once the future resolves")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

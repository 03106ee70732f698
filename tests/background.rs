//! Background tasks over real sockets. Nothing here uses a sleep as proof: tasks block on
//! semaphores the test holds, and the test waits on counters and logs.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rasgi::background::{Counters, Executor, ExecutorConfig};
use rasgi::middleware::{Inner, Middleware, Stack};
use rasgi::protocol::{
    send_response, App, AppError, BackgroundTasks, Headers, HttpScope, Message, Receive, Scope,
    Sender,
};
use support::apps::Log;
use support::binary::{request, Rasgi};
use support::{test_config, TestServer};
use tokio::sync::Semaphore;

#[derive(Clone)]
struct Tasks {
    log: Log,
    gate: Arc<Semaphore>,
    seen: Arc<Mutex<Vec<u32>>>,
}

impl Default for Tasks {
    fn default() -> Self {
        Tasks {
            log: Log::default(),
            gate: Arc::new(Semaphore::new(0)),
            seen: Arc::default(),
        }
    }
}

/// The helper a handler calls (FastAPI's dependency with `background_tasks`).
fn audit(scope: &HttpScope, log: &Log) {
    let log = log.clone();
    scope.background.add("helper", async move {
        log.push("helper");
        Ok(())
    });
}

impl App for Tasks {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        _: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let Scope::Http(scope) = scope else {
            return Ok(());
        };
        let tasks: &BackgroundTasks = &scope.background;
        let log = self.log.clone();
        match scope.path.as_str() {
            "/blocked" => {
                let gate = self.gate.clone();
                tasks.add("blocked", async move {
                    gate.acquire().await?.forget();
                    log.push("blocked task done");
                    Ok(())
                });
            }
            "/order" => {
                audit(&scope, &self.log);
                tasks.add("handler", async move {
                    log.push("handler");
                    Ok(())
                });
            }
            "/failures" => {
                let (a, b) = (log.clone(), log.clone());
                tasks.add("first", async move {
                    a.push("first");
                    Ok(())
                });
                tasks.add("failing", async { Err("smtp refused".into()) });
                tasks.add("panicking", async { panic!("task blew up") });
                tasks.add_blocking("blocking panic", || panic!("blocking task blew up"));
                tasks.add_blocking("last", move || {
                    b.push("last");
                    Ok(())
                });
            }
            "/error-before-final" => {
                tasks.add("never", async move {
                    log.push("never");
                    Ok(())
                });
                send.send(Message::start(200, Headers::new())).await?;
                send.send(Message::chunk("partial")).await?;
                return Err("failed mid-body".into());
            }
            "/count" => {
                let i: u32 = scope
                    .query_param("i")
                    .and_then(|i| i.parse().ok())
                    .unwrap_or(u32::MAX);
                let seen = self.seen.clone();
                tasks.add("count", async move {
                    seen.lock().unwrap().push(i);
                    Ok(())
                });
            }
            _ => {}
        }
        send_response(&mut send, 200, Headers::new(), "queued").await?;
        Ok(())
    }
}

/// Adds a task before the handler's.
struct AddsTask(Log);

impl Middleware for AddsTask {
    type Hook<'a> = ();

    fn describe(&self) -> String {
        "AddsTask".into()
    }

    async fn call<'a, A: App, R: Receive, S: Sender>(
        &'a self,
        scope: Scope,
        inner: Inner<'a, A, R, S, ()>,
    ) -> Result<(), AppError> {
        if let Scope::Http(http) = &scope {
            let log = self.0.clone();
            http.background.add("middleware", async move {
                log.push("middleware");
                Ok(())
            });
        }
        inner.call(scope).await
    }
}

async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + support::PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn settled(executor: &Executor, tasks: u64) -> Counters {
    until("tasks settled", || {
        let c = executor.counters();
        c.completed + c.failed + c.panicked + c.cancelled >= tasks && c.running == 0
    })
    .await;
    executor.counters()
}

#[tokio::test]
async fn the_client_gets_the_whole_response_while_the_task_is_blocked() {
    let app = Tasks::default();
    let server = TestServer::start(app.clone()).await;
    let mut client = server.connect().await;
    let response = client.get("/blocked").await;
    assert_eq!(response.text(), "queued");
    until("the task started", || {
        server.executor.counters().running == 1
    })
    .await;
    assert!(!app.log.contains("blocked task done"));
    app.gate.add_permits(1);
    until("the task finished", || {
        app.log.contains("blocked task done")
    })
    .await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_next_request_on_the_connection_does_not_wait_for_the_task() {
    let app = Tasks::default();
    let server = TestServer::start(app.clone()).await;
    let mut client = server.connect().await;
    assert_eq!(client.get("/blocked").await.text(), "queued");
    let second = client.get("/").await;
    assert_eq!(second.status, 200);
    assert_eq!(
        server.executor.counters().running,
        1,
        "the first task is still blocked"
    );
    app.gate.add_permits(1);
    settled(&server.executor, 1).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn middleware_helper_and_handler_tasks_run_in_that_order() {
    let app = Tasks::default();
    let stacked = Stack::new()
        .push(AddsTask(app.log.clone()))
        .app(app.clone());
    let server = TestServer::start(stacked).await;
    server.connect().await.get("/order").await;
    settled(&server.executor, 3).await;
    let order: Vec<String> = app
        .log
        .lines()
        .into_iter()
        .filter(|l| !l.starts_with('/'))
        .collect();
    assert_eq!(order, ["middleware", "helper", "handler"]);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn failing_and_panicking_tasks_are_counted_and_the_rest_still_run() {
    let app = Tasks::default();
    let server = TestServer::start(app.clone()).await;
    let mut client = server.connect().await;
    client.get("/failures").await;
    let counters = settled(&server.executor, 5).await;
    assert_eq!(counters.submitted, 5);
    assert_eq!(counters.completed, 2);
    assert_eq!(counters.failed, 1);
    assert_eq!(counters.panicked, 2);
    assert_eq!(app.log.lines(), ["first", "last"]);
    assert_eq!(
        client.get("/").await.status,
        200,
        "the server keeps serving"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_app_error_before_the_final_body_drops_its_tasks() {
    let app = Tasks::default();
    let server = TestServer::start(app.clone()).await;
    let mut client = server.connect().await;
    client
        .send(b"GET /error-before-final HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    let _ = client.rest().await;
    until("the drop is counted", || {
        server.executor.counters().dropped == 1
    })
    .await;
    let counters = server.executor.counters();
    assert_eq!(counters.submitted, 0);
    assert!(!app.log.contains("never"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_reset_right_after_the_response_does_not_lose_the_task() {
    let app = Tasks::default();
    let server = TestServer::start(app.clone()).await;
    let mut client = server.connect().await;
    assert_eq!(client.get("/blocked").await.text(), "queued");
    client.stream.set_zero_linger().unwrap();
    drop(client);
    // Wait for the server to see the reset: a new connection is served after it.
    assert_eq!(server.connect().await.get("/").await.status, 200);
    app.gate.add_permits(1);
    until("the task ran to completion", || {
        app.log.contains("blocked task done")
    })
    .await;
    assert_eq!(server.executor.counters().completed, 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn with_concurrency_1_every_one_of_200_tasks_runs_exactly_once() {
    let app = Tasks::default();
    let executor = Executor::new(ExecutorConfig {
        concurrency: 1,
        ..ExecutorConfig::default()
    });
    let server = TestServer::with_executor(app.clone(), test_config(), executor.clone()).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(server.connect().await);
    }
    for i in 0..200u32 {
        let client = &mut clients[i as usize % 4];
        assert_eq!(client.get(&format!("/count?i={i}")).await.status, 200);
    }
    let counters = settled(&executor, 200).await;
    assert_eq!(counters.submitted, 200);
    assert_eq!(counters.completed, 200);
    let mut seen = app.seen.lock().unwrap().clone();
    seen.sort_unstable();
    assert_eq!(seen, (0..200).collect::<Vec<u32>>());
    server.stop().await.unwrap();
}

#[test]
fn sigterm_waits_for_a_running_task_then_exits_0() {
    let mut rasgi = Rasgi::start(&["--no-access-log", "--email-delay-ms", "400"]);
    let reply = request(&rasgi, "POST", "/register?email=dee@example.com", &[], b"");
    assert_eq!(reply.status, 200);
    assert!(
        rasgi.log_lines().is_empty(),
        "the task is still running at SIGTERM"
    );
    rasgi.terminate();
    assert_eq!(rasgi.wait(Duration::from_secs(20)), Some(0));
    assert_eq!(rasgi.log_lines(), ["welcome email sent to dee@example.com"]);
}

#[test]
fn sigterm_cancels_a_task_longer_than_the_deadline_and_logs_it() {
    let mut rasgi = Rasgi::start(&[
        "--no-access-log",
        "--email-delay-ms",
        "600000",
        "--timeout-graceful-shutdown",
        "0.3",
    ]);
    let reply = request(&rasgi, "POST", "/register?email=eve@example.com", &[], b"");
    assert_eq!(reply.status, 200);
    rasgi.terminate();
    assert_eq!(rasgi.wait(Duration::from_secs(20)), Some(0));
    assert!(rasgi.log_lines().is_empty());
    let stderr = rasgi.stderr_once_stopped();
    assert!(
        stderr.contains("cancelled") && stderr.contains("send_welcome_email"),
        "{stderr}"
    );
    assert!(
        stderr.contains("POST /register (request id "),
        "the log names the request: {stderr}"
    );
}

#[tokio::test]
async fn stop_batch_policy_skips_the_rest_after_a_failure() {
    use rasgi::background::{Batch, FailurePolicy};
    let executor = Executor::new(ExecutorConfig {
        failure_policy: FailurePolicy::StopBatch,
        ..ExecutorConfig::default()
    });
    let ran = Arc::new(AtomicUsize::new(0));
    let tasks = BackgroundTasks::new();
    tasks.add("fails", async { Err("no".into()) });
    let counter = ran.clone();
    tasks.add("skipped", async move {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    executor
        .submit(Batch {
            label: "test".into(),
            tasks: tasks.take(),
        })
        .await;
    let counters = executor.shutdown(Duration::from_secs(5)).await;
    assert_eq!((counters.failed, counters.dropped), (1, 1));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

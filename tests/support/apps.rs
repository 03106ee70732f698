//! A test app with one route per behaviour under test, and a shared log the tests read.

use std::sync::{Arc, Mutex};

use rasgi::protocol::{
    read_body, send_response, App, AppError, Event, Headers, Message, Receive, Scope, SendError,
    Sender,
};
use tokio::sync::Semaphore;

/// What the app saw and did, in order.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, line: impl Into<String>) {
        self.0.lock().unwrap().push(line.into());
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn contains(&self, needle: &str) -> bool {
        self.lines().iter().any(|l| l.contains(needle))
    }
}

/// The probe app.
#[derive(Clone)]
pub struct Probe {
    pub log: Log,
    /// `/gated` streams one chunk per permit added here.
    pub gate: Arc<Semaphore>,
}

impl Default for Probe {
    fn default() -> Self {
        Probe {
            log: Log::default(),
            gate: Arc::new(Semaphore::new(0)),
        }
    }
}

fn plain() -> Headers {
    Headers::new().with("content-type", "text/plain")
}

impl App for Probe {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        mut receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let scope = match scope {
            Scope::Http(scope) => scope,
            Scope::Lifespan(_) | Scope::WebSocket(_) => return Ok(()),
        };
        self.log.push(format!("{} {}", scope.method, scope.path));
        match scope.path.as_str() {
            "/" => send_response(&mut send, 200, plain(), "Hello, World!").await?,
            "/echo" => {
                send.send(Message::start(200, plain())).await?;
                loop {
                    match receive.receive().await {
                        Event::Request { body, more_body } => {
                            send.send(Message::Body { body, more_body }).await?;
                            if !more_body {
                                break;
                            }
                        }
                        other => {
                            self.log.push(format!("echo saw {other:?}"));
                            return Ok(());
                        }
                    }
                }
            }
            "/count" => {
                let body = read_body(&mut receive, usize::MAX).await?;
                send_response(&mut send, 200, plain(), body.len().to_string()).await?;
            }
            "/chunked" => {
                send.send(Message::start(200, plain())).await?;
                for part in ["one ", "two ", "three"] {
                    send.send(Message::chunk(part)).await?;
                }
                send.send(Message::body("")).await?;
            }
            "/no-read" => send_response(&mut send, 200, plain(), "ignored your body").await?,
            "/error-before" => return Err("boom before start".into()),
            "/return-before" => {}
            "/error-after" => {
                send.send(Message::start(200, plain())).await?;
                send.send(Message::chunk("partial")).await?;
                return Err("boom after start".into());
            }
            "/return-early" => {
                send.send(Message::start(200, plain())).await?;
                send.send(Message::chunk("partial")).await?;
            }
            "/out-of-order" => {
                let body_first = send.send(Message::body("too soon")).await;
                send.send(Message::start(200, plain())).await?;
                let start_twice = send.send(Message::start(200, plain())).await;
                send.send(Message::body(format!("{body_first:?} {start_twice:?}")))
                    .await?;
                let after_end = send.send(Message::body("too late")).await;
                self.log.push(format!("after end: {after_end:?}"));
            }
            "/receive-after-response" => {
                send_response(&mut send, 200, plain(), "done").await?;
                let event = receive.receive().await;
                self.log.push(format!("after response: {event:?}"));
            }
            "/watch-body" => {
                let mut total = 0;
                loop {
                    match receive.receive().await {
                        Event::Request { body, more_body } => {
                            total += body.len();
                            self.log.push(format!("got {total}"));
                            if !more_body {
                                break;
                            }
                        }
                        other => {
                            self.log.push(format!("watch saw {other:?}"));
                            let sent = send.send(Message::start(200, plain())).await;
                            self.log.push(format!("send after disconnect: {sent:?}"));
                            return Ok(());
                        }
                    }
                }
                send_response(&mut send, 200, plain(), total.to_string()).await?;
            }
            "/gated" => {
                send.send(Message::start(200, plain())).await?;
                for i in 0..3 {
                    let permit = self.gate.acquire().await?;
                    permit.forget();
                    let sent = send.send(Message::chunk(format!("part{i} "))).await;
                    if let Err(SendError::Disconnected) = sent {
                        self.log.push("gated: client gone");
                        return Ok(());
                    }
                    sent?;
                }
                send.send(Message::body("end")).await?;
                self.log.push("gated: finished");
            }
            "/gated-stream" => {
                // Streams a chunk per permit until a send is refused (at most 20).
                send.send(Message::start(200, plain())).await?;
                for i in 0..20 {
                    let permit = self.gate.acquire().await?;
                    permit.forget();
                    if let Err(SendError::Disconnected) =
                        send.send(Message::chunk(format!("part{i} "))).await
                    {
                        self.log.push("gated-stream: client gone");
                        return Ok(());
                    }
                }
                send.send(Message::body("end")).await?;
                self.log.push("gated-stream: finished");
            }
            "/head-info" => send_response(&mut send, 200, plain(), "twelve bytes").await?,
            "/state" => {
                let greeting = scope
                    .state
                    .get::<String>()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                send_response(&mut send, 200, plain(), greeting).await?;
            }
            "/scope" => {
                let text = format!(
                    "{} {} {} raw={} query={} client={} root={}",
                    scope.http_version,
                    scope.method,
                    scope.path,
                    String::from_utf8_lossy(&scope.raw_path),
                    String::from_utf8_lossy(&scope.query_string),
                    scope.client.is_some(),
                    scope.root_path
                );
                send_response(&mut send, 200, plain(), text).await?;
            }
            "/trailers" => {
                send.send(Message::Start {
                    status: 200,
                    headers: plain(),
                    trailers: true,
                })
                .await?;
                send.send(Message::chunk("data")).await?;
                send.send(Message::body("")).await?;
                send.send(Message::Trailers {
                    headers: Headers::new().with("x-checksum", "42"),
                })
                .await?;
            }
            "/trailers-whole" => {
                send.send(Message::Start {
                    status: 200,
                    headers: plain(),
                    trailers: true,
                })
                .await?;
                send.send(Message::body("data")).await?;
                let sent = send
                    .send(Message::Trailers {
                        headers: Headers::new().with("x-checksum", "42"),
                    })
                    .await;
                self.log.push(format!("trailers: {sent:?}"));
            }
            "/early-hints" => {
                send.send(Message::Informational {
                    status: 103,
                    headers: Headers::new().with("link", "</a.css>; rel=preload"),
                })
                .await?;
                send_response(&mut send, 200, plain(), "after hints").await?;
            }
            "/splitting" => {
                let refused = send
                    .send(Message::start(
                        200,
                        Headers::new().with("x-evil", "a\r\nset-cookie: pwned=1"),
                    ))
                    .await;
                send_response(&mut send, 200, plain(), format!("{refused:?}")).await?;
            }
            _ => send_response(&mut send, 404, plain(), "Not Found").await?,
        }
        Ok(())
    }
}

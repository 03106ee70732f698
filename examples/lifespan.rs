//! Lifespan: resources created at startup, shared by every request through the state, and
//! closed at shutdown in the reverse order of their creation.
//!
//! cargo run --example lifespan

use std::sync::{Arc, Mutex};

use rasgi::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A pretend resource that reports when it opens and closes.
struct Resource {
    name: &'static str,
    events: Arc<Mutex<Vec<String>>>,
}

impl Resource {
    fn open(name: &'static str, events: &Arc<Mutex<Vec<String>>>) -> Resource {
        events.lock().unwrap().push(format!("open {name}"));
        Resource {
            name,
            events: events.clone(),
        }
    }

    fn close(&self) {
        self.events
            .lock()
            .unwrap()
            .push(format!("close {}", self.name));
    }
}

struct Database(Resource);
struct Cache(Resource);

struct WithResources {
    events: Arc<Mutex<Vec<String>>>,
}

impl App for WithResources {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        mut receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        match scope {
            Scope::Lifespan(lifespan) => loop {
                match receive.receive().await {
                    Event::Startup => {
                        lifespan
                            .state
                            .insert(Database(Resource::open("database", &self.events)));
                        lifespan
                            .state
                            .insert(Cache(Resource::open("cache", &self.events)));
                        send.send(Message::StartupComplete).await?;
                    }
                    Event::Shutdown => {
                        // Reverse order: the cache may still flush to the database.
                        if let Some(cache) = lifespan.state.remove::<Cache>() {
                            cache.0.close();
                        }
                        if let Some(db) = lifespan.state.remove::<Database>() {
                            db.0.close();
                        }
                        send.send(Message::ShutdownComplete).await?;
                        return Ok(());
                    }
                    _ => return Ok(()),
                }
            },
            Scope::Http(scope) => {
                let db = scope.state.get::<Database>().ok_or("no database")?;
                self.events
                    .lock()
                    .unwrap()
                    .push(format!("request used {}", db.0.name));
                send_response(&mut send, 200, Headers::new(), "ok").await?;
                Ok(())
            }
            // No WebSockets here: returning without accepting refuses them (403).
            Scope::WebSocket(_) => Ok(()),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let server = Server::new(WithResources {
        events: events.clone(),
    });
    let stop = server.shutdown_signal();
    let listener = Listener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr().ok_or("not TCP")?;
    let client = tokio::spawn(async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        stop.trigger();
        Ok::<_, std::io::Error>(response.lines().next().unwrap_or_default().to_string())
    });
    server.serve(listener).await?;
    println!("response: {}", client.await??);
    for event in events.lock().unwrap().iter() {
        println!("{event}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rasgi::testing::TestClient;

    fn app() -> (WithResources, Arc<Mutex<Vec<String>>>) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let app = WithResources {
            events: events.clone(),
        };
        (app, events)
    }

    #[tokio::test]
    async fn under_test_client_a_request_uses_the_database_its_startup_opened() {
        let (app, events) = app();
        let client = TestClient::start(app).await.expect("startup");
        let response = client.get("/").send().await;
        assert_eq!((response.status, response.text().as_str()), (200, "ok"));
        client.close().await;
        assert_eq!(
            *events.lock().unwrap(),
            [
                "open database",
                "open cache",
                "request used database",
                "close cache",
                "close database"
            ]
        );
    }

    #[tokio::test]
    async fn a_client_made_with_new_starts_the_lifespan_before_its_first_request() {
        let (app, events) = app();
        let client = TestClient::new(app);
        assert!(events.lock().unwrap().is_empty());
        assert_eq!(client.get("/").send().await.status, 200);
        // Dropped without `close`: the shutdown still runs, on the runtime.
        drop(client);
        for _ in 0..1000 {
            if events.lock().unwrap().len() == 5 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert_eq!(
            events.lock().unwrap().last().map(String::as_str),
            Some("close database")
        );
    }
}

//! Middleware order, made visible: three middleware log their before/after steps around one
//! request, and the stack prints its onion. The first pushed is the outermost.
//!
//! cargo run --example middleware_order

use std::sync::{Arc, Mutex};

use rasgi::middleware::{Inner, Middleware, Stack};
use rasgi::prelude::*;
use rasgi::testing::TestClient;

struct Step {
    name: &'static str,
    log: Arc<Mutex<Vec<String>>>,
}

impl Middleware for Step {
    type Hook<'a> = ();

    fn describe(&self) -> String {
        self.name.to_string()
    }

    async fn call<'a, A: App, R: Receive, S: Sender>(
        &'a self,
        scope: Scope,
        inner: Inner<'a, A, R, S, ()>,
    ) -> Result<(), AppError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} before", self.name));
        let result = inner.call(scope).await;
        self.log
            .lock()
            .unwrap()
            .push(format!("{} after", self.name));
        result
    }
}

struct Handler(Arc<Mutex<Vec<String>>>);

impl App for Handler {
    async fn call<R: Receive, S: Sender>(
        &self,
        _: Scope,
        _: R,
        mut send: S,
    ) -> Result<(), AppError> {
        self.0.lock().unwrap().push("handler".into());
        send_response(&mut send, 200, Headers::new(), "ok").await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let step = |name| Step {
        name,
        log: log.clone(),
    };
    let app = Stack::new()
        .push(step("Outer"))
        .push(step("Middle"))
        .push(step("Inner"))
        .app(Handler(log.clone()));
    println!("{}", app.describe());
    let response = TestClient::new(app).get("/").send().await;
    println!("one request ({}):", response.status);
    for line in log.lock().unwrap().iter() {
        println!("  {line}");
    }
}

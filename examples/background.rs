//! The welcome e-mail: `/register` answers at once and sends the e-mail in a background task,
//! which runs only after the response has been sent.
//!
//! cargo run --example background

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rasgi::prelude::*;
use rasgi::testing::TestClient;

#[derive(Clone, Default)]
struct Register {
    outbox: Arc<Mutex<Vec<String>>>,
}

impl App for Register {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        _: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let Scope::Http(scope) = scope else {
            return Ok(());
        };
        let email = scope.query_param("email").unwrap_or_default();
        let outbox = self.outbox.clone();
        scope.background.add("send_welcome_email", async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            outbox
                .lock()
                .unwrap()
                .push(format!("welcome email sent to {email}"));
            Ok(())
        });
        send_response(&mut send, 200, Headers::new(), "Registration successful!").await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let app = Register::default();
    let outbox = app.outbox.clone();
    let client = TestClient::new(app);
    let started = Instant::now();
    let response = client.post("/register?email=ann@example.com").send().await;
    println!(
        "{} {:?} after {:?}",
        response.status,
        response.text(),
        started.elapsed()
    );
    println!(
        "outbox right after the response: {:?}",
        outbox.lock().unwrap()
    );
    let counters = client.background_done().await;
    println!(
        "outbox once the task ran ({:?}): {:?}",
        started.elapsed(),
        outbox.lock().unwrap()
    );
    println!("counters: {counters:?}");
}

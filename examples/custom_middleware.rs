//! Three middleware of one's own, stacked around one app and exercised in memory:
//! - `PoweredBy`, a step that adds a field to every response;
//! - `ApiKey`, a step that refuses requests without the right key (401): the app never runs;
//! - `Elapsed`, a `from_fn` closure that awaits the inner app and edits its start.
//!
//! cargo run --example custom_middleware

use std::time::Instant;

use rasgi::endpoint::{app_fn, Request};
use rasgi::middleware::{from_fn, Decision, Response, ResponseHook, ResponseStart, Stack, Step};
use rasgi::prelude::*;
use rasgi::testing::TestClient;

/// Adds `x-powered-by: rasgi` to every response.
struct PoweredBy;

struct Stamp;

impl ResponseHook for Stamp {
    fn on_start(&mut self, start: &mut ResponseStart, _: &Bytes, _: bool) -> Result<(), SendError> {
        start.headers.append("x-powered-by", "rasgi");
        Ok(())
    }
}

impl Step for PoweredBy {
    type Hook<'a> = Option<Stamp>;

    fn describe(&self) -> String {
        "PoweredBy".into()
    }

    fn on_request(&self, _: &mut Scope) -> Decision<Option<Stamp>> {
        Decision::Continue(Some(Stamp))
    }
}

/// Answers 401 to an HTTP request whose `x-api-key` is not the key.
struct ApiKey(&'static str);

impl Step for ApiKey {
    type Hook<'a> = ();

    fn describe(&self) -> String {
        "ApiKey".into()
    }

    fn on_request(&self, scope: &mut Scope) -> Decision<()> {
        match scope {
            Scope::Http(http) if http.header("x-api-key") != Some(self.0) => {
                let headers = Headers::new().with("content-type", "text/plain");
                Decision::Respond(Response::new(401, headers, "a valid x-api-key is required"))
            }
            _ => Decision::Continue(()),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = app_fn(|request: Request| async move {
        let text = format!("hello from {}", request.scope.path);
        Ok(Response::new(200, Headers::new(), text))
    });
    // Outermost first: the field is added to the 401 too, and the closure times only requests
    // that got past the key.
    let stack = Stack::new()
        .step(PoweredBy)
        .step(ApiKey("secret"))
        .push(from_fn("Elapsed", |scope, next| async move {
            let started = Instant::now();
            let mut response = next.run(scope).await?;
            let micros = started.elapsed().as_micros().to_string();
            response.headers.append("x-elapsed-us", micros);
            Ok(response)
        }))
        .app(app);
    println!("{}", stack.describe());
    let client = TestClient::new(stack);

    let refused = client.get("/report").send().await;
    println!(
        "without a key: {} {:?} powered-by={:?} elapsed={:?}",
        refused.status,
        refused.text(),
        refused.header("x-powered-by"),
        refused.header("x-elapsed-us"),
    );
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header("x-powered-by"), Some("rasgi"));
    assert_eq!(refused.header("x-elapsed-us"), None);

    let served = client
        .get("/report")
        .header("x-api-key", "secret")
        .send()
        .await;
    println!(
        "with the key: {} {:?} powered-by={:?} elapsed={:?}",
        served.status,
        served.text(),
        served.header("x-powered-by"),
        served.header("x-elapsed-us"),
    );
    assert_eq!(served.status, 200);
    assert_eq!(served.text(), "hello from /report");
    assert_eq!(served.header("x-powered-by"), Some("rasgi"));
    assert!(served.header("x-elapsed-us").is_some());
    Ok(())
}

/// `cargo test` runs the example whole: its asserts are the test.
#[cfg(test)]
#[test]
fn the_example_runs_to_its_end() {
    main().expect("the example runs");
}

//! Server-sent events: one event a second, each written the moment it is sent, through gzip.
//!
//! cargo run --example streaming_sse    then    curl -N --compressed localhost:8001/

use std::time::Duration;

use rasgi::middleware::{GZip, Stack};
use rasgi::prelude::*;

struct Ticker;

impl App for Ticker {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        _: R,
        mut send: S,
    ) -> Result<(), AppError> {
        if !matches!(scope, Scope::Http(_)) {
            return Ok(());
        }
        let headers = Headers::new()
            .with("content-type", "text/event-stream")
            .with("cache-control", "no-cache");
        send.send(Message::start(200, headers)).await?;
        for i in 0.. {
            send.send(Message::chunk(format!("data: tick {i}\n\n")))
                .await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = Listener::bind("127.0.0.1:8001").await?;
    println!("events on http://{}/", listener.describe());
    serve(listener, Stack::new().push(GZip::default()).app(Ticker)).await?;
    Ok(())
}

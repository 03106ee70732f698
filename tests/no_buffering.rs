//! Proof that nothing in the stack buffers a stream, without a clock: the app sends its first
//! chunk and then waits on a signal only the test can give. The test must receive that chunk,
//! through the demo's full middleware stack with gzip on, and decompress it *before* giving the
//! signal. A stack that buffered would leave the test waiting (and failing) at the first read.

#![recursion_limit = "256"]

mod support;

use std::io::Write;
use std::sync::Arc;

use flate2::write::GzDecoder;
use rasgi::demo::{DemoConfig, RequestCounts};
use rasgi::protocol::{App, AppError, Headers, Message, Receive, Scope, Sender};
use support::TestServer;
use tokio::sync::Semaphore;

/// Sends `first`, waits for the gate, then sends `second` and ends.
#[derive(Clone)]
struct Gated {
    content_type: &'static str,
    first: &'static str,
    second: &'static str,
    gate: Arc<Semaphore>,
}

impl App for Gated {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        _: R,
        mut send: S,
    ) -> Result<(), AppError> {
        if !matches!(scope, Scope::Http(_)) {
            return Ok(());
        }
        send.send(Message::start(
            200,
            Headers::new().with("content-type", self.content_type),
        ))
        .await?;
        send.send(Message::chunk(self.first)).await?;
        self.gate.acquire().await?.forget();
        send.send(Message::chunk(self.second)).await?;
        send.send(Message::body("")).await?;
        Ok(())
    }
}

async fn first_chunk_arrives_before_the_signal(
    content_type: &'static str,
    first: &'static str,
    second: &'static str,
) {
    let gated = Gated {
        content_type,
        first,
        second,
        gate: Arc::new(Semaphore::new(0)),
    };
    let gate = gated.gate.clone();
    let app = rasgi::demo::stack(
        &DemoConfig::default(),
        Arc::new(RequestCounts::default()),
        gated,
    )
    .unwrap();
    let printout = app.describe();
    assert!(printout.contains("GZip"), "{printout}");
    let server = TestServer::start(app).await;
    let mut client = server.connect().await;
    client
        .send(b"GET /stream HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n")
        .await;
    let head = client.head().await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-encoding"),
        Some("gzip"),
        "the stream is compressed"
    );
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));

    let mut decoder = GzDecoder::new(Vec::new());
    let size = usize::from_str_radix(&client.line().await, 16).unwrap();
    let compressed = client.exact(size).await;
    assert_eq!(client.exact(2).await, b"\r\n");
    decoder.write_all(&compressed).unwrap();
    decoder.flush().unwrap();
    assert_eq!(
        String::from_utf8_lossy(decoder.get_ref()),
        first,
        "the first chunk, decompressed, before the signal"
    );
    assert_eq!(gate.available_permits(), 0, "the signal has not been given");

    gate.add_permits(1);
    let rest = client.rest_of_chunked_body().await;
    decoder.write_all(&rest).unwrap();
    let all = decoder.finish().unwrap();
    assert_eq!(String::from_utf8_lossy(&all), format!("{first}{second}"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_streamed_chunk_goes_through_gzip_and_the_whole_stack_at_once() {
    first_chunk_arrives_before_the_signal(
        "text/plain",
        "the first chunk of a long poll",
        " and the rest",
    )
    .await;
}

#[tokio::test]
async fn a_server_sent_event_goes_through_gzip_and_the_whole_stack_at_once() {
    first_chunk_arrives_before_the_signal(
        "text/event-stream",
        "data: first event\n\n",
        "data: second event\n\n",
    )
    .await;
}

//! Every route of the demo app through the real binary, with the full middleware stack, the
//! background tasks' log lines, and `/metrics` counting them.

mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use support::binary::{parse_reply, request, Rasgi};

/// Wait until the log file has `n` lines (the tasks run after the response).
fn wait_for_lines(rasgi: &Rasgi, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines = rasgi.log_lines();
        if lines.len() >= n {
            return lines;
        }
        assert!(Instant::now() < deadline, "only {lines:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn json(reply: &support::binary::Reply) -> serde_json::Value {
    serde_json::from_slice(&reply.body).unwrap_or_else(|_| panic!("not JSON: {}", reply.text()))
}

#[test]
fn hello_carries_the_stack_headers() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    let reply = request(
        &rasgi,
        "GET",
        "/",
        &[("Origin", "http://localhost:3000")],
        b"",
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "Hello, World!");
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(reply.header("x-custom-header"), Some("Custom Header Value"));
    assert_eq!(reply.header("x-request-id").map(str::len), Some(32));
    assert!(reply
        .header("x-process-time")
        .unwrap()
        .parse::<f64>()
        .is_ok());
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(
        reply.header("access-control-expose-headers"),
        Some("x-request-id, x-process-time")
    );
}

#[test]
fn health_echo_and_unknown_routes() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    assert_eq!(request(&rasgi, "GET", "/health", &[], b"").text(), "ok");
    let echoed = request(
        &rasgi,
        "POST",
        "/echo",
        &[("Content-Type", "application/x-thing")],
        b"ping pong",
    );
    assert_eq!(echoed.text(), "ping pong");
    assert_eq!(echoed.header("content-type"), Some("application/x-thing"));
    let missing = request(&rasgi, "GET", "/nope", &[], b"");
    assert_eq!(missing.status, 404);
    assert_eq!(json(&missing)["detail"], "Not Found");
}

#[test]
fn a_known_path_with_another_method_is_405_naming_the_allowed_ones() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    // As FastAPI answers: 405, an `Allow` field, and the JSON detail; a GET route takes HEAD too.
    for (method, path, allow) in [
        ("POST", "/", "GET, HEAD"),
        ("DELETE", "/health", "GET, HEAD"),
        ("GET", "/register?email=ann%40example.com", "POST"),
        ("PUT", "/echo", "POST"),
        ("GET", "/send-notification/bob@example.com", "POST"),
    ] {
        let reply = request(&rasgi, method, path, &[], b"");
        assert_eq!(reply.status, 405, "{method} {path}");
        assert_eq!(reply.header("allow"), Some(allow), "{method} {path}");
        assert_eq!(json(&reply)["detail"], "Method Not Allowed");
        // Still through the whole stack.
        assert_eq!(reply.header("x-request-id").map(str::len), Some(32));
    }
    // A path no route has stays 404, whatever the method.
    assert_eq!(request(&rasgi, "POST", "/nope", &[], b"").status, 404);
    // Nothing was logged as a background task.
    assert!(rasgi.log_lines().is_empty(), "{:?}", rasgi.log_lines());
}

#[test]
fn background_tasks_log_after_the_response_and_in_order() {
    let rasgi = Rasgi::start(&["--no-access-log", "--email-delay-ms", "1000"]);
    let registered = request(
        &rasgi,
        "POST",
        "/register?email=ann%40example.com",
        &[],
        b"",
    );
    assert_eq!(registered.status, 200);
    assert_eq!(
        json(&registered),
        serde_json::json!({"message": "Registration successful! Welcome email on the way"})
    );
    // The response came first: the e-mail is still being "sent".
    assert!(
        rasgi.log_lines().is_empty(),
        "the task ran before the response: {:?}",
        rasgi.log_lines()
    );

    let notified = request(
        &rasgi,
        "POST",
        "/send-notification/bob@example.com?q=urgent",
        &[],
        b"",
    );
    assert_eq!(
        json(&notified),
        serde_json::json!({"message": "Message sent"})
    );
    let lines = wait_for_lines(&rasgi, 2);
    assert_eq!(
        lines[..2],
        ["found query: urgent", "message to bob@example.com"],
        "dependency task first"
    );

    let data = request(
        &rasgi,
        "POST",
        "/send-data",
        &[("Content-Type", "application/json")],
        br#"{"k": [1, 2]}"#,
    );
    assert_eq!(
        json(&data),
        serde_json::json!({"message": "Data received. Logging in background."})
    );
    let lines = wait_for_lines(&rasgi, 4);
    assert!(
        lines.contains(&"Received: {\"k\":[1,2]}".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"welcome email sent to ann@example.com".to_string()),
        "{lines:?}"
    );

    let metrics = request(&rasgi, "GET", "/metrics", &[], b"").text();
    assert!(
        metrics.contains("# TYPE rasgi_requests_total counter"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rasgi_requests_total{status=\"200\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rasgi_background_tasks_submitted_total 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rasgi_background_tasks_completed_total 4"),
        "{metrics}"
    );
}

#[test]
fn notification_without_a_query_logs_one_line() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    request(
        &rasgi,
        "POST",
        "/send-notification/cy@example.com",
        &[],
        b"",
    );
    let lines = wait_for_lines(&rasgi, 1);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(rasgi.log_lines(), ["message to cy@example.com"]);
    assert_eq!(lines.len(), 1);
}

#[test]
fn bad_input_gets_400_with_a_clear_message() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    let not_json = request(
        &rasgi,
        "POST",
        "/send-data",
        &[("Content-Type", "application/json")],
        b"{oops",
    );
    assert_eq!(not_json.status, 400);
    assert!(json(&not_json)["detail"]
        .as_str()
        .unwrap()
        .starts_with("the body is not JSON"));
    let too_large = request(
        &rasgi,
        "POST",
        "/send-data",
        &[("Content-Type", "application/json")],
        &vec![b' '; (1 << 20) + 1],
    );
    assert_eq!(too_large.status, 413);
    let no_email = request(&rasgi, "POST", "/register", &[], b"");
    assert_eq!(no_email.status, 400);
    assert_eq!(
        json(&no_email)["detail"],
        "the query parameter email is required"
    );
    for path in [
        "/stream?chunks=lots",
        "/stream?size=0",
        "/sse?events=-1",
        "/big?size=1e9",
    ] {
        let reply = request(&rasgi, "GET", path, &[], b"");
        assert_eq!(reply.status, 400, "{path}");
        assert!(
            json(&reply)["detail"]
                .as_str()
                .unwrap()
                .contains("must be a whole number"),
            "{path}"
        );
    }
}

#[test]
fn stream_sse_and_big() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    let streamed = request(
        &rasgi,
        "GET",
        "/stream?chunks=3&size=4&interval_ms=10",
        &[],
        b"",
    );
    assert_eq!(streamed.header("transfer-encoding"), Some("chunked"));
    assert_eq!(streamed.text(), "xxxxxxxxxxxx");
    let sse = request(&rasgi, "GET", "/sse?events=2&interval_ms=10", &[], b"");
    assert_eq!(sse.header("content-type"), Some("text/event-stream"));
    assert_eq!(
        sse.text(),
        "id: 0\ndata: event 0\n\nid: 1\ndata: event 1\n\n"
    );
    let big = request(&rasgi, "GET", "/big?size=1000", &[], b"");
    assert_eq!(big.body.len(), 1000);
    let gzipped = request(
        &rasgi,
        "GET",
        "/big?size=100000",
        &[("Accept-Encoding", "gzip")],
        b"",
    );
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert!(
        gzipped.body.len() < 5000,
        "compressed to {} bytes",
        gzipped.body.len()
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gzipped.body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text.len(), 100_000);
}

#[test]
fn errors_become_500_and_429() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    let error = request(&rasgi, "GET", "/error", &[], b"");
    assert_eq!(error.status, 500);
    assert_eq!(error.text(), "Internal Server Error");
    let limited = request(&rasgi, "GET", "/rate-limited", &[], b"");
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("30"));
}

#[test]
fn trusted_host_and_cors_flags_are_applied() {
    let rasgi = Rasgi::start(&[
        "--no-access-log",
        "--allowed-hosts",
        "api.example.com",
        "--cors-origins",
        "https://app.example.com",
    ]);
    let refused = request(&rasgi, "GET", "/", &[], b"");
    assert_eq!(refused.status, 400);
    assert_eq!(refused.text(), "Invalid host header");
    let mut stream = rasgi.connect();
    stream
        .write_all(b"OPTIONS / HTTP/1.1\r\nHost: api.example.com\r\nOrigin: https://app.example.com\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let preflight = parse_reply(&raw);
    assert_eq!(preflight.status, 200);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("GET, POST")
    );
}

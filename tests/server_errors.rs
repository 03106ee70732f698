//! How the server handles bad requests, limits, timeouts and a misbehaving app, over real TCP.

mod support;

use std::time::Duration;

use rasgi::server::ServerConfig;
use support::apps::Probe;
use support::{test_config, TestServer};

/// Send `raw` on a fresh connection; return the response and whether the server then closed.
async fn exchange(server: &TestServer, raw: &[u8]) -> (support::Response, bool) {
    let mut client = server.connect().await;
    client.send(raw).await;
    let response = client.response().await;
    let closed = client.closed().await;
    (response, closed)
}

#[tokio::test]
async fn bad_requests_get_their_status_and_a_close() {
    let server = TestServer::start(Probe::default()).await;
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: t\r\n{}\r\n",
        "x-h: v\r\n".repeat(101)
    );
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nCookie: {}\r\n\r\n",
        "c".repeat(70_000)
    );
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("malformed line", b"GET / HTTP/1.1 extra\r\nHost: t\r\n\r\n".to_vec(), 400),
        ("bare LF", b"GET / HTTP/1.1\nHost: t\n\n".to_vec(), 400),
        ("space before colon", b"GET / HTTP/1.1\r\nHost : t\r\n\r\n".to_vec(), 400),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n".to_vec(), 400),
        ("missing Host", b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400),
        ("repeated Host", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(), 400),
        ("TE and CL", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(), 400),
        ("long target", long_target.into_bytes(), 414),
        ("too many headers", many_headers.into_bytes(), 431),
        ("head too large", big_head.into_bytes(), 431),
        ("unknown coding", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".to_vec(), 501),
        ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: t\r\n\r\n".to_vec(), 505),
        ("CONNECT, no tunnels", b"CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n".to_vec(), 501),
        ("fragment in the target", b"GET /a#b HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 400),
        ("fragment in the query", b"GET /a?q=1#b HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 400),
        ("authority-form without CONNECT", b"GET t:80 HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 400),
        ("asterisk-form without OPTIONS", b"GET * HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 400),
        ("absolute-form without a host", b"GET http:///a HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 400),
        ("absolute-form with userinfo", b"GET http://u@t/a HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 400),
        ("a target in no form", b"GET a/b HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 400),
        ("method over the limit", format!("{} / HTTP/1.1\r\nHost: t\r\n\r\n", "A".repeat(33)).into_bytes(), 501),
    ];
    for (name, raw, status) in cases {
        let (response, closed) = exchange(&server, &raw).await;
        assert_eq!(response.status, status, "{name}");
        assert_eq!(response.header("connection"), Some("close"), "{name}");
        assert!(
            closed,
            "{name}: the connection closes after a refused request"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn http_1_0_without_host_is_served() {
    let server = TestServer::start(Probe::default()).await;
    let (response, _) = exchange(&server, b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(response.status, 200);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn body_over_the_limit_is_413_by_length_and_by_chunks() {
    let config = ServerConfig {
        max_body_bytes: 10,
        ..test_config()
    };
    let probe = Probe::default();
    let server = TestServer::with_config(probe.clone(), config).await;
    let (response, closed) = exchange(
        &server,
        b"POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world",
    )
    .await;
    assert_eq!(response.status, 413);
    assert!(closed);
    assert!(
        !probe.log.contains("POST /count"),
        "the app never sees a declared-too-large body"
    );

    let chunked = b"POST /count HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n";
    let (response, closed) = exchange(&server, chunked).await;
    assert_eq!(response.status, 413);
    assert!(closed);
    let (response, _) = exchange(
        &server,
        b"POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789",
    )
    .await;
    assert_eq!(response.text(), "10");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn malformed_chunked_body_is_400_when_the_response_has_not_started() {
    let server = TestServer::start(Probe::default()).await;
    let bad = b"POST /count HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcde\r\n0\r\n\r\n";
    let (response, closed) = exchange(&server, bad).await;
    assert_eq!(response.status, 400);
    assert!(closed);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn app_error_before_start_is_500_and_close() {
    let server = TestServer::start(Probe::default()).await;
    for path in ["/error-before", "/return-before"] {
        let (response, closed) = exchange(
            &server,
            format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
        )
        .await;
        assert_eq!(response.status, 500, "{path}");
        assert_eq!(response.text(), "Internal Server Error");
        assert!(closed, "{path}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn app_error_after_start_or_early_return_closes_mid_body() {
    let server = TestServer::start(Probe::default()).await;
    for path in ["/error-after", "/return-early"] {
        let mut client = server.connect().await;
        client
            .send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .await;
        let head = client.head().await;
        assert_eq!(head.status, 200, "{path}");
        let rest = client.rest().await;
        // The partial chunk arrived, the terminating last-chunk never does.
        assert_eq!(rest, b"7\r\npartial\r\n", "{path}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn messages_out_of_order_are_refused_to_the_app() {
    let probe = Probe::default();
    let server = TestServer::start(probe.clone()).await;
    let mut client = server.connect().await;
    let response = client.get("/out-of-order").await;
    assert_eq!(
        response.text(),
        "Err(OutOfOrder(\"body before the response start\")) Err(OutOfOrder(\"response already started\"))"
    );
    // The connection stays usable.
    assert_eq!(client.get("/").await.status, 200);
    assert!(probe
        .log
        .contains("after end: Err(OutOfOrder(\"body after the final body\"))"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn receive_after_the_response_is_disconnect() {
    let probe = Probe::default();
    let server = TestServer::start(probe.clone()).await;
    let mut client = server.connect().await;
    assert_eq!(client.get("/receive-after-response").await.text(), "done");
    assert_eq!(client.get("/").await.status, 200);
    assert!(
        probe.log.contains("after response: Disconnect"),
        "{:?}",
        probe.log.lines()
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn client_disconnect_mid_body_is_seen_as_disconnect_and_send_fails() {
    let probe = Probe::default();
    let server = TestServer::start(probe.clone()).await;
    let mut client = server.connect().await;
    client
        .send(b"POST /watch-body HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789")
        .await;
    wait_for(|| probe.log.contains("got 10")).await;
    drop(client);
    wait_for(|| probe.log.contains("send after disconnect")).await;
    assert!(
        probe.log.contains("watch saw Disconnect"),
        "{:?}",
        probe.log.lines()
    );
    assert!(
        probe
            .log
            .contains("send after disconnect: Err(Disconnected)"),
        "{:?}",
        probe.log.lines()
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn send_after_the_client_left_is_an_error() {
    let probe = Probe::default();
    let server = TestServer::start(probe.clone()).await;
    let mut client = server.connect().await;
    client
        .send(b"GET /gated-stream HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    probe.gate.add_permits(1);
    let _ = client.head().await;
    assert_eq!(client.line().await, "6");
    drop(client);
    // A streamed chunk goes out when the app next waits (here, for the gate); once a write
    // has found the peer gone, the app's next send is refused.
    for _ in 0..19 {
        if probe.log.contains("gated-stream:") {
            break;
        }
        probe.gate.add_permits(1);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for(|| probe.log.contains("gated-stream:")).await;
    assert!(
        probe.log.contains("gated-stream: client gone"),
        "{:?}",
        probe.log.lines()
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn slow_headers_are_dropped_at_the_header_read_timeout() {
    let config = ServerConfig {
        header_read_timeout: Duration::from_millis(200),
        ..test_config()
    };
    let server = TestServer::with_config(Probe::default(), config).await;
    let mut client = server.connect().await;
    client.send(b"GET / HTTP/1.1\r\nHost: t\r\n").await;
    // The head never ends: the server drops the connection instead of waiting for ever.
    let closed = tokio::time::timeout(Duration::from_secs(5), client.closed()).await;
    assert_eq!(closed, Ok(true));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn trickled_headers_cannot_extend_the_deadline() {
    let config = ServerConfig {
        header_read_timeout: Duration::from_millis(300),
        ..test_config()
    };
    let server = TestServer::with_config(Probe::default(), config).await;
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut reader, writer) = stream.into_split();
    // One byte of an endless header every 50 ms, for six seconds.
    let trickler = tokio::spawn(async move {
        let _ = writer.try_write(b"GET / HTTP/1.1\r\nX-Slow: ");
        for _ in 0..120 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if writer.try_write(b"x").is_err() {
                return;
            }
        }
    });
    let mut rest = Vec::new();
    use tokio::io::AsyncReadExt;
    let _ = tokio::time::timeout(support::PATIENCE, reader.read_to_end(&mut rest)).await;
    assert!(
        !trickler.is_finished(),
        "the server waited for the whole trickle"
    );
    trickler.abort();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn idle_keep_alive_connections_close_at_the_keep_alive_timeout() {
    let config = ServerConfig {
        keep_alive_timeout: Duration::from_millis(200),
        ..test_config()
    };
    let server = TestServer::with_config(Probe::default(), config).await;
    let mut client = server.connect().await;
    assert_eq!(client.get("/").await.status, 200);
    let closed = tokio::time::timeout(Duration::from_secs(5), client.closed()).await;
    assert_eq!(closed, Ok(true));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn each_request_restarts_the_keep_alive_timeout() {
    // The connection's timer is moved lazily (it may fire early and re-arm); a connection that
    // keeps making requests inside the timeout must never be closed, and an idle one must not
    // be closed before the timeout has run.
    let timeout = Duration::from_millis(400);
    let config = ServerConfig {
        keep_alive_timeout: timeout,
        ..test_config()
    };
    let server = TestServer::with_config(Probe::default(), config).await;
    let mut client = server.connect().await;
    for _ in 0..12 {
        assert_eq!(client.get("/").await.status, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(client.get("/").await.status, 200);
    let idle_since = std::time::Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(5), client.closed()).await;
    assert_eq!(closed, Ok(true));
    assert!(
        idle_since.elapsed() >= timeout - Duration::from_millis(20),
        "closed after {:?}",
        idle_since.elapsed()
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn connections_over_the_limit_get_503() {
    let config = ServerConfig {
        limit_concurrency: Some(2),
        ..test_config()
    };
    let server = TestServer::with_config(Probe::default(), config).await;
    let mut first = server.connect().await;
    let mut second = server.connect().await;
    assert_eq!(first.get("/").await.status, 200);
    assert_eq!(second.get("/").await.status, 200);
    let (response, closed) = exchange(&server, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(response.status, 503);
    assert!(closed);
    drop(first);
    // Once a slot frees, new connections are served again.
    let mut served = false;
    for _ in 0..100 {
        let (response, _) = exchange(
            &server,
            b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
        .await;
        if response.status == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served);
    server.stop().await.unwrap();
}

/// Wait until `condition` holds (polling a log, not timing a claim).
async fn wait_for(condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "condition never held");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Answers an upgrade request with 101, as a protocol handler would.
struct Switches;

impl rasgi::protocol::App for Switches {
    async fn call<R: rasgi::protocol::Receive, S: rasgi::protocol::Sender>(
        &self,
        scope: rasgi::protocol::Scope,
        _receive: R,
        mut send: S,
    ) -> Result<(), rasgi::protocol::AppError> {
        use rasgi::protocol::{Headers, Message, Scope};
        let Scope::Http(_) = scope else {
            return Ok(());
        };
        let headers = Headers::new()
            .with("upgrade", "example")
            .with("connection", "upgrade");
        let switched = send.send(Message::start(101, headers)).await;
        let after = send.send(Message::body("http after the switch")).await;
        let text = format!("{switched:?} {after:?}");
        assert_eq!(
            text,
            "Ok(()) Err(OutOfOrder(\"the connection was upgraded\"))"
        );
        Ok(())
    }
}

#[tokio::test]
async fn a_101_ends_http_on_the_connection() {
    let server = TestServer::start(Switches).await;
    let mut client = server.connect().await;
    client
        .send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: example\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    let head = client.head().await;
    assert_eq!(head.status, 101);
    assert_eq!(head.header("upgrade"), Some("example"));
    assert_eq!(head.header("content-length"), None);
    // No protocol is served after the switch yet: the bytes that followed are not read as
    // HTTP, and the connection closes.
    assert!(client.closed().await, "nothing follows the 101");
    server.stop().await.unwrap();
}

/// Answers with the host and path it was given.
struct HostAndPath;

impl rasgi::protocol::App for HostAndPath {
    async fn call<R: rasgi::protocol::Receive, S: rasgi::protocol::Sender>(
        &self,
        scope: rasgi::protocol::Scope,
        _receive: R,
        mut send: S,
    ) -> Result<(), rasgi::protocol::AppError> {
        let rasgi::protocol::Scope::Http(scope) = scope else {
            return Ok(());
        };
        let hosts: Vec<&str> = scope
            .headers
            .get_all("host")
            .map(|h| std::str::from_utf8(h).unwrap_or("?"))
            .collect();
        let text = format!(
            "host={} path={} raw={} query={}",
            hosts.join(","),
            scope.path,
            String::from_utf8_lossy(&scope.raw_path),
            String::from_utf8_lossy(&scope.query_string)
        );
        rasgi::protocol::send_response(&mut send, 200, rasgi::protocol::Headers::new(), text)
            .await?;
        Ok(())
    }
}

#[tokio::test]
async fn request_targets_in_their_accepted_forms() {
    let server = TestServer::start(HostAndPath).await;
    let mut client = server.connect().await;
    let cases: [(&[u8], &str); 5] = [
        (
            b"GET /a?b=1 HTTP/1.1\r\nHost: t\r\n\r\n",
            "host=t path=/a raw=/a query=b=1",
        ),
        // Absolute-form: its host stands for Host (RFC 9112 §3.2.2).
        (
            b"GET http://example.com:8080/x?y=2 HTTP/1.1\r\nHost: other\r\n\r\n",
            "host=example.com:8080 path=/x raw=/x query=y=2",
        ),
        (
            b"GET HTTPS://example.com HTTP/1.1\r\nHost: other\r\n\r\n",
            "host=example.com path=/ raw=/ query=",
        ),
        (
            b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n",
            "host=t path=* raw=* query=",
        ),
        // HTTP/1.0 does not require Host.
        (
            b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            "host= path=/old raw=/old query=",
        ),
    ];
    for (raw, seen) in cases {
        client.send(raw).await;
        let response = client.response().await;
        assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(raw));
        assert_eq!(response.text(), seen);
    }
    server.stop().await.unwrap();
}

/// An app that reads at most 8 body bytes with `read_body` and passes its error on with `?`.
struct EightBytes;

impl rasgi::protocol::App for EightBytes {
    async fn call<R: rasgi::protocol::Receive, S: rasgi::protocol::Sender>(
        &self,
        scope: rasgi::protocol::Scope,
        mut receive: R,
        mut send: S,
    ) -> Result<(), rasgi::protocol::AppError> {
        if let rasgi::protocol::Scope::Http(_) = scope {
            let body = rasgi::protocol::read_body(&mut receive, 8).await?;
            let headers = rasgi::protocol::Headers::new();
            rasgi::protocol::send_response(&mut send, 200, headers, body).await?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn rfc9110_15_5_14_a_body_over_read_bodys_limit_is_413_not_500() {
    let server = TestServer::start(EightBytes).await;
    let whole = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n01234567890123456789";
    let chunked = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                    5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n";
    for raw in [&whole[..], &chunked[..]] {
        let (response, closed) = exchange(&server, raw).await;
        assert_eq!(response.status, 413, "{}", String::from_utf8_lossy(raw));
        assert!(closed);
    }
    // Within the limit, the app answers.
    let mut client = server.connect().await;
    client
        .send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\n01234567")
        .await;
    let ok = client.response().await;
    assert_eq!((ok.status, ok.text()), (200, "01234567".to_string()));
    drop(client);
    server.stop().await.unwrap();

    // Behind ServerErrors, which answers every other error 500, the same 413.
    let guarded = rasgi::middleware::Stack::new()
        .push(rasgi::middleware::ServerErrors::new())
        .app(EightBytes);
    let server = TestServer::start(guarded).await;
    let mut client = server.connect().await;
    client.send(whole).await;
    let response = client.response().await;
    assert_eq!(
        (response.status, response.text()),
        (413, "Content Too Large".to_string())
    );
    drop(client);
    server.stop().await.unwrap();
}

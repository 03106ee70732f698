//! Black-box tests of the HTTP/1.1 behaviour of the server, over real TCP.

mod support;

use support::apps::Probe;
use support::{find, TestServer};

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let server = TestServer::start(Probe::default()).await;
    let mut client = server.connect().await;
    for _ in 0..3 {
        let response = client.get("/").await;
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), "Hello, World!");
        assert_eq!(response.header("connection"), None);
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn pipelined_responses_keep_request_order() {
    let server = TestServer::start(Probe::default()).await;
    let mut client = server.connect().await;
    let mut batch = Vec::new();
    for i in 0..16 {
        batch.extend_from_slice(format!("GET /scope?i={i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    client.send(&batch).await;
    for i in 0..16 {
        let response = client.response().await;
        assert_eq!(response.status, 200);
        assert!(
            response.text().contains(&format!("query=i={i} ")),
            "{i}: {}",
            response.text()
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_pipelined_response_goes_out_while_the_next_request_waits() {
    let probe = Probe::default();
    let server = TestServer::start(probe.clone()).await;
    let mut client = server.connect().await;
    // The second request's app waits on the gate, which has no permits yet.
    client
        .send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /gated HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), client.response())
        .await
        .expect("the first response is written while the second request's app waits");
    assert_eq!(first.text(), "Hello, World!");
    probe.gate.add_permits(3);
    assert_eq!(client.response().await.text(), "part0 part1 part2 end");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn chunked_upload_is_decoded_and_streamed_response_is_chunked() {
    let server = TestServer::start(Probe::default()).await;
    let mut client = server.connect().await;
    client
        .send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-t: 1\r\n\r\n")
        .await;
    let response = client.response().await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "hello world");
    assert!(
        response.chunked,
        "a body streamed in pieces is sent chunked"
    );

    let response = client.get("/chunked").await;
    assert!(response.chunked);
    assert_eq!(response.text(), "one two three");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn whole_bodies_get_a_content_length() {
    let server = TestServer::start(Probe::default()).await;
    let mut client = server.connect().await;
    let response = client.get("/").await;
    assert_eq!(response.header("content-length"), Some("13"));
    assert!(!response.chunked);
    assert!(response.header("date").is_some_and(|d| d.ends_with(" GMT")));
    assert_eq!(response.header("server"), Some("rasgi"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn expect_100_continue_is_answered_on_the_first_receive() {
    let server = TestServer::start(Probe::default()).await;
    let mut client = server.connect().await;
    client
        .send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        )
        .await;
    // The client sends nothing more until it sees 100 Continue.
    let interim = client.head().await;
    assert_eq!(interim.status, 100);
    client.send(b"hello").await;
    let response = client.response().await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "hello");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn no_100_continue_when_the_app_answers_without_reading() {
    let server = TestServer::start(Probe::default()).await;
    let mut client = server.connect().await;
    client
        .send(b"POST /no-read HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        .await;
    let response = client.response().await;
    assert_eq!(response.status, 200);
    // The body was never asked for: the connection cannot know where the next request starts.
    assert_eq!(response.header("connection"), None);
    assert!(client.closed().await);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn head_gets_the_headers_of_get_and_no_body() {
    let server = TestServer::start(Probe::default()).await;
    let mut client = server.connect().await;
    client
        .send(b"HEAD /head-info HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    let head = client.head_response().await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("12"));
    // The next response starts right away: no body bytes were sent for HEAD.
    let next = client.get("/").await;
    assert_eq!(next.text(), "Hello, World!");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn unread_body_is_not_parsed_as_a_request_cve_2020_26281() {
    let probe = Probe::default();
    let server = TestServer::start(probe.clone()).await;
    let mut client = server.connect().await;
    let smuggled = b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
    let head = format!(
        "POST /no-read HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        smuggled.len()
    );
    client.send(&[head.as_bytes(), smuggled].concat()).await;
    assert_eq!(client.response().await.text(), "ignored your body");
    let next = client.get("/").await;
    assert_eq!(next.text(), "Hello, World!");
    assert!(!probe.log.contains("/smuggled"), "{:?}", probe.log.lines());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn unread_body_over_the_drain_limit_closes_the_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start(Probe::default()).await;
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let body = vec![b'x'; 1024 * 1024];
    let head = format!(
        "POST /no-read HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // The server stops reading once past its drain limit; the writer's errors are expected.
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(head.as_bytes()).await;
        let _ = writer.write_all(&body).await;
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(support::PATIENCE, reader.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the server closes instead of reading 1 MiB of unread body"
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with("ignored your body"), "{text}");
    writing.abort();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn http_1_0_is_close_delimited_unless_keep_alive_is_asked() {
    let server = TestServer::start(Probe::default()).await;
    let mut client = server.connect().await;
    client.send(b"GET /chunked HTTP/1.0\r\n\r\n").await;
    let rest = client.rest().await;
    let text = String::from_utf8_lossy(&rest);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(!text.contains("transfer-encoding"), "{text}");
    assert!(text.ends_with("\r\n\r\none two three"), "{text}");

    let mut client = server.connect().await;
    client
        .send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await;
    let response = client.response().await;
    assert_eq!(response.header("connection"), Some("keep-alive"));
    client.send(b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(client.response().await.text(), "Hello, World!");
    assert!(client.closed().await);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn connection_close_from_the_client_is_honoured() {
    let server = TestServer::start(Probe::default()).await;
    let mut client = server.connect().await;
    client
        .send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await;
    let response = client.response().await;
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.closed().await);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn scope_has_version_method_decoded_path_raw_path_and_query() {
    let server = TestServer::start(Probe::default()).await;
    let mut client = server.connect().await;
    let response = client.get("/sc%6Fpe?a=1&b=%20").await;
    assert_eq!(
        response.text(),
        "1.1 GET /scope raw=/sc%6Fpe query=a=1&b=%20 client=true root="
    );
    client
        .send(b"GET http://example.com/scope?x HTTP/1.1\r\nHost: example.com\r\n\r\n")
        .await;
    assert_eq!(
        client.response().await.text(),
        "1.1 GET /scope raw=/scope query=x client=true root="
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn root_path_setting_reaches_the_scope() {
    let config = rasgi::server::ServerConfig {
        root_path: "/api".into(),
        ..support::test_config()
    };
    let server = TestServer::with_config(Probe::default(), config).await;
    let mut client = server.connect().await;
    assert!(client.get("/scope").await.text().ends_with(" root=/api"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn trailers_follow_the_last_chunk() {
    let server = TestServer::start(Probe::default()).await;
    let mut client = server.connect().await;
    client
        .send(b"GET /trailers HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    let _ = client.head().await;
    assert_eq!(client.line().await, "4");
    assert_eq!(client.line().await, "data");
    assert_eq!(client.line().await, "0");
    assert_eq!(client.line().await, "x-checksum: 42");
    assert_eq!(client.line().await, "");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn trailers_on_a_whole_body_are_accepted_and_dropped() {
    let probe = Probe::default();
    let server = TestServer::start(probe.clone()).await;
    let mut client = server.connect().await;
    let response = client.get("/trailers-whole").await;
    assert_eq!(response.header("content-length"), Some("4"));
    assert_eq!(response.text(), "data");
    assert_eq!(
        client.get("/").await.status,
        200,
        "the connection stays usable"
    );
    assert!(
        probe.log.contains("trailers: Ok(())"),
        "{:?}",
        probe.log.lines()
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn early_hints_come_before_the_response() {
    let server = TestServer::start(Probe::default()).await;
    let mut client = server.connect().await;
    client
        .send(b"GET /early-hints HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    let hints = client.head().await;
    assert_eq!(hints.status, 103);
    assert_eq!(hints.header("link"), Some("</a.css>; rel=preload"));
    assert_eq!(client.response().await.text(), "after hints");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn response_splitting_header_is_refused_to_the_app() {
    let server = TestServer::start(Probe::default()).await;
    let mut client = server.connect().await;
    let response = client.get("/splitting").await;
    assert_eq!(response.text(), "Err(InvalidHeader)");
    assert!(response.header("set-cookie").is_none());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn date_and_server_headers_can_be_switched_off() {
    let config = rasgi::server::ServerConfig {
        date_header: false,
        server_header: false,
        ..support::test_config()
    };
    let server = TestServer::with_config(Probe::default(), config).await;
    let mut client = server.connect().await;
    let response = client.get("/").await;
    assert_eq!(response.header("date"), None);
    assert_eq!(response.header("server"), None);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn serve_connection_works_over_an_in_memory_duplex() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut client, server_side) = tokio::io::duplex(4096);
    let served = tokio::spawn(rasgi::server::serve_connection(
        server_side,
        Probe::default(),
    ));
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.unwrap();
    served.await.unwrap();
    assert!(
        find(&out, b"\r\n\r\nHello, World!").is_some(),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

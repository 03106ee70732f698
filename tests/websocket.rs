//! WebSockets over real sockets, with hand-built frames: the handshake's rules, every close
//! code a broken rule fails with, the ASGI websocket protocol (accept, deny, close, errors),
//! keep-alive pings, shutdown, and the Autobahn|Testsuite case groups one by one (see
//! docs/conformance.md).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rasgi::protocol::{App, AppError, Event, Headers, Message, Receive, Scope, Sender};
use rasgi::server::{ServerConfig, WebSocketConfig};
use support::ws::{close_payload, frame, handshake_request, WsClient};
use support::{test_config, TestServer, PATIENCE};

/// What the test app saw, in order.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, line: impl Into<String>) {
        self.0.lock().unwrap().push(line.into());
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Wait until a line containing `needle` is there.
    async fn wait_for(&self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {needle:?} in {:?}",
                self.lines()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// One app, a behaviour per path.
#[derive(Clone, Default)]
struct WsApp {
    seen: Seen,
}

impl App for WsApp {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        mut receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let scope = match scope {
            Scope::WebSocket(scope) => scope,
            Scope::Http(http) => {
                self.seen
                    .push(format!("http {} {}", http.method, http.path));
                return rasgi::protocol::send_response(&mut send, 200, Headers::new(), "plain")
                    .await
                    .map_err(Into::into);
            }
            Scope::Lifespan(_) => return Ok(()),
        };
        let event = receive.receive().await;
        self.seen.push(format!("{event:?}"));
        self.seen.push(format!(
            "scope {} {} {:?} {:?}",
            scope.scheme_str(),
            scope.path,
            String::from_utf8_lossy(&scope.query_string),
            scope.subprotocols
        ));
        match scope.path.as_str() {
            "/echo" | "/silent" => {
                let subprotocol = scope.subprotocols.first().cloned();
                send.send(Message::WebSocketAccept {
                    subprotocol,
                    headers: Headers::new().with("x-app", "yes"),
                })
                .await?;
                loop {
                    match receive.receive().await {
                        Event::WebSocketReceive(data) if scope.path == "/echo" => {
                            send.send(Message::WebSocketSend(data)).await?;
                        }
                        Event::WebSocketReceive(_) => {}
                        Event::WebSocketDisconnect { code, reason } => {
                            self.seen.push(format!("disconnect {code} {reason:?}"));
                            return Ok(());
                        }
                        other => self.seen.push(format!("unexpected {other:?}")),
                    }
                }
            }
            "/close-after-one" => {
                send.send(Message::accept()).await?;
                let first = receive.receive().await;
                self.seen.push(format!("got {first:?}"));
                send.send(Message::WebSocketClose {
                    code: 4000,
                    reason: "done".into(),
                })
                .await?;
                let late = send.send(Message::text("late")).await;
                self.seen.push(format!("send after close: {late:?}"));
                let next = receive.receive().await;
                self.seen.push(format!("next event: {next:?}"));
                Ok(())
            }
            "/deny" => {
                send.send(Message::start(
                    401,
                    Headers::new()
                        .with("content-type", "text/plain")
                        .with("content-length", "6"),
                ))
                .await?;
                send.send(Message::body("no way")).await?;
                Ok(())
            }
            "/close-first" => {
                send.send(Message::close(1000)).await?;
                Ok(())
            }
            "/return-first" => Ok(()),
            "/receive-first" => {
                // Nothing can arrive before the 101: told at once, not left waiting.
                let early = receive.receive().await;
                self.seen.push(format!("before accept: {early:?}"));
                Ok(())
            }
            "/fail-first" => Err("the app failed".into()),
            "/panic-first" => panic!("the app panicked"),
            "/fail-after" => {
                send.send(Message::accept()).await?;
                receive.receive().await;
                Err("the app failed after accepting".into())
            }
            "/bad-subprotocol" => {
                let refused = send
                    .send(Message::WebSocketAccept {
                        subprotocol: Some("never-offered".into()),
                        headers: Headers::new(),
                    })
                    .await;
                self.seen.push(format!("accept: {refused:?}"));
                send.send(Message::close(1000)).await?;
                Ok(())
            }
            "/ticker" => {
                // Sends on a timer while it waits for messages: each tick gives up the
                // `receive` in progress (a chat's broadcast beside its reader).
                send.send(Message::accept()).await?;
                let mut ticks = 0;
                loop {
                    let tick = tokio::time::sleep(Duration::from_millis(20));
                    tokio::select! {
                        event = receive.receive() => match event {
                            Event::WebSocketReceive(data) => {
                                send.send(Message::WebSocketSend(data)).await?;
                            }
                            Event::WebSocketDisconnect { code, .. } => {
                                self.seen.push(format!("ticker disconnect {code} after {ticks} ticks"));
                                return Ok(());
                            }
                            other => self.seen.push(format!("unexpected {other:?}")),
                        },
                        () = tick => {
                            ticks += 1;
                            send.send(Message::text(format!("tick {ticks}"))).await?;
                        }
                    }
                }
            }
            "/flood" => {
                // Sends without reading: with a client that does not read, `send` must wait.
                send.send(Message::accept()).await?;
                let chunk = bytes::Bytes::from(vec![b'x'; 256 * 1024]);
                for sent in 1.. {
                    if send.send(Message::binary(chunk.clone())).await.is_err() {
                        return Ok(());
                    }
                    self.seen.push(format!("flood {sent}"));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn config_with(ws: WebSocketConfig) -> ServerConfig {
    ServerConfig {
        websocket: ws,
        ..test_config()
    }
}

async fn server() -> (TestServer, Seen) {
    let app = WsApp::default();
    let seen = app.seen.clone();
    (TestServer::start(app).await, seen)
}

// ----- the opening handshake -----

#[tokio::test]
async fn a_valid_handshake_is_answered_101_with_the_accept_key_and_the_apps_fields() {
    let (server, seen) = server().await;
    let ws = WsClient::open(server.addr, "/echo?room=1", &[]).await;
    assert_eq!(ws.response.header("upgrade"), Some("websocket"));
    assert_eq!(ws.response.header("connection"), Some("Upgrade"));
    assert_eq!(ws.response.header("x-app"), Some("yes"));
    assert_eq!(ws.response.header("sec-websocket-protocol"), None);
    seen.wait_for("WebSocketConnect").await;
    let scope = seen.wait_for("scope").await;
    assert_eq!(scope, r#"scope ws /echo "room=1" []"#);
}

#[tokio::test]
async fn upgrade_and_connection_tokens_match_in_any_case_and_position() {
    let (server, _) = server().await;
    let request = handshake_request("/echo", &[])
        .replace("Upgrade: websocket", "upgrade: WebSocket")
        .replace("Connection: Upgrade", "Connection: keep-alive, UPGRADE");
    let ws = WsClient::handshake(server.addr, &request).await;
    assert_eq!(ws.response.status, 101);
}

#[tokio::test]
async fn a_wrong_version_is_426_naming_13_and_a_bad_key_is_400() {
    let (server, seen) = server().await;
    for version in ["8", "14", ""] {
        let request = handshake_request("/echo", &[]).replace(
            "Sec-WebSocket-Version: 13",
            &format!("Sec-WebSocket-Version: {version}"),
        );
        let ws = WsClient::handshake(server.addr, &request).await;
        assert_eq!(ws.response.status, 426, "version {version:?}");
        assert_eq!(ws.response.header("sec-websocket-version"), Some("13"));
    }
    for key in ["", "not base64!", "c2hvcnQ=", "dGhlIHNhbXBsZSBub25jZQ"] {
        let request = handshake_request("/echo", &[]).replace(support::ws::KEY, key);
        let ws = WsClient::handshake(server.addr, &request).await;
        assert_eq!(ws.response.status, 400, "key {key:?}");
        assert!(ws.response.text().contains("Sec-WebSocket-Key"));
    }
    let no_key = handshake_request("/echo", &[])
        .replace(&format!("Sec-WebSocket-Key: {}\r\n", support::ws::KEY), "");
    assert_eq!(
        WsClient::handshake(server.addr, &no_key)
            .await
            .response
            .status,
        400
    );
    // None of them reached the app.
    assert!(seen.lines().is_empty(), "{:?}", seen.lines());
}

#[tokio::test]
async fn subprotocols_offered_are_in_the_scope_and_the_chosen_one_answered() {
    let (server, seen) = server().await;
    let ws = WsClient::open(
        server.addr,
        "/echo",
        &[
            "Sec-WebSocket-Protocol: chat.v2, chat",
            "Sec-WebSocket-Protocol: json",
        ],
    )
    .await;
    assert_eq!(
        ws.response.header("sec-websocket-protocol"),
        Some("chat.v2")
    );
    let scope = seen.wait_for("scope").await;
    assert!(scope.ends_with(r#"["chat.v2", "chat", "json"]"#), "{scope}");
    // A subprotocol the client never offered is refused to the app.
    let ws = WsClient::handshake(server.addr, &handshake_request("/bad-subprotocol", &[])).await;
    assert_eq!(ws.response.status, 403);
    let refused = seen.wait_for("accept:").await;
    assert!(refused.contains("InvalidWebSocket"), "{refused}");
}

#[tokio::test]
async fn an_upgrade_that_is_not_a_websocket_request_is_plain_http() {
    let (server, seen) = server().await;
    // POST, HTTP/1.0, and a missing Connection: upgrade are ordinary requests.
    let post = handshake_request("/echo", &["Content-Length: 0"]).replacen("GET", "POST", 1);
    let old = handshake_request("/echo", &[]).replacen("HTTP/1.1", "HTTP/1.0", 1);
    let no_connection = handshake_request("/echo", &[]).replace("Connection: Upgrade\r\n", "");
    for request in [post, old, no_connection] {
        let mut client = support::Client::connect(server.addr).await;
        client.send(request.as_bytes()).await;
        let response = client.response().await;
        assert_eq!((response.status, response.text().as_str()), (200, "plain"));
    }
    assert_eq!(
        seen.lines()
            .iter()
            .filter(|l| l.starts_with("http"))
            .count(),
        3
    );
}

// ----- the ASGI websocket protocol -----

#[tokio::test]
async fn the_app_may_deny_with_an_http_response_or_refuse_with_403() {
    let (server, seen) = server().await;
    let ws = WsClient::handshake(server.addr, &handshake_request("/deny", &[])).await;
    assert_eq!(
        (ws.response.status, ws.response.text().as_str()),
        (401, "no way")
    );
    assert_eq!(ws.response.header("connection"), Some("close"));
    for path in ["/close-first", "/return-first"] {
        let ws = WsClient::handshake(server.addr, &handshake_request(path, &[])).await;
        assert_eq!(ws.response.status, 403, "{path}");
    }
    let ws = WsClient::handshake(server.addr, &handshake_request("/receive-first", &[])).await;
    assert_eq!(ws.response.status, 403);
    let early = seen.wait_for("before accept").await;
    assert!(
        early.contains("WebSocketDisconnect { code: 1006"),
        "{early}"
    );
}

#[tokio::test]
async fn an_app_failing_before_accept_is_500_and_after_accept_1011() {
    let (server, _) = server().await;
    for path in ["/fail-first", "/panic-first"] {
        let ws = WsClient::handshake(server.addr, &handshake_request(path, &[])).await;
        assert_eq!(ws.response.status, 500, "{path}");
    }
    let mut ws = WsClient::open(server.addr, "/fail-after", &[]).await;
    ws.text("go").await;
    ws.expect_close(1011).await;
    assert_eq!(server.counters.snapshot().panics, 1);
}

#[tokio::test]
async fn the_server_closes_for_the_app_and_a_send_after_close_fails() {
    let (server, seen) = server().await;
    let mut ws = WsClient::open(server.addr, "/close-after-one", &[]).await;
    ws.text("one").await;
    let close = ws.read_frame().await;
    assert_eq!(close.close_code(), 4000);
    assert_eq!(&close.payload[2..], b"done");
    let late = seen.wait_for("send after close").await;
    assert!(late.ends_with("Err(Closed)"), "{late}");
    // The closing handshake completes when the client answers.
    ws.close(4000, "").await;
    assert!(ws.http.closed().await);
    let after = seen.wait_for("next event").await;
    assert!(
        after.contains("WebSocketDisconnect { code: 4000"),
        "{after}"
    );
}

#[tokio::test]
async fn a_client_close_is_answered_and_the_app_told_its_code_and_reason() {
    let (server, seen) = server().await;
    let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
    ws.close(1001, "tab closed").await;
    let answer = ws.read_frame().await;
    assert_eq!(answer.close_code(), 1001);
    assert!(ws.http.closed().await);
    assert_eq!(
        seen.wait_for("disconnect").await,
        r#"disconnect 1001 "tab closed""#
    );
    // A connection lost without a close is 1006 to the app.
    let ws = WsClient::open(server.addr, "/silent", &[]).await;
    drop(ws);
    seen.wait_for("disconnect 1006").await;
}

#[tokio::test]
async fn a_client_that_stops_reading_makes_send_wait() {
    let (server, seen) = server().await;
    let ws = WsClient::open(server.addr, "/flood", &[]).await;
    seen.wait_for("flood 1").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = seen
        .lines()
        .iter()
        .filter(|l| l.starts_with("flood"))
        .count();
    // 256 KiB messages against a client that reads nothing: the kernel's buffers hold a few
    // MB at most; without backpressure this would be thousands.
    assert!(
        sent < 64,
        "{sent} messages of 256 KiB sent to a client that reads nothing"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = seen
        .lines()
        .iter()
        .filter(|l| l.starts_with("flood"))
        .count();
    assert_eq!(
        later, sent,
        "sending stalled while the client does not read"
    );
    drop(ws);
}

#[tokio::test]
async fn an_app_that_sends_while_it_waits_to_receive_loses_nothing_either_way() {
    let (server, seen) = server().await;
    let mut ws = WsClient::open(server.addr, "/ticker", &[]).await;
    // Ticks come while the client sends nothing: each one interrupts a waiting `receive`.
    for n in 1..=3 {
        assert_eq!(
            ws.read_data_frame().await.payload,
            format!("tick {n}").as_bytes()
        );
    }
    // Messages sent between ticks are each echoed once, in order, among the ticks.
    for i in 0..20 {
        ws.text(&format!("message {i}")).await;
    }
    let mut echoed = Vec::new();
    while echoed.len() < 20 {
        let frame = ws.read_data_frame().await;
        if !frame.payload.starts_with(b"tick") {
            echoed.push(String::from_utf8(frame.payload).unwrap());
        }
    }
    let expected: Vec<String> = (0..20).map(|i| format!("message {i}")).collect();
    assert_eq!(echoed, expected);
    ws.close(1000, "").await;
    let line = seen.wait_for("ticker disconnect").await;
    assert!(line.starts_with("ticker disconnect 1000 after "), "{line}");
}

// ----- Autobahn 1: framing -----

#[tokio::test]
async fn autobahn_1_text_and_binary_of_every_length_form_are_echoed() {
    let (server, _) = server().await;
    let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
    for len in [0, 1, 125, 126, 127, 128, 65_535, 65_536, 100_000] {
        let text = "*".repeat(len);
        ws.text(&text).await;
        let echo = ws.read_data_frame().await;
        assert_eq!((echo.first, echo.payload.len()), (0x81, len));
        let bytes = vec![0xFE; len];
        ws.binary(&bytes).await;
        let echo = ws.read_data_frame().await;
        assert_eq!((echo.first, echo.payload), (0x82, bytes));
    }
    // Frames trickled a byte at a time read the same.
    for byte in frame(0x81, b"slowly") {
        ws.send_raw(&[byte]).await;
    }
    assert_eq!(ws.read_data_frame().await.payload, b"slowly");
}

#[tokio::test]
async fn a_1_mib_message_is_echoed_whole_and_in_fragments() {
    let (server, _) = server().await;
    let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
    let message: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    ws.binary(&message).await;
    assert_eq!(ws.read_data_frame().await.payload, message);
    let mut pieces = message.chunks(100_000).peekable();
    let mut first = true;
    while let Some(piece) = pieces.next() {
        let fin = if pieces.peek().is_none() { 0x80 } else { 0 };
        let opcode = if first { 0x2 } else { 0x0 };
        first = false;
        ws.send_frame(fin | opcode, piece).await;
    }
    assert_eq!(ws.read_data_frame().await.payload, message);
}

// ----- Autobahn 2: pings and pongs -----

#[tokio::test]
async fn autobahn_2_pings_are_answered_with_their_payload_and_pongs_ignored() {
    let (server, _) = server().await;
    let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
    for payload in [&b""[..], b"hello", &[0xFF; 125], &[0x00, 0xFF, 0xFE]] {
        ws.send_frame(0x89, payload).await;
        let pong = ws.read_frame().await;
        assert_eq!((pong.first, pong.payload.as_slice()), (0x8A, payload));
    }
    // An unsolicited pong needs no answer: the next frame is the echo.
    ws.send_frame(0x8A, b"unsolicited").await;
    ws.text("after").await;
    assert_eq!(ws.read_data_frame().await.payload, b"after");
    // Ten pings in one write: ten pongs, in order.
    let mut burst = Vec::new();
    for i in 0..10u8 {
        burst.extend(frame(0x89, &[i]));
    }
    ws.send_raw(&burst).await;
    for i in 0..10u8 {
        assert_eq!(ws.read_frame().await.payload, [i]);
    }
    // A ping over 125 bytes fails the connection.
    ws.send_frame(0x89, &[0; 126]).await;
    ws.expect_failed(1002).await;
}

// ----- Autobahn 3: reserved bits -----

#[tokio::test]
async fn autobahn_3_reserved_bits_fail_with_1002() {
    let (server, _) = server().await;
    for first in [0x91, 0xA1, 0xB1, 0xC1, 0xC2, 0xE9, 0xF1] {
        let mut ws =
            WsClient::open(server.addr, "/echo", &["Sec-WebSocket-Extensions: none"]).await;
        ws.text("ok first").await;
        assert_eq!(ws.read_data_frame().await.payload, b"ok first");
        ws.send_frame(first, b"reserved").await;
        ws.expect_failed(1002).await;
    }
}

// ----- Autobahn 4: opcodes -----

#[tokio::test]
async fn autobahn_4_reserved_opcodes_fail_with_1002() {
    let (server, _) = server().await;
    for opcode in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
        ws.send_frame(0x80 | opcode, b"").await;
        ws.expect_failed(1002).await;
    }
}

// ----- Autobahn 5: fragmentation -----

#[tokio::test]
async fn autobahn_5_fragments_join_with_pings_between_them() {
    let (server, _) = server().await;
    let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
    ws.send_frame(0x01, b"frag").await;
    ws.send_frame(0x89, b"ping 1").await;
    ws.send_frame(0x00, b"ment").await;
    ws.send_frame(0x89, b"ping 2").await;
    ws.send_frame(0x80, b"ed").await;
    assert_eq!(ws.read_frame().await.payload, b"ping 1");
    assert_eq!(ws.read_frame().await.payload, b"ping 2");
    let echo = ws.read_frame().await;
    assert_eq!(
        (echo.first, echo.payload.as_slice()),
        (0x81, &b"fragmented"[..])
    );
    // Empty fragments are fine too.
    ws.send_frame(0x02, b"").await;
    ws.send_frame(0x00, b"").await;
    ws.send_frame(0x80, b"").await;
    assert_eq!(ws.read_frame().await.first, 0x82);
}

#[tokio::test]
async fn autobahn_5_broken_fragmentation_fails_with_1002() {
    let (server, _) = server().await;
    let cases: [&[(u8, &[u8])]; 4] = [
        // A continuation with no message begun.
        &[(0x80, b"orphan")],
        &[(0x00, b"orphan"), (0x80, b"too")],
        // A new message inside a fragmented one.
        &[(0x01, b"one"), (0x81, b"two")],
        // A fragmented ping.
        &[(0x09, b"ping"), (0x80, b"pong")],
    ];
    for frames in cases {
        let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
        for (first, payload) in frames {
            ws.send_frame(*first, payload).await;
        }
        ws.expect_failed(1002).await;
    }
}

// ----- Autobahn 6: UTF-8 -----

#[tokio::test]
async fn autobahn_6_valid_utf8_split_anywhere_is_echoed() {
    let (server, _) = server().await;
    let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
    let text = "Hello-µ@ßöäüàá-UTF-8!! κόσμε 😀";
    let bytes = text.as_bytes();
    for cut in 1..bytes.len() {
        ws.send_frame(0x01, &bytes[..cut]).await;
        ws.send_frame(0x80, &bytes[cut..]).await;
        assert_eq!(ws.read_data_frame().await.payload, bytes);
    }
}

#[tokio::test]
async fn autobahn_6_invalid_utf8_fails_with_1007_even_mid_message() {
    let (server, _) = server().await;
    let invalid: [&[u8]; 5] = [
        &[
            0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80,
        ],
        &[0xF4, 0x90, 0x80, 0x80],
        &[0xC0, 0xAF],
        &[0xFF],
        &[0xED, 0xBF, 0xBF],
    ];
    for bytes in invalid {
        let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
        ws.send_frame(0x81, bytes).await;
        ws.expect_failed(1007).await;
    }
    // The first fragment is already broken: failed before the message ends.
    let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
    ws.send_frame(0x01, &[b'o', b'k', 0xFF]).await;
    ws.expect_failed(1007).await;
    // A message that ends inside a character.
    let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
    ws.send_frame(0x01, b"ok").await;
    ws.send_frame(0x80, &[0xF0, 0x9F, 0x98]).await;
    ws.expect_failed(1007).await;
}

// ----- Autobahn 7: close handling -----

#[tokio::test]
async fn autobahn_7_close_frames_are_checked() {
    let (server, _) = server().await;
    // Valid codes are echoed.
    for code in [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ] {
        let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
        ws.close(code, "").await;
        let answer = ws.read_frame().await;
        assert_eq!(answer.close_code(), code);
        assert!(ws.http.closed().await);
    }
    // An empty close is answered with an empty close.
    let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
    ws.send_frame(0x88, b"").await;
    assert_eq!(ws.read_frame().await.payload, b"");
    // Codes nobody may send, a one-byte payload, a reason that is not UTF-8: 1002 / 1007.
    for code in [
        0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
        ws.close(code, "").await;
        ws.expect_failed(1002).await;
    }
    let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
    ws.send_frame(0x88, &[0x03]).await;
    ws.expect_failed(1002).await;
    let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
    let mut payload = close_payload(1000, "");
    payload.extend_from_slice(&[0xCE, 0xBA, 0xFF]);
    ws.send_frame(0x88, &payload).await;
    ws.expect_failed(1007).await;
    // Nothing after the close is answered: a ping behind it gets no pong.
    let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
    let mut both = frame(0x88, &close_payload(1000, ""));
    both.extend(frame(0x89, b"late"));
    ws.send_raw(&both).await;
    assert_eq!(ws.read_frame().await.close_code(), 1000);
    assert!(ws.http.closed().await, "no pong, just the end");
}

// ----- Autobahn 9: limits -----

#[tokio::test]
async fn autobahn_9_a_message_over_the_limit_fails_with_1009() {
    let app = WsApp::default();
    let server = TestServer::with_config(
        app,
        config_with(WebSocketConfig {
            max_message_bytes: 64 * 1024,
            ..WebSocketConfig::default()
        }),
    )
    .await;
    let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
    ws.binary(&vec![1; 64 * 1024]).await;
    assert_eq!(ws.read_data_frame().await.payload.len(), 64 * 1024);
    // Only the head of the big frame is sent: the server fails it without waiting for more.
    let big = frame(0x82, &vec![1; 64 * 1024 + 1]);
    ws.send_raw(&big[..14]).await;
    ws.expect_failed(1009).await;
    // Fragments adding up past it.
    let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
    ws.send_frame(0x01, &[b'a'; 40_000]).await;
    ws.send_frame(0x80, &[b'a'; 40_000]).await;
    ws.expect_failed(1009).await;
}

// ----- keep-alive pings and shutdown -----

#[tokio::test]
async fn the_server_pings_and_closes_1011_when_no_pong_comes() {
    let app = WsApp::default();
    let server = TestServer::with_config(
        app,
        config_with(WebSocketConfig {
            ping_interval: Some(Duration::from_millis(100)),
            ping_timeout: Some(Duration::from_millis(300)),
            ..WebSocketConfig::default()
        }),
    )
    .await;
    // A client that answers stays open past several intervals, while another one does not.
    let mut answering = WsClient::open(server.addr, "/echo", &[]).await;
    let answerer = tokio::spawn(async move {
        let until = std::time::Instant::now() + Duration::from_millis(1000);
        let mut pings = 0;
        while std::time::Instant::now() < until {
            let ping = answering.read_frame().await;
            assert_eq!(ping.opcode(), 0x9);
            answering.send_frame(0x8A, &ping.payload).await;
            pings += 1;
        }
        answering.send_frame(0x81, b"still here").await;
        assert_eq!(answering.read_data_frame().await.payload, b"still here");
        pings
    });
    let mut silent = WsClient::open(server.addr, "/silent", &[]).await;
    let started = std::time::Instant::now();
    assert_eq!(silent.read_frame().await.opcode(), 0x9);
    let close = silent.read_frame().await;
    assert_eq!(close.close_code(), 1011);
    assert_eq!(&close.payload[2..], b"keepalive ping timeout");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert!(silent.http.closed().await);
    let pings = answerer
        .await
        .expect("the answering client is served throughout");
    assert!(pings >= 5, "{pings} pings in a second at a 100 ms interval");
}

#[tokio::test]
async fn shutdown_closes_open_websockets_with_1001_and_waits_for_the_answer() {
    let (server, seen) = server().await;
    let mut ws = WsClient::open(server.addr, "/echo", &[]).await;
    ws.text("before").await;
    assert_eq!(ws.read_frame().await.payload, b"before");
    let addr = server.addr;
    let stopping = tokio::spawn(server.stop());
    let close = ws.read_frame().await;
    assert_eq!(close.close_code(), 1001);
    ws.close(1001, "").await;
    assert!(ws.http.closed().await);
    stopping.await.unwrap().expect("a clean stop");
    assert!(seen
        .wait_for("disconnect")
        .await
        .starts_with("disconnect 1001"));
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn open_websockets_are_counted() {
    let (server, _) = server().await;
    let a = WsClient::open(server.addr, "/silent", &[]).await;
    let mut b = WsClient::open(server.addr, "/silent", &[]).await;
    assert_eq!(server.counters.snapshot().websockets_open, 2);
    b.close(1000, "").await;
    assert_eq!(b.read_frame().await.close_code(), 1000);
    assert!(b.http.closed().await);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while server.counters.snapshot().websockets_open != 1 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(a);
}

// ----- Autobahn 12 and 13: permessage-deflate -----

mod deflate {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use rasgi::ws::{negotiate, Config, Data, DeflateParams, Incoming, Role, Session};

    /// The client's side of what the server answered.
    fn client_session(answer: &str) -> Session {
        let (server, _) = negotiate([answer.as_bytes()]).expect("the answer is a valid offer");
        let client = DeflateParams {
            own_no_context_takeover: server.peer_no_context_takeover,
            peer_no_context_takeover: server.own_no_context_takeover,
            own_max_window_bits: server.peer_max_window_bits,
            peer_max_window_bits: server.own_max_window_bits,
        };
        Session::new(
            Role::Client,
            Config {
                max_message_bytes: 1 << 24,
                deflate: Some(client),
            },
        )
    }

    /// Send `data` compressed; return the echo's frame as it came and the message it inflates to.
    async fn round_trip(
        ws: &mut WsClient,
        client: &mut Session,
        data: Data,
    ) -> (support::ws::Frame, Data) {
        client.send(&data).unwrap();
        let out = client.output().to_vec();
        client.wrote(out.len());
        assert_eq!(out[0] & 0x40, 0x40, "the client's frame is compressed");
        ws.send_raw(&out).await;
        let frame = ws.read_data_frame().await;
        let mut wire = BytesMut::new();
        wire.extend_from_slice(&[frame.first]);
        let len = frame.payload.len();
        if len < 126 {
            wire.extend_from_slice(&[len as u8]);
        } else if len <= 0xFFFF {
            wire.extend_from_slice(&[126]);
            wire.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            wire.extend_from_slice(&[127]);
            wire.extend_from_slice(&(len as u64).to_be_bytes());
        }
        wire.extend_from_slice(&frame.payload);
        match client.read(&mut wire) {
            Ok(Some(Incoming::Message(echo))) => (frame, echo),
            other => panic!("no message from the echo: {other:?}"),
        }
    }

    #[tokio::test]
    async fn compressed_messages_of_every_size_round_trip() {
        let (server, _) = server().await;
        let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits";
        let mut ws = WsClient::open(server.addr, "/echo", &[offer]).await;
        let answer = ws
            .response
            .header("sec-websocket-extensions")
            .unwrap()
            .to_string();
        assert_eq!(answer, "permessage-deflate");
        let mut client = client_session(&answer);
        for len in [0, 1, 16, 125, 126, 4096, 65_536, 1 << 20] {
            let text: String = (0..len).map(|i| (b'a' + (i % 7) as u8) as char).collect();
            let (frame, echo) =
                round_trip(&mut ws, &mut client, Data::Text(Bytes::from(text.clone()))).await;
            assert!(frame.rsv1(), "the echo of {len} bytes is compressed");
            assert!(
                frame.payload.len() <= len / 2 + 16,
                "{len} -> {}",
                frame.payload.len()
            );
            assert_eq!(echo, Data::Text(Bytes::from(text)));
            let bytes = Bytes::from(vec![7u8; len]);
            let (_, echo) = round_trip(&mut ws, &mut client, Data::Binary(bytes.clone())).await;
            assert_eq!(echo, Data::Binary(bytes));
        }
    }

    #[tokio::test]
    async fn negotiated_parameters_are_honoured() {
        let (server, _) = server().await;
        for offer in [
            "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; client_no_context_takeover",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; server_max_window_bits=9",
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10",
            "permessage-deflate; client_max_window_bits=15",
        ] {
            let field = format!("Sec-WebSocket-Extensions: {offer}");
            let mut ws = WsClient::open(server.addr, "/echo", &[&field]).await;
            let answer = ws
                .response
                .header("sec-websocket-extensions")
                .unwrap()
                .to_string();
            assert_eq!(answer, offer, "the server accepts and echoes {offer:?}");
            let mut client = client_session(&answer);
            let message = Bytes::from("a message said twice, a message said twice. ".repeat(20));
            let (first, _) = round_trip(&mut ws, &mut client, Data::Text(message.clone())).await;
            let (second, echo) =
                round_trip(&mut ws, &mut client, Data::Text(message.clone())).await;
            assert_eq!(echo, Data::Text(message));
            if offer.contains("server_no_context_takeover") {
                assert_eq!(
                    first.payload, second.payload,
                    "{offer}: each message starts afresh"
                );
            } else {
                assert!(
                    second.payload.len() < first.payload.len(),
                    "{offer}: the window carries over"
                );
            }
        }
    }

    #[tokio::test]
    async fn offers_that_cannot_be_honoured_are_declined_and_deflate_can_be_off() {
        let (server, _) = server().await;
        for offer in [
            "permessage-deflate; server_max_window_bits=8",
            "permessage-deflate; unknown_parameter",
            "x-webkit-deflate-frame",
        ] {
            let field = format!("Sec-WebSocket-Extensions: {offer}");
            let mut ws = WsClient::open(server.addr, "/echo", &[&field]).await;
            assert_eq!(
                ws.response.header("sec-websocket-extensions"),
                None,
                "{offer}"
            );
            ws.text("plain").await;
            let echo = ws.read_data_frame().await;
            assert!(!echo.rsv1());
            // Without the extension, RSV1 is a protocol error.
            ws.send_frame(0xC1, b"x").await;
            ws.expect_failed(1002).await;
        }
        let off = TestServer::with_config(
            WsApp::default(),
            config_with(WebSocketConfig {
                per_message_deflate: false,
                ..WebSocketConfig::default()
            }),
        )
        .await;
        let ws = WsClient::open(
            off.addr,
            "/echo",
            &["Sec-WebSocket-Extensions: permessage-deflate"],
        )
        .await;
        assert_eq!(ws.response.header("sec-websocket-extensions"), None);
    }

    #[tokio::test]
    async fn broken_compressed_messages_fail_the_connection() {
        let small_limit = config_with(WebSocketConfig {
            max_message_bytes: 100_000,
            ..WebSocketConfig::default()
        });
        let server = TestServer::with_config(WsApp::default(), small_limit).await;
        let offer = "Sec-WebSocket-Extensions: permessage-deflate";
        // RSV1 on a continuation frame.
        let mut ws = WsClient::open(server.addr, "/echo", &[offer]).await;
        ws.send_frame(0x41, b"x").await;
        ws.send_frame(0xC0, b"y").await;
        ws.expect_failed(1002).await;
        // RSV1 on a control frame.
        let mut ws = WsClient::open(server.addr, "/echo", &[offer]).await;
        ws.send_frame(0xC9, b"").await;
        ws.expect_failed(1002).await;
        // Data that does not inflate.
        let mut ws = WsClient::open(server.addr, "/echo", &[offer]).await;
        ws.send_frame(0xC1, &[0xFF; 32]).await;
        ws.expect_failed(1002).await;
        // 1 MiB of zeros in about 10 KB: under the limit on the wire, over it once inflated.
        let mut ws = WsClient::open(server.addr, "/echo", &[offer]).await;
        let mut client = client_session("permessage-deflate");
        client
            .send(&Data::Binary(Bytes::from(vec![0u8; 1 << 20])))
            .unwrap();
        let bomb = client.output().to_vec();
        assert!(bomb.len() < 20_000, "{}", bomb.len());
        ws.send_raw(&bomb).await;
        ws.expect_failed(1009).await;
    }
}

// ----- the in-memory client -----

mod test_client {
    use super::*;
    use rasgi::middleware::{HttpsRedirect, ProxyHeaders, RequestId, ServerErrors, Stack};
    use rasgi::testing::{TestClient, WebSocketClosed, WebSocketRefused};

    #[tokio::test]
    async fn middleware_see_websocket_scopes() {
        let app = WsApp::default();
        let seen = app.seen.clone();
        let stack = Stack::new()
            .push(ProxyHeaders::new(["127.0.0.1"]).unwrap())
            .push(HttpsRedirect::new())
            .push(RequestId::new())
            .push(ServerErrors::new())
            .app(app);
        let client = TestClient::new(stack);
        // Plain ws is redirected to wss, as HTTP is to https.
        let Err(WebSocketRefused::Denied(redirect)) = client.websocket_connect("/echo?a=1").await
        else {
            panic!("a ws handshake behind HttpsRedirect is refused");
        };
        assert_eq!(
            redirect.header("location"),
            Some("wss://testserver/echo?a=1")
        );
        // Behind a trusted proxy that terminated TLS, the scope is wss and the app is reached.
        let ws = client
            .websocket("/echo")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-for", "203.0.113.7")
            .connect()
            .await
            .expect("accepted");
        assert_eq!(ws.header("x-request-id").map(str::len), Some(32));
        assert!(seen.wait_for("scope").await.starts_with("scope wss /echo"));
        // RequestId's field reaches a denial too, and ServerErrors answers a failure with 500.
        for (path, status) in [("/deny", 401), ("/fail-first", 500)] {
            let Err(WebSocketRefused::Denied(response)) = client
                .websocket(path)
                .header("x-forwarded-proto", "https")
                .connect()
                .await
            else {
                panic!("{path} is refused");
            };
            assert_eq!(response.status, status, "{path}");
            assert_eq!(
                response.header("x-request-id").map(str::len),
                Some(32),
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn websocket_connect_echoes_text_and_bytes_and_closes() {
        let client = TestClient::new(WsApp::default());
        let mut ws = client
            .websocket("/echo")
            .subprotocol("chat")
            .connect()
            .await
            .expect("accepted");
        assert_eq!(ws.header("sec-websocket-protocol"), Some("chat"));
        assert_eq!(ws.header("x-app"), Some("yes"));
        ws.send_text("hello").await.unwrap();
        assert_eq!(ws.receive_text().await.unwrap(), "hello");
        ws.send_bytes(&b"\x00\x01"[..]).await.unwrap();
        assert_eq!(&ws.receive_bytes().await.unwrap()[..], b"\x00\x01");
        ws.close(1000).await.unwrap();
        assert!(ws.send_text("late").await.is_err());
    }

    #[tokio::test]
    async fn refusals_come_back_as_the_response_and_closes_as_their_code() {
        let client = TestClient::new(WsApp::default());
        let Err(WebSocketRefused::Denied(response)) = client.websocket_connect("/deny").await
        else {
            panic!("the app denied it");
        };
        assert_eq!((response.status, response.text().as_str()), (401, "no way"));
        for (path, status) in [("/close-first", 403), ("/fail-first", 500)] {
            match client.websocket_connect(path).await {
                Err(WebSocketRefused::Denied(response)) => assert_eq!(response.status, status),
                other => panic!("{path}: {:?}", other.map(|_| ())),
            }
        }
        let mut ws = client.websocket_connect("/close-after-one").await.unwrap();
        ws.send_text("one").await.unwrap();
        assert_eq!(
            ws.receive().await,
            Err(WebSocketClosed {
                code: 4000,
                reason: "done".into()
            })
        );
    }
}

// ----- the shipped binary and its demo stack -----

mod binary {
    use super::*;
    use std::net::SocketAddr;
    use support::binary::Rasgi;

    fn addr(rasgi: &Rasgi) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], rasgi.port))
    }

    #[tokio::test]
    async fn ws_echo_through_the_demo_stack_gets_its_headers_and_echoes_both_types() {
        let rasgi = Rasgi::start(&[]);
        let origin = "Origin: http://localhost:3000";
        let gzip = "Accept-Encoding: gzip";
        let mut ws = WsClient::open(addr(&rasgi), "/ws/echo", &[origin, gzip]).await;
        // RequestId, Timing and CustomHeaders add theirs to the 101; CORS and GZip pass it.
        assert_eq!(ws.response.header("x-request-id").map(str::len), Some(32));
        assert!(ws.response.header("x-process-time").is_some());
        assert_eq!(
            ws.response.header("x-custom-header"),
            Some("Custom Header Value")
        );
        for absent in ["access-control-allow-origin", "vary", "content-encoding"] {
            assert_eq!(ws.response.header(absent), None, "{absent} on a 101");
        }
        ws.text("κόσμε").await;
        let echo = ws.read_data_frame().await;
        assert_eq!(
            (echo.first, echo.payload.as_slice()),
            (0x81, "κόσμε".as_bytes())
        );
        ws.binary(&[0, 1, 2, 255]).await;
        let echo = ws.read_data_frame().await;
        assert_eq!(
            (echo.first, echo.payload.as_slice()),
            (0x82, &[0, 1, 2, 255][..])
        );
        // A request id the client sent is kept.
        let mine = WsClient::open(addr(&rasgi), "/ws/echo", &["X-Request-ID: abc-123"]).await;
        assert_eq!(mine.response.header("x-request-id"), Some("abc-123"));
        ws.close(1000, "").await;
        assert_eq!(ws.read_frame().await.close_code(), 1000);
    }

    #[tokio::test]
    async fn trusted_host_refuses_a_bad_host_and_unknown_paths_get_403() {
        let rasgi = Rasgi::start(&[]);
        let bad_host =
            handshake_request("/ws/echo", &[]).replace("Host: localhost", "Host: evil.example");
        let ws = WsClient::handshake(addr(&rasgi), &bad_host).await;
        assert_eq!(
            (ws.response.status, ws.response.text().as_str()),
            (400, "Invalid host header")
        );
        let ws = WsClient::handshake(addr(&rasgi), &handshake_request("/ws/nowhere", &[])).await;
        assert_eq!(ws.response.status, 403);
    }

    #[tokio::test]
    async fn deflate_is_offered_by_default_and_the_flags_are_honoured() {
        let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits";
        let rasgi = Rasgi::start(&[]);
        let ws = WsClient::open(addr(&rasgi), "/ws/echo", &[offer]).await;
        assert_eq!(
            ws.response.header("sec-websocket-extensions"),
            Some("permessage-deflate")
        );
        let rasgi = Rasgi::start(&["--no-ws-per-message-deflate", "--ws-max-size", "1000"]);
        let mut ws = WsClient::open(addr(&rasgi), "/ws/echo", &[offer]).await;
        assert_eq!(ws.response.header("sec-websocket-extensions"), None);
        ws.binary(&[1; 1000]).await;
        assert_eq!(ws.read_data_frame().await.payload.len(), 1000);
        ws.binary(&[1; 1001]).await;
        ws.expect_failed(1009).await;
    }

    #[tokio::test]
    async fn the_ping_flags_close_a_silent_client_with_1011() {
        let rasgi = Rasgi::start(&["--ws-ping-interval", "0.1", "--ws-ping-timeout", "0.2"]);
        let mut ws = WsClient::open(addr(&rasgi), "/ws/echo", &[]).await;
        assert_eq!(ws.read_frame().await.opcode(), 0x9);
        assert_eq!(ws.read_frame().await.close_code(), 1011);
        assert!(ws.http.closed().await);
    }

    #[tokio::test]
    async fn metrics_count_open_websockets_and_sigterm_closes_them_with_1001() {
        let mut rasgi = Rasgi::start(&[]);
        let mut ws = WsClient::open(addr(&rasgi), "/ws/echo", &[]).await;
        let mut client = support::Client::connect(addr(&rasgi)).await;
        client
            .send(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await;
        let metrics = client.response().await.text();
        assert!(metrics.contains("\nrasgi_websockets_open 1\n"), "{metrics}");
        drop(client);
        rasgi.terminate();
        assert_eq!(ws.read_frame().await.close_code(), 1001);
        ws.close(1001, "").await;
        assert!(ws.http.closed().await);
        let code = tokio::task::spawn_blocking(move || rasgi.wait(Duration::from_secs(10)))
            .await
            .unwrap();
        assert_eq!(code, Some(0));
    }
}

// ----- real clients: Python's `websockets` and headless Chromium -----

mod real_clients {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::OnceLock;
    use support::binary::Rasgi;

    /// A venv with `websockets`, made once per test run in cargo's temp dir for tests.
    fn python_with_websockets() -> &'static Path {
        static VENV: OnceLock<PathBuf> = OnceLock::new();
        VENV.get_or_init(|| {
            let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ws-venv");
            let python = venv.join("bin/python");
            let ready = |python: &Path| {
                Command::new(python)
                    .args(["-c", "import websockets.asyncio.client"])
                    .status()
                    .is_ok_and(|s| s.success())
            };
            if !ready(&python) {
                let made = Command::new("python3")
                    .args(["-m", "venv"])
                    .arg(&venv)
                    .status()
                    .expect("python3 -m venv");
                assert!(made.success(), "python3 -m venv failed");
                let installed = Command::new(venv.join("bin/pip"))
                    .args(["install", "--quiet", "websockets>=13,<18"])
                    .status()
                    .expect("pip install websockets");
                assert!(installed.success(), "pip install websockets failed");
            }
            assert!(
                ready(&python),
                "websockets is not importable in {}",
                venv.display()
            );
            python
        })
    }

    #[test]
    fn pythons_websockets_library_echoes_with_and_without_deflate() {
        let python = python_with_websockets();
        let rasgi = Rasgi::start(&["--no-access-log"]);
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/ws_echo.py");
        let output = Command::new(python)
            .arg(script)
            .arg(format!("ws://127.0.0.1:{}/ws/echo", rasgi.port))
            .output()
            .expect("run the websockets client");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stdout}\n{stderr}");
        assert!(
            stdout.contains("compression=deflate: extensions='permessage-deflate'"),
            "{stdout}"
        );
        assert!(
            stdout.contains("compression=None: extensions=None"),
            "{stdout}"
        );
        assert!(stdout.trim_end().ends_with("ok"), "{stdout}");
    }

    #[test]
    fn headless_chromium_echoes_text_and_binary() {
        let rasgi = Rasgi::start(&[]);
        let page = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/ws_page.html");
        let url = format!("file://{page}?port={}", rasgi.port);
        let report = support::browser::page_report(&rasgi, &url, &[]);
        // Chromium offers permessage-deflate and the demo accepts it: the echoes came back
        // compressed and were inflated by the browser.
        assert!(
            report.contains("/chromium/text-ok-binary-ok-close-1000-ext-permessage-deflate"),
            "{report}"
        );
    }
}

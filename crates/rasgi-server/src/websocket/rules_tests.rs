//! The ASGI WebSocket rules without any I/O: a table of (state, event) → (answer, next phase).
//! Each row reaches a state with a few events, applies one more, and checks what the rules
//! answered and where the WebSocket is afterwards; a last test checks that the rows reach every
//! phase and every kind of answer.

use bytes::BytesMut;
use rasgi_protocol::{Headers, Message, WebSocketData};

use super::*;

/// One event, as the driver would deliver it.
#[derive(Clone, Copy)]
enum Ev {
    /// The app accepts, choosing this subprotocol.
    Accept(Option<&'static str>),
    /// The app sends `WebSocketClose` with this code.
    Close(u16),
    /// The app starts an HTTP response (a denial).
    DenyStart,
    /// The app sends an HTTP body.
    DenyBody,
    /// The app sends a text message.
    Send(&'static str),
    /// The app sends a message of another scope.
    Lifespan,
    /// The client's frame arrives (opcode, payload) and the app's `receive` looks.
    Client(u8, &'static [u8]),
    /// The client's frame arrives while the app is not receiving: the driver reads it aside.
    Aside(u8, &'static [u8]),
    /// The app's `receive` looks at an empty buffer.
    Receive,
    /// The client's stream ended.
    Lost,
    /// The server is stopping.
    Shutdown,
    /// A ping went unanswered past its timeout.
    PingTimedOut,
    /// A ping tick.
    PingTick,
    /// The app returned (`true`: with an error).
    Returned(bool),
}

use Ev::*;

/// What a row pins.
struct Row {
    name: &'static str,
    given: &'static [Ev],
    when: Ev,
    /// The rules' answer, as `Debug` text (a prefix of it).
    then: &'static str,
    /// The phase afterwards, as `Debug` text.
    phase: &'static str,
}

const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;
const CLOSE_1000: &[u8] = &[0x03, 0xE8];

#[rustfmt::skip]
const TABLE: &[Row] = &[
    // ----- the handshake -----
    Row { name: "accepting switches the stream with the accept key",
        given: &[], when: Accept(None), then: "Ok(Switch([(b\"upgrade\", b\"websocket\"), (b\"connection\", b\"Upgrade\"), (b\"sec-websocket-accept\", b\"key\")", phase: "Open" },
    Row { name: "a subprotocol the client offered is answered",
        given: &[], when: Accept(Some("chat")), then: "Ok(Switch([(b\"upgrade\", b\"websocket\"), (b\"connection\", b\"Upgrade\"), (b\"sec-websocket-accept\", b\"key\"), (b\"sec-websocket-protocol\", b\"chat\")", phase: "Open" },
    Row { name: "a subprotocol the client did not offer is refused",
        given: &[], when: Accept(Some("other")), then: "Err(InvalidWebSocket(\"a subprotocol the client did not offer\"))", phase: "Handshake" },
    Row { name: "a close before accepting refuses the handshake (403)",
        given: &[], when: Close(1000), then: "Ok(Refuse)", phase: "Denied" },
    Row { name: "an HTTP start before accepting is a denial response",
        given: &[], when: DenyStart, then: "Ok(Http(Start { status: 401", phase: "Denied" },
    Row { name: "a denial response's body goes the HTTP way",
        given: &[DenyStart], when: DenyBody, then: "Ok(Http(Body {", phase: "Denied" },
    Row { name: "accepting after a denial is out of order",
        given: &[DenyStart], when: Accept(None), then: "Err(OutOfOrder(\"the handshake was already answered\"))", phase: "Denied" },
    Row { name: "a message after a denial's body is out of order",
        given: &[DenyStart], when: Close(1000), then: "Err(OutOfOrder(\"the handshake was denied\"))", phase: "Denied" },
    Row { name: "a send before accepting is out of order",
        given: &[], when: Send("hi"), then: "Err(OutOfOrder(\"send before the WebSocket was accepted\"))", phase: "Handshake" },
    Row { name: "receive before accepting says the client is gone",
        given: &[], when: Receive, then: "Some(WebSocketDisconnect { code: 1006, reason: \"receive before accept\" })", phase: "Handshake" },
    Row { name: "another scope's message is refused",
        given: &[], when: Lifespan, then: "Err(WrongScope)", phase: "Handshake" },
    // ----- open -----
    Row { name: "an open WebSocket queues the app's frame",
        given: &[Accept(None)], when: Send("hi"), then: "Ok(", phase: "Open" },
    Row { name: "accepting twice is out of order",
        given: &[Accept(None)], when: Accept(None), then: "Err(OutOfOrder(\"the handshake was already answered\"))", phase: "Open" },
    Row { name: "an open WebSocket with nothing read has no event",
        given: &[Accept(None)], when: Receive, then: "None", phase: "Open" },
    Row { name: "the client's message is the app's event",
        given: &[Accept(None)], when: Client(TEXT, b"hello"), then: "Some(WebSocketReceive(Text(\"hello\")))", phase: "Open" },
    Row { name: "a ping is answered and is no event",
        given: &[Accept(None)], when: Client(PING, b""), then: "None", phase: "Open" },
    Row { name: "a message read aside waits for the app's next receive",
        given: &[Accept(None)], when: Aside(TEXT, b"later"), then: "Some(true)", phase: "Open" },
    Row { name: "the message read aside is the next receive's",
        given: &[Accept(None), Aside(TEXT, b"later")], when: Receive, then: "Some(WebSocketReceive(Text(\"later\")))", phase: "Open" },
    Row { name: "a ping tick after a message finds the WebSocket busy",
        given: &[Accept(None), Client(TEXT, b"x")], when: PingTick, then: "false", phase: "Open" },
    Row { name: "a ping tick with no message since finds it idle",
        given: &[Accept(None)], when: PingTick, then: "true", phase: "Open" },
    // ----- closing -----
    Row { name: "the app's close is queued and closes the WebSocket",
        given: &[Accept(None)], when: Close(1000), then: "Ok(WriteOut)", phase: "Closed { code: 1000, reason: \"\", by_us: true }" },
    Row { name: "a close code that may not be sent is refused",
        given: &[Accept(None)], when: Close(1006), then: "Err(InvalidWebSocket(\"a close code that may not be sent\"))", phase: "Open" },
    Row { name: "a send after the app's close is Closed",
        given: &[Accept(None), Close(1000)], when: Send("late"), then: "Err(Closed)", phase: "Closed { code: 1000, reason: \"\", by_us: true }" },
    Row { name: "the client's close is the app's disconnect",
        given: &[Accept(None)], when: Client(CLOSE, CLOSE_1000), then: "Some(WebSocketDisconnect { code: 1000, reason: \"\" })", phase: "Closed { code: 1000, reason: \"\", by_us: false }" },
    Row { name: "a send after the client's close is Disconnected",
        given: &[Accept(None), Client(CLOSE, CLOSE_1000)], when: Send("late"), then: "Err(Disconnected)", phase: "Closed { code: 1000, reason: \"\", by_us: false }" },
    Row { name: "a client that breaks the protocol is closed with its code",
        given: &[Accept(None)], when: Client(PONG | 0x70, b""), then: "Some(WebSocketDisconnect { code: 1002", phase: "Closed { code: 1002, reason: \"\", by_us: true }" },
    Row { name: "a lost client is a 1006 disconnect",
        given: &[Accept(None), Lost], when: Receive, then: "Some(WebSocketDisconnect { code: 1006, reason: \"\" })", phase: "Closed { code: 1006, reason: \"\", by_us: false }" },
    Row { name: "a shutdown closes an open WebSocket with 1001",
        given: &[Accept(None)], when: Shutdown, then: "true", phase: "Closed { code: 1001, reason: \"\", by_us: true }" },
    Row { name: "a shutdown leaves a WebSocket still in its handshake alone",
        given: &[], when: Shutdown, then: "false", phase: "Handshake" },
    Row { name: "an unanswered ping closes with 1011",
        given: &[Accept(None), PingTick], when: PingTimedOut, then: "true", phase: "Closed { code: 1011, reason: \"keepalive ping timeout\", by_us: true }" },
    Row { name: "the app told of the close reads the code again",
        given: &[Accept(None), Shutdown], when: Receive, then: "Some(WebSocketDisconnect { code: 1001, reason: \"\" })", phase: "Closed { code: 1001, reason: \"\", by_us: true }" },
    Row { name: "a denied WebSocket's receive says the client is gone",
        given: &[DenyStart], when: Receive, then: "Some(WebSocketDisconnect { code: 1006, reason: \"\" })", phase: "Denied" },
    // ----- the app returned -----
    Row { name: "returning without answering refuses with 403",
        given: &[], when: Returned(false), then: "Refused(403)", phase: "Denied" },
    Row { name: "failing before answering refuses with 500",
        given: &[], when: Returned(true), then: "Refused(500)", phase: "Denied" },
    Row { name: "returning while open closes with 1000",
        given: &[Accept(None)], when: Returned(false), then: "Closed(1000)", phase: "Closed { code: 1000, reason: \"\", by_us: true }" },
    Row { name: "failing while open closes with 1011",
        given: &[Accept(None)], when: Returned(true), then: "Closed(1011)", phase: "Closed { code: 1011, reason: \"\", by_us: true }" },
    Row { name: "returning after a denial leaves the judging to HTTP",
        given: &[DenyStart, DenyBody], when: Returned(false), then: "AnsweredInHttp", phase: "Denied" },
    Row { name: "returning after the close changes nothing",
        given: &[Accept(None), Close(1000)], when: Returned(true), then: "AfterClose", phase: "Closed { code: 1000, reason: \"\", by_us: true }" },
];

/// A client's frame: final, masked with a fixed key.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [1u8, 2, 3, 4];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

fn rules() -> AsgiWebSocket {
    AsgiWebSocket::new("key".into(), vec!["chat".into()], None, 1 << 20)
}

/// Apply one event; the rules' answer as text.
fn apply(ws: &mut AsgiWebSocket, buf: &mut BytesMut, event: Ev) -> String {
    match event {
        Accept(subprotocol) => {
            let answer = ws.on_message(Message::WebSocketAccept {
                subprotocol: subprotocol.map(String::from),
                headers: Headers::new(),
            });
            if matches!(answer, Ok(Answer::Switch(_))) {
                ws.switched();
            }
            format!("{answer:?}")
        }
        Close(code) => format!(
            "{:?}",
            ws.on_message(Message::WebSocketClose {
                code,
                reason: String::new()
            })
        ),
        DenyStart => format!("{:?}", ws.on_message(Message::start(401, Headers::new()))),
        DenyBody => format!("{:?}", ws.on_message(Message::body("no"))),
        Send(text) => {
            let message = Message::WebSocketSend(WebSocketData::Text(text.into()));
            match ws.queue_frame(message, BytesMut::new) {
                Ok(session) => format!("Ok({})", session.has_output()),
                Err(NotQueued::Refused) => "Err(Refused)".into(),
                Err(NotQueued::Other(message)) => format!("{:?}", ws.on_message(message)),
            }
        }
        Lifespan => format!("{:?}", ws.on_message(Message::StartupComplete)),
        Client(opcode, payload) => {
            buf.extend_from_slice(&client_frame(opcode, payload));
            format!("{:?}", ws.receive(buf))
        }
        Aside(opcode, payload) => {
            buf.extend_from_slice(&client_frame(opcode, payload));
            format!("{:?}", ws.read_aside(buf))
        }
        Receive => format!("{:?}", ws.receive(buf)),
        Lost => {
            ws.lost();
            String::new()
        }
        Shutdown => format!("{}", ws.close_for_shutdown()),
        PingTimedOut => format!("{}", ws.close_for_ping_timeout()),
        PingTick => format!("{}", ws.ping_tick(std::time::Instant::now())),
        Returned(failed) => format!("{:?}", ws.returned(failed)),
    }
}

#[test]
fn every_websocket_transition_answers_as_the_table_says() {
    let mut failures = Vec::new();
    for row in TABLE {
        let mut ws = rules();
        let mut buf = BytesMut::new();
        for &event in row.given {
            apply(&mut ws, &mut buf, event);
        }
        let answer = apply(&mut ws, &mut buf, row.when);
        let phase = format!("{:?}", ws.phase());
        if !answer.starts_with(row.then) || phase != row.phase {
            failures.push(format!(
                "{}:\n  answered {answer}\n  want     {}\n  phase {phase}, want {}",
                row.name, row.then, row.phase
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_websocket_table_reaches_every_phase_and_answer() {
    let phases: Vec<&str> = TABLE.iter().map(|row| row.phase).collect();
    for phase in ["Handshake", "Denied", "Open", "Closed {"] {
        assert!(
            phases.iter().any(|p| p.starts_with(phase)),
            "no row ends in {phase}"
        );
    }
    let answers: Vec<&str> = TABLE.iter().map(|row| row.then).collect();
    for answer in [
        "Ok(Switch(",
        "Ok(Http(",
        "Ok(Refuse)",
        "Ok(WriteOut)",
        "Refused(403)",
        "Refused(500)",
        "Closed(1000)",
        "Closed(1011)",
        "AnsweredInHttp",
        "AfterClose",
        "Err(Closed)",
        "Err(Disconnected)",
        "Err(OutOfOrder(",
        "Err(InvalidWebSocket(",
        "Err(WrongScope)",
    ] {
        assert!(
            answers.iter().any(|a| a.starts_with(answer)),
            "no row answers {answer}"
        );
    }
}

#[test]
fn a_queued_frame_and_a_pong_wait_in_the_session_output() {
    let mut ws = rules();
    let mut buf = BytesMut::new();
    apply(&mut ws, &mut buf, Accept(None));
    apply(&mut ws, &mut buf, Client(PING, b"p"));
    let session = ws.session().expect("open");
    // The pong: final, opcode 0xA, unmasked, the ping's payload.
    let mut slices = [std::io::IoSlice::new(&[]); 4];
    let used = session.output_slices(&mut slices);
    let out: Vec<u8> = slices[..used].iter().flat_map(|s| s.to_vec()).collect();
    assert_eq!(out, [0x8A, 0x01, b'p']);
}

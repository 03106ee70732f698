//! WebSockets over HTTP/2 (RFC 8441), over real sockets against the binary: the setting, the
//! extended CONNECT's handshake, echoes of both message types in DATA, closes from either side,
//! pings, the message size limit, permessage-deflate, refusals; and Python's `h2` library as a
//! real client.

mod support;

use std::process::Command;
use std::time::Duration;

use rasgi::h2::frame::{setting, write_data, write_headers, Frame};
use support::binary::Rasgi;
use support::h2::{H2Response, H2};
use support::ws::{close_payload, frame};

const PATIENCE: Duration = Duration::from_secs(10);

fn demo() -> Rasgi {
    Rasgi::start(&["--no-access-log"])
}

/// Open stream `id` with an extended CONNECT for `path` (`protocol` as `:protocol`) and `extra`
/// fields; the response head.
fn connect(h2: &mut H2, id: u32, path: &str, protocol: &str, extra: &[(&str, &str)]) -> H2Response {
    let mut fields = vec![
        (":method", "CONNECT"),
        (":protocol", protocol),
        (":scheme", "http"),
        (":path", path),
        (":authority", "localhost"),
    ];
    fields.extend_from_slice(extra);
    let block = h2.block(&fields);
    let mut out = Vec::new();
    write_headers(&mut out, id, &block, false, 16_384);
    h2.send(&out);
    h2.head(id, PATIENCE)
}

fn websocket(h2: &mut H2, id: u32, extra: &[(&str, &str)]) -> H2Response {
    let mut fields = vec![("sec-websocket-version", "13")];
    fields.extend_from_slice(extra);
    connect(h2, id, "/ws/echo", "websocket", &fields)
}

/// Send WebSocket bytes on `id`, in DATA frames of at most 16 KiB.
fn send(h2: &mut H2, id: u32, bytes: &[u8], end_stream: bool) {
    let mut out = Vec::new();
    let mut pieces = bytes.chunks(16_384).peekable();
    if pieces.peek().is_none() {
        write_data(&mut out, id, b"", end_stream);
    }
    while let Some(piece) = pieces.next() {
        write_data(&mut out, id, piece, end_stream && pieces.peek().is_none());
    }
    h2.send(&out);
}

/// A server frame: (first octet, payload).
fn parse(bytes: &[u8]) -> Option<((u8, Vec<u8>), usize)> {
    let (&first, rest) = bytes.split_first()?;
    let (&second, rest) = rest.split_first()?;
    assert_eq!(second & 0x80, 0, "a server frame is not masked");
    let (len, at) = match second & 0x7f {
        126 => (
            usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?])),
            4,
        ),
        127 => (
            u64::from_be_bytes(rest.get(..8)?.try_into().ok()?) as usize,
            10,
        ),
        n => (usize::from(n), 2),
    };
    let payload = bytes.get(at..at + len)?.to_vec();
    Some(((first, payload), at + len))
}

/// The next whole WebSocket frame on stream `id`, reading as needed; `pending` keeps what came
/// past it.
fn next_frame(h2: &mut H2, id: u32, pending: &mut Vec<u8>) -> (u8, Vec<u8>) {
    loop {
        if let Some((found, used)) = parse(pending) {
            pending.drain(..used);
            return found;
        }
        let (bytes, ended) = h2.tunnel_bytes(id, pending.len() + 1, PATIENCE);
        assert!(
            !bytes.is_empty(),
            "no frame on stream {id} in time (ended: {ended})"
        );
        pending.extend_from_slice(&bytes);
    }
}

#[test]
fn rfc8441_3_the_server_announces_settings_enable_connect_protocol() {
    let rasgi = demo();
    let h2 = H2::open(rasgi.port);
    let announced = h2.seen.iter().any(|f| match f {
        Frame::Settings {
            ack: false,
            settings,
        } => settings
            .iter()
            .any(|s| s.id == setting::ENABLE_CONNECT_PROTOCOL && s.value == 1),
        _ => false,
    });
    assert!(announced, "{:?}", h2.seen);
}

#[test]
fn rfc8441_4_5_an_extended_connect_opens_a_websocket_that_echoes_text_and_binary() {
    let rasgi = demo();
    let mut h2 = H2::open(rasgi.port);
    let head = websocket(&mut h2, 1, &[]);
    // §5: a 2xx, and nothing of HTTP/1.1's upgrade.
    assert_eq!(head.status, 200, "{head:?}");
    for absent in ["upgrade", "connection", "sec-websocket-accept"] {
        assert_eq!(head.field(absent), None, "{head:?}");
    }
    let mut pending = Vec::new();
    send(&mut h2, 1, &frame(0x81, b"hello over h2"), false);
    assert_eq!(
        next_frame(&mut h2, 1, &mut pending),
        (0x81, b"hello over h2".to_vec())
    );
    send(&mut h2, 1, &frame(0x82, &[0, 1, 2, 255]), false);
    assert_eq!(
        next_frame(&mut h2, 1, &mut pending),
        (0x82, vec![0, 1, 2, 255])
    );
    // A message of 100 KiB: more than one DATA frame each way.
    let big: Vec<u8> = (0..100 * 1024).map(|i| (i % 251) as u8).collect();
    send(&mut h2, 1, &frame(0x82, &big), false);
    assert_eq!(next_frame(&mut h2, 1, &mut pending), (0x82, big));

    // The client closes: the server answers the close, then ends the stream.
    send(
        &mut h2,
        1,
        &frame(0x88, &close_payload(1000, "done")),
        false,
    );
    let (first, payload) = next_frame(&mut h2, 1, &mut pending);
    assert_eq!((first, &payload[..2]), (0x88, &1000u16.to_be_bytes()[..]));
    send(&mut h2, 1, b"", true);
    let (rest, ended) = h2.tunnel_bytes(1, usize::MAX, PATIENCE);
    assert!(rest.is_empty() && ended, "{rest:?}");
    assert!(
        !h2.seen
            .iter()
            .any(|f| matches!(f, Frame::RstStream { stream_id: 1, .. })),
        "the stream ends with END_STREAM, not a reset: {:?}",
        h2.seen
    );
    // The connection goes on: another stream is served.
    assert_eq!(h2.exchange(3, "GET", "/health", None).status, 200);
}

#[test]
fn rfc8441_4_the_server_closes_with_1001_when_it_shuts_down() {
    let rasgi = demo();
    let mut h2 = H2::open(rasgi.port);
    assert_eq!(websocket(&mut h2, 1, &[]).status, 200);
    let mut pending = Vec::new();
    send(&mut h2, 1, &frame(0x81, b"before"), false);
    assert_eq!(
        next_frame(&mut h2, 1, &mut pending),
        (0x81, b"before".to_vec())
    );
    rasgi.terminate();
    let (first, payload) = next_frame(&mut h2, 1, &mut pending);
    assert_eq!((first, &payload[..2]), (0x88, &1001u16.to_be_bytes()[..]));
    send(&mut h2, 1, &frame(0x88, &close_payload(1001, "")), true);
    let (_, ended) = h2.tunnel_bytes(1, usize::MAX, PATIENCE);
    assert!(ended);
}

#[test]
fn rfc8441_4_a_ping_over_h2_is_answered_with_its_pong_between_messages() {
    let rasgi = demo();
    let mut h2 = H2::open(rasgi.port);
    assert_eq!(websocket(&mut h2, 1, &[]).status, 200);
    let mut pending = Vec::new();
    send(&mut h2, 1, &frame(0x89, b"are you there"), false);
    assert_eq!(
        next_frame(&mut h2, 1, &mut pending),
        (0x8a, b"are you there".to_vec())
    );
    // A ping inside a fragmented message is answered at once; the message still arrives whole.
    send(&mut h2, 1, &frame(0x01, b"frag"), false);
    send(&mut h2, 1, &frame(0x89, b"mid"), false);
    send(&mut h2, 1, &frame(0x80, b"mented"), false);
    assert_eq!(
        next_frame(&mut h2, 1, &mut pending),
        (0x8a, b"mid".to_vec())
    );
    assert_eq!(
        next_frame(&mut h2, 1, &mut pending),
        (0x81, b"fragmented".to_vec())
    );
}

#[test]
fn rfc8441_4_a_message_past_ws_max_size_closes_the_stream_with_1009() {
    let rasgi = Rasgi::start(&["--no-access-log", "--ws-max-size", "1024"]);
    let mut h2 = H2::open(rasgi.port);
    assert_eq!(websocket(&mut h2, 1, &[]).status, 200);
    let mut pending = Vec::new();
    send(&mut h2, 1, &frame(0x82, &[7; 1024]), false);
    assert_eq!(next_frame(&mut h2, 1, &mut pending), (0x82, vec![7; 1024]));
    send(&mut h2, 1, &frame(0x82, &[7; 1025]), false);
    let (first, payload) = next_frame(&mut h2, 1, &mut pending);
    assert_eq!((first, &payload[..2]), (0x88, &1009u16.to_be_bytes()[..]));
    // The connection's other streams are not touched.
    assert_eq!(h2.exchange(3, "GET", "/health", None).status, 200);
}

#[test]
fn rfc8441_4_websockets_share_a_connection_with_requests_and_each_other() {
    let rasgi = demo();
    let mut h2 = H2::open(rasgi.port);
    let ids = [1, 3, 5];
    for id in ids {
        assert_eq!(websocket(&mut h2, id, &[]).status, 200);
    }
    assert_eq!(h2.exchange(7, "GET", "/", None).status, 200);
    let mut pending = [Vec::new(), Vec::new(), Vec::new()];
    for (n, id) in ids.into_iter().enumerate() {
        let text = format!("stream {id}");
        send(&mut h2, id, &frame(0x81, text.as_bytes()), false);
        assert_eq!(
            next_frame(&mut h2, id, &mut pending[n]),
            (0x81, text.into_bytes())
        );
    }
}

#[test]
fn rfc8441_5_permessage_deflate_is_negotiated_as_over_http_1_1() {
    let rasgi = demo();
    let mut h2 = H2::open(rasgi.port);
    let head = websocket(
        &mut h2,
        1,
        &[("sec-websocket-extensions", "permessage-deflate")],
    );
    assert_eq!(head.status, 200);
    assert_eq!(
        head.field("sec-websocket-extensions"),
        Some("permessage-deflate")
    );
    let text = "compressible ".repeat(50);
    send(&mut h2, 1, &frame(0x81, text.as_bytes()), false);
    let mut pending = Vec::new();
    let (first, payload) = next_frame(&mut h2, 1, &mut pending);
    // FIN, RSV1 (compressed), text; the payload inflates (with the tail §7.2.2 strips).
    assert_eq!(first, 0xc1);
    assert!(payload.len() < text.len());
    let mut inflater = flate2::Decompress::new(false);
    let mut out = Vec::with_capacity(2 * text.len());
    let input = [&payload[..], &[0, 0, 0xff, 0xff]].concat();
    inflater
        .decompress_vec(&input, &mut out, flate2::FlushDecompress::Sync)
        .unwrap();
    assert_eq!(out, text.as_bytes());
}

#[test]
fn rfc8441_4_a_protocol_other_than_websocket_is_answered_501() {
    let rasgi = demo();
    let mut h2 = H2::open(rasgi.port);
    let head = connect(&mut h2, 1, "/ws/echo", "not-websocket", &[]);
    assert_eq!(head.status, 501, "{head:?}");
    let (body, ended) = h2.tunnel_bytes(1, usize::MAX, PATIENCE);
    assert!(ended);
    assert!(String::from_utf8_lossy(&body).contains("websocket only"));
    assert_eq!(h2.exchange(3, "GET", "/health", None).status, 200);
}

#[test]
fn rfc8441_5_a_version_other_than_13_is_answered_426() {
    let rasgi = demo();
    let mut h2 = H2::open(rasgi.port);
    let head = connect(
        &mut h2,
        1,
        "/ws/echo",
        "websocket",
        &[("sec-websocket-version", "8")],
    );
    assert_eq!(head.status, 426, "{head:?}");
    assert_eq!(head.field("sec-websocket-version"), Some("13"));
}

#[test]
fn rfc8441_4_a_route_that_refuses_is_answered_403_and_the_stream_ends() {
    let rasgi = demo();
    let mut h2 = H2::open(rasgi.port);
    let head = connect(
        &mut h2,
        1,
        "/no-such-websocket",
        "websocket",
        &[("sec-websocket-version", "13")],
    );
    assert_eq!(head.status, 403, "{head:?}");
    let (_, ended) = h2.tunnel_bytes(1, usize::MAX, PATIENCE);
    assert!(ended);
}

#[test]
fn pythons_h2_library_opens_a_websocket_over_h2_and_echoes() {
    let python = support::h2::python_with_httpx();
    let rasgi = demo();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/h2_ws.py");
    let output = Command::new(python)
        .arg(script)
        .arg(rasgi.port.to_string())
        .output()
        .expect("run the h2 client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("text ok"), "{stdout}");
    assert!(stdout.contains("binary ok"), "{stdout}");
    assert!(stdout.trim_end().ends_with("close 1000 ok"), "{stdout}");
}

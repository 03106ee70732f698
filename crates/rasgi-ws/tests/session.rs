//! The message-level rules of a server session, fed hand-built client frames.

use bytes::{Bytes, BytesMut};
use rasgi_ws::frame::apply_mask;
use rasgi_ws::{negotiate, CloseFrame, Config, Data, Error, Incoming, Role, SendError, Session};

const KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

/// A client frame: FIN, RSV bits and opcode as given (`first`), masked payload.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], KEY, 0);
    out
}

fn server(max: usize) -> Session {
    Session::new(
        Role::Server,
        Config {
            max_message_bytes: max,
            deflate: None,
        },
    )
}

/// Feed `bytes` and collect everything read, up to the first failure.
fn feed(session: &mut Session, bytes: &[u8]) -> (Vec<Incoming>, Option<Error>) {
    let mut buf = BytesMut::from(bytes);
    let mut got = Vec::new();
    loop {
        match session.read(&mut buf) {
            Ok(Some(incoming)) => got.push(incoming),
            Ok(None) => return (got, None),
            Err(error) => return (got, Some(error)),
        }
    }
}

/// The close frame a failed session queued, as (code).
fn queued_close_code(session: &Session) -> u16 {
    let out = session.output();
    let at = out
        .windows(2)
        .rposition(|w| w == [0x88, 0x02])
        .expect("a close frame with a code");
    u16::from_be_bytes([out[at + 2], out[at + 3]])
}

fn fails_with(bytes: &[u8], error: Error, code: u16) {
    let mut session = server(1 << 20);
    let (_, failure) = feed(&mut session, bytes);
    assert_eq!(failure, Some(error), "{bytes:02x?}");
    assert_eq!(queued_close_code(&session), code);
    assert!(session.is_closed());
    assert_eq!(
        session.send(&Data::Text(Bytes::from("late"))),
        Err(SendError::Closed)
    );
}

#[test]
fn a_fragmented_text_with_a_ping_between_arrives_whole_and_the_ping_is_answered() {
    let mut session = server(1 << 20);
    let mut bytes = frame(0x01, "Hel".as_bytes());
    bytes.extend(frame(0x89, b"are you there"));
    bytes.extend(frame(0x00, "lo, κό".as_bytes()));
    bytes.extend(frame(0x80, "σμε".as_bytes()));
    let (got, failure) = feed(&mut session, &bytes);
    assert_eq!(failure, None);
    assert_eq!(
        got,
        [
            Incoming::Ping,
            Incoming::Message(Data::Text(Bytes::from("Hello, κόσμε")))
        ]
    );
    let mut pong = vec![0x8A, 13];
    pong.extend_from_slice(b"are you there");
    assert_eq!(session.output(), &pong[..]);
}

#[test]
fn a_frame_split_at_every_byte_still_reads() {
    let bytes = frame(0x82, &[7; 300]);
    for cut in 0..bytes.len() {
        let mut session = server(1 << 20);
        let mut buf = BytesMut::from(&bytes[..cut]);
        assert_eq!(session.read(&mut buf), Ok(None));
        buf.extend_from_slice(&bytes[cut..]);
        assert_eq!(
            session.read(&mut buf),
            Ok(Some(Incoming::Message(Data::Binary(Bytes::from(vec![
                7;
                300
            ])))))
        );
    }
}

#[test]
fn message_level_protocol_errors_fail_with_1002() {
    // Continuation with no message begun.
    fails_with(&frame(0x80, b"x"), Error::UnexpectedContinuation, 1002);
    // A new message inside a fragmented one.
    let mut bytes = frame(0x01, b"a");
    bytes.extend(frame(0x81, b"b"));
    fails_with(&bytes, Error::MessageNotEnded, 1002);
    // Close payloads: one byte, codes nobody may send.
    fails_with(&frame(0x88, &[3]), Error::CloseTooShort, 1002);
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
    ] {
        fails_with(
            &frame(0x88, &code.to_be_bytes()),
            Error::InvalidCloseCode(code),
            1002,
        );
    }
    // RSV1 without permessage-deflate; reserved opcodes; an unmasked frame.
    fails_with(&frame(0xC1, b"x"), Error::ReservedBits, 1002);
    fails_with(&frame(0x85, b"x"), Error::ReservedOpcode(5), 1002);
    fails_with(&[0x81, 0x01, b'x'], Error::Unmasked, 1002);
    // Control frames: fragmented, over 125 bytes.
    fails_with(&frame(0x09, b"x"), Error::FragmentedControl, 1002);
    fails_with(&frame(0x89, &[0; 126]), Error::ControlTooLong, 1002);
}

#[test]
fn invalid_utf8_fails_with_1007_on_the_fragment_that_breaks_it() {
    // The first fragment is already invalid: the session fails before the message ends.
    let mut session = server(1 << 20);
    let (_, failure) = feed(&mut session, &frame(0x01, &[b'a', 0xFF]));
    assert_eq!(failure, Some(Error::InvalidUtf8));
    assert_eq!(queued_close_code(&session), 1007);
    // A message ending inside a character; a close reason that is not UTF-8.
    let mut bytes = frame(0x01, b"ok");
    bytes.extend(frame(0x80, &[0xE2, 0x82]));
    fails_with(&bytes, Error::InvalidUtf8, 1007);
    let mut reason = 1000u16.to_be_bytes().to_vec();
    reason.push(0xC0);
    fails_with(&frame(0x88, &reason), Error::InvalidUtf8, 1007);
}

#[test]
fn a_message_over_the_limit_fails_with_1009_before_its_payload_arrives() {
    let mut session = server(1000);
    let whole = frame(0x82, &[0; 1001]);
    // Only the head has arrived.
    let (_, failure) = feed(&mut session, &whole[..8]);
    assert_eq!(failure, Some(Error::TooBig));
    assert_eq!(queued_close_code(&session), 1009);
    // Fragments that add up past it.
    let mut session = server(1000);
    let mut bytes = frame(0x02, &[0; 600]);
    bytes.extend(frame(0x80, &[0; 600]));
    assert_eq!(feed(&mut session, &bytes).1, Some(Error::TooBig));
}

#[test]
fn a_small_whole_message_keeps_every_rule_of_the_general_path() {
    // At the limit it is a message; one byte over, 1009, as for a large frame.
    let mut session = server(10);
    let (got, failure) = feed(&mut session, &frame(0x82, &[7; 10]));
    assert_eq!(failure, None);
    assert_eq!(
        got,
        [Incoming::Message(Data::Binary(Bytes::from(vec![7; 10])))]
    );
    let mut session = server(10);
    assert_eq!(
        feed(&mut session, &frame(0x82, &[7; 11])).1,
        Some(Error::TooBig)
    );
    assert_eq!(queued_close_code(&session), 1009);
    // A new message while a fragmented one is being put together.
    let mut session = server(1 << 20);
    let mut bytes = frame(0x01, b"part");
    bytes.extend(frame(0x81, b"whole"));
    assert_eq!(feed(&mut session, &bytes).1, Some(Error::MessageNotEnded));
    // Once this side has sent its close, messages are dropped and only a close matters.
    let mut session = server(1 << 20);
    session.close(1000, "").unwrap();
    let (got, failure) = feed(&mut session, &frame(0x81, b"late"));
    assert_eq!((got, failure), (vec![], None));
}

#[test]
fn a_close_is_echoed_and_ends_the_session() {
    let mut session = server(1 << 20);
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye");
    let (got, _) = feed(&mut session, &frame(0x88, &payload));
    assert_eq!(
        got,
        [Incoming::Close(CloseFrame {
            code: 1000,
            reason: "bye".into()
        })]
    );
    assert_eq!(session.output(), &[0x88, 0x02, 0x03, 0xE8]);
    assert!(session.is_closed());
    // An empty close is answered with an empty close and reported as 1005.
    let mut session = server(1 << 20);
    let (got, _) = feed(&mut session, &frame(0x88, &[]));
    assert_eq!(
        got,
        [Incoming::Close(CloseFrame {
            code: 1005,
            reason: String::new()
        })]
    );
    assert_eq!(session.output(), &[0x88, 0x00]);
}

#[test]
fn after_our_close_only_the_answer_matters() {
    let mut session = server(1 << 20);
    session.close(1001, "going away").unwrap();
    assert_eq!(session.close(1000, ""), Err(SendError::Closed));
    assert_eq!(session.ping(b""), Err(SendError::Closed));
    let sent = session.output_len();
    let mut bytes = frame(0x81, b"dropped");
    bytes.extend(frame(0x89, b"not answered"));
    bytes.extend(frame(0x88, &1001u16.to_be_bytes()));
    let (got, _) = feed(&mut session, &bytes);
    assert_eq!(
        got,
        [Incoming::Close(CloseFrame {
            code: 1001,
            reason: String::new()
        })]
    );
    assert_eq!(
        session.output_len(),
        sent,
        "nothing answered after our close"
    );
    assert!(session.is_closed());
}

#[test]
fn close_codes_and_reasons_sent_are_checked() {
    let mut session = server(1 << 20);
    assert_eq!(
        session.close(1005, ""),
        Err(SendError::InvalidCloseCode(1005))
    );
    assert_eq!(
        session.close(1000, &"x".repeat(124)),
        Err(SendError::ControlTooLong)
    );
    assert!(session.close(4000, "app").is_ok());
}

#[test]
fn compressed_messages_round_trip_between_client_and_server() {
    let offer = "permessage-deflate; client_max_window_bits";
    let (params, _) = negotiate([offer.as_bytes()]).unwrap();
    let client_params = rasgi_ws::DeflateParams {
        own_no_context_takeover: params.peer_no_context_takeover,
        peer_no_context_takeover: params.own_no_context_takeover,
        own_max_window_bits: params.peer_max_window_bits,
        peer_max_window_bits: params.own_max_window_bits,
    };
    let mut server = Session::new(
        Role::Server,
        Config {
            max_message_bytes: 1 << 20,
            deflate: Some(params),
        },
    );
    let mut client = Session::new(
        Role::Client,
        Config {
            max_message_bytes: 1 << 20,
            deflate: Some(client_params),
        },
    );
    for i in 0..3 {
        let text = Bytes::from(format!("{i} {}", "event data ".repeat(100)));
        client.send(&Data::Text(text.clone())).unwrap();
        let wire = BytesMut::from(client.output());
        client.wrote(wire.len());
        assert!(wire.len() < text.len() / 4, "compressed on the wire");
        assert_eq!(wire[0] & 0x40, 0x40, "RSV1 marks a compressed message");
        let (got, failure) = feed(&mut server, &wire);
        assert_eq!(failure, None);
        assert_eq!(got, [Incoming::Message(Data::Text(text.clone()))]);
        // And back.
        server.send(&Data::Binary(text.clone())).unwrap();
        let mut wire = BytesMut::from(server.output());
        server.wrote(wire.len());
        assert_eq!(
            client.read(&mut wire),
            Ok(Some(Incoming::Message(Data::Binary(text))))
        );
    }
    // RSV1 on a continuation is a protocol error even with the extension.
    let mut bytes = frame(0x41, b"x");
    bytes.extend(frame(0xC0, b"y"));
    assert_eq!(feed(&mut server, &bytes).1, Some(Error::CompressedFragment));
}

#[test]
fn a_large_payload_is_queued_as_it_is_and_written_in_order() {
    let mut server = server(1 << 20);
    let big = Bytes::from(vec![5u8; 100_000]);
    server
        .send(&Data::Text(Bytes::from("small first")))
        .unwrap();
    server.send(&Data::Binary(big.clone())).unwrap();
    server.ping(b"after").unwrap();
    let mut slices = [std::io::IoSlice::new(&[]); 8];
    let used = server.output_slices(&mut slices);
    // The small frame and the big one's head, the big payload (the app's own buffer), the ping.
    assert_eq!(used, 3);
    assert_eq!(slices[1].as_ptr(), big.as_ptr(), "not copied");
    let total = server.output_len();
    // Written back in odd-sized pieces, it reads as the three frames in order.
    let mut wire = BytesMut::new();
    while server.has_output() {
        let piece = server.output();
        let n = piece.len().min(7_777);
        wire.extend_from_slice(&piece[..n]);
        server.wrote(n);
    }
    assert_eq!(wire.len(), total);
    assert!(server.take_output_buffer().is_some());
    let mut client = Session::new(
        Role::Client,
        Config {
            max_message_bytes: 1 << 20,
            deflate: None,
        },
    );
    assert_eq!(
        client.read(&mut wire),
        Ok(Some(Incoming::Message(Data::Text(Bytes::from(
            "small first"
        )))))
    );
    assert_eq!(
        client.read(&mut wire),
        Ok(Some(Incoming::Message(Data::Binary(big))))
    );
    assert_eq!(client.read(&mut wire), Ok(Some(Incoming::Ping)));
}

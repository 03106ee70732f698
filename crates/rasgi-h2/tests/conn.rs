//! The server's side of a connection (`rasgi_h2::conn`), driven by a client written here from
//! the frame writers and rasgi's HPACK encoder: each test pins one rule of RFC 9113, named
//! after its section, or one limit, named after the attack it stops.

use bytes::{Bytes, BytesMut};
use rasgi_h2::conn::{
    Config, Event, ServerConnection, IDLE_FRAME_BUDGET, PEER_RESET_BUDGET, PREFACE,
    PROVOKED_RESET_BUDGET,
};
use rasgi_h2::frame::{flag, kind, setting};
use rasgi_h2::frame::{
    read_frame, write_continuation, write_data, write_headers, write_ping, write_rst_stream,
    write_settings, write_settings_ack, write_window_update, ErrorCode, Frame, Setting,
};
use rasgi_h2::hpack::{Decoder, Encoder};

/// A client and the server's connection, in memory.
struct Peer {
    server: ServerConnection,
    encoder: Encoder,
    decoder: Decoder,
    /// Bytes the server wrote, not yet read here.
    from_server: BytesMut,
    /// Bytes sent to the server that it has not taken yet (a frame in pieces).
    to_server: BytesMut,
    /// The connection error the server returned, if any.
    error: Option<(ErrorCode, Option<u32>)>,
}

const GET: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "example.com"),
];

impl Peer {
    /// A connection past its preface and SETTINGS exchange, with the server's default config.
    fn new() -> Peer {
        Peer::with(Config::default())
    }

    fn with(config: Config) -> Peer {
        let mut peer = Peer::raw(config);
        let mut out = PREFACE.to_vec();
        write_settings(&mut out, &[]);
        peer.send(&out);
        let frames = peer.frames();
        assert!(
            frames
                .iter()
                .any(|f| matches!(f, Frame::Settings { ack: true, .. })),
            "{frames:?}"
        );
        peer
    }

    fn raw(config: Config) -> Peer {
        Peer {
            server: ServerConnection::new(config),
            encoder: Encoder::new(4096),
            decoder: Decoder::new(4096),
            from_server: BytesMut::new(),
            to_server: BytesMut::new(),
            error: None,
        }
    }

    /// Hand the server `bytes`.
    fn send(&mut self, bytes: &[u8]) {
        self.to_server.extend_from_slice(bytes);
        if let Err(error) = self.server.receive(&mut self.to_server) {
            self.error = Some((error.code, error.stream));
        }
    }

    /// The frames the server wrote since the last call.
    fn frames(&mut self) -> Vec<Frame> {
        while self.server.has_output() {
            let out = self.server.output().to_vec();
            self.server.wrote(out.len());
            self.from_server.extend_from_slice(&out);
        }
        let mut frames = Vec::new();
        while let Some(frame) = read_frame(&mut self.from_server, 1 << 24).expect("a valid frame") {
            frames.push(frame);
        }
        frames
    }

    /// The events the server has for its driver.
    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.server.poll_event()).collect()
    }

    fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut block = Vec::new();
        self.encoder.encode(
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            &mut block,
        );
        block
    }

    /// A request's HEADERS on `id`.
    fn request(&mut self, id: u32, fields: &[(&str, &str)], end_stream: bool) {
        let block = self.block(fields);
        let mut out = Vec::new();
        write_headers(&mut out, id, &block, end_stream, 16_384);
        self.send(&out);
    }

    fn data(&mut self, id: u32, data: &[u8], end_stream: bool) {
        let mut out = Vec::new();
        write_data(&mut out, id, data, end_stream);
        self.send(&out);
    }

    /// A frame of any type, written by hand.
    fn frame(&mut self, frame_kind: u8, flags: u8, id: u32, payload: &[u8]) {
        let len = payload.len() as u32;
        let mut out = len.to_be_bytes()[1..].to_vec();
        out.extend_from_slice(&[frame_kind, flags]);
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(payload);
        self.send(&out);
    }

    /// The GOAWAY the server sent, as (last stream, code).
    fn goaway(&mut self) -> Option<(u32, ErrorCode)> {
        self.frames().into_iter().find_map(|frame| match frame {
            Frame::GoAway {
                last_stream_id,
                code,
                ..
            } => Some((last_stream_id, code)),
            _ => None,
        })
    }

    /// The RST_STREAMs the server sent, as (stream, code).
    fn resets(frames: &[Frame]) -> Vec<(u32, ErrorCode)> {
        frames
            .iter()
            .filter_map(|frame| match frame {
                Frame::RstStream { stream_id, code } => Some((*stream_id, *code)),
                _ => None,
            })
            .collect()
    }

    /// The server's response fields on `frames`' HEADERS, decoded.
    fn response_fields(&mut self, frames: &[Frame]) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        for frame in frames {
            if let Frame::Headers { fragment, .. } = frame {
                for field in self.decoder.decode(fragment).expect("a valid block") {
                    fields.push((
                        String::from_utf8_lossy(&field.name).into_owned(),
                        String::from_utf8_lossy(&field.value).into_owned(),
                    ));
                }
            }
        }
        fields
    }
}

fn data_sent(frames: &[Frame]) -> (usize, bool) {
    let mut total = 0;
    let mut ended = false;
    for frame in frames {
        if let Frame::Data {
            data, end_stream, ..
        } = frame
        {
            total += data.len();
            ended |= end_stream;
        }
    }
    (total, ended)
}

// ----- §3.4: the preface -----

#[test]
fn rfc9113_3_4_the_server_sends_its_settings_first_and_acknowledges_the_clients() {
    let mut peer = Peer::raw(Config::default());
    let frames = peer.frames();
    let Some(Frame::Settings {
        ack: false,
        settings,
    }) = frames.first()
    else {
        panic!("SETTINGS first: {frames:?}");
    };
    let announced = |id| settings.iter().find(|s| s.id == id).map(|s| s.value);
    assert_eq!(announced(setting::MAX_CONCURRENT_STREAMS), Some(200));
    assert_eq!(announced(setting::INITIAL_WINDOW_SIZE), Some(1 << 20));
    assert_eq!(announced(setting::MAX_HEADER_LIST_SIZE), Some(16_384));
    assert!(frames.iter().any(|f| matches!(
        f,
        Frame::WindowUpdate { stream_id: 0, increment } if *increment == (1 << 20) - 65_535
    )));
    // The preface may arrive in pieces.
    peer.send(&PREFACE[..10]);
    peer.send(&PREFACE[10..]);
    let mut settings = Vec::new();
    write_settings(&mut settings, &[]);
    peer.send(&settings);
    assert!(peer
        .frames()
        .iter()
        .any(|f| matches!(f, Frame::Settings { ack: true, .. })));
    assert_eq!(peer.error, None);
}

#[test]
fn rfc9113_3_4_a_wrong_preface_is_a_protocol_error() {
    let mut peer = Peer::raw(Config::default());
    peer.send(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(peer.error, Some((ErrorCode::ProtocolError, None)));
    assert_eq!(peer.goaway(), Some((0, ErrorCode::ProtocolError)));
    assert!(peer.server.is_failed());
}

#[test]
fn rfc9113_3_4_a_first_frame_other_than_settings_is_a_protocol_error() {
    let mut peer = Peer::raw(Config::default());
    let mut out = PREFACE.to_vec();
    write_ping(&mut out, [0; 8], false);
    peer.send(&out);
    assert_eq!(peer.error, Some((ErrorCode::ProtocolError, None)));
}

// ----- §5.1: stream states and identifiers -----

#[test]
fn rfc9113_5_1_1_a_stream_id_the_client_may_not_open_is_a_protocol_error() {
    let mut peer = Peer::new();
    peer.request(2, GET, true);
    assert_eq!(peer.error, Some((ErrorCode::ProtocolError, None)));

    let mut peer = Peer::new();
    peer.request(5, GET, true);
    peer.request(3, GET, true);
    assert_eq!(peer.error, Some((ErrorCode::ProtocolError, None)));
    assert_eq!(peer.goaway(), Some((5, ErrorCode::ProtocolError)));
}

#[test]
fn rfc9113_5_1_data_on_an_idle_stream_is_a_protocol_error() {
    let mut peer = Peer::new();
    peer.data(1, b"x", false);
    assert_eq!(peer.error, Some((ErrorCode::ProtocolError, None)));
}

#[test]
fn rfc9113_5_1_a_frame_after_end_stream_is_stream_closed() {
    let mut peer = Peer::new();
    peer.request(1, GET, true);
    peer.events();
    peer.data(1, b"late", true);
    let frames = peer.frames();
    assert_eq!(Peer::resets(&frames), vec![(1, ErrorCode::StreamClosed)]);
    assert_eq!(peer.error, None, "a stream error: the connection goes on");
    assert!(peer.events().contains(&Event::Reset {
        stream_id: 1,
        code: ErrorCode::StreamClosed
    }));
}

#[test]
fn rfc9113_5_1_frames_the_client_sent_before_seeing_a_reset_are_ignored() {
    let mut peer = Peer::new();
    peer.request(1, &[GET, &[("content-length", "10")]].concat(), false);
    peer.events();
    peer.server.reset(1, ErrorCode::Cancel);
    peer.server.finish(1);
    peer.data(1, b"0123456789", true);
    assert_eq!(peer.error, None);
    let frames = peer.frames();
    assert_eq!(Peer::resets(&frames), vec![(1, ErrorCode::Cancel)]);
}

#[test]
fn rfc9113_5_1_2_streams_past_the_concurrency_limit_are_refused() {
    let mut peer = Peer::with(Config {
        max_concurrent_streams: 2,
        ..Config::default()
    });
    for id in [1, 3, 5] {
        peer.request(id, GET, true);
    }
    let frames = peer.frames();
    assert_eq!(Peer::resets(&frames), vec![(5, ErrorCode::RefusedStream)]);
    assert_eq!(peer.server.open_streams(), 2);
    // A stream the app is done with makes room.
    peer.server.send_response(1, 200, [], true).unwrap();
    peer.server.finish(1);
    peer.request(7, GET, true);
    assert!(Peer::resets(&peer.frames()).is_empty());
    assert_eq!(peer.server.open_streams(), 2);
}

#[test]
fn rfc9113_5_1_2_a_reset_stream_counts_until_its_app_is_done() {
    let mut peer = Peer::with(Config {
        max_concurrent_streams: 1,
        ..Config::default()
    });
    peer.request(1, GET, true);
    peer.frame(
        kind::RST_STREAM,
        0,
        1,
        &ErrorCode::Cancel.code().to_be_bytes(),
    );
    peer.request(3, GET, true);
    assert_eq!(
        Peer::resets(&peer.frames()),
        vec![(3, ErrorCode::RefusedStream)]
    );
    peer.server.finish(1);
    peer.request(5, GET, true);
    assert!(Peer::resets(&peer.frames()).is_empty());
}

// ----- §5.3, §5.5: priority, unknown frames -----

#[test]
fn rfc9113_5_3_2_priority_is_parsed_and_ignored_and_a_self_dependency_refused() {
    let mut peer = Peer::new();
    peer.frame(kind::PRIORITY, 0, 3, &[0, 0, 0, 1, 16]);
    assert_eq!(peer.error, None);
    assert!(peer.frames().is_empty());
    peer.frame(kind::PRIORITY, 0, 5, &[0, 0, 0, 5, 16]);
    assert_eq!(
        Peer::resets(&peer.frames()),
        vec![(5, ErrorCode::ProtocolError)]
    );
}

#[test]
fn rfc9113_5_3_1_a_headers_depending_on_itself_resets_its_stream_and_keeps_hpack_in_step() {
    let mut peer = Peer::new();
    let fields = [GET, &[("x-token", "one-value-to-remember")]].concat();
    // The block enters `x-token` into both sides' dynamic tables; it comes in a HEADERS that
    // makes stream 1 depend on itself, and a CONTINUATION.
    let block = peer.block(&fields);
    let (first, rest) = block.split_at(block.len() / 2);
    let mut payload = vec![0, 0, 0, 1, 16];
    payload.extend_from_slice(first);
    peer.frame(
        kind::HEADERS,
        flag::PRIORITY | flag::END_STREAM,
        1,
        &payload,
    );
    peer.frame(kind::CONTINUATION, flag::END_HEADERS, 1, rest);
    assert_eq!(peer.error, None);
    assert_eq!(
        Peer::resets(&peer.frames()),
        vec![(1, ErrorCode::ProtocolError)]
    );
    assert!(peer.events().is_empty());
    // The next block refers to the table entry the refused one made: it decodes as sent.
    peer.request(3, &fields, true);
    assert_eq!(peer.error, None);
    let events = peer.events();
    let [Event::Request {
        stream_id: 3, head, ..
    }] = &events[..]
    else {
        panic!("{events:?}");
    };
    assert_eq!(&head.fields[0].value[..], b"one-value-to-remember");
}

#[test]
fn rfc9113_5_5_unknown_frame_types_are_ignored() {
    let mut peer = Peer::new();
    peer.frame(0xfa, 0xff, 0, b"anything");
    peer.frame(0xfb, 0, 1, b"");
    assert_eq!(peer.error, None);
    peer.request(1, GET, true);
    assert!(matches!(
        peer.events()[..],
        [Event::Request { stream_id: 1, .. }]
    ));
}

// ----- §6: frames -----

#[test]
fn rfc9113_6_5_3_settings_are_acknowledged_and_applied() {
    let mut peer = Peer::new();
    let mut out = Vec::new();
    write_settings(
        &mut out,
        &[Setting {
            id: setting::MAX_FRAME_SIZE,
            value: 20_000,
        }],
    );
    peer.send(&out);
    assert!(peer
        .frames()
        .iter()
        .any(|f| matches!(f, Frame::Settings { ack: true, .. })));
    // The larger frame size is used for the response body.
    let mut window = Vec::new();
    write_window_update(&mut window, 0, 100_000);
    peer.send(&window);
    peer.request(1, GET, true);
    peer.server.send_response(1, 200, [], false).unwrap();
    peer.server.send_data(1, &[7; 40_000], true).unwrap();
    let sizes: Vec<usize> = peer
        .frames()
        .iter()
        .filter_map(|f| match f {
            Frame::Data { data, .. } => Some(data.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, vec![20_000, 20_000]);
}

#[test]
fn rfc9113_6_7_ping_is_answered_with_its_own_data() {
    let mut peer = Peer::new();
    let mut out = Vec::new();
    write_ping(&mut out, *b"12345678", false);
    peer.send(&out);
    assert_eq!(
        peer.frames(),
        vec![Frame::Ping {
            ack: true,
            data: *b"12345678"
        }]
    );
    let mut ack = Vec::new();
    write_ping(&mut ack, *b"87654321", true);
    peer.send(&ack);
    assert!(
        peer.frames().is_empty(),
        "an acknowledgement is not answered"
    );
}

#[test]
fn rfc9113_6_8_a_graceful_shutdown_sends_goaway_twice() {
    let mut peer = Peer::new();
    peer.request(1, GET, true);
    peer.server.shut_down_gracefully();
    let frames = peer.frames();
    let ping = frames
        .iter()
        .find_map(|f| match f {
            Frame::Ping { ack: false, data } => Some(*data),
            _ => None,
        })
        .expect("a PING with the first GOAWAY");
    assert!(frames.iter().any(|f| matches!(
        f,
        Frame::GoAway {
            last_stream_id: 0x7fff_ffff,
            code: ErrorCode::NoError,
            ..
        }
    )));
    // A stream the client began before it saw the GOAWAY is still served.
    peer.request(3, GET, true);
    let mut ack = Vec::new();
    write_ping(&mut ack, ping, true);
    peer.send(&ack);
    assert_eq!(peer.goaway(), Some((3, ErrorCode::NoError)));
    peer.request(5, GET, true);
    let events = peer.events();
    assert!(events.contains(&Event::Request {
        stream_id: 3,
        head: match &events[1] {
            Event::Request { head, .. } => head.clone(),
            other => panic!("{other:?}"),
        },
        end_stream: true
    }));
    assert_eq!(
        events.len(),
        2,
        "stream 5 came after the last GOAWAY: {events:?}"
    );
    assert!(!peer.server.is_done());
    for id in [1, 3] {
        peer.server.send_response(id, 204, [], true).unwrap();
        peer.server.finish(id);
    }
    assert!(peer.server.is_done());
}

#[test]
fn rfc9113_6_9_data_goes_out_within_both_windows_and_resumes_on_window_update() {
    let mut peer = Peer::new();
    peer.request(1, GET, true);
    peer.events();
    peer.server.send_response(1, 200, [], false).unwrap();
    let body = vec![1u8; 100_000];
    let sent = peer.server.send_data(1, &body, true).unwrap();
    assert_eq!(sent, 65_535, "the client's initial windows");
    assert_eq!(data_sent(&peer.frames()), (65_535, false));
    assert_eq!(peer.server.send_data(1, &body[sent..], true).unwrap(), 0);
    // The stream's window alone is not enough: the connection's is shut too.
    let mut update = Vec::new();
    write_window_update(&mut update, 1, 50_000);
    peer.send(&update);
    assert_eq!(peer.events(), vec![Event::WindowOpened]);
    assert_eq!(peer.server.send_data(1, &body[sent..], true).unwrap(), 0);
    let mut update = Vec::new();
    write_window_update(&mut update, 0, 50_000);
    peer.send(&update);
    assert_eq!(
        peer.server.send_data(1, &body[sent..], true).unwrap(),
        34_465
    );
    assert_eq!(data_sent(&peer.frames()), (34_465, true));
}

#[test]
fn rfc9113_6_1_a_shared_payload_goes_out_as_it_is_in_order_with_other_frames() {
    let mut peer = Peer::new();
    peer.request(1, GET, true);
    peer.events();
    peer.server.send_response(1, 200, [], false).unwrap();
    let body = Bytes::from((0..40_000).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    assert_eq!(peer.server.send_shared_data(1, &body, false), Ok(40_000));
    // A PING's answer queued after the body leaves after it.
    let mut ping = Vec::new();
    write_ping(&mut ping, *b"in order", false);
    peer.send(&ping);
    let mut bytes = Vec::new();
    let mut shared_pieces = 0;
    while peer.server.has_output() {
        let piece = peer.server.output();
        let inside = body.as_ptr_range();
        if inside.contains(&piece.as_ptr()) {
            shared_pieces += 1;
        }
        bytes.extend_from_slice(piece);
        let n = piece.len();
        peer.server.wrote(n);
    }
    // Three frames of 16,384, 16,384 and 7,232 octets: each payload the body's own bytes.
    assert_eq!(shared_pieces, 3);
    let mut wire = BytesMut::from(&bytes[..]);
    let mut data = Vec::new();
    let mut last = None;
    while let Some(frame) = read_frame(&mut wire, 1 << 24).unwrap() {
        if let Frame::Data { data: piece, .. } = &frame {
            data.extend_from_slice(piece);
        }
        last = Some(frame);
    }
    assert_eq!(data, body);
    assert!(
        matches!(last, Some(Frame::Ping { ack: true, .. })),
        "{last:?}"
    );
}

#[test]
fn rfc9113_6_9_2_a_smaller_initial_window_leaves_a_stream_window_negative() {
    let mut peer = Peer::new();
    peer.request(1, GET, true);
    peer.server.send_response(1, 200, [], false).unwrap();
    assert_eq!(
        peer.server.send_data(1, &[0; 60_000], false).unwrap(),
        60_000
    );
    let mut out = Vec::new();
    write_settings(
        &mut out,
        &[Setting {
            id: setting::INITIAL_WINDOW_SIZE,
            value: 16_384,
        }],
    );
    peer.send(&out);
    // 16,384 - 60,000: the window is 43,616 below zero, and nothing goes out until it is
    // above it again.
    let mut update = Vec::new();
    write_window_update(&mut update, 1, 43_616);
    peer.send(&update);
    assert_eq!(peer.server.send_capacity(1), 0);
    let mut update = Vec::new();
    write_window_update(&mut update, 1, 10);
    peer.send(&update);
    assert_eq!(peer.server.send_capacity(1), 10);
    assert_eq!(peer.error, None);
}

#[test]
fn rfc9113_6_9_1_data_past_the_connection_window_is_a_flow_control_error() {
    let mut peer = Peer::with(Config {
        initial_connection_window: 65_535,
        initial_stream_window: 1 << 20,
        ..Config::default()
    });
    peer.request(1, GET, false);
    for _ in 0..4 {
        peer.data(1, &[0; 16_384], false);
    }
    assert_eq!(peer.error, Some((ErrorCode::FlowControlError, None)));
}

#[test]
fn rfc9113_6_9_1_data_past_a_stream_window_is_a_stream_flow_control_error() {
    let mut peer = Peer::with(Config {
        initial_stream_window: 1_000,
        ..Config::default()
    });
    peer.request(1, GET, false);
    peer.data(1, &[0; 1_001], false);
    assert_eq!(peer.error, None);
    assert_eq!(
        Peer::resets(&peer.frames()),
        vec![(1, ErrorCode::FlowControlError)]
    );
}

#[test]
fn rfc9113_6_9_data_the_app_took_is_given_back_by_window_update() {
    let mut peer = Peer::with(Config {
        initial_stream_window: 20_000,
        initial_connection_window: 65_535,
        ..Config::default()
    });
    peer.request(1, GET, false);
    peer.data(1, &[0; 12_000], false);
    peer.server.release(1, 12_000);
    let updates: Vec<(u32, u32)> = peer
        .frames()
        .iter()
        .filter_map(|f| match f {
            Frame::WindowUpdate {
                stream_id,
                increment,
            } => Some((*stream_id, *increment)),
            _ => None,
        })
        .collect();
    assert_eq!(updates, vec![(1, 12_000)], "half a stream window gathered");
    // The client may now send a whole window again without an error.
    peer.data(1, &[0; 10_000], false);
    peer.data(1, &[0; 10_000], false);
    assert_eq!(peer.error, None);
    assert!(Peer::resets(&peer.frames()).is_empty());
}

#[test]
fn rfc9113_6_10_a_frame_inside_a_header_block_is_a_protocol_error() {
    let mut peer = Peer::new();
    let block = peer.block(GET);
    let mut out = Vec::new();
    let (first, rest) = block.split_at(3);
    out.extend_from_slice(&(first.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&[kind::HEADERS, flag::END_STREAM]);
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(first);
    write_ping(&mut out, [0; 8], false);
    write_continuation(&mut out, 1, rest, true);
    peer.send(&out);
    assert_eq!(peer.error, Some((ErrorCode::ProtocolError, None)));
}

#[test]
fn rfc9113_6_10_a_block_in_continuations_makes_one_request() {
    let mut peer = Peer::new();
    let block = peer.block(GET);
    let mut out = Vec::new();
    write_headers(&mut out, 1, &block, true, 4);
    peer.send(&out);
    assert!(matches!(
        peer.events()[..],
        [Event::Request {
            stream_id: 1,
            end_stream: true,
            ..
        }]
    ));
}

#[test]
fn rfc9113_5_4_1_after_a_connection_error_nothing_more_is_read_or_sent() {
    let mut peer = Peer::new();
    peer.request(1, GET, false);
    peer.events();
    peer.data(2, b"x", false);
    assert_eq!(peer.error, Some((ErrorCode::ProtocolError, None)));
    assert_eq!(peer.goaway(), Some((1, ErrorCode::ProtocolError)));
    // Whatever follows is dropped unread, and the stream can no longer be answered.
    peer.request(3, GET, true);
    assert!(peer.events().is_empty());
    assert!(peer.server.send_response(1, 200, [], true).is_err());
    peer.server.release(1, 1_000_000);
    assert!(peer.frames().is_empty());
    assert!(peer.server.is_done());
}

// ----- §8: requests and responses -----

#[test]
fn rfc9113_8_4_a_push_promise_from_the_client_is_a_protocol_error() {
    let mut peer = Peer::new();
    peer.frame(
        kind::PUSH_PROMISE,
        flag::END_HEADERS,
        1,
        &[0, 0, 0, 2, 0x82],
    );
    assert_eq!(peer.error, Some((ErrorCode::ProtocolError, None)));
}

#[test]
fn rfc9113_6_5_2_a_header_block_far_past_the_limit_ends_the_connection_calmly() {
    // Four times SETTINGS_MAX_HEADER_LIST_SIZE, encoded: abuse, not a large request.
    let mut peer = Peer::with(Config {
        max_header_list_size: 1_000,
        ..Config::default()
    });
    let long = "v".repeat(5_000);
    let block = peer.block(&[GET, &[("x-long", &long)]].concat());
    let mut out = Vec::new();
    write_headers(&mut out, 1, &block, true, 1_000);
    peer.send(&out);
    assert_eq!(peer.error, Some((ErrorCode::EnhanceYourCalm, None)));
}

#[test]
fn rfc9113_8_1_a_request_body_and_its_trailers_end_the_request() {
    let mut peer = Peer::new();
    peer.request(1, &[&[(":method", "POST")], &GET[1..]].concat(), false);
    peer.data(1, b"hello", false);
    let trailers = peer.block(&[("x-checksum", "1")]);
    let mut out = Vec::new();
    write_headers(&mut out, 1, &trailers, true, 16_384);
    peer.send(&out);
    let events = peer.events();
    assert!(matches!(
        events[1],
        Event::Data {
            stream_id: 1,
            end_stream: false,
            ..
        }
    ));
    assert!(
        matches!(&events[2], Event::Trailers { stream_id: 1, fields } if fields[0].name == "x-checksum")
    );
}

#[test]
fn rfc9113_8_1_trailers_without_end_stream_are_malformed() {
    let mut peer = Peer::new();
    peer.request(1, GET, false);
    let trailers = peer.block(&[("x-checksum", "1")]);
    let mut out = Vec::new();
    write_headers(&mut out, 1, &trailers, false, 16_384);
    peer.send(&out);
    assert_eq!(
        Peer::resets(&peer.frames()),
        vec![(1, ErrorCode::ProtocolError)]
    );
    assert_eq!(peer.error, None);
}

#[test]
fn rfc9113_8_1_1_a_body_unlike_its_content_length_is_malformed() {
    let mut peer = Peer::new();
    peer.request(1, &[GET, &[("content-length", "3")]].concat(), false);
    peer.data(1, b"four", true);
    peer.request(3, &[GET, &[("content-length", "3")]].concat(), false);
    peer.data(3, b"tw", true);
    peer.request(5, &[GET, &[("content-length", "3")]].concat(), true);
    assert_eq!(
        Peer::resets(&peer.frames()),
        vec![
            (1, ErrorCode::ProtocolError),
            (3, ErrorCode::ProtocolError),
            (5, ErrorCode::ProtocolError)
        ]
    );
    assert_eq!(peer.error, None);
}

#[test]
fn rfc9113_8_1_1_a_malformed_request_is_a_stream_error_and_the_connection_goes_on() {
    let mut peer = Peer::new();
    peer.request(1, &[GET, &[("connection", "keep-alive")]].concat(), true);
    peer.request(3, &[("Host", "x")], true);
    peer.request(5, GET, true);
    assert_eq!(
        Peer::resets(&peer.frames()),
        vec![(1, ErrorCode::ProtocolError), (3, ErrorCode::ProtocolError)]
    );
    assert!(matches!(
        peer.events()[..],
        [Event::Request { stream_id: 5, .. }]
    ));
}

#[test]
fn rfc9110_9_3_2_a_head_response_carries_no_body() {
    let mut peer = Peer::new();
    peer.request(1, &[&[(":method", "HEAD")], &GET[1..]].concat(), true);
    peer.server
        .send_response(1, 200, [(&b"content-length"[..], &b"5"[..])], false)
        .unwrap();
    assert_eq!(peer.server.send_data(1, b"hello", true).unwrap(), 5);
    let frames = peer.frames();
    assert_eq!(data_sent(&frames), (0, true));
}

#[test]
fn rfc9113_8_2_2_connection_specific_response_fields_are_left_out() {
    let mut peer = Peer::new();
    peer.request(1, GET, true);
    let fields = [
        (&b"Connection"[..], &b"close"[..]),
        (b"transfer-encoding", b"chunked"),
        (b"X-Kept", b"yes"),
    ];
    peer.server.send_response(1, 200, fields, true).unwrap();
    let frames = peer.frames();
    let fields = peer.response_fields(&frames);
    assert_eq!(
        fields,
        vec![
            (":status".to_string(), "200".to_string()),
            ("x-kept".to_string(), "yes".to_string())
        ]
    );
}

#[test]
fn rfc9113_8_1_a_response_complete_before_its_request_asks_the_client_to_stop() {
    let mut peer = Peer::new();
    peer.request(1, &[&[(":method", "POST")], &GET[1..]].concat(), false);
    peer.server.send_response(1, 413, [], true).unwrap();
    peer.server.finish(1);
    let frames = peer.frames();
    assert_eq!(Peer::resets(&frames), vec![(1, ErrorCode::NoError)]);
    // What the client sent before it saw the reset is ignored.
    peer.data(1, b"more", true);
    assert_eq!(peer.error, None);
}

#[test]
fn rfc9113_6_5_2_a_header_list_past_the_limit_is_answered_431() {
    let mut peer = Peer::with(Config {
        max_header_list_size: 200,
        ..Config::default()
    });
    let long = "v".repeat(300);
    peer.request(1, &[GET, &[("x-long", &long)]].concat(), true);
    let frames = peer.frames();
    assert_eq!(
        peer.response_fields(&frames),
        vec![(":status".to_string(), "431".to_string())]
    );
    assert!(peer.events().is_empty(), "the app never sees it");
    // The table stayed in step: the next request decodes.
    peer.request(3, GET, true);
    assert!(matches!(
        peer.events()[..],
        [Event::Request { stream_id: 3, .. }]
    ));
}

#[test]
fn rfc7541_a_block_that_does_not_decode_is_a_compression_error() {
    let mut peer = Peer::new();
    let mut out = Vec::new();
    write_headers(
        &mut out,
        1,
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        true,
        16_384,
    );
    peer.send(&out);
    assert_eq!(peer.error, Some((ErrorCode::CompressionError, None)));
}

// ----- limits, named after the attacks they stop -----

#[test]
fn cve_2023_44487_rapid_reset_ends_with_enhance_your_calm() {
    let mut peer = Peer::new();
    for n in 0..=PEER_RESET_BUDGET {
        let id = 2 * n + 1;
        peer.request(id, GET, true);
        peer.frame(
            kind::RST_STREAM,
            0,
            id,
            &ErrorCode::Cancel.code().to_be_bytes(),
        );
        peer.server.finish(id);
        if peer.error.is_some() {
            break;
        }
    }
    assert_eq!(peer.error, Some((ErrorCode::EnhanceYourCalm, None)));
    assert_eq!(peer.goaway().map(|g| g.1), Some(ErrorCode::EnhanceYourCalm));
}

#[test]
fn resets_after_complete_responses_are_not_counted_as_rapid_reset() {
    let mut peer = Peer::new();
    for n in 0..(3 * PEER_RESET_BUDGET) {
        let id = 2 * n + 1;
        peer.request(id, GET, true);
        peer.server.send_response(id, 204, [], true).unwrap();
        peer.frame(
            kind::RST_STREAM,
            0,
            id,
            &ErrorCode::Cancel.code().to_be_bytes(),
        );
        peer.server.finish(id);
        peer.frames();
    }
    assert_eq!(peer.error, None);
}

#[test]
fn cve_2025_8671_made_you_reset_ends_with_enhance_your_calm() {
    // Each stream is opened validly, then made to fail: a WINDOW_UPDATE of 0 is a stream error
    // the server must answer with a reset.
    let mut peer = Peer::new();
    for n in 0..=PROVOKED_RESET_BUDGET {
        let id = 2 * n + 1;
        peer.request(id, GET, false);
        peer.frame(kind::WINDOW_UPDATE, 0, id, &0u32.to_be_bytes());
        peer.server.finish(id);
        if peer.error.is_some() {
            break;
        }
    }
    assert_eq!(peer.error, Some((ErrorCode::EnhanceYourCalm, None)));
}

#[test]
fn cve_2019_9512_ping_flood_ends_with_enhance_your_calm() {
    let mut peer = Peer::new();
    let mut out = Vec::new();
    for _ in 0..=IDLE_FRAME_BUDGET {
        write_ping(&mut out, [1; 8], false);
    }
    peer.send(&out);
    assert_eq!(peer.error, Some((ErrorCode::EnhanceYourCalm, None)));
}

#[test]
fn cve_2019_9515_settings_flood_ends_with_enhance_your_calm() {
    let mut peer = Peer::new();
    let mut out = Vec::new();
    for _ in 0..=IDLE_FRAME_BUDGET {
        write_settings(&mut out, &[]);
    }
    peer.send(&out);
    assert_eq!(peer.error, Some((ErrorCode::EnhanceYourCalm, None)));
}

#[test]
fn cve_2019_9518_empty_frames_end_with_enhance_your_calm() {
    let mut peer = Peer::new();
    peer.request(1, GET, false);
    let mut out = Vec::new();
    for _ in 0..=IDLE_FRAME_BUDGET {
        write_data(&mut out, 1, b"", false);
    }
    peer.send(&out);
    assert_eq!(peer.error, Some((ErrorCode::EnhanceYourCalm, None)));
}

#[test]
fn rfc8441_small_data_on_a_tunnel_is_work_but_empty_frames_are_not() {
    let config = Config {
        enable_connect_protocol: true,
        ..Config::default()
    };
    let connect = &[
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":path", "/ws"),
        (":authority", "localhost"),
    ];
    // Twice the idle budget of 8-octet frames (a WebSocket's small messages) on the tunnel.
    let mut peer = Peer::with(config);
    peer.request(1, connect, false);
    let mut out = Vec::new();
    for _ in 0..2 * IDLE_FRAME_BUDGET {
        write_data(&mut out, 1, b"8 octets", false);
    }
    peer.send(&out);
    assert_eq!(peer.error, None);
    // Empty frames carry nothing for the app, tunnel or not.
    let mut peer = Peer::with(config);
    peer.request(1, connect, false);
    let mut out = Vec::new();
    for _ in 0..=IDLE_FRAME_BUDGET {
        write_data(&mut out, 1, b"", false);
    }
    peer.send(&out);
    assert_eq!(peer.error, Some((ErrorCode::EnhanceYourCalm, None)));
}

#[test]
fn cve_2019_9513_priority_resource_loop_ends_with_enhance_your_calm() {
    let mut peer = Peer::new();
    let mut out = Vec::new();
    for n in 0..=IDLE_FRAME_BUDGET {
        let id = 2 * (n % 100) + 1;
        out.extend_from_slice(&[0, 0, 5, kind::PRIORITY, 0]);
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&(id + 2).to_be_bytes());
        out.push(200);
    }
    peer.send(&out);
    assert_eq!(peer.error, Some((ErrorCode::EnhanceYourCalm, None)));
}

#[test]
fn small_data_and_window_update_floods_end_with_enhance_your_calm() {
    let mut peer = Peer::new();
    peer.request(1, GET, false);
    let mut out = Vec::new();
    for _ in 0..=IDLE_FRAME_BUDGET {
        write_data(&mut out, 1, b"x", false);
    }
    peer.send(&out);
    assert_eq!(peer.error, Some((ErrorCode::EnhanceYourCalm, None)));

    let mut peer = Peer::new();
    let mut out = Vec::new();
    for _ in 0..=IDLE_FRAME_BUDGET {
        write_window_update(&mut out, 0, 1);
    }
    peer.send(&out);
    assert_eq!(peer.error, Some((ErrorCode::EnhanceYourCalm, None)));
}

#[test]
fn real_work_between_frames_keeps_a_long_connection_alive() {
    // A client that pings now and then over a long life, between requests, is no flood.
    let mut peer = Peer::new();
    for n in 0..(3 * IDLE_FRAME_BUDGET / 100) {
        let id = 2 * n + 1;
        let mut out = Vec::new();
        for _ in 0..99 {
            write_ping(&mut out, [0; 8], false);
        }
        peer.send(&out);
        peer.request(id, GET, true);
        peer.server.send_response(id, 204, [], true).unwrap();
        peer.server.finish(id);
        peer.frames();
        peer.events();
    }
    assert_eq!(peer.error, None);
}

#[test]
fn cve_2024_27316_a_continuation_flood_ends_with_enhance_your_calm() {
    let mut peer = Peer::new();
    let mut out = Vec::new();
    out.extend_from_slice(&[0, 0, 1, kind::HEADERS, 0]);
    out.extend_from_slice(&1u32.to_be_bytes());
    out.push(0x82);
    for _ in 0..100 {
        write_continuation(&mut out, 1, &[0x40, 1, b'a', 1, b'b'], false);
    }
    peer.send(&out);
    assert_eq!(peer.error, Some((ErrorCode::EnhanceYourCalm, None)));
}

#[test]
fn cve_2016_6581_an_hpack_bomb_is_answered_431_and_costs_no_memory() {
    // One 4 KB entry in the table, referenced over and over: a small block that decodes to a
    // list far past the limit.
    let mut peer = Peer::new();
    let big = "b".repeat(4_000);
    let mut block = peer.block(&[GET, &[("x-bomb", big.as_str())]].concat());
    for _ in 0..4_000 {
        block.push(0x80 | 62);
    }
    let mut out = Vec::new();
    write_headers(&mut out, 3, &block, true, 16_384);
    peer.send(&out);
    let frames = peer.frames();
    assert_eq!(
        peer.response_fields(&frames),
        vec![(":status".to_string(), "431".to_string())]
    );
    assert_eq!(peer.error, None);
}

#[test]
fn the_server_resets_a_stream_whose_app_returned_early() {
    let mut peer = Peer::new();
    peer.request(1, GET, true);
    peer.server.send_response(1, 200, [], false).unwrap();
    peer.server.finish(1);
    assert_eq!(
        Peer::resets(&peer.frames()),
        vec![(1, ErrorCode::InternalError)]
    );
    let mut out = Vec::new();
    write_rst_stream(&mut out, 1, ErrorCode::Cancel);
    write_settings_ack(&mut out);
    peer.send(&out);
    assert_eq!(peer.error, None);
}

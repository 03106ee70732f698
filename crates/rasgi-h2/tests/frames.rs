//! Frames (RFC 9113 §4, §6): every size and field rule, with the error code and scope the RFC
//! names, and what the server writes read back.

use bytes::{Bytes, BytesMut};
use rasgi_h2::frame::{
    flag, kind, read_frame, setting, write_continuation, write_data, write_goaway, write_headers,
    write_ping, write_rst_stream, write_settings, write_settings_ack, write_window_update,
    ErrorCode, Frame, FrameError, Priority, Setting, DEFAULT_MAX_FRAME_SIZE,
};

fn raw(frame_kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&[frame_kind, flags]);
    out.extend_from_slice(&stream_id.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn read(frame_kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Result<Frame, FrameError> {
    let mut buf = raw(frame_kind, flags, stream_id, payload);
    let frame = read_frame(&mut buf, DEFAULT_MAX_FRAME_SIZE).map(|f| f.expect("a whole frame"));
    if frame.is_ok() {
        assert!(buf.is_empty(), "the frame's octets were taken");
    }
    frame
}

/// The code and scope of a refusal: `Some(id)` a stream error, `None` a connection error.
fn refused(result: Result<Frame, FrameError>) -> (ErrorCode, Option<u32>) {
    let error = result.expect_err("refused");
    (error.code, error.stream)
}

use ErrorCode::{FlowControlError, FrameSizeError, ProtocolError};

#[test]
fn rfc9113_4_1_unknown_types_and_flags_are_ignored_and_the_reserved_bit_too() {
    assert_eq!(
        read(0xfa, 0xff, 3, b"anything"),
        Ok(Frame::Unknown {
            kind: 0xfa,
            stream_id: 3
        })
    );
    // DATA with every flag it does not define set.
    let data = read(kind::DATA, 0xf6, 1, b"hi").unwrap();
    assert_eq!(
        data,
        Frame::Data {
            stream_id: 1,
            end_stream: false,
            data: Bytes::from_static(b"hi"),
            flow_len: 2
        }
    );
    // The stream identifier's reserved bit is ignored on receipt.
    let data = read(kind::DATA, flag::END_STREAM, 0x8000_0001, b"").unwrap();
    assert_eq!(
        data,
        Frame::Data {
            stream_id: 1,
            end_stream: true,
            data: Bytes::new(),
            flow_len: 0
        }
    );
}

#[test]
fn rfc9113_4_2_a_frame_over_the_maximum_size_is_refused_from_its_header() {
    let mut buf = raw(kind::DATA, 0, 1, &[0; 16_385]);
    buf.truncate(9); // only the header has arrived
    let error = read_frame(&mut buf, DEFAULT_MAX_FRAME_SIZE).unwrap_err();
    assert_eq!((error.code, error.stream), (FrameSizeError, None));
    // At the limit, fine; and a larger limit takes larger frames.
    assert!(read(kind::DATA, 0, 1, &[0; 16_384]).is_ok());
    let mut big = raw(kind::DATA, 0, 1, &[0; 20_000]);
    assert!(read_frame(&mut big, 1 << 20).unwrap().is_some());
}

#[test]
fn rfc9113_4_a_frame_is_read_only_once_whole_and_frames_follow_each_other() {
    let mut whole = raw(kind::PING, 0, 0, &[1; 8]);
    whole.extend_from_slice(&raw(kind::PING, flag::ACK, 0, &[2; 8]));
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for byte in whole.iter() {
        buf.extend_from_slice(&[*byte]);
        while let Some(frame) = read_frame(&mut buf, DEFAULT_MAX_FRAME_SIZE).unwrap() {
            frames.push(frame);
        }
    }
    assert_eq!(
        frames,
        [
            Frame::Ping {
                ack: false,
                data: [1; 8]
            },
            Frame::Ping {
                ack: true,
                data: [2; 8]
            }
        ]
    );
}

#[test]
fn rfc9113_6_1_data() {
    assert_eq!(refused(read(kind::DATA, 0, 0, b"x")), (ProtocolError, None));
    // Padding: removed, and counted by flow control.
    let padded = read(kind::DATA, flag::PADDED, 1, b"\x03abc\0\0\0").unwrap();
    assert_eq!(
        padded,
        Frame::Data {
            stream_id: 1,
            end_stream: false,
            data: Bytes::from_static(b"abc"),
            flow_len: 7
        }
    );
    // A pad length as long as the rest of the payload, or no room for the pad length.
    assert_eq!(
        refused(read(kind::DATA, flag::PADDED, 1, b"\x04abc")),
        (ProtocolError, None)
    );
    // Padding that fills the rest of the payload is fine: no data.
    assert!(read(kind::DATA, flag::PADDED, 1, b"\x03ab\0").is_ok());
    assert_eq!(
        refused(read(kind::DATA, flag::PADDED, 1, b"")),
        (FrameSizeError, None)
    );
}

#[test]
fn rfc9113_6_2_headers() {
    assert_eq!(
        refused(read(kind::HEADERS, flag::END_HEADERS, 0, b"\x82")),
        (ProtocolError, None)
    );
    let priority = [0x80, 0, 0, 1, 15];
    let mut payload = priority.to_vec();
    payload.push(0x82);
    let frame = read(
        kind::HEADERS,
        flag::PRIORITY | flag::END_HEADERS | flag::END_STREAM,
        3,
        &payload,
    )
    .unwrap();
    assert_eq!(
        frame,
        Frame::Headers {
            stream_id: 3,
            end_stream: true,
            end_headers: true,
            priority: Some(Priority {
                dependency: 1,
                exclusive: true,
                weight: 15
            }),
            fragment: Bytes::from_static(b"\x82"),
        }
    );
    // §5.3.1: a HEADERS depending on itself is read whole (its block must still be decoded);
    // the connection refuses the stream (tests/conn.rs).
    assert!(matches!(
        read(
            kind::HEADERS,
            flag::PRIORITY | flag::END_HEADERS,
            3,
            &[0, 0, 0, 3, 0, 0x82]
        ),
        Ok(Frame::Headers {
            priority: Some(Priority { dependency: 3, .. }),
            ..
        })
    ));
    assert_eq!(
        refused(read(kind::HEADERS, flag::PRIORITY, 3, &[0, 0, 0])),
        (FrameSizeError, None)
    );
    assert_eq!(
        refused(read(kind::HEADERS, flag::PADDED, 3, b"\x05\x82")),
        (ProtocolError, None)
    );
}

#[test]
fn rfc9113_6_3_priority() {
    assert_eq!(
        read(kind::PRIORITY, 0, 5, &[0, 0, 0, 1, 7]).unwrap(),
        Frame::Priority {
            stream_id: 5,
            priority: Priority {
                dependency: 1,
                exclusive: false,
                weight: 7
            }
        }
    );
    assert_eq!(
        refused(read(kind::PRIORITY, 0, 0, &[0, 0, 0, 1, 7])),
        (ProtocolError, None)
    );
    assert_eq!(
        refused(read(kind::PRIORITY, 0, 5, &[0, 0, 0, 1])),
        (FrameSizeError, Some(5))
    );
    assert_eq!(
        refused(read(kind::PRIORITY, 0, 5, &[0, 0, 0, 5, 7])),
        (ProtocolError, Some(5))
    );
}

#[test]
fn rfc9113_6_4_rst_stream() {
    assert_eq!(
        read(kind::RST_STREAM, 0, 1, &[0, 0, 0, 8]).unwrap(),
        Frame::RstStream {
            stream_id: 1,
            code: ErrorCode::Cancel
        }
    );
    assert_eq!(
        read(kind::RST_STREAM, 0, 1, &[0, 0, 1, 0]).unwrap(),
        Frame::RstStream {
            stream_id: 1,
            code: ErrorCode::Unknown(256)
        }
    );
    assert_eq!(
        refused(read(kind::RST_STREAM, 0, 0, &[0, 0, 0, 8])),
        (ProtocolError, None)
    );
    assert_eq!(
        refused(read(kind::RST_STREAM, 0, 1, &[0, 0, 8])),
        (FrameSizeError, None)
    );
}

/// A refusal: the code and the scope (`Some(id)` a stream error, `None` a connection error).
type Refusal = (ErrorCode, Option<u32>);

fn settings_payload(items: &[(u16, u32)]) -> Vec<u8> {
    items
        .iter()
        .flat_map(|(id, value)| id.to_be_bytes().into_iter().chain(value.to_be_bytes()))
        .collect()
}

#[test]
fn rfc9113_6_5_settings() {
    let frame = read(
        kind::SETTINGS,
        0,
        0,
        &settings_payload(&[(setting::MAX_CONCURRENT_STREAMS, 100), (0xff, 7)]),
    )
    .unwrap();
    assert_eq!(
        frame,
        Frame::Settings {
            ack: false,
            settings: vec![
                Setting { id: 3, value: 100 },
                Setting { id: 0xff, value: 7 }
            ]
        }
    );
    assert_eq!(
        read(kind::SETTINGS, flag::ACK, 0, b"").unwrap(),
        Frame::Settings {
            ack: true,
            settings: vec![]
        }
    );
    let table: [(u8, u32, Vec<u8>, Refusal); 8] = [
        (0, 1, settings_payload(&[(1, 0)]), (ProtocolError, None)),
        (
            flag::ACK,
            0,
            settings_payload(&[(1, 0)]),
            (FrameSizeError, None),
        ),
        (0, 0, vec![0, 1, 0, 0, 0], (FrameSizeError, None)),
        (
            0,
            0,
            settings_payload(&[(setting::ENABLE_PUSH, 2)]),
            (ProtocolError, None),
        ),
        (
            0,
            0,
            settings_payload(&[(setting::INITIAL_WINDOW_SIZE, 1 << 31)]),
            (FlowControlError, None),
        ),
        (
            0,
            0,
            settings_payload(&[(setting::MAX_FRAME_SIZE, 16_383)]),
            (ProtocolError, None),
        ),
        (
            0,
            0,
            settings_payload(&[(setting::MAX_FRAME_SIZE, 1 << 24)]),
            (ProtocolError, None),
        ),
        (
            0,
            0,
            settings_payload(&[(setting::ENABLE_CONNECT_PROTOCOL, 2)]),
            (ProtocolError, None),
        ),
    ];
    for (flags, stream, payload, want) in table {
        assert_eq!(
            refused(read(kind::SETTINGS, flags, stream, &payload)),
            want,
            "{payload:?}"
        );
    }
    // The edges that are allowed.
    let edges = settings_payload(&[
        (setting::INITIAL_WINDOW_SIZE, (1 << 31) - 1),
        (setting::MAX_FRAME_SIZE, (1 << 24) - 1),
        (setting::MAX_FRAME_SIZE, 16_384),
        (setting::ENABLE_PUSH, 0),
    ]);
    assert!(read(kind::SETTINGS, 0, 0, &edges).is_ok());
}

#[test]
fn rfc9113_6_6_push_promise_is_parsed_for_the_connection_to_refuse() {
    let frame = read(
        kind::PUSH_PROMISE,
        flag::END_HEADERS,
        1,
        &[0, 0, 0, 2, 0x82],
    )
    .unwrap();
    assert_eq!(
        frame,
        Frame::PushPromise {
            stream_id: 1,
            promised_id: 2,
            end_headers: true,
            fragment: Bytes::from_static(b"\x82")
        }
    );
    assert_eq!(
        refused(read(kind::PUSH_PROMISE, 0, 1, &[0, 0])),
        (FrameSizeError, None)
    );
}

#[test]
fn rfc9113_6_7_ping() {
    assert_eq!(
        refused(read(kind::PING, 0, 1, &[0; 8])),
        (ProtocolError, None)
    );
    assert_eq!(
        refused(read(kind::PING, 0, 0, &[0; 7])),
        (FrameSizeError, None)
    );
    assert_eq!(
        refused(read(kind::PING, 0, 0, &[0; 9])),
        (FrameSizeError, None)
    );
}

#[test]
fn rfc9113_6_8_goaway() {
    let mut payload = vec![0x80, 0, 0, 5, 0, 0, 0, 0xb];
    payload.extend_from_slice(b"calm");
    assert_eq!(
        read(kind::GOAWAY, 0, 0, &payload).unwrap(),
        Frame::GoAway {
            last_stream_id: 5,
            code: ErrorCode::EnhanceYourCalm,
            debug: Bytes::from_static(b"calm")
        }
    );
    assert_eq!(
        refused(read(kind::GOAWAY, 0, 1, &payload)),
        (ProtocolError, None)
    );
    assert_eq!(
        refused(read(kind::GOAWAY, 0, 0, &payload[..7])),
        (FrameSizeError, None)
    );
}

#[test]
fn rfc9113_6_9_window_update() {
    assert_eq!(
        read(kind::WINDOW_UPDATE, 0, 0, &[0x80, 0, 0, 1]).unwrap(),
        Frame::WindowUpdate {
            stream_id: 0,
            increment: 1
        }
    );
    assert_eq!(
        refused(read(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 0, 0])),
        (ProtocolError, None)
    );
    assert_eq!(
        refused(read(kind::WINDOW_UPDATE, 0, 7, &[0, 0, 0, 0])),
        (ProtocolError, Some(7))
    );
    assert_eq!(
        refused(read(kind::WINDOW_UPDATE, 0, 7, &[0, 0, 1])),
        (FrameSizeError, None)
    );
}

#[test]
fn rfc9113_6_10_continuation() {
    assert_eq!(
        refused(read(kind::CONTINUATION, flag::END_HEADERS, 0, b"\x82")),
        (ProtocolError, None)
    );
    assert_eq!(
        read(kind::CONTINUATION, 0, 1, b"\x82").unwrap(),
        Frame::Continuation {
            stream_id: 1,
            end_headers: false,
            fragment: Bytes::from_static(b"\x82")
        }
    );
}

fn read_all(mut buf: BytesMut) -> Vec<Frame> {
    let mut frames = Vec::new();
    while let Some(frame) = read_frame(&mut buf, DEFAULT_MAX_FRAME_SIZE).unwrap() {
        frames.push(frame);
    }
    assert!(buf.is_empty());
    frames
}

#[test]
fn what_the_server_writes_reads_back() {
    let mut out = Vec::new();
    write_settings(
        &mut out,
        &[Setting {
            id: setting::MAX_CONCURRENT_STREAMS,
            value: 200,
        }],
    );
    write_settings_ack(&mut out);
    write_data(&mut out, 1, b"hello", true);
    write_ping(&mut out, [7; 8], true);
    write_goaway(&mut out, 9, ErrorCode::NoError, b"bye");
    write_rst_stream(&mut out, 3, ErrorCode::RefusedStream);
    write_window_update(&mut out, 0, 65_535);
    write_continuation(&mut out, 5, b"\x82", true);
    let frames = read_all(BytesMut::from(&out[..]));
    assert_eq!(
        frames,
        [
            Frame::Settings {
                ack: false,
                settings: vec![Setting { id: 3, value: 200 }]
            },
            Frame::Settings {
                ack: true,
                settings: vec![]
            },
            Frame::Data {
                stream_id: 1,
                end_stream: true,
                data: Bytes::from_static(b"hello"),
                flow_len: 5
            },
            Frame::Ping {
                ack: true,
                data: [7; 8]
            },
            Frame::GoAway {
                last_stream_id: 9,
                code: ErrorCode::NoError,
                debug: Bytes::from_static(b"bye")
            },
            Frame::RstStream {
                stream_id: 3,
                code: ErrorCode::RefusedStream
            },
            Frame::WindowUpdate {
                stream_id: 0,
                increment: 65_535
            },
            Frame::Continuation {
                stream_id: 5,
                end_headers: true,
                fragment: Bytes::from_static(b"\x82")
            },
        ]
    );
}

#[test]
fn rfc9113_4_3_a_large_header_block_is_split_into_continuations() {
    let block: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
    let mut out = Vec::new();
    write_headers(&mut out, 1, &block, true, 16_384);
    let frames = read_all(BytesMut::from(&out[..]));
    assert_eq!(frames.len(), 3);
    let mut joined = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        match frame {
            Frame::Headers {
                stream_id: 1,
                end_stream: true,
                end_headers: false,
                fragment,
                ..
            } if i == 0 => joined.extend_from_slice(fragment),
            Frame::Continuation {
                stream_id: 1,
                end_headers,
                fragment,
            } if i > 0 => {
                assert_eq!(*end_headers, i == 2);
                joined.extend_from_slice(fragment);
            }
            other => panic!("frame {i}: {other:?}"),
        }
    }
    assert_eq!(joined, block);
    // A small block is one HEADERS with END_HEADERS.
    let mut out = Vec::new();
    write_headers(&mut out, 3, b"\x88", false, 16_384);
    assert_eq!(
        read_all(BytesMut::from(&out[..])),
        [Frame::Headers {
            stream_id: 3,
            end_stream: false,
            end_headers: true,
            priority: None,
            fragment: Bytes::from_static(b"\x88")
        }]
    );
}

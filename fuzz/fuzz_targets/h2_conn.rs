//! Fuzz a server's HTTP/2 connection with random frame sequences and random driver actions
//! between them. The invariants: nothing panics; the streams in the table never pass the
//! concurrency limit; everything the server writes reads back as valid frames, whole; a
//! connection that failed stays failed, and nothing follows its GOAWAY.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rasgi_h2::conn::{Config, Event, ServerConnection, PREFACE};
use rasgi_h2::frame::{read_frame, write_headers, write_settings, ErrorCode, Frame};
use rasgi_h2::hpack::Encoder;

const MAX_STREAMS: u32 = 8;

/// Reads the input a byte at a time; zeros once it runs out.
struct Script<'a>(&'a [u8]);

impl Script<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((first, rest)) => {
                self.0 = rest;
                *first
            }
            None => 0,
        }
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken.to_vec()
    }
}

/// What the server sent, as the client reads it.
#[derive(Default)]
struct Seen {
    buf: BytesMut,
    goaway_last: bool,
}

fn check_output(server: &mut ServerConnection, seen: &mut Seen) {
    // The output in pieces, as a driver writes it: some at a time, oldest first.
    while server.has_output() {
        let out = server.output().to_vec();
        let n = out.len().min(7_000);
        server.wrote(n);
        seen.buf.extend_from_slice(&out[..n]);
    }
    loop {
        match read_frame(&mut seen.buf, 1 << 24) {
            Ok(Some(frame)) => {
                seen.goaway_last = matches!(frame, Frame::GoAway { .. });
            }
            Ok(None) => break,
            Err(error) => panic!("the server wrote an invalid frame: {error}"),
        }
    }
    assert!(seen.buf.is_empty(), "the server wrote part of a frame");
}

fuzz_target!(|data: &[u8]| {
    let mut script = Script(data);
    let config = Config {
        max_concurrent_streams: MAX_STREAMS,
        max_header_list_size: 1024,
        initial_stream_window: 1 + u32::from(script.byte()) * 256,
        initial_connection_window: 65_535 + u32::from(script.byte()) * 1024,
        ..Config::default()
    };
    let mut server = ServerConnection::new(config);
    let mut seen = Seen::default();
    let mut input = BytesMut::new();
    let mut encoder = Encoder::new(4096);
    let mut open: Vec<u32> = Vec::new();
    if script.byte() % 8 != 0 {
        input.extend_from_slice(PREFACE);
        let mut settings = Vec::new();
        write_settings(&mut settings, &[]);
        input.extend_from_slice(&settings);
    }
    let mut failed = false;
    let mut steps = 0;
    while !script.0.is_empty() && steps < 4096 {
        steps += 1;
        match script.byte() % 9 {
            0..=2 => {
                let n = usize::from(script.byte());
                input.extend_from_slice(&script.bytes(n));
            }
            3 => {
                // A frame of any type with a short payload.
                let kind = script.byte() % 11;
                let flags = script.byte();
                let id = u32::from(script.byte() % 16);
                let len = usize::from(script.byte() % 40);
                let payload = script.bytes(len);
                input.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
                input.extend_from_slice(&[kind, flags]);
                input.extend_from_slice(&id.to_be_bytes());
                input.extend_from_slice(&payload);
            }
            4 => {
                // A well-formed request, so that streams open.
                let id = 2 * u32::from(script.byte() % 32) + 1;
                let method = ["GET", "POST", "HEAD", "CONNECT"][usize::from(script.byte() % 4)];
                let mut block = Vec::new();
                let fields = [
                    (":method", method),
                    (":scheme", "http"),
                    (":path", "/"),
                    (":authority", "fuzz"),
                ];
                encoder.encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())), &mut block);
                let mut frame = Vec::new();
                write_headers(&mut frame, id, &block, script.byte() % 2 == 0, 16_384);
                input.extend_from_slice(&frame);
            }
            5 => {
                let id = open.get(usize::from(script.byte()) % open.len().max(1)).copied().unwrap_or(1);
                let _ = server.send_response(id, 200, [(&b"x"[..], &b"y"[..])], script.byte() % 4 == 0);
            }
            6 => {
                let id = open.get(usize::from(script.byte()) % open.len().max(1)).copied().unwrap_or(1);
                let body = vec![0u8; usize::from(script.byte()) * 300];
                // Copied, or queued as it is past the shared-payload size.
                let end = script.byte() % 2 == 0;
                if script.byte() % 2 == 1 {
                    let _ = server.send_shared_data(id, &bytes::Bytes::from(body), end);
                } else {
                    let _ = server.send_data(id, &body, end);
                }
            }
            7 => {
                if !open.is_empty() {
                    let id = open.remove(usize::from(script.byte()) % open.len());
                    if script.byte() % 3 == 0 {
                        server.reset(id, ErrorCode::Cancel);
                    }
                    server.finish(id);
                }
            }
            _ => match script.byte() % 3 {
                0 => server.shut_down_gracefully(),
                1 => server.go_away(ErrorCode::NoError, "fuzz"),
                _ => {}
            },
        }
        if server.receive(&mut input).is_err() {
            failed = true;
        }
        while let Some(event) = server.poll_event() {
            match event {
                Event::Request { stream_id, .. } => open.push(stream_id),
                Event::Data { stream_id, data, .. } => server.release(stream_id, data.len()),
                _ => {}
            }
        }
        assert!(server.open_streams() <= MAX_STREAMS as usize);
        if failed {
            assert!(server.is_failed());
        }
        check_output(&mut server, &mut seen);
        if failed {
            assert!(seen.goaway_last || !server.has_output());
        }
    }
});

//! Fuzz the WebSocket frame decoder (a server session): no input may panic; fed whole or a
//! byte at a time it must read the same events and fail with the same close code; once failed
//! or closed it reads nothing more.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rasgi_ws::{negotiate, Config, Incoming, Role, Session};

fn session(deflate: bool) -> Session {
    Session::new(
        Role::Server,
        Config {
            max_message_bytes: 64 * 1024,
            deflate: deflate
                .then(|| negotiate([&b"permessage-deflate"[..]]).expect("a valid offer").0),
        },
    )
}

/// Read `data` fed in pieces of `step` bytes: the events, and the failure's close code.
fn read(data: &[u8], step: usize, deflate: bool) -> (Vec<Incoming>, Option<u16>) {
    let mut session = session(deflate);
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    for piece in data.chunks(step.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match session.read(&mut buf) {
                Ok(Some(event)) => events.push(event),
                Ok(None) => break,
                Err(error) => {
                    // Failed: a close with the error's code is queued, nothing more is read.
                    assert!(session.is_closed());
                    assert!(session.close_sent());
                    assert_eq!(session.read(&mut buf), Ok(None));
                    return (events, Some(error.close_code()));
                }
            }
        }
    }
    (events, None)
}

fuzz_target!(|input: &[u8]| {
    let Some((&flags, data)) = input.split_first() else {
        return;
    };
    let deflate = flags & 1 == 1;
    let whole = read(data, data.len(), deflate);
    let trickled = read(data, 1, deflate);
    assert_eq!(whole, trickled);
});

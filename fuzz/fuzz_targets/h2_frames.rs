//! Fuzz the HTTP/2 frame reader: no input may panic; fed whole or a byte at a time it must
//! read the same frames and stop at the same error; a frame read never claims more octets
//! than the maximum frame size allows.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rasgi_h2::frame::{read_frame, Frame, FrameError, DEFAULT_MAX_FRAME_SIZE};

/// Read `data` fed in pieces of `step` octets: the frames, and the error that stopped it.
fn read(data: &[u8], step: usize) -> (Vec<Frame>, Option<FrameError>) {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in data.chunks(step.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match read_frame(&mut buf, DEFAULT_MAX_FRAME_SIZE) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(error) => return (frames, Some(error)),
            }
        }
    }
    (frames, None)
}

fuzz_target!(|data: &[u8]| {
    let whole = read(data, data.len());
    let trickled = read(data, 1);
    assert_eq!(whole, trickled);
    for frame in &whole.0 {
        if let Frame::Data { data, flow_len, .. } = frame {
            assert!(data.len() as u32 <= *flow_len);
            assert!(*flow_len <= DEFAULT_MAX_FRAME_SIZE);
        }
    }
});

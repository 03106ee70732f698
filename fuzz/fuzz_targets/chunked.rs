//! Fuzz the chunked body decoder: no input may panic, fed whole or one byte at a time it must
//! decode the same body and stop at the same place.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rasgi_h1::{Decoded, Decoder, Limits};

/// Decode `data` fed in pieces of `step` bytes: the body, or None on an error or an unfinished
/// body, plus where the body ended.
fn decode(data: &[u8], step: usize) -> (Option<Vec<u8>>, usize) {
    let mut decoder = Decoder::chunked(&Limits::default());
    let mut body = Vec::new();
    let mut at = 0;
    let mut available = step.min(data.len());
    loop {
        match decoder.decode(&data[at..available]) {
            Err(_) => return (None, at),
            Ok((used, Decoded::Data(bytes))) => {
                body.extend_from_slice(bytes);
                at += used;
            }
            Ok((used, Decoded::End)) => return (Some(body), at + used),
            Ok((used, Decoded::NeedMore)) => {
                at += used;
                if available == data.len() {
                    return (None, at);
                }
                available = (available + step).min(data.len());
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = decode(data, data.len().max(1));
    let bytewise = decode(data, 1);
    if whole.0.is_some() || bytewise.0.is_some() {
        assert_eq!(whole, bytewise);
    }
});

//! Fuzz the request-head parser: no input may panic, a complete head never claims more bytes
//! than it was given, its spans stay inside the buffer, and parsing is restartable (parsing the
//! already-lowercased buffer again gives the same head).

#![no_main]

use libfuzzer_sys::fuzz_target;
use rasgi_h1::{parse_request_head, HeaderSpan, Limits, Status};

fuzz_target!(|data: &[u8]| {
    let mut buf = data.to_vec();
    let mut slots = [HeaderSpan::default(); 64];
    let first = match parse_request_head(&mut buf, &mut slots, &Limits::default()) {
        Ok(Status::Complete(head)) => {
            assert!(head.len <= data.len());
            for field in head.headers {
                assert!(field.name.end <= head.len && field.value.end <= head.len);
            }
            Some((head.len, head.headers.len(), head.body))
        }
        _ => None,
    };
    let mut again = [HeaderSpan::default(); 64];
    let second = match parse_request_head(&mut buf, &mut again, &Limits::default()) {
        Ok(Status::Complete(head)) => Some((head.len, head.headers.len(), head.body)),
        _ => None,
    };
    assert_eq!(first, second);
});

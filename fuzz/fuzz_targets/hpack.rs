//! Fuzz the HPACK decoder: no input may panic; the dynamic table never passes its maximum size;
//! a header list past the limit is refused without being kept; and whatever decodes, re-encoded
//! by rasgi's encoder (skipping one-off values when the input's first octet is odd), decodes to
//! the same fields.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rasgi_h2::hpack::{DecodeError, Decoder, Encoder};

const TABLE: usize = 4096;
const LIST: usize = 16 * 1024;

fuzz_target!(|data: &[u8]| {
    // The input is split into blocks at each 0xfe octet, decoded in order on one decoder.
    let mut decoder = Decoder::new(TABLE).with_max_header_list_size(LIST);
    let mut encoder = Encoder::new(TABLE);
    if data.first().is_some_and(|b| b & 1 == 1) {
        encoder = encoder.skip_one_off_values();
    }
    let mut echo = Decoder::new(TABLE);
    for block in data.split(|&b| b == 0xfe) {
        match decoder.decode(block) {
            Ok(fields) => {
                assert!(decoder.table_size() <= TABLE);
                let list: usize = fields.iter().map(|f| 32 + f.name.len() + f.value.len()).sum();
                assert!(list <= LIST);
                let mut wire = Vec::new();
                encoder.encode(fields.iter().map(|f| (&f.name[..], &f.value[..])), &mut wire);
                let back = echo.decode(&wire).expect("rasgi's encoding decodes");
                let pairs = |fs: &[rasgi_h2::hpack::Field]| -> Vec<(Vec<u8>, Vec<u8>)> {
                    fs.iter().map(|f| (f.name.to_vec(), f.value.to_vec())).collect()
                };
                assert_eq!(pairs(&back), pairs(&fields));
            }
            Err(DecodeError::HeaderListTooLarge { .. }) => {
                assert!(decoder.table_size() <= TABLE);
            }
            // Any other error ends the connection: nothing more is decoded on it.
            Err(_) => return,
        }
    }
});

//! The Huffman code of RFC 7541 Appendix B, both ways (§5.2).
//!
//! The code is canonical: within one length, codes rise with the symbol, and each length's
//! first code follows the last of the length before it. So the table below is only each
//! symbol's length; the codes, and the decoder's tables, are computed from it at compile time.

use super::error::DecodeError;

/// The bit length of each symbol's code: the 256 octets, then EOS (256).
const LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5,
    5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6,
    6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22,
    23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22,
    21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20,
    22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19,
    21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22,
    22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

/// The end-of-string symbol: never in a string, its code's leading bits pad the last octet.
const EOS: usize = 256;

/// The longest code.
const MAX_LEN: usize = 30;

/// Each symbol's code, right-aligned.
const CODES: [u32; 257] = codes();

/// For each length: the first code of that length, how many codes have it, and where its
/// symbols start in [`SORTED`].
const FIRST: [u32; MAX_LEN + 1] = decode_tables().0;
const COUNT: [u32; MAX_LEN + 1] = decode_tables().1;
const START: [u16; MAX_LEN + 1] = decode_tables().2;
/// The symbols in code order.
const SORTED: [u16; 257] = decode_tables().3;

const fn codes() -> [u32; 257] {
    let mut codes = [0u32; 257];
    let mut code = 0u32;
    let mut len = 1;
    while len <= MAX_LEN {
        let mut symbol = 0;
        while symbol < 257 {
            if LENGTHS[symbol] as usize == len {
                codes[symbol] = code;
                code += 1;
            }
            symbol += 1;
        }
        code <<= 1;
        len += 1;
    }
    codes
}

#[allow(clippy::type_complexity)]
const fn decode_tables() -> (
    [u32; MAX_LEN + 1],
    [u32; MAX_LEN + 1],
    [u16; MAX_LEN + 1],
    [u16; 257],
) {
    let mut first = [0u32; MAX_LEN + 1];
    let mut count = [0u32; MAX_LEN + 1];
    let mut start = [0u16; MAX_LEN + 1];
    let mut sorted = [0u16; 257];
    let mut next = 0usize;
    let mut len = 1;
    while len <= MAX_LEN {
        start[len] = next as u16;
        let mut symbol = 0;
        while symbol < 257 {
            if LENGTHS[symbol] as usize == len {
                if count[len] == 0 {
                    first[len] = CODES[symbol];
                }
                count[len] += 1;
                sorted[next] = symbol as u16;
                next += 1;
            }
            symbol += 1;
        }
        len += 1;
    }
    (first, count, start, sorted)
}

/// How many octets `input` takes Huffman-coded.
pub fn encoded_len(input: &[u8]) -> usize {
    let bits: usize = input.iter().map(|&b| LENGTHS[b as usize] as usize).sum();
    bits.div_ceil(8)
}

/// Append `input` Huffman-coded to `out`, the last octet padded with the leading bits of EOS
/// (ones).
pub fn encode(input: &[u8], out: &mut Vec<u8>) {
    encode_in(input, encoded_len(input), out);
}

/// [`encode`], with the coded length already known (`encoded_len(input)`). The codes gather in
/// a 64-bit word and leave it 32 bits at a time, into room made once.
pub(crate) fn encode_in(input: &[u8], coded_len: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + coded_len, 0);
    let room = &mut out[start..];
    let mut at = 0;
    // The last `pending` bits of `bits` are waiting (fewer than 32 between codes; a code has
    // at most 30 bits, so they never pass 62).
    let mut bits: u64 = 0;
    let mut pending = 0u32;
    for &byte in input {
        let len = u32::from(LENGTHS[byte as usize]);
        bits = (bits << len) | u64::from(CODES[byte as usize]);
        pending += len;
        if pending >= 32 {
            pending -= 32;
            room[at..at + 4].copy_from_slice(&((bits >> pending) as u32).to_be_bytes());
            at += 4;
        }
    }
    let pad = (8 - pending % 8) % 8;
    bits = (bits << pad) | ((1 << pad) - 1);
    pending += pad;
    while pending > 0 {
        pending -= 8;
        room[at] = (bits >> pending) as u8;
        at += 1;
    }
    debug_assert_eq!(at, coded_len);
}

/// Decode Huffman-coded `input`, appending the octets to `out`. Refused (§5.2): an EOS in the
/// string, padding longer than 7 bits, and padding that is not the leading bits of EOS.
pub fn decode(input: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    out.reserve(input.len() + input.len() / 2);
    let mut code = 0u32;
    let mut len = 0usize;
    for &byte in input {
        for shift in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> shift) & 1);
            len += 1;
            let offset = code.wrapping_sub(FIRST[len]);
            if offset < COUNT[len] {
                let symbol = SORTED[START[len] as usize + offset as usize] as usize;
                if symbol == EOS {
                    return Err(DecodeError::HuffmanEos);
                }
                out.push(symbol as u8);
                code = 0;
                len = 0;
            } else if len == MAX_LEN {
                // Every 30-bit string is a code or has a shorter code as a prefix.
                return Err(DecodeError::HuffmanEos);
            }
        }
    }
    // What is left is padding: at most 7 bits, all ones (a prefix of EOS).
    if len > 7 || code != (1u32 << len) - 1 {
        return Err(DecodeError::HuffmanPadding);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_complete_and_matches_appendix_b_where_sampled() {
        // Kraft's sum is exactly one: every bit string is covered once.
        let sum: u128 = LENGTHS
            .iter()
            .map(|&l| 1u128 << (MAX_LEN - l as usize))
            .sum();
        assert_eq!(sum, 1u128 << MAX_LEN);
        for (symbol, code, len) in [
            (0usize, 0x1ff8u32, 13u8),
            (b' ' as usize, 0x14, 6),
            (b'0' as usize, 0x0, 5),
            (b'a' as usize, 0x3, 5),
            (b'\\' as usize, 0x7fff0, 19),
            (127, 0xffffffc, 28),
            (255, 0x3ffffee, 26),
            (EOS, 0x3fffffff, 30),
        ] {
            assert_eq!(
                (CODES[symbol], LENGTHS[symbol]),
                (code, len),
                "symbol {symbol}"
            );
        }
    }

    #[test]
    fn every_octet_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        let mut coded = Vec::new();
        encode(&all, &mut coded);
        assert_eq!(coded.len(), encoded_len(&all));
        let mut back = Vec::new();
        decode(&coded, &mut back).unwrap();
        assert_eq!(back, all);
    }

    #[test]
    fn strings_of_every_length_round_trip_after_text_already_in_the_output() {
        // Lengths around the 32-bit writes, of short and long codes.
        for text in [
            &b"x-request-id 0123456789abcdef"[..],
            &[0u8, 255, 127, b'\\', b'a'],
        ] {
            for len in 0..=64 {
                let input: Vec<u8> = text.iter().copied().cycle().take(len).collect();
                let mut coded = b"before".to_vec();
                encode(&input, &mut coded);
                assert_eq!(coded.len(), 6 + encoded_len(&input));
                let mut back = Vec::new();
                decode(&coded[6..], &mut back).unwrap();
                assert_eq!(back, input, "{len}");
            }
        }
    }

    #[test]
    fn rfc7541_5_2_eos_and_bad_padding_are_refused() {
        let mut out = Vec::new();
        // EOS whole (30 ones), then padding.
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff], &mut out),
            Err(DecodeError::HuffmanEos)
        );
        // '0' (00000) and three padding bits that are not ones.
        assert_eq!(decode(&[0x00], &mut out), Err(DecodeError::HuffmanPadding));
        // 'a' (00011) and padding of ones: fine. A whole octet of ones after it: too long.
        out.clear();
        decode(&[0x1f], &mut out).unwrap();
        assert_eq!(out, b"a");
        assert_eq!(
            decode(&[0x1f, 0xff], &mut out),
            Err(DecodeError::HuffmanPadding)
        );
    }
}

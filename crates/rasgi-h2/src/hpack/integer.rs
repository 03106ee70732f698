//! Integers with an N-bit prefix (RFC 7541 §5.1): values below `2^N - 1` fit in the prefix;
//! larger ones fill it and continue in 7-bit groups, least significant first.

use super::error::DecodeError;

/// The largest integer accepted. Every integer HPACK carries is an index, a length or a table
/// size; none needs more than 32 bits, and a longer encoding is an attack.
pub(crate) const MAX_INTEGER: usize = u32::MAX as usize;

/// Append `value` with a `prefix`-bit prefix; `flags` are the first octet's bits above it.
pub(crate) fn encode(value: usize, prefix: u8, flags: u8, out: &mut Vec<u8>) {
    let max = (1usize << prefix) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// The integer at the start of `input` with a `prefix`-bit prefix, and the octets it took.
pub(crate) fn decode(input: &[u8], prefix: u8) -> Result<(usize, usize), DecodeError> {
    let first = *input.first().ok_or(DecodeError::Truncated)?;
    let max = (1usize << prefix) - 1;
    let mut value = usize::from(first) & max;
    if value < max {
        return Ok((value, 1));
    }
    let mut shift = 0u32;
    for (i, &octet) in input[1..].iter().enumerate() {
        // In 64 bits, a group shifted by at most 28 cannot overflow; the sum is then checked.
        let group = u64::from(octet & 0x7f) << shift;
        if shift > 28 || group > (MAX_INTEGER - value) as u64 {
            return Err(DecodeError::IntegerOverflow);
        }
        value += group as usize;
        if octet & 0x80 == 0 {
            return Ok((value, i + 2));
        }
        shift += 7;
    }
    Err(DecodeError::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(value: usize, prefix: u8) -> Vec<u8> {
        let mut out = Vec::new();
        encode(value, prefix, 0, &mut out);
        out
    }

    #[test]
    fn rfc7541_c_1_integer_examples() {
        // C.1.1: 10 in a 5-bit prefix; C.1.2: 1337 in a 5-bit prefix; C.1.3: 42 at an octet.
        assert_eq!(encoded(10, 5), [0x0a]);
        assert_eq!(encoded(1337, 5), [0x1f, 0x9a, 0x0a]);
        assert_eq!(encoded(42, 8), [0x2a]);
        assert_eq!(decode(&[0x0a], 5), Ok((10, 1)));
        assert_eq!(decode(&[0x1f, 0x9a, 0x0a], 5), Ok((1337, 3)));
        assert_eq!(decode(&[0x2a], 8), Ok((42, 1)));
    }

    #[test]
    fn every_prefix_round_trips_at_its_edges() {
        for prefix in 1..=8u8 {
            let max = (1usize << prefix) - 1;
            for value in [
                0,
                1,
                max - 1,
                max,
                max + 1,
                127 + max,
                128 + max,
                1 << 20,
                MAX_INTEGER,
            ] {
                let bytes = encoded(value, prefix);
                assert_eq!(
                    decode(&bytes, prefix),
                    Ok((value, bytes.len())),
                    "{value} /{prefix}"
                );
            }
        }
    }

    #[test]
    fn rfc7541_5_1_overlong_and_cut_integers_are_refused() {
        // One past 2^32 - 1, and a run of continuation octets with no end.
        let mut past = encoded(MAX_INTEGER, 5);
        *past.last_mut().unwrap() += 1;
        assert_eq!(decode(&past, 5), Err(DecodeError::IntegerOverflow));
        assert_eq!(
            decode(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 5),
            Err(DecodeError::IntegerOverflow)
        );
        assert_eq!(decode(&[0x1f, 0x9a], 5), Err(DecodeError::Truncated));
        assert_eq!(decode(&[], 5), Err(DecodeError::Truncated));
    }
}

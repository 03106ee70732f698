//! Byte classes as `const` tables, and the scanners that skip runs of allowed bytes.
//!
//! The rule: a scanner returns the index of the first byte that is *not* in its class (or the
//! length of the input), and never judges that byte: the caller decides whether it ends the
//! field or is an error. The wide scanners skip sixteen bytes per step (SSE2 on x86_64, the one
//! `unsafe` seam of the crate; eight-byte integer arithmetic elsewhere) and hand over to the
//! tables at the block that holds the stop byte, so both paths agree by construction.

/// `tchar` of RFC 9110 §5.6.2, mapped to its lowercase form; 0 where the byte is no `tchar`.
/// Header names are lowercased in place through this table (ASGI wants lowercase names).
pub const TOKEN_LOWER: [u8; 256] = token_lower_table();

/// Bytes allowed in a request target: visible ASCII, `!` to `~` (RFC 9112 §3.2).
pub const TARGET: [bool; 256] = range_table(0x21, 0x7e, false);

/// Bytes allowed in a field value: HTAB, SP, visible ASCII and obs-text (RFC 9110 §5.5).
pub const FIELD_VALUE: [bool; 256] = field_value_table();

/// The value of a hex digit (`0-9`, `a-f`, `A-F`); [`NOT_HEX`] for any other byte.
pub const HEX_DIGIT: [u8; 256] = hex_digit_table();

/// [`HEX_DIGIT`]'s mark for a byte that is no hex digit.
pub const NOT_HEX: u8 = 0xff;

const fn hex_digit_table() -> [u8; 256] {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
}

const fn token_lower_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    let specials = b"!#$%&'*+-.^_`|~";
    let mut i = 0;
    while i < specials.len() {
        table[specials[i] as usize] = specials[i];
        i += 1;
    }
    let mut c = b'0';
    while c <= b'9' {
        table[c as usize] = c;
        c += 1;
    }
    let mut c = b'a';
    while c <= b'z' {
        table[c as usize] = c;
        table[(c - 32) as usize] = c;
        c += 1;
    }
    table
}

const fn range_table(low: u8, high: u8, with_high_half: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = (i >= low as usize && i <= high as usize) || (with_high_half && i >= 0x80);
        i += 1;
    }
    table
}

const fn field_value_table() -> [bool; 256] {
    let mut table = range_table(0x20, 0x7e, true);
    table[b'\t' as usize] = true;
    table
}

/// Whether `name` is one or more token characters (a valid field name).
#[inline]
pub fn is_token_name(name: &[u8]) -> bool {
    !name.is_empty() && (wide::simple_name(name) || name.iter().all(|&b| is_token(b)))
}

/// Whether every byte of `value` may appear in a field value.
#[inline]
pub fn is_field_value(value: &[u8]) -> bool {
    wide::clean_value(value) || skip_field_value(value, 0) == value.len()
}

/// Is `byte` a token character (methods, header names, transfer codings)?
#[inline]
pub fn is_token(byte: u8) -> bool {
    TOKEN_LOWER[byte as usize] != 0
}

/// The index of the first byte of `bytes[from..]` that may not appear in a request target
/// (the space that ends it, or an invalid byte), or `bytes.len()`; and the index of the first
/// `?` before that end (or `usize::MAX`): the target and where its query starts, in one pass.
#[inline]
pub fn skip_target_query(bytes: &[u8], from: usize) -> (usize, usize) {
    let (mut i, mut query) = wide::skip_target_query(bytes, from);
    while i < bytes.len() && TARGET[bytes[i] as usize] {
        if bytes[i] == b'?' && query == usize::MAX {
            query = i;
        }
        i += 1;
    }
    (i, query)
}

/// Index of the first byte of `bytes[from..]` that may not appear in a field value
/// (the CR that ends it, or an invalid byte), or `bytes.len()`.
#[inline(always)]
pub fn skip_field_value(bytes: &[u8], from: usize) -> usize {
    let mut i = wide::skip_field_value(bytes, from);
    while i < bytes.len() && FIELD_VALUE[bytes[i] as usize] {
        i += 1;
    }
    i
}

/// Lowercase the run of token characters that starts at `from`, in place; returns the index of
/// the first byte after it (or `bytes.len()`).
#[inline(always)]
pub fn lower_token_run(bytes: &mut [u8], from: usize) -> usize {
    // Names are nearly always letters, digits and `-`: blocks of those are lowercased at once;
    // any other byte (another `tchar`, the colon, an invalid byte) is the table's to judge.
    let mut end = wide::lower_name_run(bytes, from);
    for b in &mut bytes[end..] {
        let lower = TOKEN_LOWER[*b as usize];
        if lower == 0 {
            break;
        }
        *b = lower;
        end += 1;
    }
    end
}

/// The wide scanners: they skip whole blocks of allowed bytes and return the start of the first
/// block that holds a stop byte (or the short tail). They may stop early, never late: the
/// table loops above finish the job and have the last word.
#[cfg(target_arch = "x86_64")]
mod wide {
    use core::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128,
        _mm_max_epu8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_storeu_si128,
    };

    #[inline(always)]
    fn scan(bytes: &[u8], from: usize, stops: impl Fn(&[u8; 16]) -> u32) -> usize {
        let mut i = from;
        while let Some(block) = bytes.get(i..i + 16) {
            let mask = stops(block.try_into().expect("16 bytes"));
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
        i
    }

    /// Bit mask of the bytes <= 0x20 or >= 0x7f.
    #[inline(always)]
    fn target_stops(block: &[u8; 16]) -> u32 {
        // SAFETY: the load reads exactly the 16 bytes of `block` (unaligned loads are allowed);
        // SSE2 is part of the x86_64 baseline, so every instruction here exists on the CPU.
        unsafe {
            let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            let low = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x20)), v);
            let high = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x7f)), v);
            _mm_movemask_epi8(_mm_or_si128(low, high)) as u32
        }
    }

    /// Bit mask of the bytes <= 0x1f (HTAB included: the table loop passes it) or == 0x7f.
    #[inline(always)]
    fn value_stops(block: &[u8; 16]) -> u32 {
        // SAFETY: as in `target_stops`.
        unsafe {
            let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            let low = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
            let del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
            _mm_movemask_epi8(_mm_or_si128(low, del)) as u32
        }
    }

    #[inline]
    pub fn skip_field_value(bytes: &[u8], from: usize) -> usize {
        let i = scan(bytes, from, value_stops);
        if i + 16 <= bytes.len() {
            // Stopped inside a block: `i` is the stop byte.
            return i;
        }
        // Fewer than 16 bytes were left: a word step before the table's byte loop.
        super::words::scan(bytes, i, super::words::value_stop)
    }

    /// The target's blocks, noting the first `?` before the stop (or `usize::MAX`).
    #[inline]
    pub fn skip_target_query(bytes: &[u8], from: usize) -> (usize, usize) {
        let mut i = from;
        let mut query = usize::MAX;
        while let Some(block) = bytes.get(i..i + 16) {
            let block: &[u8; 16] = block.try_into().expect("16 bytes");
            let stops = target_stops(block);
            // SAFETY: as in `target_stops`.
            let marks = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'?' as i8))) as u32
            };
            // Only marks before the block's first stop are in the target.
            let marks = marks & stops.wrapping_sub(1) & !stops;
            if marks != 0 && query == usize::MAX {
                query = i + marks.trailing_zeros() as usize;
            }
            if stops != 0 {
                return (i + stops.trailing_zeros() as usize, query);
            }
            i += 16;
        }
        (i, query)
    }

    /// Bytes `0..n` set, for `n` in `0..=16`: the mask is the 16 bytes at `PREFIX[16 - n..]`.
    static PREFIX: [u8; 32] = {
        let mut prefix = [0u8; 32];
        let mut i = 0;
        while i < 16 {
            prefix[i] = 0xff;
            i += 1;
        }
        prefix
    };

    /// Lowercase, sixteen bytes at a time, the run of ASCII letters, digits and `-` at `from`;
    /// returns the index of the first other byte, or of the block too short to load.
    #[inline(always)]
    pub fn lower_name_run(bytes: &mut [u8], from: usize) -> usize {
        let mut i = from;
        while let Some(block) = bytes.get_mut(i..i + 16) {
            let block: &mut [u8; 16] = block.try_into().expect("16 bytes");
            // SAFETY: the load and the store touch exactly the 16 bytes of `block`, and the
            // prefix load the 16 bytes of `PREFIX` at `16 - run` (run <= 16); SSE2 is part of
            // the x86_64 baseline. Signed compares are right for ASCII ranges: bytes >= 0x80
            // are negative and fall in none of them.
            let run = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
                let within = |low, high| within(v, low, high);
                let upper = within(b'A', b'Z');
                let simple = _mm_or_si128(
                    _mm_or_si128(upper, within(b'a', b'z')),
                    _mm_or_si128(
                        within(b'0', b'9'),
                        _mm_cmpeq_epi8(v, _mm_set1_epi8(b'-' as i8)),
                    ),
                );
                let run = (!_mm_movemask_epi8(simple) as u32).trailing_zeros().min(16) as usize;
                let prefix = _mm_loadu_si128(PREFIX.as_ptr().add(16 - run).cast::<__m128i>());
                let case = _mm_and_si128(_mm_and_si128(upper, prefix), _mm_set1_epi8(0x20));
                _mm_storeu_si128(block.as_mut_ptr().cast::<__m128i>(), _mm_or_si128(v, case));
                run
            };
            i += run;
            if run < 16 {
                break;
            }
        }
        i
    }

    /// Whether every byte of `bytes` passes `clean` (a test of a whole block), judged a block at
    /// a time: 4 to 16 bytes as two overlapping words (both must pass, so the overlap changes
    /// nothing; fewer than 8 are padded with `a`, which passes both tests), more as their
    /// 16-byte blocks and their last 16 bytes. Fewer than 4 bytes are left to the table
    /// (`false`).
    #[inline(always)]
    fn all_blocks(bytes: &[u8], clean: impl Fn(&[u8; 16]) -> bool) -> bool {
        let n = bytes.len();
        if n >= 16 {
            let mut blocks = bytes.chunks_exact(16);
            let whole = blocks.all(|block| clean(block.try_into().expect("16 bytes")));
            return whole && clean(bytes[n - 16..].try_into().expect("16 bytes"));
        }
        let (low, high) = if n >= 8 {
            let first = u64::from_ne_bytes(bytes[..8].try_into().expect("8 bytes"));
            let last = u64::from_ne_bytes(bytes[n - 8..].try_into().expect("8 bytes"));
            (first, last)
        } else if n >= 4 {
            let first = u32::from_ne_bytes(bytes[..4].try_into().expect("4 bytes"));
            let last = u32::from_ne_bytes(bytes[n - 4..].try_into().expect("4 bytes"));
            (
                u64::from(first) | u64::from(last) << 32,
                u64::from_ne_bytes([b'a'; 8]),
            )
        } else {
            return false;
        };
        let mut block = [0u8; 16];
        block[..8].copy_from_slice(&low.to_ne_bytes());
        block[8..].copy_from_slice(&high.to_ne_bytes());
        clean(&block)
    }

    /// Whether all of `name` is ASCII letters, digits and `-` (nearly every header name).
    /// `false` says only "not all simple": the table has the last word on other `tchar`s.
    #[inline]
    pub fn simple_name(name: &[u8]) -> bool {
        all_blocks(name, simple_block)
    }

    /// Whether all of `value` is visible ASCII, SP or obs-text (nearly every field value).
    /// `false` says only "not all clean": the table has the last word on HTAB.
    #[inline]
    pub fn clean_value(value: &[u8]) -> bool {
        all_blocks(value, |block| value_stops(block) == 0)
    }

    /// The bytes of `v` from `low` to `high` (ASCII), as a mask of whole bytes. Signed compares
    /// are right for ASCII ranges: bytes >= 0x80 are negative and fall in none of them.
    ///
    /// # Safety
    /// SSE2 must be available, which it is on every x86_64 CPU.
    #[inline(always)]
    unsafe fn within(v: __m128i, low: u8, high: u8) -> __m128i {
        _mm_and_si128(
            _mm_cmpgt_epi8(v, _mm_set1_epi8(low as i8 - 1)),
            _mm_cmplt_epi8(v, _mm_set1_epi8(high as i8 + 1)),
        )
    }

    /// Whether every byte of `block` is an ASCII letter, digit or `-`.
    #[inline(always)]
    fn simple_block(block: &[u8; 16]) -> bool {
        // SAFETY: the load reads exactly the 16 bytes of `block`; SSE2 is part of the x86_64
        // baseline.
        unsafe {
            let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            // Letters of either case at once: `| 0x20` maps `A-Z` onto `a-z` and no other
            // byte into them.
            let letter = within(_mm_or_si128(v, _mm_set1_epi8(0x20)), b'a', b'z');
            let simple = _mm_or_si128(
                letter,
                _mm_or_si128(
                    within(v, b'0', b'9'),
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'-' as i8)),
                ),
            );
            _mm_movemask_epi8(simple) == 0xffff
        }
    }
}

/// Word-at-a-time fallback: eight bytes per step with plain integer arithmetic.
#[cfg(not(target_arch = "x86_64"))]
mod wide {
    use super::words::{any_above, any_below, scan, value_stop};

    #[inline]
    pub fn skip_target_query(bytes: &[u8], from: usize) -> (usize, usize) {
        let end = scan(bytes, from, |w| any_below(w, 0x21) || any_above(w, 0x7e));
        let query = bytes[from..end].iter().position(|&b| b == b'?');
        (end, query.map_or(usize::MAX, |at| from + at))
    }

    #[inline]
    pub fn skip_field_value(bytes: &[u8], from: usize) -> usize {
        scan(bytes, from, value_stop)
    }

    /// Names are left to the table here.
    #[inline(always)]
    pub fn lower_name_run(_: &mut [u8], from: usize) -> usize {
        from
    }

    /// Names are left to the table here.
    #[inline(always)]
    pub fn simple_name(_: &[u8]) -> bool {
        false
    }

    /// Values are left to the word scanner here.
    #[inline(always)]
    pub fn clean_value(_: &[u8]) -> bool {
        false
    }
}

/// Eight bytes at a time with integer arithmetic: the whole scan where there is no SIMD, and
/// the tail shorter than a block where there is (field values are often 8 to 15 bytes).
mod words {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

    /// Does any byte of `word` fall below `n` (n <= 128)? Exact as a yes/no answer.
    #[inline(always)]
    pub fn any_below(word: u64, n: u8) -> bool {
        word.wrapping_sub(ONES * n as u64) & !word & HIGHS != 0
    }

    /// Does any byte of `word` exceed `n` (n <= 127)? Exact as a yes/no answer.
    #[cfg(not(target_arch = "x86_64"))]
    #[inline(always)]
    pub fn any_above(word: u64, n: u8) -> bool {
        (word.wrapping_add(ONES * (127 - n) as u64) | word) & HIGHS != 0
    }

    /// Whether a word holds a byte a field value may not (or HTAB, which the table passes).
    #[inline(always)]
    pub fn value_stop(word: u64) -> bool {
        any_below(word, 0x20) || any_below(word ^ (ONES * 0x7f), 1)
    }

    /// Skip whole words for which `stop` is false; returns the start of the first word that
    /// may hold a stop byte (or of the tail shorter than a word).
    #[inline(always)]
    pub fn scan(bytes: &[u8], from: usize, stop: impl Fn(u64) -> bool) -> usize {
        let mut i = from;
        while let Some(word) = bytes.get(i..i + 8) {
            if stop(u64::from_ne_bytes(word.try_into().expect("8 bytes"))) {
                break;
            }
            i += 8;
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_scanners_agree_with_the_tables_for_every_byte_at_every_position() {
        for byte in 0..=255u8 {
            for at in 0..20 {
                let mut bytes = vec![b'a'; 24];
                bytes[at] = byte;
                let target_end = (0..24).find(|&i| !TARGET[bytes[i] as usize]).unwrap_or(24);
                assert_eq!(
                    skip_target_query(&bytes, 0).0,
                    target_end,
                    "target byte {byte:#x} at {at}"
                );
                let query = (0..target_end).find(|&i| bytes[i] == b'?');
                assert_eq!(
                    skip_target_query(&bytes, 0),
                    (target_end, query.unwrap_or(usize::MAX)),
                    "target byte {byte:#x} at {at}"
                );
                let value_end = (0..24)
                    .find(|&i| !FIELD_VALUE[bytes[i] as usize])
                    .unwrap_or(24);
                assert_eq!(
                    skip_field_value(&bytes, 0),
                    value_end,
                    "value byte {byte:#x} at {at}"
                );
            }
        }
    }

    #[test]
    fn whole_field_checks_agree_with_the_tables_for_every_byte_length_and_position() {
        // Every length from empty past two blocks (the word pairs, the padded short words, the
        // table's shortest names, the overlapping last block), each byte at each position, on a
        // background of letters (the simple case) and of another `tchar` (the table's case).
        for background in [b'x', b'~'] {
            for len in 0..=40 {
                for at in 0..len.max(1) {
                    for byte in 0..=255u8 {
                        let mut bytes = vec![background; len];
                        if len > 0 {
                            bytes[at] = byte;
                        }
                        let token = !bytes.is_empty() && bytes.iter().all(|&b| is_token(b));
                        let value = bytes.iter().all(|&b| FIELD_VALUE[b as usize]);
                        assert_eq!(
                            is_token_name(&bytes),
                            token,
                            "name {byte:#x} at {at} of {len}"
                        );
                        assert_eq!(
                            is_field_value(&bytes),
                            value,
                            "value {byte:#x} at {at} of {len}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn value_scanner_agrees_with_the_table_on_short_slices() {
        for len in 1..=24 {
            for byte in 0..=255u8 {
                for at in 0..len {
                    let mut bytes = vec![b'v'; len];
                    bytes[at] = byte;
                    let end = (0..len)
                        .find(|&i| !FIELD_VALUE[bytes[i] as usize])
                        .unwrap_or(len);
                    assert_eq!(
                        skip_field_value(&bytes, 0),
                        end,
                        "len {len}, byte {byte:#x} at {at}"
                    );
                }
            }
        }
    }

    #[test]
    fn names_are_lowercased_to_the_same_end_as_the_table_for_every_byte_at_every_position() {
        for byte in 0..=255u8 {
            for at in 0..40 {
                let mut bytes: Vec<u8> = b"Content-Type-0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcz"
                    .iter()
                    .copied()
                    .chain(*b": Value\r\n")
                    .collect();
                bytes[at] = byte;
                let mut expected = bytes.clone();
                let mut end = 0;
                while end < expected.len() && TOKEN_LOWER[expected[end] as usize] != 0 {
                    expected[end] = TOKEN_LOWER[expected[end] as usize];
                    end += 1;
                }
                assert_eq!(
                    lower_token_run(&mut bytes, 0),
                    end,
                    "byte {byte:#x} at {at}"
                );
                assert_eq!(bytes, expected, "byte {byte:#x} at {at}");
            }
        }
    }

    #[test]
    fn token_table_lowercases_letters_and_refuses_separators() {
        assert_eq!(TOKEN_LOWER[b'A' as usize], b'a');
        assert_eq!(TOKEN_LOWER[b'-' as usize], b'-');
        for separator in b"(),/:;<=>?@[\\]{}\" \t\r\n\x7f" {
            assert!(!is_token(*separator), "{separator:#x}");
        }
        assert!(!is_token(0x80));
    }
}

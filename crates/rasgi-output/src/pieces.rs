//! Copying short pieces into a buffer's reserved room: the one `unsafe` seam of the crate.
//!
//! A response head is a dozen short pieces, and `extend_from_slice` pays a capacity check, a
//! call to `memcpy` and a length update for each: here the room is checked once per field and
//! a piece of up to 64 bytes is copied as two overlapping fixed-size moves, without a call.
//! Every block says why it is sound; the tests cover every length, and run under Miri in CI.

use bytes::BytesMut;

/// Append one header field, `name: value\r\n`, already validated, to `buf`.
///
/// A head is a dozen short pieces, and `extend_from_slice` pays a capacity check, a call to
/// `memcpy` and a length update for each: here the room is checked once per field and a piece
/// of up to 64 bytes is copied as two overlapping fixed-size moves, without a call.
#[inline(always)]
pub fn put_field(buf: &mut BytesMut, name: &[u8], value: &[u8]) {
    let len = name.len() + value.len() + 4;
    buf.reserve(len);
    let at = buf.len();
    // SAFETY: `reserve` made room for `len` more bytes after `at`, and the pointer is the spare
    // room's own (one from the initialised part would not reach past it); the four pieces
    // below fill exactly those `len` bytes (each copy stays within its piece's room, see
    // `copy_short`), so every byte up to the new length is initialised before `set_len`.
    unsafe {
        let out = buf.spare_capacity_mut().as_mut_ptr().cast::<u8>();
        copy_short(name, out);
        let out = out.add(name.len());
        out.cast::<[u8; 2]>().write_unaligned(*b": ");
        let out = out.add(2);
        copy_short(value, out);
        out.add(value.len())
            .cast::<[u8; 2]>()
            .write_unaligned(*b"\r\n");
        buf.set_len(at + len);
    }
}

/// Append `piece` to `buf`, as [`put_field`] copies its pieces (for small bodies).
#[inline]
pub fn put_piece(buf: &mut BytesMut, piece: &[u8]) {
    buf.reserve(piece.len());
    let at = buf.len();
    // SAFETY: `reserve` made room for `piece.len()` more bytes after `at` (the spare room's
    // own pointer, as in `put_field`), and `copy_short` fills exactly those before `set_len`.
    unsafe {
        copy_short(piece, buf.spare_capacity_mut().as_mut_ptr().cast::<u8>());
        buf.set_len(at + piece.len());
    }
}

/// Copy `src` to `out`: pieces of up to 64 bytes as two fixed-size moves that overlap in the
/// middle (writing some bytes twice, with the same value), longer ones with `memcpy`.
///
/// # Safety
/// `out` must be valid for `src.len()` bytes of writes and must not overlap `src`.
#[inline(always)]
unsafe fn copy_short(src: &[u8], out: *mut u8) {
    /// Two moves of `N` bytes: the first `N` and the last `N` of a piece of `N` to `2N`.
    #[inline(always)]
    unsafe fn two<const N: usize>(src: &[u8], out: *mut u8) {
        let n = src.len();
        let (from, to) = (src.as_ptr(), out);
        to.cast::<[u8; N]>()
            .write_unaligned(from.cast::<[u8; N]>().read_unaligned());
        to.add(n - N)
            .cast::<[u8; N]>()
            .write_unaligned(from.add(n - N).cast::<[u8; N]>().read_unaligned());
    }
    let n = src.len();
    // SAFETY (every arm): each move reads and writes within the first `n` bytes of `src` and
    // `out`, as the caller guarantees room for.
    match n {
        0 => {}
        1..=3 => {
            *out = src[0];
            *out.add(n / 2) = src[n / 2];
            *out.add(n - 1) = src[n - 1];
        }
        4..=7 => two::<4>(src, out),
        8..=15 => two::<8>(src, out),
        16..=32 => two::<16>(src, out),
        33..=64 => two::<32>(src, out),
        _ => std::ptr::copy_nonoverlapping(src.as_ptr(), out, n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_field_writes_every_length_of_name_and_value_whole() {
        let piece = |n: usize, seed: u8| -> Vec<u8> {
            (0..n)
                .map(|i| b'a' + (i as u8).wrapping_mul(seed) % 26)
                .collect()
        };
        for name_len in 0..=40 {
            for value_len in [
                0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 63, 64, 65, 100,
            ] {
                let (name, value) = (piece(name_len, 7), piece(value_len, 11));
                let mut buf = bytes::BytesMut::from(&b"HTTP/1.1 200 OK\r\n"[..]);
                put_field(&mut buf, &name, &value);
                let expected =
                    [&b"HTTP/1.1 200 OK\r\n"[..], &name, b": ", &value, b"\r\n"].concat();
                assert_eq!(&buf[..], &expected[..], "{name_len} {value_len}");
            }
        }
        // Room that runs out mid-head is made as it is needed.
        let mut buf = bytes::BytesMut::new();
        for _ in 0..100 {
            put_field(&mut buf, b"x-long-enough-name", &[b'v'; 50]);
        }
        assert_eq!(buf.len(), 100 * (18 + 50 + 4));
        for len in 0..=70 {
            let mut buf = bytes::BytesMut::from(&b"x"[..]);
            put_piece(&mut buf, &piece(len, 3));
            assert_eq!(&buf[..], &[&b"x"[..], &piece(len, 3)].concat()[..], "{len}");
        }
    }
}

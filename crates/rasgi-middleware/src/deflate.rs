//! A gzip stream (RFC 1952) over a raw deflate state that is reused: the state is about 220 KB,
//! and making one per response cost more than compressing a 100 KiB body, in page faults as
//! the allocator handed the memory back and forth. Finished or dropped streams return their
//! state, reset, to a small per-thread pool.

use std::cell::RefCell;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Deflate states kept per thread (each about 220 KB).
const POOL_SIZE: usize = 4;

thread_local! {
    static POOL: RefCell<Vec<(u32, Compress)>> = const { RefCell::new(Vec::new()) };
}

/// The fixed gzip header: magic, deflate, no flags, no time, no extra flags, unknown OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// One gzip stream being written.
pub(crate) struct GzipStream {
    state: Option<Compress>,
    level: u32,
    crc: Crc,
    header_written: bool,
}

impl GzipStream {
    /// A stream at `level` (0–9), with a pooled state when there is one.
    pub(crate) fn new(level: u32) -> GzipStream {
        let pooled = POOL.with_borrow_mut(|pool| {
            let at = pool.iter().position(|(l, _)| *l == level)?;
            Some(pool.swap_remove(at).1)
        });
        let state = pooled.unwrap_or_else(|| Compress::new(Compression::new(level), false));
        GzipStream {
            state: Some(state),
            level,
            crc: Crc::new(),
            header_written: false,
        }
    }

    /// Compress `input` onto `out`; with `flush`, everything given so far can be decoded from
    /// what has been written (a sync flush).
    pub(crate) fn write(&mut self, input: &[u8], out: &mut Vec<u8>, flush: bool) {
        self.crc.update(input);
        let mode = if flush {
            FlushCompress::Sync
        } else {
            FlushCompress::None
        };
        self.deflate(input, out, mode);
    }

    /// Compress the last `input` and write the gzip trailer; the state goes back to the pool.
    pub(crate) fn finish(mut self, input: &[u8], out: &mut Vec<u8>) {
        self.crc.update(input);
        self.deflate(input, out, FlushCompress::Finish);
        out.extend_from_slice(&self.crc.sum().to_le_bytes());
        out.extend_from_slice(&self.crc.amount().to_le_bytes());
    }

    fn deflate(&mut self, mut input: &[u8], out: &mut Vec<u8>, mode: FlushCompress) {
        if !self.header_written {
            out.extend_from_slice(&HEADER);
            self.header_written = true;
        }
        let Some(state) = self.state.as_mut() else {
            return;
        };
        loop {
            // Deflate output is rarely larger than its input; the loop grows it when it is.
            out.reserve(input.len() / 2 + 64);
            let (read, written) = (state.total_in(), state.total_out());
            let status = state.compress_vec(input, out, mode);
            let consumed = (state.total_in() - read) as usize;
            input = &input[consumed..];
            let progressed = consumed > 0 || state.total_out() > written;
            let room_left = out.len() < out.capacity();
            match status {
                Ok(Status::StreamEnd) | Err(_) => return,
                _ if input.is_empty() && room_left && !matches!(mode, FlushCompress::Finish) => {
                    return
                }
                _ if !progressed && room_left => return,
                _ => {}
            }
        }
    }
}

impl Drop for GzipStream {
    fn drop(&mut self) {
        let Some(mut state) = self.state.take() else {
            return;
        };
        state.reset();
        let level = self.level;
        // During thread teardown the pool may be gone; the state is then just freed.
        let _ = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOL_SIZE {
                pool.push((level, state));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn whole_and_streamed_bodies_decode_and_states_are_reused() {
        let text: Vec<u8> = b"rasgi compresses "
            .iter()
            .copied()
            .cycle()
            .take(100_000)
            .collect();
        for _ in 0..3 {
            let mut out = Vec::new();
            GzipStream::new(6).finish(&text, &mut out);
            assert!(out.len() < text.len() / 10);
            assert_eq!(gunzip(&out), text);
        }
        assert_eq!(POOL.with_borrow(Vec::len), 1);

        let mut stream = GzipStream::new(6);
        let mut out = Vec::new();
        stream.write(b"data: one\n\n", &mut out, true);
        // After a sync flush the first event decodes on its own.
        let mut partial = Vec::new();
        let _ = flate2::read::GzDecoder::new(&out[..]).read_to_end(&mut partial);
        assert_eq!(partial, b"data: one\n\n");
        stream.write(b"data: two\n\n", &mut out, true);
        stream.finish(b"", &mut out);
        assert_eq!(gunzip(&out), b"data: one\n\ndata: two\n\n");
    }

    #[test]
    fn incompressible_input_larger_than_its_first_reservation_is_whole() {
        // A xorshift sequence: no repeats for deflate to find.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let mut out = Vec::new();
        GzipStream::new(1).finish(&noise, &mut out);
        assert_eq!(gunzip(&out), noise);
    }
}

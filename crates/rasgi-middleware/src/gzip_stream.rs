//! A gzip stream (RFC 1952) over a raw deflate state that is reused: the state is about 220 KB,
//! and making one per response cost more than compressing a 100 KiB body, in page faults as
//! the allocator handed the memory back and forth. Finished or dropped streams return their
//! state, reset, to a small per-thread pool.
//!
//! A stream gives its state back after every flush, too, and keeps only the last
//! [`STREAM_CONTEXT_BYTES`] of what it sent: the next piece is compressed by whichever state the
//! pool has, primed with that tail as its dictionary (the client has exactly those bytes just
//! before, so every back-reference resolves). A flushed deflate stream is byte-aligned and its
//! blocks are not final, so pieces from different states join into one valid stream. A stream
//! that waits between events (server-sent events, long polls) then holds its tail, not a
//! 220 KB state, and compresses nearly as well as with a state of its own (docs/benchmarks.md).

use std::cell::RefCell;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Deflate states kept per thread (each about 220 KB).
const POOL_SIZE: usize = 4;

/// Plaintext a streamed response keeps between flushes, as the next piece's dictionary: the
/// context deflate may refer back to. Short events repeat their own shape, so a few KiB hold
/// nearly all the gain of deflate's whole 32 KiB window.
pub(crate) const STREAM_CONTEXT_BYTES: usize = 8 * 1024;

thread_local! {
    static POOL: RefCell<Vec<(u32, Compress)>> = const { RefCell::new(Vec::new()) };
}

/// The fixed gzip header: magic, deflate, no flags, no time, no extra flags, unknown OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// One gzip stream being written.
pub(crate) struct GzipStream {
    /// A deflate state while a piece is being compressed; between flushes it is in the pool.
    state: Option<Compress>,
    level: u32,
    crc: Crc,
    header_written: bool,
    /// The last bytes sent (up to [`STREAM_CONTEXT_BYTES`]): the next state's dictionary.
    context: Vec<u8>,
}

impl GzipStream {
    /// A stream at `level` (0–9); its deflate state comes from the pool when it compresses.
    pub(crate) fn new(level: u32) -> GzipStream {
        GzipStream {
            state: None,
            level,
            crc: Crc::new(),
            header_written: false,
            context: Vec::new(),
        }
    }

    /// Compress `input` onto `out`; with `flush`, everything given so far can be decoded from
    /// what has been written (a sync flush), and the state goes back to the pool, the stream
    /// keeping only its context for the next piece.
    pub(crate) fn write(&mut self, input: &[u8], out: &mut Vec<u8>, flush: bool) {
        self.crc.update(input);
        let mode = if flush {
            FlushCompress::Sync
        } else {
            FlushCompress::None
        };
        self.deflate(input, out, mode);
        self.remember(input);
        if flush {
            self.give_back();
        }
    }

    /// Compress the last `input` and write the gzip trailer; the state goes back to the pool.
    pub(crate) fn finish(mut self, input: &[u8], out: &mut Vec<u8>) {
        self.crc.update(input);
        self.deflate(input, out, FlushCompress::Finish);
        out.extend_from_slice(&self.crc.sum().to_le_bytes());
        out.extend_from_slice(&self.crc.amount().to_le_bytes());
    }

    /// Keep the last [`STREAM_CONTEXT_BYTES`] sent.
    fn remember(&mut self, input: &[u8]) {
        let input = &input[input.len().saturating_sub(STREAM_CONTEXT_BYTES)..];
        let excess = (self.context.len() + input.len()).saturating_sub(STREAM_CONTEXT_BYTES);
        self.context.drain(..excess);
        // Grow by doubling, but never past the context's size: a long-lived stream keeps 8 KiB.
        let needed = self.context.len() + input.len();
        if needed > self.context.capacity() {
            let capacity = (needed * 2).min(STREAM_CONTEXT_BYTES);
            self.context.reserve_exact(capacity - self.context.len());
        }
        self.context.extend_from_slice(input);
    }

    /// The state to compress with: the one in hand, or one from the pool primed with the
    /// stream's context.
    fn state(&mut self) -> &mut Compress {
        let level = self.level;
        let context = &self.context;
        self.state.get_or_insert_with(|| {
            let mut state = take(level);
            if !context.is_empty() {
                // A reset state takes a dictionary; a failure would only cost compression.
                let _ = state.set_dictionary(context);
            }
            state
        })
    }

    fn deflate(&mut self, mut input: &[u8], out: &mut Vec<u8>, mode: FlushCompress) {
        if !self.header_written {
            out.extend_from_slice(&HEADER);
            self.header_written = true;
        }
        let state = self.state();
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

    /// Reset the state and put it back in the pool (freed if the pool is full).
    fn give_back(&mut self) {
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

/// A deflate state at `level`: a pooled one when there is one.
fn take(level: u32) -> Compress {
    let pooled = POOL.with_borrow_mut(|pool| {
        let at = pool.iter().position(|(l, _)| *l == level)?;
        Some(pool.swap_remove(at).1)
    });
    pooled.unwrap_or_else(|| Compress::new(Compression::new(level), false))
}

impl Drop for GzipStream {
    fn drop(&mut self) {
        self.give_back();
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

    /// 100 server-sent events as the demo sends them, and as a JSON feed would.
    fn events(json: bool) -> Vec<Vec<u8>> {
        (0..100)
            .map(|i| {
                if json {
                    format!(
                        "id: {i}\ndata: {{\"sensor\":\"temperature\",\"room\":\"lab-2\",\"value\":{}.{},\"unit\":\"celsius\"}}\n\n",
                        20 + i % 5,
                        i % 10
                    )
                } else {
                    format!("id: {i}\ndata: event {i}\n\n")
                }
                .into_bytes()
            })
            .collect()
    }

    #[test]
    fn a_waiting_stream_holds_its_context_not_a_deflate_state_and_still_decodes() {
        for json in [false, true] {
            let events = events(json);
            let mut stream = GzipStream::new(6);
            let mut out = Vec::new();
            for event in &events {
                stream.write(event, &mut out, true);
                assert!(
                    stream.state.is_none(),
                    "between events the state is in the pool"
                );
                assert!(stream.context.len() <= STREAM_CONTEXT_BYTES);
            }
            stream.finish(b"", &mut out);
            assert_eq!(gunzip(&out), events.concat());
            // The same events through one state kept for the whole stream (sync flushes).
            let mut kept = Compress::new(Compression::new(6), false);
            let mut whole = Vec::with_capacity(64 * 1024);
            for event in &events {
                kept.compress_vec(event, &mut whole, FlushCompress::Sync)
                    .unwrap();
            }
            let (plain, kept) = (events.concat().len(), whole.len() + HEADER.len() + 8 + 2);
            println!(
                "{} events: {plain} bytes; with its context {} bytes ({:.2}x); one state kept {kept} bytes ({:.2}x)",
                if json { "JSON" } else { "demo" },
                out.len(),
                plain as f64 / out.len() as f64,
                plain as f64 / kept as f64,
            );
            // Within a tenth of the state kept whole.
            assert!(out.len() * 10 <= kept * 11, "{} against {kept}", out.len());
        }
    }

    #[test]
    fn a_long_stream_of_small_events_keeps_no_more_than_its_context() {
        let mut stream = GzipStream::new(6);
        let mut out = Vec::new();
        for i in 0..1000 {
            stream.write(
                format!("id: {i}\ndata: event {i}\n\n").as_bytes(),
                &mut out,
                true,
            );
            assert!(stream.context.capacity() <= STREAM_CONTEXT_BYTES);
        }
        assert_eq!(stream.context.len(), STREAM_CONTEXT_BYTES);
    }

    #[test]
    fn context_keeps_only_the_last_bytes() {
        let mut stream = GzipStream::new(6);
        let mut out = Vec::new();
        let big = vec![b'a'; STREAM_CONTEXT_BYTES * 2];
        stream.write(&big, &mut out, true);
        stream.write(b"tail", &mut out, true);
        assert_eq!(stream.context.len(), STREAM_CONTEXT_BYTES);
        assert!(stream.context.ends_with(b"aaaatail"));
        stream.finish(b"", &mut out);
        let mut expected = big.clone();
        expected.extend_from_slice(b"tail");
        assert_eq!(gunzip(&out), expected);
    }
}

//! [`Output`]: the bytes a connection owes its peer, in the order they must leave.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

/// Bodies at least this large are queued as the app's own buffers instead of being copied into
/// the buffer (one copy saved per byte).
pub const QUEUE_AS_IS_BYTES: usize = 16 * 1024;

/// Bytes not yet written, oldest first.
#[derive(Debug, Default)]
pub struct Output {
    /// Large bodies kept as the app's own buffers, to go out before `buf`; whatever was in
    /// `buf` before one of them is frozen into the queue ahead of it. Never holds an empty piece.
    queue: VecDeque<Bytes>,
    /// Small pieces, copied: heads, framing, small bodies.
    buf: BytesMut,
    /// Where the `date` line of the last head written sits in `buf` (start, length), while it
    /// is still there: heads that leave in the same write share it (see [`Output::put_date`]).
    date_line: Option<(u32, u8)>,
}

impl Output {
    /// The buffer small pieces are copied into: for appending only (what takes bytes off it
    /// goes through `Output`, which forgets the place `put_date` remembered).
    #[inline]
    pub fn buf(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Queue body bytes: copied when small, kept as they are when large.
    #[inline]
    pub fn put_body(&mut self, body: Bytes) {
        if body.len() >= QUEUE_AS_IS_BYTES {
            if !self.buf.is_empty() {
                self.queue.push_back(self.buf.split().freeze());
                self.date_line = None;
            }
            self.queue.push_back(body);
        } else {
            crate::pieces::put_piece(&mut self.buf, &body);
        }
    }

    /// Bytes waiting.
    #[inline]
    pub fn len(&self) -> usize {
        if self.queue.is_empty() {
            return self.buf.len();
        }
        self.queue.iter().map(Bytes::len).sum::<usize>() + self.buf.len()
    }

    /// The oldest piece waiting (all of it when nothing large is queued): write it, say how
    /// much went with [`Output::consume`], repeat.
    #[inline]
    pub fn front(&self) -> &[u8] {
        match self.queue.front() {
            Some(first) => first,
            None => &self.buf,
        }
    }

    /// The oldest piece waiting when it is a buffer of its own (a large body, or what was
    /// copied before one): a transport that takes shared buffers takes it without a copy.
    #[inline]
    pub fn front_shared(&self) -> Option<&Bytes> {
        self.queue.front()
    }

    /// Whether nothing waits.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.buf.is_empty()
    }

    /// The waiting bytes when they are all in the buffer (the common case: a write needs no
    /// slices then).
    #[inline]
    pub fn contiguous(&self) -> Option<&[u8]> {
        self.queue.is_empty().then_some(&self.buf[..])
    }

    /// Fill `slices` with the waiting bytes, oldest first; returns how many were filled.
    #[inline]
    pub fn slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let pieces = self.queue.iter().map(|b| &b[..]).chain([&self.buf[..]]);
        let mut used = 0;
        for (slot, piece) in slices.iter_mut().zip(pieces.filter(|p| !p.is_empty())) {
            *slot = IoSlice::new(piece);
            used += 1;
        }
        used
    }

    /// Append a `date` line: the one `write` puts, or a copy of the last head's while that is
    /// still waiting in the buffer. Responses written out together (a pipelined batch) were
    /// made within one turn of the connection, and share the clock reading of the first;
    /// once the buffer is written out, the next head reads the clock again.
    #[inline]
    pub fn put_date(&mut self, write: fn(&mut BytesMut)) {
        /// Room for a copy of the line (an IMF-fixdate line is 37 bytes).
        const MAX_LINE: usize = 64;
        if let Some((at, len)) = self.date_line {
            let (at, len) = (at as usize, len as usize);
            let mut line = [0u8; MAX_LINE];
            line[..len].copy_from_slice(&self.buf[at..at + len]);
            crate::pieces::put_piece(&mut self.buf, &line[..len]);
            return;
        }
        let at = self.buf.len();
        write(&mut self.buf);
        let len = self.buf.len() - at;
        self.date_line = match (u32::try_from(at), u8::try_from(len)) {
            (Ok(at), Ok(len)) if usize::from(len) <= MAX_LINE => Some((at, len)),
            _ => None,
        };
    }

    /// Take `n` written bytes off the front.
    #[inline]
    pub fn consume(&mut self, mut n: usize) {
        if n > 0 {
            self.date_line = None;
        }
        // All of it, in one piece (the usual case): the buffer is emptied, not advanced, so the
        // next bytes are written from its start again.
        if self.queue.is_empty() && n == self.buf.len() {
            self.buf.clear();
            return;
        }
        while n > 0 {
            let Some(front) = self.queue.front_mut() else {
                self.buf.advance(n.min(self.buf.len()));
                return;
            };
            let taken = n.min(front.len());
            front.advance(taken);
            n -= taken;
            if front.is_empty() {
                self.queue.pop_front();
            }
        }
    }

    /// Drop everything (the client is gone).
    #[inline]
    pub fn clear(&mut self) {
        self.queue.clear();
        self.buf.clear();
        self.date_line = None;
    }

    /// Hand the buffer over when nothing waits (for a pool), leaving an unallocated one.
    #[inline]
    pub fn take_buffer(&mut self) -> Option<BytesMut> {
        (self.is_empty() && self.buf.capacity() > 0).then(|| {
            self.date_line = None;
            std::mem::take(&mut self.buf)
        })
    }

    /// Whether the buffer has room allocated.
    #[inline]
    pub fn has_buffer(&self) -> bool {
        self.buf.capacity() > 0
    }

    /// Use `buf` (empty) when the current buffer has no room allocated.
    #[inline]
    pub fn give_buffer(&mut self, buf: BytesMut) {
        if self.buf.capacity() == 0 {
            debug_assert!(buf.is_empty());
            self.buf = buf;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(output: &Output) -> Vec<u8> {
        let mut slices = [IoSlice::new(&[]); 8];
        let used = output.slices(&mut slices);
        slices[..used].iter().flat_map(|s| s.to_vec()).collect()
    }

    #[test]
    fn the_shared_front_is_the_queued_buffer_itself() {
        let mut output = Output::default();
        assert!(output.front_shared().is_none());
        output.buf().extend_from_slice(b"small");
        assert!(
            output.front_shared().is_none(),
            "the buffer alone is not a piece of its own"
        );
        let body = Bytes::from(vec![b'x'; QUEUE_AS_IS_BYTES]);
        output.put_body(body.clone());
        // What was copied before the body went ahead of it, frozen; then the body as it came.
        assert_eq!(output.front_shared().map(|b| &b[..]), Some(&b"small"[..]));
        output.consume(5);
        assert_eq!(
            output.front_shared().map(|b| b.as_ptr()),
            Some(body.as_ptr())
        );
        output.consume(QUEUE_AS_IS_BYTES);
        assert!(output.front_shared().is_none());
    }

    #[test]
    fn large_bodies_are_queued_after_what_came_before_them() {
        let mut output = Output::default();
        output.buf().extend_from_slice(b"head;");
        output.put_body(Bytes::from(vec![b'x'; QUEUE_AS_IS_BYTES]));
        output.buf().extend_from_slice(b";tail");
        let bytes = pending(&output);
        assert!(bytes.starts_with(b"head;x"));
        assert!(bytes.ends_with(b"x;tail"));
        assert_eq!(bytes.len(), output.len());
    }

    thread_local! {
        static CLOCK_READS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }

    /// A `date` line that says how many times the clock was read.
    fn numbered_date(buf: &mut BytesMut) {
        let n = CLOCK_READS.with(|reads| {
            reads.set(reads.get() + 1);
            reads.get()
        });
        buf.extend_from_slice(format!("date: {n}\r\n").as_bytes());
    }

    #[test]
    fn heads_written_out_together_share_one_date_line() {
        let mut output = Output::default();
        output.buf().extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        output.put_date(numbered_date);
        output
            .buf()
            .extend_from_slice(b"\r\nbody;HTTP/1.1 200 OK\r\n");
        output.put_date(numbered_date);
        output.buf().extend_from_slice(b"\r\n");
        assert_eq!(
            pending(&output),
            b"HTTP/1.1 200 OK\r\ndate: 1\r\n\r\nbody;HTTP/1.1 200 OK\r\ndate: 1\r\n\r\n"
        );
        // Written out (even in part): the next head reads the clock again.
        output.consume(4);
        output.put_date(numbered_date);
        assert!(pending(&output).ends_with(b"date: 2\r\n"));
        // A large body moves the buffer into the queue: the line is no longer where it was.
        output.put_body(Bytes::from(vec![b'x'; QUEUE_AS_IS_BYTES]));
        output.put_date(numbered_date);
        assert!(pending(&output).ends_with(b"date: 3\r\n"));
        output.clear();
        output.put_date(numbered_date);
        assert_eq!(pending(&output), b"date: 4\r\n");
    }

    #[test]
    fn a_partial_write_resumes_where_it_stopped() {
        let mut output = Output::default();
        output.buf().extend_from_slice(b"ab");
        output.put_body(Bytes::from(vec![b'x'; QUEUE_AS_IS_BYTES]));
        output.buf().extend_from_slice(b"cd");
        output.consume(3);
        let rest = pending(&output);
        assert_eq!(rest.len(), QUEUE_AS_IS_BYTES + 1);
        output.consume(QUEUE_AS_IS_BYTES);
        assert_eq!(pending(&output), b"d");
        output.consume(1);
        assert!(output.is_empty());
    }

    #[test]
    fn the_front_is_the_oldest_piece_and_a_whole_write_starts_the_buffer_over() {
        let mut output = Output::default();
        output.buf().extend_from_slice(b"head;");
        output.put_body(Bytes::from(vec![b'x'; QUEUE_AS_IS_BYTES]));
        assert_eq!(output.front(), b"head;");
        output.consume(5);
        assert_eq!(output.front().len(), QUEUE_AS_IS_BYTES);
        output.consume(QUEUE_AS_IS_BYTES);
        assert!(output.is_empty());
        output.buf().extend_from_slice(b"frame");
        let room = output.buf().capacity();
        output.consume(5);
        // Emptied, not advanced: the room is all there for the next bytes.
        assert_eq!(output.buf().capacity(), room);
        assert_eq!(output.front(), b"");
    }
}

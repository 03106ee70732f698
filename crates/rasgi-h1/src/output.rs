//! [`Output`]: the bytes a connection owes its client, in the order they must leave.
//!
//! The rule this module keeps: bytes leave in the order they were queued, and a write cut short
//! resumes where it stopped (what was written is taken off the front, nothing is written twice).
//! Small pieces (heads, small bodies, chunk framing) are copied into one buffer; large bodies are
//! queued as the app's own buffers, so they are not copied at all.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

/// Bodies at least this large are queued as the app's own buffers instead of being copied into
/// the buffer (one copy saved per byte).
pub const QUEUE_AS_IS_BYTES: usize = 16 * 1024;

/// Bytes not yet written, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Output {
    /// Large bodies kept as the app's own buffers, to go out before `buf`; whatever was in
    /// `buf` before one of them is frozen into the queue ahead of it. Never holds an empty piece.
    queue: VecDeque<Bytes>,
    /// Small pieces, copied: heads, framing, small bodies.
    buf: BytesMut,
}

impl Output {
    /// The buffer small pieces are copied into.
    pub(crate) fn buf(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Queue body bytes: copied when small, kept as they are when large.
    pub(crate) fn put_body(&mut self, body: Bytes) {
        if body.len() >= QUEUE_AS_IS_BYTES {
            if !self.buf.is_empty() {
                self.queue.push_back(self.buf.split().freeze());
            }
            self.queue.push_back(body);
        } else {
            crate::response::put_piece(&mut self.buf, &body);
        }
    }

    /// Bytes waiting.
    pub(crate) fn len(&self) -> usize {
        if self.queue.is_empty() {
            return self.buf.len();
        }
        self.queue.iter().map(Bytes::len).sum::<usize>() + self.buf.len()
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.buf.is_empty()
    }

    /// The waiting bytes when they are all in the buffer (the common case: a write needs no
    /// slices then).
    pub(crate) fn contiguous(&self) -> Option<&[u8]> {
        self.queue.is_empty().then_some(&self.buf[..])
    }

    /// Fill `slices` with the waiting bytes, oldest first; returns how many were filled.
    pub(crate) fn slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let pieces = self.queue.iter().map(|b| &b[..]).chain([&self.buf[..]]);
        let mut used = 0;
        for (slot, piece) in slices.iter_mut().zip(pieces.filter(|p| !p.is_empty())) {
            *slot = IoSlice::new(piece);
            used += 1;
        }
        used
    }

    /// Take `n` written bytes off the front.
    pub(crate) fn consume(&mut self, mut n: usize) {
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
    pub(crate) fn clear(&mut self) {
        self.queue.clear();
        self.buf.clear();
    }

    /// Hand the buffer over when nothing waits (for a pool), leaving an unallocated one.
    pub(crate) fn take_buffer(&mut self) -> Option<BytesMut> {
        (self.is_empty() && self.buf.capacity() > 0).then(|| std::mem::take(&mut self.buf))
    }

    /// Whether the buffer has room allocated.
    pub(crate) fn has_buffer(&self) -> bool {
        self.buf.capacity() > 0
    }

    /// Use `buf` (empty) when the current buffer has no room allocated.
    pub(crate) fn give_buffer(&mut self, buf: BytesMut) {
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
}

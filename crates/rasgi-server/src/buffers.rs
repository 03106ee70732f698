//! A per-thread pool of small byte buffers, so that a connection waiting for its next request
//! holds none: it hands its read and write buffers back when it goes idle and takes them again
//! when bytes arrive, without a trip to the allocator on the hot path.

use std::cell::RefCell;

use bytes::BytesMut;

/// Room a buffer taken from the pool has: a typical request head or small response.
pub(crate) const SMALL: usize = 2 * 1024;
/// Larger buffers (grown for a body or a batch of responses) are freed, not pooled.
const MAX_POOLED: usize = 16 * 1024;
/// Buffers kept per thread. The pool only has to cover the connections mid-request at once.
const POOL_SIZE: usize = 256;

thread_local! {
    static POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with room for at least [`SMALL`] bytes.
pub(crate) fn take() -> BytesMut {
    let mut buf = POOL.with_borrow_mut(|pool| pool.pop()).unwrap_or_default();
    // A pooled buffer may be a view at the end of its allocation; `reserve` reclaims the
    // front when nothing else shares it, and allocates otherwise.
    buf.reserve(SMALL);
    buf
}

/// Give an empty buffer back; it is freed if it is large or the pool is full.
pub(crate) fn give(mut buf: BytesMut) {
    buf.clear();
    if buf.capacity() == 0 || buf.capacity() > MAX_POOLED {
        return;
    }
    // `try_with`: during thread teardown the pool may already be gone; then just free.
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < POOL_SIZE {
            pool.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_taken_again_without_allocating() {
        let mut buf = take();
        buf.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        let ptr = buf.as_ptr();
        give(buf);
        let again = take();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.capacity() >= SMALL);
    }

    fn pooled() -> usize {
        POOL.with_borrow(Vec::len)
    }

    #[test]
    fn large_buffers_are_not_pooled() {
        let before = pooled();
        let mut big = BytesMut::with_capacity(MAX_POOLED * 2);
        big.extend_from_slice(b"x");
        give(big);
        assert_eq!(pooled(), before);
        give(BytesMut::with_capacity(SMALL));
        assert_eq!(pooled(), before + 1);
    }

    #[test]
    fn the_pool_is_bounded() {
        for _ in 0..POOL_SIZE + 10 {
            give(BytesMut::with_capacity(SMALL));
        }
        assert_eq!(pooled(), POOL_SIZE);
    }
}

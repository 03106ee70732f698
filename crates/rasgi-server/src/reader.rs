//! [`ReadSide`]: the read half of a connection, bytes from the transport into the buffer a
//! protocol's state machine reads from.
//!
//! The rule this module keeps: bytes are read only as the state machine asks for them (a 1 GB
//! upload never sits in memory), and the buffer goes back to the thread's pool whenever a read
//! has to wait with nothing in it: an idle connection holds no buffer. What the bytes are is
//! the machine's business.

use std::future::Future;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncRead;

use crate::buffers;
use crate::stall::StallTimer;

/// Bytes reserved before a read between requests: one typical request head (a browser's is
/// under 1 KiB); larger heads grow it.
pub(crate) const READ_CHUNK: usize = buffers::SMALL;
/// Bytes reserved before a read while a body streams in: fewer, larger reads for uploads.
const BODY_READ_CHUNK: usize = 64 * 1024;

/// The reading half of a connection.
pub(crate) struct ReadSide<R> {
    /// The transport's read half.
    io: R,
    /// Bytes read and not yet used: the rest of a head, body bytes, pipelined requests.
    buf: BytesMut,
    /// The stream ended, or reading failed.
    eof: bool,
    /// How long a body read may make no progress ([`crate::ServerConfig::body_read_timeout`]).
    body_stall: StallTimer,
}

impl<R: AsyncRead + Unpin + Send> ReadSide<R> {
    pub(crate) fn new(io: R, body_read_timeout: Duration) -> ReadSide<R> {
        ReadSide {
            io,
            buf: BytesMut::new(),
            eof: false,
            body_stall: StallTimer::new(body_read_timeout),
        }
    }

    /// Whether bytes wait in the buffer (a pipelined request).
    pub(crate) fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Whether the stream has ended.
    pub(crate) fn is_eof(&self) -> bool {
        self.eof
    }

    /// The bytes read and not yet used.
    pub(crate) fn buf_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// One read attempt for a WebSocket, in larger pieces once a frame is under way. An empty
    /// buffer goes back to the pool while the read waits, unless `keep` (a busy WebSocket,
    /// which would take it back at once).
    pub(crate) fn poll_fill_frames(&mut self, cx: &mut Context<'_>, keep: bool) -> Poll<bool> {
        let want = if self.buf.is_empty() {
            READ_CHUNK
        } else {
            BODY_READ_CHUNK
        };
        self.poll_read_more(cx, want, !keep)
    }

    /// Give the buffer back to the pool if it holds nothing.
    pub(crate) fn release_if_empty(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            buffers::give(std::mem::take(&mut self.buf));
        }
    }

    /// Read more bytes into the buffer; false at end of stream (or on a failed read).
    pub(crate) async fn fill(&mut self, body: bool) -> bool {
        std::future::poll_fn(|cx| self.poll_fill(cx, body)).await
    }

    /// Read more body bytes; `None` when none came within the body-read timeout.
    pub(crate) async fn fill_body(&mut self) -> Option<bool> {
        let mut waiting = false;
        std::future::poll_fn(|cx| {
            if let Poll::Ready(got) = self.poll_fill(cx, true) {
                return Poll::Ready(Some(got));
            }
            if !std::mem::replace(&mut waiting, true) {
                self.body_stall.restart();
            }
            if self.body_stall.poll_expired(cx) {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }

    /// One read attempt, sized for a body or a head. Between requests, with nothing buffered, a
    /// read that would wait hands the buffer back to the thread's pool: an idle connection
    /// holds no buffer.
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>, body: bool) -> Poll<bool> {
        let want = if body { BODY_READ_CHUNK } else { READ_CHUNK };
        self.poll_read_more(cx, want, !body)
    }

    /// One read attempt with room for `want` bytes; with `release`, an empty buffer goes back
    /// to the pool while the read waits.
    fn poll_read_more(&mut self, cx: &mut Context<'_>, want: usize, release: bool) -> Poll<bool> {
        if self.buf.capacity() == 0 {
            self.buf = buffers::take();
        }
        if self.buf.capacity() - self.buf.len() < want / 2 {
            self.buf.reserve(want);
        }
        let Poll::Ready(result) = std::pin::pin!(tokio::io::AsyncReadExt::read_buf(
            &mut self.io,
            &mut self.buf
        ))
        .poll(cx) else {
            if release {
                self.release_if_empty();
            }
            return Poll::Pending;
        };
        let got = matches!(result, Ok(n) if n > 0);
        self.eof |= !got;
        Poll::Ready(got)
    }

    /// Read and drop up to `limit` bytes or until `time` passes or the client closes.
    pub(crate) async fn linger(&mut self, limit: usize, time: Duration) {
        let mut dropped = 0;
        let _ = tokio::time::timeout(time, async {
            while dropped < limit {
                self.buf.clear();
                if !self.fill(false).await {
                    return;
                }
                dropped += self.buf.len();
            }
        })
        .await;
    }
}

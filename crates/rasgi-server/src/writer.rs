//! [`Writer`]: a connection's write half and the one write loop every driver writes through,
//! with the send timeout; [`Outgoing`]: what a protocol's state machine owes its peer, as that
//! loop takes it.
//!
//! The rule this module keeps: it decides nothing about any protocol. What a machine queued is
//! written in order, in as few (vectored) writes as the kernel allows; a write cut short resumes
//! where it stopped; and a write that makes no progress for the send timeout gives up, however
//! the bytes came to be queued.

use std::io::{ErrorKind, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use rasgi_h1::ServerConn;
use rasgi_ws::Session;
use tokio::io::AsyncWriteExt;

use crate::file_send::Transport;
use crate::file_send::{FileSend, FileSendError};
use crate::stall::StallTimer;
use crate::ServerCounters;

/// Most pieces in one vectored write.
const MAX_SLICES: usize = 64;

/// The bytes a protocol's state machine owes its peer, oldest first.
pub(crate) trait Outgoing {
    /// Whether bytes wait.
    fn has_output(&self) -> bool;
    /// All the waiting bytes, when they are one piece (written without building slices).
    fn output_contiguous(&self) -> Option<&[u8]>;
    /// The waiting bytes as slices for one vectored write; how many were filled.
    fn output_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize;
    /// The oldest waiting bytes when they are a shared buffer of their own, for a transport
    /// that takes such buffers without a copy ([`Transport::poll_write_shared`]).
    fn output_shared(&self) -> Option<&Bytes> {
        None
    }
    /// `n` bytes were written.
    fn wrote(&mut self, n: usize);
}

impl Outgoing for ServerConn {
    fn has_output(&self) -> bool {
        ServerConn::has_output(self)
    }

    fn output_contiguous(&self) -> Option<&[u8]> {
        ServerConn::output_contiguous(self)
    }

    fn output_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        ServerConn::output_slices(self, slices)
    }

    fn wrote(&mut self, n: usize) {
        ServerConn::wrote(self, n);
    }
}

impl Outgoing for Session {
    fn has_output(&self) -> bool {
        Session::has_output(self)
    }

    fn output_contiguous(&self) -> Option<&[u8]> {
        Session::output_contiguous(self)
    }

    fn output_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        Session::output_slices(self, slices)
    }

    fn output_shared(&self) -> Option<&Bytes> {
        Session::output_shared(self)
    }

    fn wrote(&mut self, n: usize) {
        Session::wrote(self, n);
    }
}

/// The transport's write half, and how far its writes have come.
pub(crate) struct Writer<W> {
    /// The transport's write half.
    io: W,
    /// How long a write may make no progress ([`crate::ServerConfig::send_timeout`]).
    send_stall: StallTimer,
    /// Where a send timeout is counted.
    counters: ServerCounters,
    /// A write made no progress for the send timeout: the peer stopped reading.
    stalled: bool,
    /// The send timeout's countdown runs: a write is waiting, and not everything queued has
    /// gone out since the countdown started.
    counting: bool,
    /// Bytes were written since the countdown last started: progress.
    progressed: bool,
}

impl<W: Transport> Writer<W> {
    pub(crate) fn new(io: W, send_timeout: Duration, counters: ServerCounters) -> Writer<W> {
        Writer {
            io,
            send_stall: StallTimer::new(send_timeout),
            counters,
            stalled: false,
            counting: false,
            progressed: false,
        }
    }

    /// Write what `out` owes, in as few (vectored) writes as the kernel allows. A failed write
    /// is the error; `out` keeps what was not written.
    pub(crate) fn poll_write_out(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut impl Outgoing,
    ) -> Poll<std::io::Result<()>> {
        while out.has_output() {
            let shared = match out.output_shared() {
                Some(piece) => self.io.poll_write_shared(cx, piece),
                None => None,
            };
            let io = Pin::new(&mut self.io);
            let written = if let Some(written) = shared {
                ready!(written)
            } else if let Some(bytes) = out.output_contiguous() {
                ready!(io.poll_write(cx, bytes))
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let used = out.output_slices(&mut slices);
                ready!(io.poll_write_vectored(cx, &slices[..used]))
            };
            match written {
                Ok(0) => return Poll::Ready(Err(ErrorKind::WriteZero.into())),
                Ok(n) => {
                    out.wrote(n);
                    self.progressed = true;
                }
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Write a file's bytes (after everything queued before them has gone): by `sendfile`
    /// where the transport can, in bounded pieces otherwise.
    pub(crate) fn poll_write_file(
        &mut self,
        cx: &mut Context<'_>,
        file: &mut FileSend,
    ) -> Poll<Result<(), FileSendError>> {
        let progressed = &mut self.progressed;
        file.poll_send(cx, &mut self.io, || *progressed = true)
    }

    /// The transport, the writer used up.
    pub(crate) fn into_io(self) -> W {
        self.io
    }

    /// The transport, for what the writer does not do itself.
    pub(crate) fn get_mut(&mut self) -> &mut W {
        &mut self.io
    }

    /// Let small packets wait to be coalesced while a file is sent, or not
    /// ([`Transport::coalesce_packets`]).
    pub(crate) fn coalesce_packets(&mut self, on: bool) {
        self.io.coalesce_packets(on);
    }

    /// Flush the transport itself (a TLS session's buffered records).
    pub(crate) fn poll_flush_io(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Everything queued went out: the next wait starts a fresh countdown.
    pub(crate) fn caught_up(&mut self) {
        self.counting = false;
    }

    /// A write has to wait: the countdown starts when the wait begins, and again whenever bytes
    /// have left since it last started, whoever wrote them. Whether it ran out (the peer is
    /// then taken for gone and counted); if not, `cx` is woken when it does.
    pub(crate) fn stalled_past_timeout(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.counting || self.progressed {
            self.counting = true;
            self.progressed = false;
            self.send_stall.restart();
        }
        if !self.send_stall.poll_expired(cx) {
            return false;
        }
        if !self.stalled {
            tracing::debug!("a write stalled past the send timeout; closing");
            self.counters.send_timeout();
            self.stalled = true;
        }
        true
    }

    /// Whether a write stalled past the send timeout (the peer stopped reading).
    pub(crate) fn send_stalled(&self) -> bool {
        self.stalled
    }

    /// Shut the write direction down (FIN after the bytes written).
    pub(crate) async fn shutdown(&mut self) {
        let _ = self.io.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::{Buf, Bytes};
    use tokio::io::AsyncWrite;

    use super::*;
    use crate::counters::ServerCounters;

    /// Waiting bytes as shared pieces, the oldest first.
    struct Pieces(VecDeque<Bytes>);

    impl Outgoing for Pieces {
        fn has_output(&self) -> bool {
            !self.0.is_empty()
        }
        fn output_contiguous(&self) -> Option<&[u8]> {
            None
        }
        fn output_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
            slices[0] = IoSlice::new(&self.0[0]);
            1
        }
        fn output_shared(&self) -> Option<&Bytes> {
            self.0.front()
        }
        fn wrote(&mut self, mut n: usize) {
            while n > 0 {
                let front = self.0.front_mut().expect("written bytes were waiting");
                let taken = n.min(front.len());
                front.advance(taken);
                n -= taken;
                if front.is_empty() {
                    self.0.pop_front();
                }
            }
        }
    }

    /// A transport that keeps shared pieces (at most `per_write` bytes a time) and refuses
    /// copies.
    struct Keeper {
        kept: Vec<Bytes>,
        per_write: usize,
    }

    impl AsyncWrite for Keeper {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            panic!("a shared piece was copied")
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl Transport for Keeper {
        fn poll_write_shared(
            &mut self,
            _: &mut Context<'_>,
            piece: &Bytes,
        ) -> Option<Poll<io::Result<usize>>> {
            let n = piece.len().min(self.per_write);
            self.kept.push(piece.slice(..n));
            Some(Poll::Ready(Ok(n)))
        }
    }

    #[tokio::test]
    async fn shared_pieces_reach_a_transport_that_takes_them_as_the_same_buffers() {
        let first = Bytes::from(vec![1u8; 40_000]);
        let second = Bytes::from(vec![2u8; 100]);
        let mut out = Pieces(VecDeque::from([first.clone(), second.clone()]));
        let keeper = Keeper {
            kept: Vec::new(),
            per_write: 16_384,
        };
        let mut writer = Writer::new(keeper, Duration::from_secs(5), ServerCounters::new());
        std::future::poll_fn(|cx| writer.poll_write_out(cx, &mut out))
            .await
            .unwrap();
        let kept = &writer.get_mut().kept;
        // Three pieces of the first buffer (a partial write resumes where it stopped), then the
        // second: each one a view of the buffer queued, not a copy of it.
        let lens: Vec<usize> = kept.iter().map(Bytes::len).collect();
        assert_eq!(lens, [16_384, 16_384, 40_000 - 32_768, 100]);
        assert_eq!(kept[0].as_ptr(), first.as_ptr());
        assert_eq!(kept[1].as_ptr(), first[16_384..].as_ptr());
        assert_eq!(kept[3].as_ptr(), second.as_ptr());
        assert!(!out.has_output());
    }
}

//! Sending a file as a response body ([`Message::PathSend`](rasgi_protocol::Message::PathSend)):
//! [`Transport`], what a connection's write half can do with a file, and [`FileSend`], how far
//! one file's bytes have gone.
//!
//! The rules kept: on a plain socket the kernel copies the bytes from its page cache
//! (`sendfile(2)`), with no pass through user space; elsewhere (TLS, an in-memory pipe) they are
//! read and written one bounded piece at a time, so that memory per file sent is one piece
//! whatever the file's size. Exactly the promised bytes are sent: a file that ends early is an
//! error, never a shorter body.

use std::fs::File;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use rasgi_protocol::FileBody;
use tokio::io::AsyncWrite;

/// The largest piece read from a file to be written by hand (TLS, pipes).
const PIECE_BYTES: usize = 64 * 1024;

/// The most one `sendfile` call is asked for. After each call the connection's task yields to
/// the worker's other connections: a large file goes out in turns taken with them, rather than
/// in one run that fills its socket's whole buffer.
const SENDFILE_TURN: u64 = 256 * 1024;

/// A connection's write half.
pub(crate) trait Transport: AsyncWrite + Unpin + Send {
    /// Send up to `len` bytes of `file` from `offset` by `sendfile(2)`: how many went, or
    /// `None` where the transport cannot (the bytes are then read and written).
    fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        file: &File,
        offset: u64,
        len: usize,
    ) -> Option<Poll<io::Result<usize>>> {
        let _ = (cx, file, offset, len);
        None
    }

    /// Write from `piece`, a shared buffer, keeping a reference to it instead of copying it:
    /// how many bytes went, or `None` where the transport copies like any write.
    fn poll_write_shared(
        &mut self,
        cx: &mut Context<'_>,
        piece: &Bytes,
    ) -> Option<Poll<io::Result<usize>>> {
        let _ = (cx, piece);
        None
    }

    /// Let the kernel hold a partly filled packet back while earlier ones are unacknowledged
    /// (Nagle's algorithm, `on`), or send every write at once (off, the connection's usual
    /// state, which also sends what was held). Nothing where the transport has no such switch.
    fn coalesce_packets(&mut self, on: bool) {
        let _ = on;
    }
}

impl Transport for tokio::net::tcp::WriteHalf<'_> {
    fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        file: &File,
        offset: u64,
        len: usize,
    ) -> Option<Poll<io::Result<usize>>> {
        sendfile::poll(cx, self.as_ref(), file, offset, len)
    }

    fn coalesce_packets(&mut self, on: bool) {
        // A socket that refuses sends as it would have: nothing to report.
        let _ = self.as_ref().set_nodelay(!on);
    }
}

impl Transport for tokio::net::unix::WriteHalf<'_> {
    fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        file: &File,
        offset: u64,
        len: usize,
    ) -> Option<Poll<io::Result<usize>>> {
        sendfile::poll(cx, self.as_ref(), file, offset, len)
    }
}

/// Any stream split by `tokio::io::split` (a TLS session, an embedder's own transport): read
/// and write.
impl<T: tokio::io::AsyncRead + AsyncWrite + Send> Transport for tokio::io::WriteHalf<T> {}

/// An in-memory pipe (tests): read and write.
impl Transport for tokio::io::DuplexStream {}

/// A borrowed write half (a driver handed the connection over keeps the half it owned).
impl<T: Transport> Transport for &mut T {
    fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        file: &File,
        offset: u64,
        len: usize,
    ) -> Option<Poll<io::Result<usize>>> {
        (**self).poll_sendfile(cx, file, offset, len)
    }

    fn coalesce_packets(&mut self, on: bool) {
        (**self).coalesce_packets(on);
    }
}

/// A socket of the runtime's: its write readiness, and a non-blocking call made when ready.
trait Socket: std::os::fd::AsRawFd {
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    fn try_write_with(&self, call: impl FnOnce() -> io::Result<usize>) -> io::Result<usize>;
}

impl Socket for tokio::net::TcpStream {
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::net::TcpStream::poll_write_ready(self, cx)
    }

    fn try_write_with(&self, call: impl FnOnce() -> io::Result<usize>) -> io::Result<usize> {
        self.try_io(tokio::io::Interest::WRITABLE, call)
    }
}

impl Socket for tokio::net::UnixStream {
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::net::UnixStream::poll_write_ready(self, cx)
    }

    fn try_write_with(&self, call: impl FnOnce() -> io::Result<usize>) -> io::Result<usize> {
        self.try_io(tokio::io::Interest::WRITABLE, call)
    }
}

#[cfg(target_os = "linux")]
mod sendfile {
    use std::fs::File;
    use std::io;
    use std::os::fd::{AsRawFd, RawFd};
    use std::task::{ready, Context, Poll};

    use super::Socket;

    /// `sendfile` from `file` to `socket` once it can take bytes.
    pub(super) fn poll(
        cx: &mut Context<'_>,
        socket: &impl Socket,
        file: &File,
        offset: u64,
        len: usize,
    ) -> Option<Poll<io::Result<usize>>> {
        Some(poll_ready_then_send(cx, socket, file, offset, len))
    }

    fn poll_ready_then_send(
        cx: &mut Context<'_>,
        socket: &impl Socket,
        file: &File,
        offset: u64,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(socket.poll_write_ready(cx))?;
            // `try_write_with` clears the readiness when the call would block.
            match socket.try_write_with(|| call(socket.as_raw_fd(), file.as_raw_fd(), offset, len))
            {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
    }

    /// One `sendfile(2)` call.
    fn call(socket: RawFd, file: RawFd, offset: u64, len: usize) -> io::Result<usize> {
        let mut offset = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
        // SAFETY: both descriptors belong to objects borrowed for the whole call (the socket
        // and the file stay open), `offset` is a live `off_t` the kernel may write, and the
        // call reads or writes no other memory of this process.
        let sent = unsafe { libc::sendfile(socket, file, &mut offset, len) };
        usize::try_from(sent).map_err(|_| io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
mod sendfile {
    use std::fs::File;
    use std::io;
    use std::task::{Context, Poll};

    /// No `sendfile` here: the bytes are read and written.
    pub(super) fn poll(
        _: &mut Context<'_>,
        _: &impl super::Socket,
        _: &File,
        _: u64,
        _: usize,
    ) -> Option<Poll<io::Result<usize>>> {
        None
    }
}

/// Why a file's bytes did not all go out.
#[derive(Debug)]
pub(crate) enum FileSendError {
    /// The file could not be read, or ended before the promised length.
    File(io::Error),
    /// The transport failed (the client is gone).
    Transport(io::Error),
}

/// One file's bytes on their way out.
pub(crate) struct FileSend {
    /// The file.
    file: Arc<File>,
    /// Where the next byte to send is in the file.
    offset: u64,
    /// Bytes still to send (counting those in `piece`).
    remaining: u64,
    /// Read and written by hand: bytes read from the file and not yet written.
    piece: Vec<u8>,
    /// Where the unwritten part of `piece` starts.
    piece_at: usize,
}

impl FileSend {
    /// The first `len` bytes of `body`'s range.
    pub(crate) fn new(body: &FileBody, len: u64) -> FileSend {
        FileSend {
            file: Arc::clone(body.file()),
            offset: body.offset(),
            remaining: len.min(body.len()),
            piece: Vec::new(),
            piece_at: 0,
        }
    }

    /// Send what is left to `io`; `sent` is told of every byte that goes. Ready once every
    /// byte has gone, or with why not.
    pub(crate) fn poll_send<W: Transport>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut W,
        mut sent: impl FnMut(),
    ) -> Poll<Result<(), FileSendError>> {
        while self.remaining > 0 {
            if self.piece_at == self.piece.len() {
                let want = self.remaining.min(SENDFILE_TURN) as usize;
                if let Some(result) = io.poll_sendfile(cx, &self.file, self.offset, want) {
                    let n = match std::task::ready!(result) {
                        Ok(0) => return Poll::Ready(Err(FileSendError::File(ended_early()))),
                        Ok(n) => n,
                        // The kernel says which side failed only by the error: the socket's
                        // are the connection's, the rest (EIO, EINVAL on a file that cannot
                        // be mapped) the file's.
                        Err(error) if is_transport_error(&error) => {
                            return Poll::Ready(Err(FileSendError::Transport(error)))
                        }
                        Err(error) => return Poll::Ready(Err(FileSendError::File(error))),
                    };
                    self.advance(n as u64);
                    sent();
                    if self.remaining > 0 {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    continue;
                }
                if let Err(error) = self.read_piece() {
                    return Poll::Ready(Err(FileSendError::File(error)));
                }
            }
            let n = match std::task::ready!(
                std::pin::Pin::new(&mut *io).poll_write(cx, &self.piece[self.piece_at..])
            ) {
                Ok(0) => {
                    let error = io::Error::from(io::ErrorKind::WriteZero);
                    return Poll::Ready(Err(FileSendError::Transport(error)));
                }
                Ok(n) => n,
                Err(error) => return Poll::Ready(Err(FileSendError::Transport(error))),
            };
            self.piece_at += n;
            self.remaining -= n as u64;
            sent();
        }
        Poll::Ready(Ok(()))
    }

    /// `n` bytes went out by `sendfile`.
    fn advance(&mut self, n: u64) {
        self.offset += n;
        self.remaining -= n;
    }

    /// Read the next piece (at most [`PIECE_BYTES`], at most what is left) into `piece`.
    fn read_piece(&mut self) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let want = self.remaining.min(PIECE_BYTES as u64) as usize;
        self.piece.resize(want, 0);
        let n = self.file.read_at(&mut self.piece, self.offset)?;
        if n == 0 {
            return Err(ended_early());
        }
        self.piece.truncate(n);
        self.piece_at = 0;
        self.offset += n as u64;
        Ok(())
    }
}

/// The error for a file shorter than the length promised in the response's head.
fn ended_early() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the file ended before the length the response promised",
    )
}

/// Whether `sendfile` failed on the socket's side.
fn is_transport_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
    )
}

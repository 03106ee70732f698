//! An HTTP/2 stream as a byte pipe, for a protocol carried in its DATA frames: a WebSocket
//! opened by an extended CONNECT (RFC 8441). The WebSocket driver reads and writes it as it
//! reads and writes a TCP connection, and answers the handshake through it.
//!
//! The rules it keeps:
//! - reading takes the stream's DATA in order, giving each byte back to the peer's window as it
//!   is taken; the stream's end (END_STREAM, a reset, the connection gone) reads as the end;
//! - writing queues DATA only within the stream's and the connection's windows and while the
//!   connection's output is under its high-water mark, waiting otherwise; a flush waits until
//!   the connection has written everything queued so far; shutting down is END_STREAM;
//! - the handshake's answers are the stream's response: the switch is a 200 without the
//!   HTTP/1.1 upgrade's fields (RFC 8441 §5), a refusal or the app's denial an ordinary
//!   response, its body held here while the windows are shut.

use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use rasgi_h2::request::RequestHead;
use rasgi_protocol::{App, Message, SendError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::fields::{answer_fields, check_fields, ServerFields};
use super::shared::{lock, Shared, OUTPUT_HIGH_WATER};
use crate::context::{ConnContext, Peers};
use crate::file_send::Transport;
use crate::handshake::HandshakeStream;
use crate::reader::ReadSide;
use crate::writer::Writer;

/// Serve stream `id`, an extended CONNECT, with the WebSocket driver; then end the stream
/// (END_STREAM, unless the driver ended it) and let it leave the connection's table.
pub(super) async fn serve_websocket<A: App>(
    ctx: &ConnContext<A>,
    peers: &Peers,
    shared: &Mutex<Shared>,
    fields: &ServerFields,
    id: u32,
    head: RequestHead,
) {
    let config = &*ctx.config;
    let mut read = ReadSide::new(TunnelRead { shared, id }, config.body_read_timeout);
    let write = TunnelWrite {
        shared,
        id,
        queued: 0,
        ended: false,
    };
    let mut stream = TunnelStream {
        shared,
        id,
        fields,
        writer: Writer::new(write, config.send_timeout, ctx.counters.clone()),
        held: None,
        status: 0,
    };
    crate::websocket::serve_h2(ctx, peers, head, &mut read, &mut stream).await;
    let write = stream.writer.get_mut();
    let _ = std::future::poll_fn(|cx| Pin::new(&mut *write).poll_shutdown(cx)).await;
    drop(read);
    let mut s = lock(shared);
    if let Some(io) = s.streams.remove(&id) {
        let unread: usize = io.inbox.iter().map(Bytes::len).sum();
        s.conn.release(id, unread);
    }
    s.conn.finish(id);
    s.wake_driver();
}

/// The read half: the stream's DATA.
pub(super) struct TunnelRead<'a> {
    pub shared: &'a Mutex<Shared>,
    pub id: u32,
}

impl AsyncRead for TunnelRead<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let id = self.id;
        let mut guard = lock(self.shared);
        let s = &mut *guard;
        let Some(io) = s.streams.get_mut(&id) else {
            return Poll::Ready(Ok(()));
        };
        // Every DATA payload that has arrived, as far as the buffer has room: one read takes
        // what a socket read would, not one frame at a time.
        let mut taken = 0;
        while let Some(front) = io.inbox.front_mut() {
            let n = front.len().min(buf.remaining());
            if n == 0 {
                break;
            }
            buf.put_slice(&front[..n]);
            front.advance(n);
            if front.is_empty() {
                io.inbox.pop_front();
            }
            taken += n;
        }
        if taken > 0 {
            s.conn.release(id, taken);
            s.wake_driver();
            return Poll::Ready(Ok(()));
        }
        if io.body_done || io.reset || s.gone {
            return Poll::Ready(Ok(()));
        }
        io.recv_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The write half: DATA on the stream.
pub(super) struct TunnelWrite<'a> {
    pub shared: &'a Mutex<Shared>,
    pub id: u32,
    /// The connection's queued total after this half's last DATA: a flush waits for it.
    pub queued: u64,
    /// END_STREAM went out.
    pub ended: bool,
}

impl TunnelWrite<'_> {
    fn broken() -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, "the HTTP/2 stream is gone")
    }
}

impl AsyncWrite for TunnelWrite<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, bytes, None)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = lock(self.shared);
        if s.conn.written_total() >= self.queued {
            return Poll::Ready(Ok(()));
        }
        if s.gone {
            return Poll::Ready(Err(Self::broken()));
        }
        s.flush_waiters.push(cx.waker().clone());
        s.wake_driver();
        Poll::Pending
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.ended {
            let id = self.id;
            let mut s = lock(self.shared);
            if !s.gone && s.conn.is_open(id) {
                let _ = s.conn.send_data(id, &[], true);
                self.queued = s.conn.queued_total();
                s.wake_driver();
            }
            drop(s);
            self.ended = true;
        }
        self.poll_flush(cx)
    }
}

impl TunnelWrite<'_> {
    /// Queue DATA from `bytes`, as much as the windows take while the connection's output is
    /// under its high-water mark, or wait. `shared`, when given, is the same bytes as a shared
    /// buffer: queued by reference instead of copied.
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        bytes: &[u8],
        shared: Option<&Bytes>,
    ) -> Poll<io::Result<usize>> {
        let id = self.id;
        let mut guard = lock(self.shared);
        let s = &mut *guard;
        if s.gone || self.ended || s.streams.get(&id).is_none_or(|io| io.reset) {
            return Poll::Ready(Err(Self::broken()));
        }
        let sent = if s.conn.output_len() >= OUTPUT_HIGH_WATER {
            Ok(0)
        } else if let Some(shared) = shared {
            s.conn.send_shared_data(id, shared, false)
        } else {
            s.conn.send_data(id, bytes, false)
        };
        let sent = sent.map_err(|_| Self::broken())?;
        if sent == 0 && !bytes.is_empty() {
            s.streams.get_mut(&id).expect("checked").send_waker = Some(cx.waker().clone());
            s.wake_driver();
            return Poll::Pending;
        }
        self.queued = s.conn.queued_total();
        s.wake_driver();
        Poll::Ready(Ok(sent))
    }
}

impl Transport for TunnelWrite<'_> {
    fn poll_write_shared(
        &mut self,
        cx: &mut Context<'_>,
        piece: &Bytes,
    ) -> Option<Poll<io::Result<usize>>> {
        Some(self.poll_send(cx, piece, Some(piece)))
    }
}

/// The stream the WebSocket's handshake came in on, as the WebSocket driver answers it.
pub(super) struct TunnelStream<'a> {
    pub shared: &'a Mutex<Shared>,
    pub id: u32,
    pub fields: &'a ServerFields,
    pub writer: Writer<TunnelWrite<'a>>,
    /// Body bytes of an HTTP answer the windows did not take yet, and whether it ends there.
    pub held: Option<(Bytes, bool)>,
    /// The status answered, for the log.
    pub status: u16,
}

impl TunnelStream<'_> {
    /// Queue what the windows take of the held body; `true` once none is held.
    fn push_held(&mut self, cx: Option<&mut Context<'_>>) -> Result<bool, SendError> {
        let Some((body, end)) = self.held.take() else {
            return Ok(true);
        };
        let mut s = lock(self.shared);
        if s.gone {
            return Err(SendError::Disconnected);
        }
        let sent = if s.conn.output_len() >= OUTPUT_HIGH_WATER {
            0
        } else {
            s.conn
                .send_shared_data(self.id, &body, end)
                .map_err(|_| SendError::Disconnected)?
        };
        s.wake_driver();
        // All of it went (an empty body's END_STREAM included: `send_data` queues it).
        if sent == body.len() {
            self.writer.get_mut().queued = s.conn.queued_total();
            return Ok(true);
        }
        if let (Some(cx), Some(io)) = (cx, s.streams.get_mut(&self.id)) {
            io.send_waker = Some(cx.waker().clone());
        }
        self.held = Some((body.slice(sent..), end));
        Ok(false)
    }
}

impl<'a> HandshakeStream for TunnelStream<'a> {
    type Io = TunnelWrite<'a>;

    fn stop(&mut self) {}

    fn take_answer_buffer(&mut self) {}

    fn queue_answer(&mut self, message: Message) -> Result<bool, SendError> {
        match message {
            Message::Start {
                status, headers, ..
            } => {
                if !(200..=999).contains(&status) {
                    return Err(SendError::InvalidStatus(status));
                }
                check_fields(headers.as_fields())?;
                let mut s = lock(self.shared);
                let all = answer_fields(self.fields, headers.as_fields());
                s.conn
                    .send_response(
                        self.id,
                        status,
                        all.iter().map(|(n, v)| (&n[..], &v[..])),
                        false,
                    )
                    .map_err(|_| SendError::Disconnected)?;
                self.writer.get_mut().queued = s.conn.queued_total();
                s.wake_driver();
                self.status = status;
                Ok(false)
            }
            Message::Body { body, more_body } => {
                if self.held.is_some() {
                    return Err(SendError::OutOfOrder("a body while the last one waits"));
                }
                self.held = Some((body, !more_body));
                Ok(!self.push_held(None)?)
            }
            _ => Err(SendError::WrongScope),
        }
    }

    fn queue_switch(&mut self, fields: Vec<(Bytes, Bytes)>) -> Result<(), SendError> {
        // RFC 8441 §5: the answer is a 2xx; the HTTP/1.1 upgrade's own fields have no place in
        // HTTP/2 (RFC 9113 §8.2.2), and there is no key to answer.
        let kept: Vec<(Bytes, Bytes)> = fields
            .into_iter()
            .filter(|(name, _)| {
                !matches!(
                    &name.to_ascii_lowercase()[..],
                    b"upgrade" | b"connection" | b"sec-websocket-accept"
                )
            })
            .collect();
        self.queue_answer(Message::Start {
            status: 200,
            headers: kept.into_iter().collect(),
            trailers: false,
        })
        .map(|_| ())
    }

    fn answer_returned(&mut self, failed: bool) -> impl std::fmt::Debug {
        (self.status, failed)
    }

    fn has_answer_output(&self) -> bool {
        self.held.is_some()
    }

    fn poll_write_answer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.push_held(Some(cx)) {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) => Poll::Pending,
            Err(_) => Poll::Ready(Err(TunnelWrite::broken())),
        }
    }

    fn poll_flush_answer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.poll_write_answer(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(self.writer.get_mut()).poll_flush(cx)
    }

    fn writer(&mut self) -> &mut Writer<TunnelWrite<'a>> {
        &mut self.writer
    }
}

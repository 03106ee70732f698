//! [`Wire`]: a connection's protocol state ([`ServerConn`]) and its write half, behind the one
//! lock that the app's `send` and `receive` and the driver share.
//!
//! The rule this module keeps: it decides nothing about HTTP. Messages go to the state machine
//! as they are; what the machine queues is written out when it says so (or when the driver or
//! the app's wait asks), with as few vectored writes as the kernel allows, and a write cut short
//! resumes where it stopped.

use std::future::Future;
use std::io::ErrorKind;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::lock::{Lock, LockGuard};
use bytes::{Bytes, BytesMut};
use futures::future::{BoxFuture, Either};
use rasgi_h1::conn::{AppOutcome, Flush, Settings};
use rasgi_h1::ServerConn;
use rasgi_protocol::app::with_lines;
use rasgi_protocol::{FieldLines, FileBody, Headers, Message, SendError, Sender};

use crate::asgi::{send_error, send_message};
use crate::file_send::{FileSend, FileSendError, Transport};
use crate::handshake::HandshakeStream;
use crate::request::{RequestStream, Verdict, WhileTheAppWaits};
use crate::writer::Writer;
use crate::{buffers, date, ServerCounters};

/// The protocol state and the transport's write half.
pub(crate) struct Wire<W> {
    /// The transport's write half.
    writer: Writer<W>,
    /// Every protocol decision of the connection.
    conn: ServerConn,
}

impl<W: Transport> Wire<W> {
    pub(crate) fn new(
        io: W,
        settings: Settings,
        send_timeout: Duration,
        counters: ServerCounters,
    ) -> Wire<W> {
        Wire {
            writer: Writer::new(io, send_timeout, counters),
            conn: ServerConn::new(settings),
        }
    }

    /// The write half, the wire used up (the connection goes on in another protocol).
    pub(crate) fn into_io(self) -> W {
        self.writer.into_io()
    }

    /// The state machine.
    pub(crate) fn conn(&mut self) -> &mut ServerConn {
        &mut self.conn
    }

    /// The state machine, to read.
    pub(crate) fn state(&self) -> &ServerConn {
        &self.conn
    }

    /// Queue one app message (not a file) through the state machine; whether it must be
    /// written out before its send returns.
    fn queue(&mut self, message: Message) -> Result<Flush, SendError> {
        self.take_buffer();
        send_message(&mut self.conn, message)
    }

    /// A body from a file: the head goes out, then the file's bytes straight after it, before
    /// anything else can be queued. Bytes promised and not sent (the file ended early, the
    /// client stalled past the send timeout, or this future was dropped) end the connection.
    pub(crate) async fn send_file(&mut self, body: FileBody) -> Result<(), SendError> {
        self.take_buffer();
        let len = self.conn.send_file_body(body.len()).map_err(send_error)?;
        self.flush().await.map_err(|_| SendError::Disconnected)?;
        if len == 0 {
            return Ok(());
        }
        // The tail of each `sendfile` call waits to share a packet with the next call's bytes.
        // A failure below ends the connection, so only success needs to switch it back, which
        // also sends the last tail at once.
        self.writer.coalesce_packets(true);
        let mut file = FileSend::new(&body, len);
        let Wire { writer, conn } = self;
        let mut unfinished = Unfinished(Some(conn));
        let sent = std::future::poll_fn(|cx| {
            if let Poll::Ready(result) = writer.poll_write_file(cx, &mut file) {
                return Poll::Ready(result);
            }
            if writer.stalled_past_timeout(cx) {
                let error = std::io::Error::from(ErrorKind::TimedOut);
                return Poll::Ready(Err(FileSendError::Transport(error)));
            }
            Poll::Pending
        })
        .await;
        match sent {
            Ok(()) => {
                writer.coalesce_packets(false);
                writer.caught_up();
                unfinished.0 = None;
                Ok(())
            }
            Err(FileSendError::Transport(error)) => {
                tracing::debug!(%error, "a file body's write failed");
                Err(SendError::Disconnected)
            }
            Err(FileSendError::File(error)) => {
                tracing::warn!(%error, "a file body could not be sent whole; closing");
                Err(SendError::BodyTooShort)
            }
        }
    }

    /// Queue a start (not a 101) and its first body (what `send_response` sends): the state
    /// machine's own calls for each, rather than twice through the one match over every
    /// message. Whether they must be written out before their send returns.
    fn queue_pair(&mut self, pair: StartAndBody) -> Result<Flush, SendError> {
        self.take_buffer();
        self.conn
            .send_start(pair.status, pair.headers.into_fields(), pair.trailers)
            .and_then(|_| self.conn.send_body(pair.body, pair.more_body))
            .map_err(send_error)
    }

    /// Queue a start (not a 101) and its first body, with `lines` copied into the head whole;
    /// whether they must be written out before their send returns.
    fn queue_pair_with_lines(
        &mut self,
        pair: StartAndBody,
        lines: FieldLines,
    ) -> Result<Flush, SendError> {
        self.take_buffer();
        self.conn
            .send_start(pair.status, pair.headers.into_fields(), pair.trailers)
            .and_then(|_| {
                self.conn
                    .send_body_with_lines(pair.body, pair.more_body, lines.as_bytes())
            })
            .map_err(send_error)
    }

    /// Write out everything queued. Cancel-safe: what was written is taken off the output as it
    /// goes. A write that makes no progress for the send timeout gives up: the client is taken
    /// for gone.
    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        std::future::poll_fn(|cx| self.poll_flush_timed(cx)).await
    }

    /// [`Wire::flush`] as a poll; past the send timeout the write gives up.
    pub(crate) fn poll_flush_timed(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Poll::Ready(result) = self.poll_flush(cx) {
            if result.is_ok() {
                self.writer.caught_up();
            }
            return Poll::Ready(result);
        }
        if self.writer.stalled_past_timeout(cx) {
            self.conn.write_failed();
            return Poll::Ready(Err(ErrorKind::TimedOut.into()));
        }
        Poll::Pending
    }

    /// The output, in as few (vectored) writes as the kernel allows, then the transport's own
    /// flush.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.poll_write(cx))?;
        self.writer.poll_flush_io(cx)
    }

    /// The output, written: a failed write marks the client gone.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Err(error) = std::task::ready!(self.writer.poll_write_out(cx, &mut self.conn)) {
            self.conn.write_failed();
            return Poll::Ready(Err(error));
        }
        // Everything is out: the buffer goes back to the pool until the next write (a stream
        // waiting between its events holds none).
        self.release_buffer();
        Poll::Ready(Ok(()))
    }

    /// Whether a write stalled past the send timeout (the client stopped reading).
    pub(crate) fn send_stalled(&self) -> bool {
        self.writer.send_stalled()
    }

    /// Make sure the output has a buffer from the pool before anything is written into it.
    pub(crate) fn take_buffer(&mut self) {
        if !self.conn.has_output_buffer() {
            self.conn.give_output_buffer(buffers::take());
        }
    }

    /// Hand the output buffer back to the thread's pool once nothing waits in it (an idle
    /// connection, or a stream between its events, holds no buffer).
    fn release_buffer(&mut self) {
        if let Some(buf) = self.conn.take_output_buffer() {
            buffers::give(buf);
        }
    }

    /// Write what is queued, then shut the write direction down (FIN after the bytes).
    pub(crate) async fn close(&mut self) {
        if self.flush().await.is_ok() {
            self.writer.shutdown().await;
        }
    }
}

/// A file body on its way out: dropped before every byte went, the state machine is told the
/// write failed (the length in the head cannot be kept, so the connection ends).
struct Unfinished<'a>(Option<&'a mut ServerConn>);

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            conn.write_failed();
        }
    }
}

/// A WebSocket's handshake came in on HTTP/1.1: it is answered with a 101, or in plain HTTP.
impl<W: Transport> HandshakeStream for Wire<W> {
    type Io = W;

    fn stop(&mut self) {
        self.conn.stop();
    }

    fn take_answer_buffer(&mut self) {
        self.take_buffer();
    }

    fn queue_answer(&mut self, message: Message) -> Result<bool, SendError> {
        Ok(send_message(&mut self.conn, message)? == Flush::Now)
    }

    fn queue_switch(&mut self, fields: Vec<(Bytes, Bytes)>) -> Result<(), SendError> {
        self.conn
            .send_start(101, fields, false)
            .map_err(send_error)?;
        Ok(())
    }

    fn answer_returned(&mut self, failed: bool) -> impl std::fmt::Debug {
        self.conn.app_returned(failed)
    }

    fn has_answer_output(&self) -> bool {
        self.conn.has_output()
    }

    fn poll_write_answer(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_write(cx)
    }

    fn poll_flush_answer(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_flush_timed(cx)
    }

    fn writer(&mut self) -> &mut Writer<W> {
        &mut self.writer
    }
}

/// A response start that is not a 101, and its first body: the pair a response is nearly
/// always sent as, queued in one go.
struct StartAndBody {
    status: u16,
    headers: Headers,
    trailers: bool,
    body: Bytes,
    more_body: bool,
}

/// `first` and `second` as a [`StartAndBody`], or given back as they are.
fn start_and_body(first: Message, second: Message) -> Result<StartAndBody, (Message, Message)> {
    match (first, second) {
        (
            Message::Start {
                status,
                headers,
                trailers,
            },
            Message::Body { body, more_body },
        ) if status != 101 => Ok(StartAndBody {
            status,
            headers,
            trailers,
            body,
            more_body,
        }),
        pair => Err(pair),
    }
}

/// A request's stream on HTTP/1.1, as the request layer judges it: the connection's machine.
impl<W: Transport> RequestStream for Wire<W> {
    fn app_panicked(&mut self) {
        self.conn.app_panicked();
    }

    fn app_refused_body(&mut self, status: u16) {
        self.conn.app_refused_body(status);
    }

    fn app_returned(&mut self, failed: bool) -> Verdict {
        match self.conn.app_returned(failed) {
            AppOutcome::Complete => Verdict::Complete,
            AppOutcome::FailedAfterComplete => Verdict::FailedAfterComplete,
            AppOutcome::BodyRefused(status) => Verdict::BodyRefused(status),
            AppOutcome::FailedBeforeStart => Verdict::FailedBeforeStart,
            AppOutcome::NoResponse => Verdict::NoResponse,
            AppOutcome::FailedAfterStart => Verdict::FailedAfterStart,
            AppOutcome::ReturnedEarly => Verdict::ReturnedEarly,
            AppOutcome::Upgraded => Verdict::Upgraded,
        }
    }

    fn client_gone(&self) -> bool {
        self.conn.client_gone()
    }

    fn http_version(&self) -> &'static str {
        self.conn.version().as_str()
    }

    fn status(&self) -> u16 {
        self.conn.status()
    }

    fn body_bytes(&self) -> u64 {
        self.conn.body_bytes()
    }
}

/// While the app waits, what it streamed (and the responses to earlier pipelined requests) goes
/// out. If a `send` holds the wire, it is writing already.
impl<W: Transport> WhileTheAppWaits for Lock<Wire<W>> {
    fn poll_stalled(&self, cx: &mut Context<'_>) -> bool {
        let Some(mut w) = self.try_lock() else {
            return false;
        };
        w.conn.has_output() && w.poll_flush_timed(cx).is_ready() && w.send_stalled()
    }
}

/// The `date` line for the state machine's heads, from the per-thread cache.
pub(crate) fn put_date(buf: &mut BytesMut) {
    buf.extend_from_slice(&date::line());
}

/// The app's `send`: a handle on the connection's wire.
pub(crate) struct ResponseSender<'a, W> {
    /// The state machine and the write half.
    wire: &'a Lock<Wire<W>>,
    /// Fires when the server stops: a response whose head is still to be written then says
    /// `connection: close`.
    shutdown: &'a crate::Shutdown,
}

impl<'a, W: Transport> ResponseSender<'a, W> {
    pub(crate) fn new(wire: &'a Lock<Wire<W>>, shutdown: &'a crate::Shutdown) -> Self {
        ResponseSender { wire, shutdown }
    }

    async fn locked(&self) -> LockGuard<'_, Wire<W>> {
        let mut wire = self.wire.lock().await;
        self.taken(&mut wire);
        wire
    }

    /// What taking the wire does first: once the server stops, a response whose head is still
    /// to be written says `connection: close`.
    fn taken(&self, wire: &mut Wire<W>) {
        if self.shutdown.is_triggered() {
            wire.conn.stop();
        }
    }
}

/// A message, or a start and its first body, is queued when `send` is called, as the hooks of
/// the middleware above already ran: the future then only writes the output out when the state
/// machine asks for it (a stream's gathered output), and holds neither the messages nor the
/// wire. Only a file, and a send made while the wire is taken (a `receive` of the app's is
/// reading), wait for their turn in a boxed future; any other pair goes as two sends.
impl<W: Transport> Sender for ResponseSender<'_, W> {
    fn send(&mut self, message: Message) -> impl Future<Output = Result<(), SendError>> + Send {
        match message {
            Message::PathSend(file) => {
                Either::Right(
                    Box::pin(async move { self.locked().await.send_file(file).await })
                        as BoxFuture<'_, _>,
                )
            }
            message => Either::Left(self.queued(move |wire| wire.queue(message))),
        }
    }

    fn send_pair(
        &mut self,
        first: Message,
        second: Message,
    ) -> impl Future<Output = Result<(), SendError>> + Send {
        match start_and_body(first, second) {
            Ok(pair) => Either::Left(self.queued(move |wire| wire.queue_pair(pair))),
            Err((first, second)) => Either::Right(self.one_at_a_time(first, second)),
        }
    }

    fn send_pair_with_lines(
        &mut self,
        first: Message,
        lines: FieldLines,
        second: Message,
    ) -> impl Future<Output = Result<(), SendError>> + Send {
        match start_and_body(first, second) {
            Ok(pair) => {
                Either::Left(self.queued(move |wire| wire.queue_pair_with_lines(pair, lines)))
            }
            // A 101 (whose head leaves at once), or any other pair: the lines as fields.
            Err((first, second)) => {
                Either::Right(self.one_at_a_time(with_lines(first, lines), second))
            }
        }
    }
}

impl<'a, W: Transport> ResponseSender<'a, W> {
    /// `queue` run on the wire now if nobody holds it (nearly always), else once it is this
    /// sender's turn (boxed); then the write the state machine asked for, if it did.
    fn queued<Q>(
        &mut self,
        queue: Q,
    ) -> impl Future<Output = Result<(), SendError>> + Send + use<'_, 'a, W, Q>
    where
        Q: FnOnce(&mut Wire<W>) -> Result<Flush, SendError> + Send + 'a,
    {
        let Some(mut wire) = self.wire.try_lock() else {
            return Either::Right(Box::pin(async move {
                let queued = queue(&mut *self.locked().await);
                self.flush_if_due(queued).await
            }) as BoxFuture<'_, _>);
        };
        self.taken(&mut wire);
        let queued = queue(&mut wire);
        drop(wire);
        Either::Left(self.flush_if_due(queued))
    }

    /// What is left of a send whose messages were queued: writing out the output when the
    /// state machine asked for it.
    async fn flush_if_due(&mut self, queued: Result<Flush, SendError>) -> Result<(), SendError> {
        if queued? == Flush::Now {
            let mut wire = self.locked().await;
            wire.flush().await.map_err(|_| SendError::Disconnected)?;
        }
        Ok(())
    }

    /// Two messages as two sends (a 101's head is written out before its body is queued).
    fn one_at_a_time(
        &mut self,
        first: Message,
        second: Message,
    ) -> BoxFuture<'_, Result<(), SendError>> {
        Box::pin(async move {
            self.send(first).await?;
            self.send(second).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use rasgi_h1::conn::HeadEvent;
    use rasgi_h1::Limits;
    use rasgi_protocol::Headers;
    use tokio::io::AsyncReadExt;

    use super::*;

    /// A wire answering one `GET /`.
    fn answering<W: Transport>(io: W) -> Wire<W> {
        let settings = Settings {
            limits: Limits::default(),
            max_body_bytes: 1 << 20,
            drain_limit_bytes: 0,
            server_header: false,
            default_fields: None,
            date_line: None,
            http2: rasgi_h1::conn::Http2Preface::Ignored,
        };
        let mut wire = Wire::new(io, settings, Duration::from_secs(5), ServerCounters::new());
        let mut head = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"[..]);
        assert!(matches!(
            wire.conn().read_head(&mut head),
            HeadEvent::Request(_)
        ));
        wire
    }

    #[tokio::test]
    async fn a_write_cut_short_resumes_where_it_stopped() {
        let (client, server) = tokio::io::duplex(4096);
        let mut wire = answering(server);
        let body = Bytes::from(vec![b'x'; 64 * 1024]);
        send_message(wire.conn(), Message::start(200, Headers::new())).unwrap();
        send_message(wire.conn(), Message::body(body)).unwrap();
        // The pipe holds 4 KiB and nobody reads yet: the write stops midway, and the future
        // awaiting it is dropped.
        let cut = tokio::time::timeout(Duration::from_millis(50), wire.flush()).await;
        assert!(cut.is_err());
        let reader = tokio::spawn(async move {
            let mut client = client;
            let mut seen = Vec::new();
            let _ = client.read_to_end(&mut seen).await;
            seen
        });
        wire.close().await;
        drop(wire);
        let seen = reader.await.unwrap();
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 65536\r\n\r\n";
        assert!(seen.starts_with(head));
        assert_eq!(seen.windows(8).filter(|w| w == b"HTTP/1.1").count(), 1);
        assert_eq!(seen.len(), head.len() + 64 * 1024);
        assert!(seen[head.len()..].iter().all(|&b| b == b'x'));
    }

    #[tokio::test]
    async fn chunks_sent_back_to_back_wait_for_one_flush() {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let mut wire = answering(server);
        send_message(wire.conn(), Message::start(200, Headers::new())).unwrap();
        for _ in 0..3 {
            let flush = send_message(
                wire.conn(),
                Message::chunk(Bytes::from(vec![b'x'; 32 * 1024])),
            )
            .unwrap();
            // Under the gathering size: nothing to write now, but marked for the app's wait.
            assert_eq!(flush, Flush::Later);
            assert!(wire.state().has_streamed_output());
        }
        wire.flush().await.unwrap();
        assert!(!wire.state().has_streamed_output());
        let mut seen = vec![0u8; 200 * 1024];
        let n = client.read(&mut seen).await.unwrap();
        // Head, three framed chunks: none written before the flush, all there after it.
        let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".len();
        assert_eq!(n, head + 3 * ("8000\r\n".len() + 32 * 1024 + 2));
    }

    #[tokio::test]
    async fn a_pair_is_queued_when_sent_and_leaves_the_wire_free() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let wire = Lock::new(answering(server));
        let shutdown = crate::Shutdown::new();
        let mut send = ResponseSender::new(&wire, &shutdown);
        let start = Message::start(200, Headers::new());
        let sent = send.send_pair_with_lines(start, FieldLines::new(), Message::body("hi"));
        // Queued already, and the wire free again for the connection's other parts.
        assert!(wire.try_lock().expect("free").state().has_output());
        assert_eq!(futures::FutureExt::now_or_never(sent), Some(Ok(())));
        wire.try_lock().expect("free").flush().await.unwrap();
        let mut seen = vec![0u8; 256];
        let n = client.read(&mut seen).await.unwrap();
        assert_eq!(
            &seen[..n],
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi"
        );
    }

    #[tokio::test]
    async fn a_pair_sent_while_the_wire_is_taken_waits_its_turn() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let wire = Lock::new(answering(server));
        let shutdown = crate::Shutdown::new();
        let mut send = ResponseSender::new(&wire, &shutdown);
        let taken = wire.try_lock().expect("free");
        let mut sent = std::pin::pin!(
            send.send_pair(Message::start(200, Headers::new()), Message::body("late"))
        );
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(sent.as_mut().poll(&mut cx).is_pending());
        assert!(!taken.state().has_output());
        drop(taken);
        sent.await.unwrap();
        wire.try_lock().expect("free").flush().await.unwrap();
        let mut seen = vec![0u8; 256];
        let n = client.read(&mut seen).await.unwrap();
        assert!(seen[..n].ends_with(b"\r\n\r\nlate"));
    }

    #[tokio::test]
    async fn a_chunk_past_the_gathering_size_is_written_before_its_send_returns() {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let wire = Lock::new(answering(server));
        let shutdown = crate::Shutdown::new();
        let mut send = ResponseSender::new(&wire, &shutdown);
        send.send(Message::start(200, Headers::new()))
            .await
            .unwrap();
        let chunk = Bytes::from(vec![b'x'; 256 * 1024]);
        send.send(Message::chunk(chunk)).await.unwrap();
        // Nothing flushed the wire but the send itself.
        let mut seen = vec![0u8; 300 * 1024];
        let read = async {
            let mut n = 0;
            while n < 256 * 1024 {
                n += client.read(&mut seen[n..]).await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("the chunk was written by its send");
        assert!(!wire.try_lock().expect("free").state().has_output());
    }
}

//! The HTTP/2 driver: the I/O around the sans-io connection
//! ([`rasgi_h2::conn::ServerConnection`]). It reads bytes and hands them over, starts one
//! request (`stream.rs`) per stream the connection accepts and polls them all on this task,
//! delivers each stream's body and resets, writes what the connection queued, and keeps the
//! time. It makes no protocol decision of its own.
//!
//! One connection, in order:
//! 1. The client's preface and SETTINGS are read under the header-read timeout; the server's
//!    SETTINGS are written at once.
//! 2. Each request is an `http` scope served by the request layer, its app polled here beside
//!    the others (no task spawned per stream).
//! 3. Reading stops while the output is backed up past its high-water mark; a write that
//!    makes no progress for the send timeout ends the connection.
//! 4. With no stream open for the keep-alive timeout, or once the server stops and the last
//!    stream ends, GOAWAY, then the close, lingering (as the HTTP/1.1 driver does) so that
//!    the GOAWAY is read before the connection is reset.

use std::future::Future;
use std::io::IoSlice;
use std::sync::Mutex;
use std::task::Poll;

use futures::stream::{FuturesUnordered, StreamExt};
use rasgi_h2::conn::{Config, Event, ServerConnection};
use rasgi_h2::frame::ErrorCode;
use rasgi_protocol::App;
use tokio::io::AsyncRead;
use tokio::time::Instant;

use crate::context::{ConnContext, Ending, Peers};
use crate::file_send::Transport;
use crate::reader::ReadSide;
use crate::writer::{Outgoing, Writer};
use fields::ServerFields;
use shared::{lock, Shared, StreamIo, OUTPUT_HIGH_WATER};

mod fields;
mod shared;
mod stream;
mod tunnel;

/// Most bytes read and dropped while lingering before a close.
const LINGER_BYTES: usize = 256 * 1024;
/// Longest linger before a close.
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// How many rounds of work one wake-up of the connection's task does before it lets other
/// tasks run.
const ROUNDS_PER_POLL: usize = 32;

impl Outgoing for ServerConnection {
    fn has_output(&self) -> bool {
        ServerConnection::has_output(self)
    }

    fn output_contiguous(&self) -> Option<&[u8]> {
        self.output_whole()
    }

    fn output_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        ServerConnection::output_slices(self, slices)
    }

    fn wrote(&mut self, n: usize) {
        ServerConnection::wrote(self, n);
    }
}

/// The connection's settings, from the server's.
fn settings<A>(ctx: &ConnContext<A>) -> Config {
    let h2 = &ctx.config.http2;
    Config {
        max_concurrent_streams: h2.max_concurrent_streams,
        max_header_list_size: h2.max_headers_size,
        initial_stream_window: h2.initial_stream_window_size,
        initial_connection_window: h2.initial_connection_window_size,
        // WebSockets over HTTP/2 (RFC 8441), served by the WebSocket driver.
        enable_connect_protocol: true,
        ..Config::default()
    }
}

/// Serve HTTP/2 on `read`/`writer` until the connection closes. `read` may hold bytes already
/// (the preface, when the HTTP/1.1 driver recognised it).
pub(crate) async fn drive<R, W, A>(
    read: &mut ReadSide<R>,
    writer: W,
    peers: &Peers,
    ctx: &ConnContext<A>,
) -> Ending
where
    R: AsyncRead + Unpin + Send,
    W: Transport,
    A: App,
{
    let config = &*ctx.config;
    let shared = Mutex::new(Shared::new(ServerConnection::new(settings(ctx))));
    let fields = ServerFields {
        server: config.server_header,
        date: config.date_header,
        default: ctx.default_fields.clone(),
    };
    let mut writer = Writer::new(writer, config.send_timeout, ctx.counters.clone());
    let mut streams = FuturesUnordered::new();
    // Streams opened by an extended CONNECT (RFC 8441): WebSockets, apart from the requests.
    // Made at the first: an empty set allocates room for one of its futures.
    let mut tunnels: Option<FuturesUnordered<_>> = None;
    let mut stop = std::pin::pin!(ctx.shutdown.triggered());
    let mut stopping = false;
    // Until the first request, the header-read timeout; then the keep-alive timeout whenever
    // no stream is open.
    let mut idle = std::pin::pin!(tokio::time::sleep(config.header_read_timeout));
    let mut idle_armed = true;
    let mut ending = Ending::Closed;

    std::future::poll_fn(|cx| {
        for _ in 0..ROUNDS_PER_POLL {
            // 1. The streams' apps (never with the lock held: they take it).
            let mut progressed = false;
            while let Poll::Ready(Some(())) = streams.poll_next_unpin(cx) {
                progressed = true;
            }
            if let Some(tunnels) = &mut tunnels {
                while let Poll::Ready(Some(())) = tunnels.poll_next_unpin(cx) {
                    progressed = true;
                }
            }
            let mut guard = lock(&shared);
            let s = &mut *guard;
            s.driver = Some(cx.waker().clone());

            // 2. The server stopping: GOAWAY, gracefully while streams are open.
            if !stopping && stop.as_mut().poll(cx).is_ready() {
                stopping = true;
                s.conn.shut_down_gracefully();
            }
            if stopping && s.conn.is_idle() {
                s.conn.go_away(ErrorCode::NoError, "");
            }

            // 3. Read, unless the output is backed up or the connection is over.
            let may_read = !s.gone
                && !s.conn.is_failed()
                && !read.is_eof()
                && s.conn.output_len() < OUTPUT_HIGH_WATER;
            if may_read {
                match read.poll_fill_frames(cx, false) {
                    Poll::Ready(true) => {
                        progressed = true;
                        if let Err(error) = s.conn.receive(read.buf_mut()) {
                            tracing::debug!(%error, "an HTTP/2 connection error");
                        }
                    }
                    Poll::Ready(false) => s.lose(),
                    Poll::Pending => {}
                }
            }

            // 4. What the connection says: new streams, bodies, resets, windows.
            while let Some(event) = s.conn.poll_event() {
                progressed = true;
                match event {
                    Event::Request {
                        stream_id,
                        head,
                        end_stream,
                    } => {
                        let expect_continue = head.fields.iter().any(|field| {
                            field.name == "expect"
                                && field.value.eq_ignore_ascii_case(b"100-continue")
                        });
                        s.streams.insert(
                            stream_id,
                            StreamIo {
                                body_done: end_stream,
                                expect_continue: expect_continue && !end_stream,
                                ..StreamIo::default()
                            },
                        );
                        if head.protocol.is_some() {
                            let tunnels = tunnels.get_or_insert_with(FuturesUnordered::new);
                            tunnels.push(tunnel::serve_websocket(
                                ctx, peers, &shared, &fields, stream_id, head,
                            ));
                        } else {
                            streams
                                .push(stream::serve(ctx, peers, &shared, &fields, stream_id, head));
                        }
                    }
                    Event::Data {
                        stream_id,
                        data,
                        end_stream,
                    } => {
                        if let Some(io) = s.streams.get_mut(&stream_id) {
                            if !data.is_empty() {
                                io.inbox.push_back(data);
                            }
                            io.body_done |= end_stream;
                            if let Some(waker) = io.recv_waker.take() {
                                waker.wake();
                            }
                        } else {
                            s.conn.release(stream_id, data.len());
                        }
                    }
                    Event::Trailers { stream_id, .. } => {
                        if let Some(io) = s.streams.get_mut(&stream_id) {
                            io.body_done = true;
                            if let Some(waker) = io.recv_waker.take() {
                                waker.wake();
                            }
                        }
                    }
                    Event::Reset { stream_id, .. } => {
                        if let Some(io) = s.streams.get_mut(&stream_id) {
                            io.reset = true;
                            for waker in [io.recv_waker.take(), io.send_waker.take()]
                                .into_iter()
                                .flatten()
                            {
                                waker.wake();
                            }
                        }
                    }
                    Event::WindowOpened => s.wake_senders(),
                    Event::GoAway { .. } => {}
                }
            }

            // 5. Write what is queued.
            if s.conn.has_output() && !writer.send_stalled() {
                let before = s.conn.written_total();
                match writer.poll_write_out(cx, &mut s.conn) {
                    Poll::Ready(Ok(())) => writer.caught_up(),
                    Poll::Ready(Err(error)) => {
                        tracing::debug!(%error, "an HTTP/2 write failed");
                        s.lose();
                    }
                    Poll::Pending => {
                        if writer.stalled_past_timeout(cx) {
                            ending = Ending::Abort;
                            s.lose();
                        }
                    }
                }
                if s.conn.written_total() != before {
                    progressed = true;
                    s.wake_senders();
                    s.wake_flushed();
                }
            }

            // 6. The end: the connection is over and every stream's app has returned.
            let over = s.gone || s.conn.is_done();
            let all_returned =
                streams.is_empty() && tunnels.as_ref().is_none_or(FuturesUnordered::is_empty);
            if over && all_returned && (s.gone || !s.conn.has_output()) {
                return Poll::Ready(());
            }

            // 7. The idle timer.
            if s.conn.is_idle() && !over {
                if !idle_armed {
                    idle.as_mut()
                        .reset(Instant::now() + config.keep_alive_timeout);
                    idle_armed = true;
                }
                if idle.as_mut().poll(cx).is_ready() {
                    s.conn.go_away(ErrorCode::NoError, "idle");
                    progressed = true;
                    idle_armed = false;
                }
            } else {
                idle_armed = false;
            }
            if !progressed {
                return Poll::Pending;
            }
        }
        // Much work in a row: let other connections run, and come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
    if ending == Ending::Closed {
        writer.shutdown().await;
        // What the client sent after the GOAWAY is read and dropped a while: closing with it
        // unread would reset the connection, and the GOAWAY with it, before the client reads.
        if !read.is_eof() {
            read.linger(LINGER_BYTES, LINGER_TIME).await;
        }
    }
    ending
}

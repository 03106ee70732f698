//! A server's side of one HTTP/2 connection (RFC 9113), sans-io: bytes in
//! ([`ServerConnection::receive`]), [`Event`]s out for the driver, the driver's sends in, and
//! the bytes to write out ([`ServerConnection::output`]).
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | the connection's state: settings, the streams' table, windows, output |
//! | `recv.rs` | each frame received, by type: the preface, SETTINGS, HEADERS, DATA, ... |
//! | `send.rs` | what the server sends on a stream: a response's head, its body within the windows, trailers, resets |
//! | `limits.rs` | what a peer may make the server spend, each a named limit |
//!
//! The rules it keeps: every frame goes through the stream table's one transition function
//! ([`crate::stream::transition`]); every error is written as the RFC names it (RST_STREAM for
//! a stream error, GOAWAY for a connection error, after which nothing more is read); a stream
//! stays in the table, counted against the concurrency limit, until both the protocol and
//! the driver are done with it; and nothing is buffered beyond the windows the server
//! announced.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes};

use crate::block::BlockAssembler;
use crate::flow::Window;
use crate::frame::{
    write_goaway, write_ping, write_settings, write_window_update, ErrorCode, FrameError,
    DEFAULT_MAX_FRAME_SIZE, MAX_WINDOW,
};
use crate::hpack::{Decoder, Encoder, Field, DEFAULT_TABLE_SIZE};
use crate::request::RequestHead;
use crate::settings::Settings;
use crate::stream::{ClosedBy, State, StreamMap};

mod limits;
mod recv;
mod send;

pub use limits::{
    IDLE_FRAME_BUDGET, PEER_RESET_BUDGET, PROVOKED_RESET_BUDGET, SMALL_DATA, WORK_BYTES,
};
pub use send::{StreamGone, SHARED_PAYLOAD};

/// The client's connection preface (§3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The opaque data of the PING sent with a graceful shutdown's first GOAWAY.
const SHUTDOWN_PING: [u8; 8] = *b"rasgi-gw";

/// How many closed streams are remembered, so that a late frame on one is told from a frame
/// on a stream never opened.
const REMEMBERED_CLOSED: usize = 256;

/// What the server announces and keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// SETTINGS_MAX_CONCURRENT_STREAMS: more open streams are refused (REFUSED_STREAM).
    pub max_concurrent_streams: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE: a larger request head is answered 431.
    pub max_header_list_size: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE: how much of each request body may arrive unread.
    pub initial_stream_window: u32,
    /// How much of all request bodies together may arrive unread.
    pub initial_connection_window: u32,
    /// SETTINGS_MAX_FRAME_SIZE.
    pub max_frame_size: u32,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): extended CONNECT is accepted.
    pub enable_connect_protocol: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_concurrent_streams: 200,
            max_header_list_size: 16 * 1024,
            initial_stream_window: 1024 * 1024,
            initial_connection_window: 1024 * 1024,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            enable_connect_protocol: false,
        }
    }
}

/// What the driver is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A request: a new stream, for the app. `end_stream`: it has no body.
    Request {
        /// The stream.
        stream_id: u32,
        /// Its head, checked by the rules of §8.
        head: RequestHead,
        /// No body follows.
        end_stream: bool,
    },
    /// Request body bytes (the driver gives them back with [`ServerConnection::release`] once
    /// the app has taken them).
    Data {
        /// The stream.
        stream_id: u32,
        /// The bytes.
        data: Bytes,
        /// The body is complete.
        end_stream: bool,
    },
    /// The request's trailers: its body is complete.
    Trailers {
        /// The stream.
        stream_id: u32,
        /// The fields.
        fields: Vec<Field>,
    },
    /// The stream was reset, by the peer or for an error: its app is told the client left.
    Reset {
        /// The stream.
        stream_id: u32,
        /// The code.
        code: ErrorCode,
    },
    /// A send window opened: senders waiting for one may go on.
    WindowOpened,
    /// The peer is going away: no new stream will come.
    GoAway {
        /// The last stream it says it processed.
        last_stream_id: u32,
        /// Why.
        code: ErrorCode,
    },
}

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the client's preface.
    Preface,
    /// The preface came; its first frame must be SETTINGS.
    FirstSettings,
    /// Serving.
    Open,
    /// A connection error was sent (or the peer's GOAWAY with an error came): nothing more is
    /// read.
    Failed,
}

/// One stream in the table.
#[derive(Debug)]
struct Stream {
    state: State,
    /// What the server may still send.
    send_window: Window,
    /// What the peer may still send.
    recv_window: Window,
    /// Bytes the app has taken and not yet given back to the peer.
    unacked: u32,
    /// `content-length`, when the request sent one.
    content_length: Option<u64>,
    /// Body bytes received.
    received: u64,
    /// A HEAD request: the response has no body whatever the app sends.
    head: bool,
    /// An extended CONNECT (RFC 8441): its DATA is another protocol's frames, each of them
    /// work for the app however small.
    tunnel: bool,
    /// The response's head went out (a final status).
    responded: bool,
    /// The driver is done with the stream (its app returned).
    finished: bool,
}

/// A server's side of one HTTP/2 connection.
#[derive(Debug)]
pub struct ServerConnection {
    config: Config,
    phase: Phase,
    /// The peer's settings, as applied.
    peer: Settings,
    decoder: Decoder,
    encoder: Encoder,
    blocks: BlockAssembler,
    /// The open header block's HEADERS made its stream depend on itself (§5.3.1): the block is
    /// decoded all the same, keeping the HPACK tables in step, and the stream is then reset.
    block_self_dependent: bool,
    streams: StreamMap<Stream>,
    /// Streams closed lately, newest last, with how they closed.
    closed: VecDeque<(u32, ClosedBy)>,
    /// The highest stream the peer opened.
    last_peer_stream: u32,
    /// A final GOAWAY went out naming this stream: later streams are ignored.
    goaway_last: Option<u32>,
    /// A graceful shutdown's first GOAWAY went out; the second follows its PING's answer.
    draining: bool,
    /// The peer sent GOAWAY.
    peer_going_away: bool,
    send_window: Window,
    recv_window: Window,
    /// Bytes of the connection's window taken and not yet given back.
    unacked: u32,
    budgets: limits::Budgets,
    events: VecDeque<Event>,
    window_opened: bool,
    /// Output pieces ahead of `out`: large DATA payloads kept as the app's own buffers, and
    /// what was in `out` before each.
    ahead: VecDeque<Bytes>,
    /// The output's tail: frames written in place.
    out: Vec<u8>,
    /// Of `out`, the bytes already written (none while `ahead` holds anything).
    written: usize,
    /// Every byte ever queued, and every byte ever written: a driver waits for a position.
    queued_total: u64,
    written_total: u64,
}

impl ServerConnection {
    /// A connection that has not read the preface yet. The server's SETTINGS (and the
    /// connection window's increase past its default) are queued at once: a server may send
    /// them before it has read anything (§3.4).
    pub fn new(config: Config) -> ServerConnection {
        let ours = Settings {
            header_table_size: DEFAULT_TABLE_SIZE as u32,
            // A client never pushes: the setting is left at its default, unannounced.
            enable_push: true,
            max_concurrent_streams: Some(config.max_concurrent_streams),
            initial_window_size: config.initial_stream_window.min(MAX_WINDOW),
            max_frame_size: config.max_frame_size,
            max_header_list_size: Some(config.max_header_list_size),
            enable_connect_protocol: config.enable_connect_protocol,
        };
        let connection_window = config
            .initial_connection_window
            .clamp(crate::flow::DEFAULT_WINDOW, MAX_WINDOW);
        let mut out = Vec::with_capacity(64);
        write_settings(&mut out, &ours.announced());
        if connection_window > crate::flow::DEFAULT_WINDOW {
            write_window_update(&mut out, 0, connection_window - crate::flow::DEFAULT_WINDOW);
        }
        // A list past the limit is answered 431; one far past it (an encoded block four times
        // the limit) is abuse: the assembler refuses it before decoding.
        let max_list = config.max_header_list_size as usize;
        ServerConnection {
            config,
            phase: Phase::Preface,
            peer: Settings::default(),
            decoder: Decoder::new(DEFAULT_TABLE_SIZE).with_max_header_list_size(max_list),
            encoder: Encoder::new(DEFAULT_TABLE_SIZE).skip_one_off_values(),
            blocks: BlockAssembler::new(max_list.saturating_mul(4).max(4096)),
            block_self_dependent: false,
            streams: StreamMap::default(),
            closed: VecDeque::new(),
            last_peer_stream: 0,
            goaway_last: None,
            draining: false,
            peer_going_away: false,
            send_window: Window::new(crate::flow::DEFAULT_WINDOW),
            recv_window: Window::new(connection_window),
            unacked: 0,
            budgets: limits::Budgets::default(),
            events: VecDeque::new(),
            window_opened: false,
            queued_total: out.len() as u64,
            ahead: VecDeque::new(),
            out,
            written: 0,
            written_total: 0,
        }
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        std::mem::take(&mut self.window_opened).then_some(Event::WindowOpened)
    }

    /// Whether a connection error ended the connection (or the peer's did): the driver writes
    /// what is queued, then closes.
    pub fn is_failed(&self) -> bool {
        self.phase == Phase::Failed
    }

    /// Whether the connection has nothing more to do: it failed, or it is going away (either
    /// side said so) and no stream is left.
    pub fn is_done(&self) -> bool {
        self.is_failed()
            || ((self.goaway_last.is_some() || self.peer_going_away) && self.streams.is_empty())
    }

    /// Whether no stream is open (the keep-alive timeout runs).
    pub fn is_idle(&self) -> bool {
        self.streams.is_empty()
    }

    /// The streams in the table.
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// The oldest bytes queued for the peer and not yet written (all of them unless a large
    /// DATA payload is queued as it is): write them, say how many went with
    /// [`ServerConnection::wrote`], and go on while [`ServerConnection::has_output`].
    pub fn output(&self) -> &[u8] {
        match self.ahead.front() {
            Some(piece) => piece,
            None => &self.out[self.written..],
        }
    }

    /// The waiting bytes when they are all in one piece (the common case: a write needs no
    /// slices then).
    pub fn output_whole(&self) -> Option<&[u8]> {
        self.ahead.is_empty().then(|| &self.out[self.written..])
    }

    /// Whether bytes wait to be written.
    pub fn has_output(&self) -> bool {
        self.queued_total > self.written_total
    }

    /// How many bytes wait to be written.
    pub fn output_len(&self) -> usize {
        (self.queued_total - self.written_total) as usize
    }

    /// Fill `slices` with the waiting bytes, oldest first, for one vectored write; returns
    /// how many were filled.
    pub fn output_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let tail = &self.out[self.written..];
        let pieces = self.ahead.iter().map(|piece| &piece[..]).chain([tail]);
        let mut used = 0;
        for (slot, piece) in slices.iter_mut().zip(pieces.filter(|p| !p.is_empty())) {
            *slot = IoSlice::new(piece);
            used += 1;
        }
        used
    }

    /// `n` bytes of the output were written, oldest first.
    pub fn wrote(&mut self, mut n: usize) {
        self.written_total += n as u64;
        while n > 0 {
            let Some(front) = self.ahead.front_mut() else {
                self.written += n;
                break;
            };
            let taken = n.min(front.len());
            front.advance(taken);
            n -= taken;
            if front.is_empty() {
                self.ahead.pop_front();
            }
        }
        if self.ahead.is_empty() && self.written >= self.out.len() {
            self.out.clear();
            self.written = 0;
        }
    }

    /// Every byte queued so far, counted from the connection's start: once
    /// [`ServerConnection::written_total`] reaches a stream's position, what it sent is out.
    pub fn queued_total(&self) -> u64 {
        self.queued_total
    }

    /// Every byte written so far.
    pub fn written_total(&self) -> u64 {
        self.written_total
    }

    /// Begin a graceful shutdown (§6.8): GOAWAY naming the highest stream id, and a PING. When
    /// its answer comes (every stream the peer had begun has arrived), a second GOAWAY names
    /// the last stream taken; streams in flight finish.
    pub fn shut_down_gracefully(&mut self) {
        if self.draining || self.goaway_last.is_some() || self.phase == Phase::Failed {
            return;
        }
        self.draining = true;
        self.queue(|out| {
            write_goaway(out, MAX_WINDOW, ErrorCode::NoError, b"");
            write_ping(out, SHUTDOWN_PING, false);
        });
    }

    /// Stop at once with GOAWAY naming the last stream taken: `NoError` for an idle connection
    /// timing out, or the code of a failure.
    pub fn go_away(&mut self, code: ErrorCode, reason: &str) {
        if self.phase == Phase::Failed || (self.goaway_last.is_some() && code == ErrorCode::NoError)
        {
            return;
        }
        let last = self.last_peer_stream;
        self.goaway_last = Some(last);
        self.queue(|out| write_goaway(out, last, code, reason.as_bytes()));
        if code != ErrorCode::NoError {
            self.phase = Phase::Failed;
        }
    }

    /// Append `piece` to the output as it is, not copied.
    fn queue_shared(&mut self, piece: Bytes) {
        /// What waits in `out` up to this size is copied ahead of the piece (its buffer kept);
        /// more is handed over whole.
        const COPIED: usize = 1024;
        let tail = &self.out[self.written..];
        if !tail.is_empty() {
            let tail = if tail.len() <= COPIED {
                Bytes::copy_from_slice(tail)
            } else {
                Bytes::from(std::mem::take(&mut self.out)).slice(self.written..)
            };
            self.ahead.push_back(tail);
        }
        self.out.clear();
        self.written = 0;
        self.queued_total += piece.len() as u64;
        self.ahead.push_back(piece);
    }

    /// Append to the output, counting it.
    fn queue(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let before = self.out.len();
        write(&mut self.out);
        self.queued_total += (self.out.len() - before) as u64;
    }

    /// A connection error: GOAWAY with its code, and nothing more read.
    fn fail(&mut self, error: FrameError) -> FrameError {
        if self.phase != Phase::Failed {
            let last = self.last_peer_stream;
            self.goaway_last = Some(last);
            self.queue(|out| write_goaway(out, last, error.code, error.reason.as_bytes()));
            self.phase = Phase::Failed;
        }
        error
    }

    /// A stream leaves the table: it is remembered as closed a while.
    fn forget(&mut self, id: u32, how: ClosedBy) {
        self.streams.remove(&id);
        if self.closed.len() == REMEMBERED_CLOSED {
            self.closed.pop_front();
        }
        self.closed.push_back((id, how));
    }

    /// How a stream no longer in the table closed, if it is remembered.
    fn closed_how(&self, id: u32) -> Option<ClosedBy> {
        self.closed
            .iter()
            .rev()
            .find(|(closed, _)| *closed == id)
            .map(|(_, how)| *how)
    }
}

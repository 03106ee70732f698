//! What the server sends on a stream. The rules: a response's head is one header block
//! (informational heads before it, trailers after its body); its body goes out only within
//! the stream's and the connection's send windows, in frames no larger than the peer's
//! SETTINGS_MAX_FRAME_SIZE, and never for HEAD (§8.1, RFC 9110 §9.3.2); the fields HTTP/2
//! forbids (§8.2.2) are left out and names are sent lowercase; and a stream the driver is
//! done with leaves the table, reset if it is not complete.

use std::borrow::Cow;

use super::{ServerConnection, State};
use bytes::Bytes;

use crate::frame::{write_data, write_data_header, write_headers, write_rst_stream, ErrorCode};
use crate::stream::{transition, ClosedBy, Event as StreamEvent, Outcome};

/// DATA payloads at least this large are queued as the caller's own buffers by
/// [`ServerConnection::send_shared_data`]: a copy of them costs more than the piece of
/// bookkeeping that saves it.
pub const SHARED_PAYLOAD: usize = 4 * 1024;

/// The most room a thread keeps for encoding its next header block.
const KEPT_BLOCK_BYTES: usize = 1024;

thread_local! {
    /// The buffer header blocks are encoded in, kept from one block to the next (an idle
    /// connection holds none).
    static BLOCK: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The stream is gone (reset, or closed): nothing more can be sent on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the stream is closed")]
pub struct StreamGone;

/// Fields that belong to one connection's hop and are never sent in HTTP/2 (§8.2.2).
fn connection_specific(name: &[u8]) -> bool {
    [
        &b"connection"[..],
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"upgrade",
    ]
    .iter()
    .any(|forbidden| name.eq_ignore_ascii_case(forbidden))
}

impl ServerConnection {
    /// A response's head (or an informational one, 1xx, which any number may precede the
    /// final one). `end_stream`: the response has no body.
    pub fn send_response<'a>(
        &mut self,
        id: u32,
        status: u16,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        end_stream: bool,
    ) -> Result<(), StreamGone> {
        let informational = (100..200).contains(&status);
        let end_stream = end_stream && !informational;
        let state = self.sendable(id, end_stream)?;
        let digits = [
            b'0' + (status / 100 % 10) as u8,
            b'0' + (status / 10 % 10) as u8,
            b'0' + (status % 10) as u8,
        ];
        let fields = fields
            .into_iter()
            .filter(|(name, _)| !connection_specific(name))
            .map(|(name, value)| {
                let name = if name.iter().any(u8::is_ascii_uppercase) {
                    Cow::Owned(name.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(name)
                };
                (name, value)
            });
        self.send_block(id, Some(&digits), fields, end_stream);
        let stream = self.streams.get_mut(&id).expect("checked by sendable");
        stream.state = state;
        if !informational {
            stream.responded = true;
        }
        if end_stream {
            self.budgets.response_complete();
        }
        Ok(())
    }

    /// The response's trailers, which end it.
    pub fn send_trailers<'a>(
        &mut self,
        id: u32,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Result<(), StreamGone> {
        let state = self.sendable(id, true)?;
        let fields = fields
            .into_iter()
            .filter(|(name, _)| !connection_specific(name))
            .map(|(name, value)| (Cow::Owned(name.to_ascii_lowercase()), value));
        self.send_block(id, None, fields, true);
        self.streams.get_mut(&id).expect("checked").state = state;
        self.budgets.response_complete();
        Ok(())
    }

    /// Encode a header block into the thread's block buffer and queue it in HEADERS and
    /// CONTINUATION frames.
    fn send_block<'a>(
        &mut self,
        id: u32,
        status: Option<&'a [u8; 3]>,
        fields: impl Iterator<Item = (Cow<'a, [u8]>, &'a [u8])>,
        end_stream: bool,
    ) {
        let mut block = BLOCK.take();
        block.clear();
        let status = status.map(|digits| (Cow::Borrowed(&b":status"[..]), &digits[..]));
        self.encoder
            .encode(status.into_iter().chain(fields), &mut block);
        let max = self.peer.max_frame_size as usize;
        self.queue(|out| write_headers(out, id, &block, end_stream, max));
        // A buffer grown by an unusually large block is let go, not kept for the thread's life.
        if block.capacity() <= KEPT_BLOCK_BYTES {
            BLOCK.set(block);
        }
    }

    /// The state after sending on stream `id`, if it can be sent on.
    fn sendable(&self, id: u32, end_stream: bool) -> Result<State, StreamGone> {
        if self.is_failed() {
            return Err(StreamGone);
        }
        let stream = self.streams.get(&id).ok_or(StreamGone)?;
        match transition(stream.state, StreamEvent::Send { end_stream }, id) {
            Ok(Outcome::Now(state)) => Ok(state),
            _ => Err(StreamGone),
        }
    }

    /// How many body bytes stream `id` may send now: the smaller of its window and the
    /// connection's.
    pub fn send_capacity(&self, id: u32) -> usize {
        match self.streams.get(&id) {
            Some(stream) if stream.head => usize::MAX,
            Some(stream) => stream
                .send_window
                .available()
                .min(self.send_window.available()) as usize,
            None => 0,
        }
    }

    /// Send what the windows allow of `data` on stream `id`; the count taken is returned (0
    /// while the windows are shut: [`super::Event::WindowOpened`] tells when to try again).
    /// `end_stream` ends the body once all of `data` is taken. For a HEAD request the bytes
    /// are taken and dropped.
    pub fn send_data(
        &mut self,
        id: u32,
        data: &[u8],
        end_stream: bool,
    ) -> Result<usize, StreamGone> {
        self.send_data_from(id, data, None, end_stream)
    }

    /// [`ServerConnection::send_data`] for bytes the caller holds as [`Bytes`]: payloads of
    /// at least [`SHARED_PAYLOAD`] octets are queued as they are, not copied.
    pub fn send_shared_data(
        &mut self,
        id: u32,
        data: &Bytes,
        end_stream: bool,
    ) -> Result<usize, StreamGone> {
        self.send_data_from(id, data, Some(data), end_stream)
    }

    /// `data`, and the same bytes as `shared` when the caller has them so.
    fn send_data_from(
        &mut self,
        id: u32,
        data: &[u8],
        shared: Option<&Bytes>,
        end_stream: bool,
    ) -> Result<usize, StreamGone> {
        let room = self.send_capacity(id);
        let stream = self.streams.get(&id).ok_or(StreamGone)?;
        let head = stream.head;
        let taken = data.len().min(room);
        let end = end_stream && taken == data.len();
        if taken == 0 && !end {
            // Nothing to send yet (or nothing at all): the stream must still be open.
            self.sendable(id, false)?;
            return Ok(0);
        }
        let state = self.sendable(id, end)?;
        let max = self.peer.max_frame_size as usize;
        let sent = if head { &[][..] } else { &data[..taken] };
        match shared {
            Some(shared) if sent.len() >= SHARED_PAYLOAD => {
                let mut at = 0;
                while at < sent.len() {
                    let len = max.min(sent.len() - at);
                    let last = end && at + len == sent.len();
                    self.queue(|out| write_data_header(out, id, len, last));
                    if len >= SHARED_PAYLOAD {
                        self.queue_shared(shared.slice(at..at + len));
                    } else {
                        self.queue(|out| out.extend_from_slice(&sent[at..at + len]));
                    }
                    at += len;
                }
            }
            _ => self.queue(|out| {
                if sent.is_empty() {
                    if end {
                        write_data(out, id, &[], true);
                    }
                    return;
                }
                let mut pieces = sent.chunks(max).peekable();
                while let Some(piece) = pieces.next() {
                    write_data(out, id, piece, end && pieces.peek().is_none());
                }
            }),
        }
        let stream = self.streams.get_mut(&id).expect("checked above");
        stream.send_window.send(sent.len() as u32);
        stream.state = state;
        self.send_window.send(sent.len() as u32);
        self.budgets.moved(sent.len());
        if end {
            self.budgets.response_complete();
        }
        Ok(taken)
    }

    /// Reset stream `id` (the app failed mid-response, or the peer stopped reading it).
    pub fn reset(&mut self, id: u32, code: ErrorCode) {
        if self.is_failed() {
            return;
        }
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        if matches!(stream.state, State::Closed(_)) {
            return;
        }
        stream.state = State::Closed(ClosedBy::OurReset);
        let finished = stream.finished;
        self.queue(|out| write_rst_stream(out, id, code));
        if finished {
            self.forget(id, ClosedBy::OurReset);
        }
    }

    /// The driver is done with stream `id`: it leaves the table. A response not complete is
    /// reset (INTERNAL_ERROR); a complete one whose request is still coming asks the peer to
    /// stop sending it (RST_STREAM NO_ERROR, §8.1).
    pub fn finish(&mut self, id: u32) {
        if self.is_failed() {
            self.streams.remove(&id);
            return;
        }
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        stream.finished = true;
        match stream.state {
            State::Closed(how) => self.forget(id, how),
            State::HalfClosedLocal => {
                self.queue(|out| write_rst_stream(out, id, ErrorCode::NoError));
                self.forget(id, ClosedBy::OurReset);
            }
            State::Open | State::HalfClosedRemote | State::Idle => {
                self.queue(|out| write_rst_stream(out, id, ErrorCode::InternalError));
                self.forget(id, ClosedBy::OurReset);
            }
        }
    }

    /// Whether stream `id` is still in the table and not closed (its app may send on it).
    pub fn is_open(&self, id: u32) -> bool {
        self.streams
            .get(&id)
            .is_some_and(|stream| !matches!(stream.state, State::Closed(_)))
    }
}

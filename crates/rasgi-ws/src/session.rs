//! [`Session`]: one WebSocket connection after the handshake, as a state machine over bytes.
//!
//! Bytes read go in through [`Session::read`], which hands back whole messages, answers pings,
//! answers a close, and fails the connection at the first broken rule (a close frame with the
//! rule's code is queued and nothing more is read). What the app sends goes in through
//! [`Session::send`] and [`Session::close`]; the frames wait in the output until the transport
//! has written them ([`Session::output`], [`Session::wrote`]).
//!
//! | phase | reading | sending |
//! | --- | --- | --- |
//! | open | messages, pings (answered), pongs, a close (answered, then closed) | anything |
//! | close sent | only a close matters (messages are dropped) | refused |
//! | closed (close both ways, or failed) | nothing | refused |

use std::hash::{BuildHasher, Hasher};
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};
use rasgi_output::{Output, QUEUE_AS_IS_BYTES};

use crate::deflate::{Deflate, DeflateParams};
use crate::error::close_code;
use crate::frame::{apply_mask, parse_head, write_head, OpCode, MAX_CONTROL_PAYLOAD};
use crate::utf8::Utf8Check;
use crate::Error;

/// Which end of the connection this is: a server reads masked frames and writes unmasked ones,
/// a client the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The server's end.
    Server,
    /// The client's end (for tests and load clients).
    Client,
}

/// A session's settings.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Largest message accepted, in bytes (after inflating); a larger one fails with 1009.
    pub max_message_bytes: usize,
    /// permessage-deflate, as negotiated; `None` without it.
    pub deflate: Option<DeflateParams>,
}

/// A whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// A text message: the bytes are valid UTF-8.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
}

/// What [`Session::read`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A whole message.
    Message(Data),
    /// A ping; its pong is queued.
    Ping,
    /// A pong (to a ping of ours, or unsolicited).
    Pong(Bytes),
    /// The peer's close frame. The answer is queued unless this side closed first; the
    /// session is closed either way.
    Close(CloseFrame),
}

/// A close frame's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The code; 1005 when the frame carried none.
    pub code: u16,
    /// The reason, possibly empty.
    pub reason: String,
}

/// Why a send was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// A close has been sent (or the connection failed): nothing more may follow it.
    #[error("the WebSocket is closed")]
    Closed,
    /// A close code that may not be sent.
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
    /// A close reason over 123 bytes, or a ping payload over 125.
    #[error("control frame payload over 125 bytes")]
    ControlTooLong,
}

/// A message being put together from its fragments.
#[derive(Debug)]
struct Partial {
    text: bool,
    compressed: bool,
    payload: BytesMut,
    utf8: Utf8Check,
}

/// One WebSocket connection's protocol state.
#[derive(Debug)]
pub struct Session {
    role: Role,
    max_message_bytes: usize,
    deflate: Option<Box<Deflate>>,
    partial: Option<Partial>,
    /// The frames waiting to be written: small ones copied, a server's large payloads queued as
    /// the app's own buffers (a server's frames are not masked, so a large payload is never
    /// copied).
    output: Output,
    close_sent: bool,
    close_received: Option<CloseFrame>,
    failed: Option<Error>,
    mask_state: u64,
}

impl Session {
    /// A session for the connection's `role`, just after the handshake.
    pub fn new(role: Role, config: Config) -> Session {
        let mask_state = match role {
            Role::Server => 0,
            Role::Client => {
                std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish()
                    | 1
            }
        };
        Session {
            role,
            max_message_bytes: config.max_message_bytes,
            deflate: config.deflate.map(|params| Box::new(Deflate::new(params))),
            partial: None,
            output: Output::default(),
            close_sent: false,
            close_received: None,
            failed: None,
            mask_state,
        }
    }

    /// Read what `buf` holds: the next message or control frame, or `Ok(None)` when more bytes
    /// are needed (or the session reads no more). Used bytes are taken off `buf`.
    pub fn read(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, Error> {
        match self.read_whole_small_message(buf) {
            Some(Ok(data)) => return Ok(Some(Incoming::Message(data))),
            Some(Err(error)) => {
                self.fail(error);
                return Err(error);
            }
            None => {}
        }
        loop {
            if self.close_received.is_some() || self.failed.is_some() {
                return Ok(None);
            }
            match self.read_frame(buf) {
                Ok(Some(Some(incoming))) => return Ok(Some(incoming)),
                Ok(Some(None)) => continue,
                Ok(None) => return Ok(None),
                Err(error) => {
                    self.fail(error);
                    return Err(error);
                }
            }
        }
    }

    /// The common frame, read without the general rules' work: a client's whole message in one
    /// small frame (FIN, no RSV bit, text or binary, masked, under 126 bytes), all in the buffer,
    /// while the session is open and no message is being put together. `None` for anything
    /// else, which [`Session::read_frame`] then reads (and judges) as usual; text that is not
    /// UTF-8 fails here as it would there (1007).
    #[inline]
    fn read_whole_small_message(&mut self, buf: &mut BytesMut) -> Option<Result<Data, Error>> {
        const TEXT: u8 = 0x80 | 0x1;
        const BINARY: u8 = 0x80 | 0x2;
        const HEAD_LEN: usize = 2 + 4;
        let [first @ (TEXT | BINARY), second, k0, k1, k2, k3, ..] = buf[..] else {
            return None;
        };
        let len = usize::from(second & 0x7F);
        let plain = self.role == Role::Server
            && second & 0x80 != 0
            && len < 126
            && buf.len() >= HEAD_LEN + len
            && len <= self.max_message_bytes
            && self.partial.is_none()
            && !self.close_sent
            && self.close_received.is_none()
            && self.failed.is_none();
        if !plain {
            return None;
        }
        let mut payload = buf.split_to(HEAD_LEN + len);
        payload.advance(HEAD_LEN);
        apply_mask(&mut payload, [k0, k1, k2, k3], 0);
        let payload = payload.freeze();
        Some(if first == BINARY {
            Ok(Data::Binary(payload))
        } else if std::str::from_utf8(&payload).is_ok() {
            Ok(Data::Text(payload))
        } else {
            Err(Error::InvalidUtf8)
        })
    }

    /// One frame: `Ok(None)` for more bytes, `Ok(Some(None))` for a frame that made no event.
    fn read_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Option<Incoming>>, Error> {
        let masked = self.role == Role::Server;
        let Some(head) = parse_head(buf, masked, self.deflate.is_some())? else {
            return Ok(None);
        };
        if !head.opcode.is_control() {
            let sofar = self.partial.as_ref().map_or(0, |p| p.payload.len());
            if sofar as u64 + head.payload_len > self.max_message_bytes as u64 {
                return Err(Error::TooBig);
            }
        }
        // The whole frame is in the buffer: the bound above keeps the wait finite.
        let total = head.head_len + head.payload_len as usize;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        let mut payload = buf.split_to(total);
        payload.advance(head.head_len);
        if let Some(key) = head.mask {
            apply_mask(&mut payload, key, 0);
        }
        if head.rsv1 && !matches!(head.opcode, OpCode::Text | OpCode::Binary) {
            return Err(Error::CompressedFragment);
        }
        let closing = self.close_sent;
        match head.opcode {
            OpCode::Ping => {
                if closing {
                    return Ok(Some(None));
                }
                self.write_frame(OpCode::Pong, false, &payload);
                Ok(Some(Some(Incoming::Ping)))
            }
            OpCode::Pong => Ok(Some(Some(Incoming::Pong(payload.freeze())))),
            OpCode::Close => {
                let frame = parse_close(&payload)?;
                if !self.close_sent {
                    // Echo the code (none for none), as RFC 6455 §5.5.1 suggests.
                    let echo = if frame.code == close_code::NO_STATUS {
                        Vec::new()
                    } else {
                        frame.code.to_be_bytes().to_vec()
                    };
                    self.write_frame(OpCode::Close, false, &echo);
                    self.close_sent = true;
                }
                self.close_received = Some(frame.clone());
                Ok(Some(Some(Incoming::Close(frame))))
            }
            OpCode::Text | OpCode::Binary => {
                if self.partial.is_some() {
                    return Err(Error::MessageNotEnded);
                }
                let text = head.opcode == OpCode::Text;
                // The common case, a whole uncompressed message in one frame: no assembly.
                if head.fin && !head.rsv1 {
                    if text && std::str::from_utf8(&payload).is_err() {
                        return Err(Error::InvalidUtf8);
                    }
                    if closing {
                        return Ok(Some(None));
                    }
                    let payload = payload.freeze();
                    return Ok(Some(Some(Incoming::Message(if text {
                        Data::Text(payload)
                    } else {
                        Data::Binary(payload)
                    }))));
                }
                let mut partial = Partial {
                    text,
                    compressed: head.rsv1,
                    payload,
                    utf8: Utf8Check::default(),
                };
                if text && !partial.compressed && !partial.utf8.feed(&partial.payload) {
                    return Err(Error::InvalidUtf8);
                }
                if head.fin {
                    return self.finish(partial, closing);
                }
                self.partial = Some(partial);
                Ok(Some(None))
            }
            OpCode::Continuation => {
                let Some(partial) = self.partial.as_mut() else {
                    return Err(Error::UnexpectedContinuation);
                };
                if partial.text && !partial.compressed && !partial.utf8.feed(&payload) {
                    return Err(Error::InvalidUtf8);
                }
                partial.payload.unsplit(payload);
                if head.fin {
                    let partial = self.partial.take().expect("a message in progress");
                    return self.finish(partial, closing);
                }
                Ok(Some(None))
            }
        }
    }

    /// A message's last frame arrived.
    fn finish(
        &mut self,
        mut partial: Partial,
        closing: bool,
    ) -> Result<Option<Option<Incoming>>, Error> {
        let payload = if partial.compressed {
            let deflate = self.deflate.as_mut().ok_or(Error::ReservedBits)?;
            let inflated = deflate.decompress(&partial.payload, self.max_message_bytes)?;
            if partial.text && std::str::from_utf8(&inflated).is_err() {
                return Err(Error::InvalidUtf8);
            }
            inflated
        } else {
            if partial.text && !partial.utf8.finish() {
                return Err(Error::InvalidUtf8);
            }
            partial.payload.freeze()
        };
        if closing {
            return Ok(Some(None));
        }
        Ok(Some(Some(Incoming::Message(if partial.text {
            Data::Text(payload)
        } else {
            Data::Binary(payload)
        }))))
    }

    /// Fail the connection: queue a close with the error's code, read nothing more.
    fn fail(&mut self, error: Error) {
        self.failed = Some(error);
        self.partial = None;
        if !self.close_sent {
            self.write_frame(OpCode::Close, false, &error.close_code().to_be_bytes());
            self.close_sent = true;
        }
    }

    /// Queue a message (compressed when permessage-deflate was negotiated).
    pub fn send(&mut self, data: &Data) -> Result<(), SendError> {
        match data {
            Data::Text(bytes) => self.send_payload(true, bytes),
            Data::Binary(bytes) => self.send_payload(false, bytes),
        }
    }

    /// Queue a message from its payload: text (`text`; the caller vouches that it is UTF-8) or
    /// binary. [`Session::send`] without building a [`Data`].
    pub fn send_payload(&mut self, text: bool, payload: &Bytes) -> Result<(), SendError> {
        if self.close_sent {
            return Err(SendError::Closed);
        }
        let opcode = if text { OpCode::Text } else { OpCode::Binary };
        match self.deflate.as_mut() {
            Some(deflate) => {
                let compressed = deflate.compress(payload);
                self.write_frame(opcode, true, &compressed);
            }
            None if self.role == Role::Server && payload.len() >= QUEUE_AS_IS_BYTES => {
                write_head(self.output.buf(), true, false, opcode, payload.len(), None);
                self.output.put_body(payload.clone());
            }
            None => self.write_frame(opcode, false, payload),
        }
        Ok(())
    }

    /// Queue a ping.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        if self.close_sent {
            return Err(SendError::Closed);
        }
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlTooLong);
        }
        self.write_frame(OpCode::Ping, false, payload);
        Ok(())
    }

    /// Begin the closing handshake (or answer nothing more, if the peer began it): queue a
    /// close frame with `code` and `reason`.
    pub fn close(&mut self, code: u16, reason: &str) -> Result<(), SendError> {
        if self.close_sent {
            return Err(SendError::Closed);
        }
        if !close_code::is_sendable(code) {
            return Err(SendError::InvalidCloseCode(code));
        }
        if reason.len() > MAX_CONTROL_PAYLOAD - 2 {
            return Err(SendError::ControlTooLong);
        }
        let mut payload = Vec::with_capacity(2 + reason.len());
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(reason.as_bytes());
        self.write_frame(OpCode::Close, false, &payload);
        self.close_sent = true;
        self.partial = None;
        Ok(())
    }

    fn write_frame(&mut self, opcode: OpCode, rsv1: bool, payload: &[u8]) {
        let mask = match self.role {
            Role::Server => None,
            Role::Client => Some(self.next_mask()),
        };
        let out = self.output.buf();
        write_head(out, true, rsv1, opcode, payload.len(), mask);
        let start = out.len();
        out.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut out[start..], key, 0);
        }
    }

    fn next_mask(&mut self) -> [u8; 4] {
        // xorshift64*: masks need to be unpredictable to intermediaries, not cryptographic.
        let mut x = self.mask_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.mask_state = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32).to_le_bytes()[..4]
            .try_into()
            .expect("four bytes")
    }

    /// Whether the closing handshake is over (a close each way) or the connection failed: the
    /// transport may close once the output is written.
    pub fn is_closed(&self) -> bool {
        self.failed.is_some() || (self.close_sent && self.close_received.is_some())
    }

    /// Whether a close frame has been queued (by this side, in answer, or on a failure).
    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// The peer's close frame, once it came.
    pub fn close_received(&self) -> Option<&CloseFrame> {
        self.close_received.as_ref()
    }

    /// The rule the peer broke, if it broke one.
    pub fn failure(&self) -> Option<Error> {
        self.failed
    }

    /// Whether frames wait to be written.
    pub fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    /// Bytes waiting to be written.
    pub fn output_len(&self) -> usize {
        self.output.len()
    }

    /// The first contiguous piece of what waits to be written (all of it unless a large
    /// payload is queued): write it, say how much went with [`Session::wrote`], repeat.
    pub fn output(&self) -> &[u8] {
        self.output.front()
    }

    /// All that waits to be written, when it is one piece (no large payload queued): the
    /// usual case, written without building slices.
    pub fn output_contiguous(&self) -> Option<&[u8]> {
        self.output.contiguous()
    }

    /// The output as slices for one vectored write, in order; returns how many were filled.
    pub fn output_slices<'s>(&'s self, slices: &mut [IoSlice<'s>]) -> usize {
        self.output.slices(slices)
    }

    /// The first piece of the output when it is a buffer of its own (a large payload, or
    /// what was queued before one), to hand on without a copy; written like any other, then
    /// said with [`Session::wrote`].
    pub fn output_shared(&self) -> Option<&Bytes> {
        self.output.front_shared()
    }

    /// `n` bytes of the output were written.
    pub fn wrote(&mut self, n: usize) {
        self.output.consume(n);
    }

    /// Take the output's buffer once it is empty (to pool it while the connection is idle).
    pub fn take_output_buffer(&mut self) -> Option<BytesMut> {
        self.output.take_buffer()
    }

    /// Whether the output holds a buffer (else the next frame allocates one).
    pub fn has_output_buffer(&self) -> bool {
        self.output.has_buffer()
    }

    /// Give the output a buffer (an empty one, from a pool) to write into.
    pub fn give_output_buffer(&mut self, buf: BytesMut) {
        self.output.give_buffer(buf);
    }
}

/// A close frame's payload: empty, or a sendable code and a UTF-8 reason.
fn parse_close(payload: &[u8]) -> Result<CloseFrame, Error> {
    match payload {
        [] => Ok(CloseFrame {
            code: close_code::NO_STATUS,
            reason: String::new(),
        }),
        [_] => Err(Error::CloseTooShort),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            if !close_code::is_sendable(code) {
                return Err(Error::InvalidCloseCode(code));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| Error::InvalidUtf8)?;
            Ok(CloseFrame {
                code,
                reason: reason.to_string(),
            })
        }
    }
}

//! Each frame received, by type. The rules: the preface and a first SETTINGS open the
//! connection (§3.4); every frame on a stream goes through the transition table; a header
//! block is always decoded, even for a stream about to be refused, so that the HPACK table
//! stays in step (§4.3); flow control counts every DATA frame, even one that is ignored
//! (§6.9); and whatever costs work without giving any is counted against the limits.

use bytes::{Bytes, BytesMut};

use super::{Event, Phase, ServerConnection, Stream, PREFACE, SHUTDOWN_PING};
use crate::block::Block;
use crate::flow::Window;
use crate::frame::{
    read_frame, write_headers, write_ping, write_rst_stream, write_settings_ack,
    write_window_update, ErrorCode, Frame, FrameError, Setting,
};
use crate::hpack::{DecodeError, Field};
use crate::request::{check_request, check_trailers};
use crate::stream::{transition, ClosedBy, Event as StreamEvent, Outcome, State};

impl ServerConnection {
    /// Take every whole frame at the front of `buf`. A connection error is returned after its
    /// GOAWAY was queued: the driver writes the output and closes. After one, input is
    /// dropped unread.
    pub fn receive(&mut self, buf: &mut BytesMut) -> Result<(), FrameError> {
        if self.phase == Phase::Failed {
            buf.clear();
            return Ok(());
        }
        if self.phase == Phase::Preface {
            let seen = buf.len().min(PREFACE.len());
            if buf[..seen] != PREFACE[..seen] {
                let error = FrameError::connection(
                    ErrorCode::ProtocolError,
                    "the connection did not start with the HTTP/2 preface",
                );
                return Err(self.fail(error));
            }
            if seen < PREFACE.len() {
                return Ok(());
            }
            let _ = buf.split_to(PREFACE.len());
            self.phase = Phase::FirstSettings;
        }
        while self.phase != Phase::Failed {
            let frame = match read_frame(buf, self.config.max_frame_size) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(error) => {
                    self.error(error)?;
                    continue;
                }
            };
            if self.phase == Phase::FirstSettings {
                if !matches!(frame, Frame::Settings { ack: false, .. }) {
                    let error = FrameError::connection(
                        ErrorCode::ProtocolError,
                        "the preface was not followed by SETTINGS",
                    );
                    return Err(self.fail(error));
                }
                self.phase = Phase::Open;
            }
            if let Err(error) = self.frame(frame) {
                self.error(error)?;
            }
        }
        if self.phase == Phase::Failed {
            buf.clear();
        }
        Ok(())
    }

    /// An error met while reading: a stream error resets its stream and reading goes on; a
    /// connection error ends the connection.
    fn error(&mut self, error: FrameError) -> Result<(), FrameError> {
        match error.stream {
            Some(id) => self
                .stream_error(id, error.code)
                .map_err(|calm| self.fail(calm)),
            None => Err(self.fail(error)),
        }
    }

    /// Reset stream `id` for the peer's error (§5.4.2): counted against
    /// [`super::PROVOKED_RESET_BUDGET`].
    pub(super) fn stream_error(&mut self, id: u32, code: ErrorCode) -> Result<(), FrameError> {
        self.queue(|out| write_rst_stream(out, id, code));
        match self.streams.get_mut(&id) {
            Some(stream) if !matches!(stream.state, State::Closed(_)) => {
                stream.state = State::Closed(ClosedBy::OurReset);
                let finished = stream.finished;
                self.events.push_back(Event::Reset {
                    stream_id: id,
                    code,
                });
                if finished {
                    self.forget(id, ClosedBy::OurReset);
                }
            }
            Some(_) => {}
            None => {
                if self.closed_how(id).is_none() {
                    self.remember(id, ClosedBy::OurReset);
                }
            }
        }
        self.budgets.provoked_reset()
    }

    /// Remember a stream that never entered the table as closed.
    fn remember(&mut self, id: u32, how: ClosedBy) {
        self.forget(id, how);
    }

    fn frame(&mut self, frame: Frame) -> Result<(), FrameError> {
        if !matches!(frame, Frame::Continuation { .. }) {
            self.blocks.other_frame()?;
        }
        match frame {
            Frame::Data {
                stream_id,
                end_stream,
                data,
                flow_len,
            } => self.on_data(stream_id, data, flow_len, end_stream),
            Frame::Headers {
                stream_id,
                end_stream,
                end_headers,
                priority,
                fragment,
            } => {
                if fragment.is_empty() && !end_headers {
                    self.budgets.idle_frame()?;
                }
                self.block_self_dependent = priority.is_some_and(|p| p.dependency == stream_id);
                match self
                    .blocks
                    .headers(stream_id, fragment, end_stream, end_headers)?
                {
                    Some(block) => self.on_block(block),
                    None => Ok(()),
                }
            }
            Frame::Continuation {
                stream_id,
                end_headers,
                fragment,
            } => {
                if fragment.is_empty() && !end_headers {
                    self.budgets.idle_frame()?;
                }
                match self
                    .blocks
                    .continuation(stream_id, &fragment, end_headers)?
                {
                    Some(block) => self.on_block(block),
                    None => Ok(()),
                }
            }
            Frame::Priority { stream_id, .. } => {
                self.budgets.idle_frame()?;
                self.on_stream_frame(stream_id, StreamEvent::RecvPriority)
            }
            Frame::RstStream { stream_id, code } => self.on_reset(stream_id, code),
            Frame::Settings { ack, settings } => {
                self.budgets.idle_frame()?;
                if !ack {
                    self.on_settings(&settings)?;
                }
                Ok(())
            }
            Frame::PushPromise { .. } => Err(FrameError::connection(
                ErrorCode::ProtocolError,
                "PUSH_PROMISE sent to a server",
            )),
            Frame::Ping { ack, data } => {
                self.budgets.idle_frame()?;
                if !ack {
                    self.queue(|out| write_ping(out, data, true));
                } else if data == SHUTDOWN_PING && self.draining {
                    self.draining = false;
                    self.go_away(ErrorCode::NoError, "");
                }
                Ok(())
            }
            Frame::GoAway {
                last_stream_id,
                code,
                ..
            } => {
                self.peer_going_away = true;
                self.events.push_back(Event::GoAway {
                    last_stream_id,
                    code,
                });
                Ok(())
            }
            Frame::WindowUpdate {
                stream_id,
                increment,
            } => {
                self.budgets.idle_frame()?;
                self.on_window_update(stream_id, increment)
            }
            Frame::Unknown { .. } => self.budgets.idle_frame(),
        }
    }

    /// A stream's state, in the table or not: idle past the highest stream opened, closed
    /// below it.
    fn state_of(&self, id: u32) -> State {
        match self.streams.get(&id) {
            Some(stream) => stream.state,
            None if id > self.last_peer_stream || id % 2 == 0 => State::Idle,
            None => State::Closed(self.closed_how(id).unwrap_or(ClosedBy::EndStream)),
        }
    }

    /// A frame that only needs the transition table's judgment.
    fn on_stream_frame(&mut self, id: u32, event: StreamEvent) -> Result<(), FrameError> {
        transition(self.state_of(id), event, id).map(|_| ())
    }

    fn on_settings(&mut self, settings: &[Setting]) -> Result<(), FrameError> {
        let changes = self.peer.apply(settings);
        if let Some((old, new)) = changes.initial_window {
            for stream in self.streams.values_mut() {
                stream.send_window.resize(old, new)?;
            }
            self.window_opened = true;
        }
        if let Some(size) = changes.header_table_size {
            let size = (size as usize).min(crate::hpack::DEFAULT_TABLE_SIZE);
            self.encoder.set_table_size(size);
        }
        self.queue(write_settings_ack);
        Ok(())
    }

    fn on_window_update(&mut self, id: u32, increment: u32) -> Result<(), FrameError> {
        if id == 0 {
            self.send_window.increase(increment, None)?;
            self.window_opened = true;
            return Ok(());
        }
        let state = self.state_of(id);
        transition(state, StreamEvent::RecvWindowUpdate, id)?;
        if let Some(stream) = self.streams.get_mut(&id) {
            if !matches!(stream.state, State::Closed(_)) {
                stream.send_window.increase(increment, Some(id))?;
                self.window_opened = true;
            }
        }
        Ok(())
    }

    fn on_reset(&mut self, id: u32, code: ErrorCode) -> Result<(), FrameError> {
        let state = self.state_of(id);
        let outcome = transition(state, StreamEvent::RecvReset, id)?;
        let Some(stream) = self.streams.get_mut(&id) else {
            return self.budgets.idle_frame();
        };
        if let Outcome::Now(now) = outcome {
            // A reset after the whole response went out costs the server nothing.
            let unanswered = state != State::HalfClosedLocal;
            stream.state = now;
            let finished = stream.finished;
            self.events.push_back(Event::Reset {
                stream_id: id,
                code,
            });
            if finished {
                self.forget(id, ClosedBy::PeerReset);
            }
            if unanswered {
                self.budgets.peer_reset()?;
            }
        }
        Ok(())
    }

    fn on_data(
        &mut self,
        id: u32,
        data: Bytes,
        flow_len: u32,
        end_stream: bool,
    ) -> Result<(), FrameError> {
        self.recv_window.receive(flow_len, None)?;
        let tunnel = self.streams.get(&id).is_some_and(|stream| stream.tunnel);
        let small = data.is_empty() || (data.len() < super::SMALL_DATA && !tunnel);
        if !end_stream && small {
            self.budgets.idle_frame()?;
        } else {
            self.budgets.moved(data.len());
        }
        let state = self.state_of(id);
        let outcome = match transition(state, StreamEvent::RecvData { end_stream }, id) {
            Ok(outcome) => outcome,
            Err(error) => {
                self.give_back(None, flow_len);
                return Err(error);
            }
        };
        let Outcome::Now(now) = outcome else {
            // A frame the peer sent before it saw our reset: counted, then given back.
            self.give_back(None, flow_len);
            return Ok(());
        };
        let stream = self
            .streams
            .get_mut(&id)
            .expect("a stream past idle is in the table");
        if let Err(error) = stream.recv_window.receive(flow_len, Some(id)) {
            self.give_back(None, flow_len);
            return Err(error);
        }
        stream.received += data.len() as u64;
        let wrong_length = stream.content_length.is_some_and(|declared| {
            stream.received > declared || (end_stream && stream.received != declared)
        });
        if wrong_length {
            self.give_back(None, flow_len);
            return Err(FrameError::stream(
                id,
                ErrorCode::ProtocolError,
                "a body that does not match its content-length",
            ));
        }
        stream.state = now;
        let finished = stream.finished;
        // Padding is given back at once; the data once the app has taken it.
        let padding = flow_len - data.len() as u32;
        if padding > 0 {
            self.give_back(Some(id), padding);
        }
        if finished {
            self.give_back(Some(id), data.len() as u32);
            if let State::Closed(how) = now {
                self.forget(id, how);
            }
        } else if !data.is_empty() || end_stream {
            self.events.push_back(Event::Data {
                stream_id: id,
                data,
                end_stream,
            });
        }
        Ok(())
    }

    /// A whole header block: a new request, or a request's trailers.
    fn on_block(&mut self, block: Block) -> Result<(), FrameError> {
        let Block {
            stream_id: id,
            end_stream,
            fragment,
        } = block;
        let decoded = match self.decoder.decode(&fragment) {
            Ok(list) => Some(list),
            Err(DecodeError::HeaderListTooLarge { .. }) => None,
            Err(_) => {
                return Err(FrameError::connection(
                    ErrorCode::CompressionError,
                    "a header block that does not decode",
                ))
            }
        };
        let self_dependent = std::mem::take(&mut self.block_self_dependent);
        let depends_on_itself = || {
            FrameError::stream(
                id,
                ErrorCode::ProtocolError,
                "a stream that depends on itself",
            )
        };
        if self.streams.contains_key(&id) {
            if self_dependent {
                return Err(depends_on_itself());
            }
            return self.on_trailers(id, decoded, end_stream);
        }
        if id % 2 == 0 {
            return Err(FrameError::connection(
                ErrorCode::ProtocolError,
                "a stream id the client may not open",
            ));
        }
        if id <= self.last_peer_stream {
            return match self.closed_how(id) {
                Some(how) => {
                    let event = StreamEvent::RecvHeaders { end_stream };
                    transition(State::Closed(how), event, id).map(|_| ())
                }
                None => Err(FrameError::connection(
                    ErrorCode::ProtocolError,
                    "a stream id lower than one already opened",
                )),
            };
        }
        if self.goaway_last.is_some_and(|last| id > last) {
            // After GOAWAY, new streams are ignored (§6.8).
            return Ok(());
        }
        self.last_peer_stream = id;
        self.budgets.stream_opened();
        if self_dependent {
            return Err(depends_on_itself());
        }
        let Some(list) = decoded else {
            self.answer_too_large(id, end_stream);
            return self.budgets.provoked_reset();
        };
        if self.streams.len() >= self.config.max_concurrent_streams as usize {
            return Err(FrameError::stream(
                id,
                ErrorCode::RefusedStream,
                "past SETTINGS_MAX_CONCURRENT_STREAMS",
            ));
        }
        let head = match check_request(list, self.config.enable_connect_protocol) {
            Ok(head) => head,
            Err(malformed) => {
                return Err(FrameError::stream(
                    id,
                    ErrorCode::ProtocolError,
                    malformed.0,
                ))
            }
        };
        if end_stream && head.content_length.is_some_and(|length| length > 0) {
            return Err(FrameError::stream(
                id,
                ErrorCode::ProtocolError,
                "a content-length with no body",
            ));
        }
        let Outcome::Now(state) =
            transition(State::Idle, StreamEvent::RecvHeaders { end_stream }, id)?
        else {
            return Ok(());
        };
        self.streams.insert(
            id,
            Stream {
                state,
                send_window: Window::new(self.peer.initial_window_size),
                recv_window: Window::new(self.config.initial_stream_window),
                unacked: 0,
                content_length: head.content_length,
                received: 0,
                head: head.method == "HEAD",
                tunnel: head.protocol.is_some(),
                responded: false,
                finished: false,
            },
        );
        self.events.push_back(Event::Request {
            stream_id: id,
            head,
            end_stream,
        });
        Ok(())
    }

    /// A second header block on a stream: its trailers (§8.1), which end it.
    fn on_trailers(
        &mut self,
        id: u32,
        decoded: Option<Vec<Field>>,
        end_stream: bool,
    ) -> Result<(), FrameError> {
        let stream = self.streams.get_mut(&id).expect("checked by the caller");
        let Outcome::Now(now) =
            transition(stream.state, StreamEvent::RecvHeaders { end_stream }, id)?
        else {
            return Ok(());
        };
        let malformed = |reason| Err(FrameError::stream(id, ErrorCode::ProtocolError, reason));
        if !end_stream {
            return malformed("a second header block without END_STREAM");
        }
        let Some(fields) = decoded else {
            return malformed("trailers past the header list limit");
        };
        if let Err(error) = check_trailers(&fields) {
            return malformed(error.0);
        }
        if stream
            .content_length
            .is_some_and(|declared| declared != stream.received)
        {
            return malformed("a body that does not match its content-length");
        }
        stream.state = now;
        if stream.finished {
            if let State::Closed(how) = now {
                self.forget(id, how);
            }
            return Ok(());
        }
        self.events.push_back(Event::Trailers {
            stream_id: id,
            fields,
        });
        Ok(())
    }

    /// A request head past SETTINGS_MAX_HEADER_LIST_SIZE: answered 431 without the app, and
    /// the rest of the request refused (§8.1: a complete response, then RST_STREAM NO_ERROR).
    fn answer_too_large(&mut self, id: u32, end_stream: bool) {
        let mut block = Vec::new();
        self.encoder
            .encode([(&b":status"[..], &b"431"[..])], &mut block);
        let max = self.peer.max_frame_size as usize;
        self.queue(|out| {
            write_headers(out, id, &block, true, max);
            if !end_stream {
                write_rst_stream(out, id, ErrorCode::NoError);
            }
        });
        self.remember(
            id,
            if end_stream {
                ClosedBy::EndStream
            } else {
                ClosedBy::OurReset
            },
        );
    }

    /// The app took `n` body bytes of stream `id` (or they were dropped): given back to the
    /// peer once half a window's worth has gathered, for the stream while it still sends, and
    /// for the connection.
    pub fn release(&mut self, id: u32, n: usize) {
        self.give_back(Some(id), n as u32);
    }

    fn give_back(&mut self, id: Option<u32>, n: u32) {
        if n == 0 || self.phase == Phase::Failed {
            return;
        }
        let stream_window = self.config.initial_stream_window;
        if let Some(stream) = id.and_then(|id| self.streams.get_mut(&id)) {
            if matches!(stream.state, State::Open | State::HalfClosedLocal) {
                stream.unacked += n;
                if stream.unacked >= (stream_window / 2).max(1) {
                    let increment = std::mem::take(&mut stream.unacked);
                    let _ = stream.recv_window.increase(increment, None);
                    let id = id.expect("a stream was found");
                    self.queue(|out| write_window_update(out, id, increment));
                }
            }
        }
        self.unacked += n;
        let connection_window = self
            .config
            .initial_connection_window
            .max(crate::flow::DEFAULT_WINDOW);
        if self.unacked >= (connection_window / 2).max(1) {
            let increment = std::mem::take(&mut self.unacked);
            let _ = self.recv_window.increase(increment, None);
            self.queue(|out| write_window_update(out, 0, increment));
        }
    }
}

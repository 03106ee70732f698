//! [`AsgiWebSocket`]: the ASGI WebSocket rules, sans-io. Which message the app may send when,
//! what `receive` answers, how the WebSocket closes (for the app, for a shutdown, for a ping
//! that was not answered) and how the app's return is judged are decided here, once; the
//! frames themselves are [`rasgi_ws::Session`]'s, and the driver around it does the I/O and
//! keeps the time.
//!
//! Its life, by phase:
//!
//! | phase | meaning | left by |
//! | --- | --- | --- |
//! | `Handshake` | the app has not answered the handshake | `WebSocketAccept` → `Open`; `WebSocketClose` or an HTTP start → `Denied`; the app's return → `Denied` (403, or 500 if it failed) |
//! | `Denied` | answered in HTTP: the app's denial response, or the server's 403 or 500 | — |
//! | `Open` | messages flow both ways | the app's close, the client's close, a broken rule, a lost client, a shutdown (1001), an unanswered ping (1011), the app's return (1000, or 1011 if it failed) → `Closed` |
//! | `Closed` | closed both ways, or lost, with the code and reason the app is told | — |

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rasgi_protocol::{ByteStr, Event, Message, SendError, WebSocketData};
use rasgi_ws::{close_code, Data, DeflateParams, Incoming, Role, Session};

/// Where a WebSocket is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The app has not answered the handshake yet.
    Handshake,
    /// The app answers with an HTTP response (or the server did, with 403 or 500).
    Denied,
    /// Accepted: messages flow both ways.
    Open,
    /// Closed (both ways, or lost), with the code and reason the app is told.
    Closed {
        code: u16,
        reason: String,
        /// The close began on this side (a send after it is [`SendError::Closed`], not
        /// [`SendError::Disconnected`]).
        by_us: bool,
    },
}

/// What the driver does for a message that is not an open WebSocket's frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Switch the stream with these fields (the 101's), then write it out.
    Switch(Vec<(Bytes, Bytes)>),
    /// This HTTP message answers the handshake (the app's denial response).
    Http(Message),
    /// The app closed before accepting: the server answers 403.
    Refuse,
    /// A close frame is queued: write it out.
    WriteOut,
}

/// How the app's return is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It returned without answering the handshake: the server answers with this status (403,
    /// or 500 if it failed).
    Refused(u16),
    /// It returned while the WebSocket was open: closed with this code (1000, or 1011 if it
    /// failed).
    Closed(u16),
    /// It answered the handshake in HTTP: that response's own rules judge it.
    AnsweredInHttp,
    /// The WebSocket had closed already.
    AfterClose,
}

/// The sending side of a frame the rules did not queue.
#[derive(Debug)]
pub(crate) enum NotQueued {
    /// The session refused it (the WebSocket is closing).
    Refused,
    /// Not an open WebSocket's frame: the message, for [`AsgiWebSocket::on_message`].
    Other(Message),
}

/// One WebSocket's ASGI state.
#[derive(Debug)]
pub(crate) struct AsgiWebSocket {
    phase: Phase,
    /// The protocol, once accepted.
    session: Option<Session>,
    /// `Sec-WebSocket-Accept` for the 101.
    accept: String,
    /// The subprotocols the client offered.
    offered: Vec<String>,
    /// permessage-deflate as negotiated, and the response field that says so.
    deflate: Option<(DeflateParams, String)>,
    /// The largest message the session assembles.
    max_message_bytes: usize,
    /// A message read while the app was not receiving (a `WebSocketReceive`).
    waiting: Option<Event>,
    /// When the ping that has not been answered yet was sent (the driver's clock, as a
    /// standard instant).
    ping_sent: Option<Instant>,
    /// Messages flowed since the last ping tick: the driver keeps the read and write buffers
    /// between them (taking them from the pool and giving them back for every message costs
    /// more than the rest of a small message's way). At the next tick an idle WebSocket gives
    /// them back.
    busy: bool,
}

impl AsgiWebSocket {
    /// A WebSocket whose handshake the app is to answer: `accept` is the 101's
    /// `Sec-WebSocket-Accept`, `offered` the client's subprotocols, `deflate` the
    /// permessage-deflate negotiated (if any).
    pub(crate) fn new(
        accept: String,
        offered: Vec<String>,
        deflate: Option<(DeflateParams, String)>,
        max_message_bytes: usize,
    ) -> AsgiWebSocket {
        AsgiWebSocket {
            phase: Phase::Handshake,
            session: None,
            accept,
            offered,
            deflate,
            max_message_bytes,
            waiting: None,
            ping_sent: None,
            busy: false,
        }
    }

    /// The phase.
    #[cfg(test)]
    pub(crate) fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Whether messages flow both ways.
    pub(crate) fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open)
    }

    /// The protocol, once accepted.
    pub(crate) fn session(&mut self) -> Option<&mut Session> {
        self.session.as_mut()
    }

    /// Whether messages flowed since the last ping tick.
    pub(crate) fn busy(&self) -> bool {
        self.busy
    }

    /// Whether a message read while the app was not receiving waits for its next `receive`.
    pub(crate) fn has_waiting(&self) -> bool {
        self.waiting.is_some()
    }

    fn closed_by_us(&mut self, code: u16, reason: &str) {
        self.phase = Phase::Closed {
            code,
            reason: reason.to_string(),
            by_us: true,
        };
    }

    /// What `receive` answers once the WebSocket is closed or refused.
    fn disconnect(&self) -> Option<Event> {
        match &self.phase {
            Phase::Closed { code, reason, .. } => Some(Event::WebSocketDisconnect {
                code: *code,
                reason: reason.clone(),
            }),
            // Refused: the client is told no more.
            Phase::Denied => Some(Event::WebSocketDisconnect {
                code: close_code::ABNORMAL,
                reason: String::new(),
            }),
            Phase::Handshake | Phase::Open => None,
        }
    }

    /// What the app's `receive` gets from what `buf` holds: an event, or `None` for more
    /// bytes. Pings are answered (the pong waits in the output), pongs noted, a close answered.
    /// Before the WebSocket is accepted nothing can arrive: `receive` is then told the client
    /// is gone.
    #[inline]
    pub(crate) fn receive(&mut self, buf: &mut BytesMut) -> Option<Event> {
        match self.read_event(buf) {
            None if matches!(self.phase, Phase::Handshake) => Some(Event::WebSocketDisconnect {
                code: close_code::ABNORMAL,
                reason: "receive before accept".into(),
            }),
            event => event,
        }
    }

    /// Read what the buffer holds: an event, or `None` for more bytes.
    #[inline]
    pub(crate) fn read_event(&mut self, buf: &mut BytesMut) -> Option<Event> {
        // Open, nothing waiting and no bytes: no event (every message's look before its read).
        if buf.is_empty() && self.waiting.is_none() && matches!(self.phase, Phase::Open) {
            return None;
        }
        self.read_event_from(buf)
    }

    /// [`AsgiWebSocket::read_event`] past its first look.
    fn read_event_from(&mut self, buf: &mut BytesMut) -> Option<Event> {
        if let Some(event) = self.waiting.take() {
            return Some(event);
        }
        if let Some(event) = self.disconnect() {
            return Some(event);
        }
        // No bytes, no frame: every message's second look (its buffer emptied) ends here.
        if buf.is_empty() {
            return None;
        }
        let session = self.session.as_mut()?;
        loop {
            match session.read(buf) {
                Ok(Some(Incoming::Message(data))) => {
                    self.busy = true;
                    return Some(receive_event(data));
                }
                Ok(Some(Incoming::Ping)) => {}
                Ok(Some(Incoming::Pong(_))) => self.ping_sent = None,
                Ok(Some(Incoming::Close(frame))) => {
                    // Our own close, answered: the app is told the code it closed with.
                    if !matches!(self.phase, Phase::Closed { .. }) {
                        self.phase = Phase::Closed {
                            code: frame.code,
                            reason: frame.reason,
                            by_us: false,
                        };
                    }
                    return self.disconnect();
                }
                Err(error) => {
                    tracing::debug!(%error, "WebSocket client broke the protocol; closing");
                    self.closed_by_us(error.close_code(), "");
                    return self.disconnect();
                }
                Ok(None) => return None,
            }
        }
    }

    /// Read while the app is not in `receive`: a message is kept for its next `receive`.
    /// Returns whether something changed that the app should see (a message waiting, the
    /// WebSocket closed), or `None` for more bytes.
    pub(crate) fn read_aside(&mut self, buf: &mut BytesMut) -> Option<bool> {
        match self.read_event(buf) {
            Some(event @ Event::WebSocketReceive(_)) => {
                self.waiting = Some(event);
                Some(true)
            }
            Some(_) => Some(true),
            None => None,
        }
    }

    /// The client's stream ended.
    pub(crate) fn lost(&mut self) {
        if !matches!(self.phase, Phase::Closed { .. }) {
            self.phase = Phase::Closed {
                code: close_code::ABNORMAL,
                reason: String::new(),
                by_us: false,
            };
        }
    }

    /// Queue an open WebSocket's frame, or hand any other message back; `buffer` gives the
    /// output a buffer when it has none. Inlined into every send's first poll.
    #[inline(always)]
    pub(crate) fn queue_frame(
        &mut self,
        message: Message,
        buffer: impl FnOnce() -> BytesMut,
    ) -> Result<&mut Session, NotQueued> {
        let Message::WebSocketSend(data) = message else {
            return Err(NotQueued::Other(message));
        };
        let (Phase::Open, Some(session)) = (&self.phase, self.session.as_mut()) else {
            return Err(NotQueued::Other(Message::WebSocketSend(data)));
        };
        if !session.has_output_buffer() {
            session.give_output_buffer(buffer());
        }
        let queued = match &data {
            WebSocketData::Text(text) => session.send_payload(true, text.as_bytes()),
            WebSocketData::Binary(bytes) => session.send_payload(false, bytes),
        };
        queued.map_err(|_| NotQueued::Refused)?;
        Ok(session)
    }

    /// A message other than an open WebSocket's frame: the handshake's answer, a denial
    /// response's start or body, a close, or a message out of order.
    pub(crate) fn on_message(&mut self, message: Message) -> Result<Answer, SendError> {
        match (&self.phase, message) {
            (
                Phase::Handshake,
                Message::WebSocketAccept {
                    subprotocol,
                    headers,
                },
            ) => {
                if let Some(chosen) = &subprotocol {
                    if !self.offered.iter().any(|offered| offered == chosen) {
                        return Err(SendError::InvalidWebSocket(
                            "a subprotocol the client did not offer",
                        ));
                    }
                }
                let mut fields = vec![
                    (
                        Bytes::from_static(b"upgrade"),
                        Bytes::from_static(b"websocket"),
                    ),
                    (
                        Bytes::from_static(b"connection"),
                        Bytes::from_static(b"Upgrade"),
                    ),
                    (
                        Bytes::from_static(b"sec-websocket-accept"),
                        Bytes::from(self.accept.clone()),
                    ),
                ];
                if let Some(chosen) = subprotocol {
                    fields.push((
                        Bytes::from_static(b"sec-websocket-protocol"),
                        Bytes::from(chosen),
                    ));
                }
                if let Some((_, answer)) = &self.deflate {
                    fields.push((
                        Bytes::from_static(b"sec-websocket-extensions"),
                        Bytes::from(answer.clone()),
                    ));
                }
                fields.extend(headers.into_fields());
                Ok(Answer::Switch(fields))
            }
            (Phase::Handshake, Message::WebSocketClose { .. }) => {
                self.phase = Phase::Denied;
                Ok(Answer::Refuse)
            }
            (Phase::Handshake, message @ Message::Start { .. }) => {
                self.phase = Phase::Denied;
                Ok(Answer::Http(message))
            }
            (Phase::Denied, message @ (Message::Body { .. } | Message::Trailers { .. })) => {
                Ok(Answer::Http(message))
            }
            // Queued by `queue_frame`; an open WebSocket without a session is not made.
            (Phase::Open, Message::WebSocketSend(_)) => Err(SendError::Closed),
            (Phase::Open, Message::WebSocketClose { code, reason }) => {
                let session = self
                    .session
                    .as_mut()
                    .expect("an open WebSocket has a session");
                session.close(code, &reason).map_err(|error| match error {
                    rasgi_ws::SendError::InvalidCloseCode(_) => {
                        SendError::InvalidWebSocket("a close code that may not be sent")
                    }
                    rasgi_ws::SendError::ControlTooLong => {
                        SendError::InvalidWebSocket("a close reason over 123 bytes")
                    }
                    rasgi_ws::SendError::Closed => SendError::Closed,
                })?;
                self.closed_by_us(code, &reason);
                Ok(Answer::WriteOut)
            }
            (Phase::Closed { by_us: true, .. }, _) => Err(SendError::Closed),
            (Phase::Closed { by_us: false, .. }, _) => Err(SendError::Disconnected),
            (Phase::Handshake, Message::WebSocketSend(_)) => Err(SendError::OutOfOrder(
                "send before the WebSocket was accepted",
            )),
            (Phase::Open, Message::WebSocketAccept { .. })
            | (Phase::Denied, Message::WebSocketAccept { .. }) => {
                Err(SendError::OutOfOrder("the handshake was already answered"))
            }
            (Phase::Denied, _) => Err(SendError::OutOfOrder("the handshake was denied")),
            (_, _) => Err(SendError::WrongScope),
        }
    }

    /// The switch the app asked for is queued: the WebSocket is open from now on (before the
    /// 101 leaves, so that a client that has read it finds it open everywhere).
    pub(crate) fn switched(&mut self) {
        self.session = Some(Session::new(
            Role::Server,
            rasgi_ws::Config {
                max_message_bytes: self.max_message_bytes,
                deflate: self.deflate.as_ref().map(|(params, _)| *params),
            },
        ));
        self.phase = Phase::Open;
    }

    /// The server is stopping: an open WebSocket is closed with 1001. Whether it was open.
    pub(crate) fn close_for_shutdown(&mut self) -> bool {
        self.close_open(close_code::GOING_AWAY, "")
    }

    /// A ping went unanswered past its timeout: an open WebSocket is closed with 1011.
    pub(crate) fn close_for_ping_timeout(&mut self) -> bool {
        self.close_open(close_code::INTERNAL_ERROR, "keepalive ping timeout")
    }

    fn close_open(&mut self, code: u16, reason: &str) -> bool {
        if !matches!(self.phase, Phase::Open) {
            return false;
        }
        if let Some(session) = self.session.as_mut() {
            let _ = session.close(code, reason);
        }
        self.closed_by_us(code, reason);
        true
    }

    /// A ping tick at `now`: a ping is queued, and whether the WebSocket was idle since the
    /// last tick is returned (an idle one gives its buffers back).
    pub(crate) fn ping_tick(&mut self, now: Instant) -> bool {
        let idle = !std::mem::take(&mut self.busy);
        if let Some(session) = self.session.as_mut() {
            let _ = session.ping(b"");
        }
        self.ping_sent.get_or_insert(now);
        idle
    }

    /// When the ping that has not been answered yet was sent.
    pub(crate) fn ping_sent(&self) -> Option<Instant> {
        self.ping_sent
    }

    /// The app returned (`failed`: with an error): judged once. An open WebSocket is closed
    /// (its close frame queued); one never answered is refused.
    pub(crate) fn returned(&mut self, failed: bool) -> Verdict {
        match self.phase {
            Phase::Handshake => {
                self.phase = Phase::Denied;
                Verdict::Refused(if failed { 500 } else { 403 })
            }
            Phase::Open => {
                let code = if failed {
                    close_code::INTERNAL_ERROR
                } else {
                    close_code::NORMAL
                };
                if let Some(session) = self.session.as_mut() {
                    let _ = session.close(code, "");
                }
                self.closed_by_us(code, "");
                Verdict::Closed(code)
            }
            Phase::Denied => Verdict::AnsweredInHttp,
            Phase::Closed { .. } => Verdict::AfterClose,
        }
    }
}

/// The ASGI event for a message the session read.
fn receive_event(data: Data) -> Event {
    Event::WebSocketReceive(match data {
        // The session has checked the text: this is a second, cheap look.
        Data::Text(bytes) => WebSocketData::Text(ByteStr::from_utf8(bytes).unwrap_or_default()),
        Data::Binary(bytes) => WebSocketData::Binary(bytes),
    })
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;

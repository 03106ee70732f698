//! Step 3 of an exchange: the app's messages. Each is accepted or refused here, in order, and
//! what is accepted becomes bytes in the output; the head of a response waits for its first
//! body so that a body that arrives whole is sent with a `content-length`.

use bytes::Bytes;

use super::{
    answer_text, CloseReason, Flush, Read, SendRefused, ServerConn, Write, ANSWER_CONTENT_TYPE,
    STREAM_GATHER_BYTES,
};
use crate::incoming::give_back_field_list;
use crate::outgoing::{put_head, Framing, PendingStart, ResponseHead};
use crate::parse_content_length;
use crate::request::Version;
use crate::response::{
    validate_header, write_chunk_size, write_last_chunk, write_response_head, LengthEncoder,
};

impl ServerConn {
    /// A 1xx response before the final one (103 Early Hints).
    pub fn send_informational(
        &mut self,
        status: u16,
        fields: &[(Bytes, Bytes)],
    ) -> Result<Flush, SendRefused> {
        self.may_send()?;
        if !matches!(self.write, Write::Idle) {
            return Err(SendRefused::OutOfOrder(
                "informational response after the start",
            ));
        }
        if !(100..200).contains(&status) || status == 101 {
            return Err(SendRefused::InvalidStatus(status));
        }
        if self.exchange.version == Version::Http10 {
            // HTTP/1.0 clients do not expect 1xx responses (RFC 9110 §15.2).
            return Ok(Flush::Later);
        }
        let pairs = fields.iter().map(|(n, v)| (&n[..], &v[..]));
        write_response_head(self.output.buf(), status, pairs)
            .map_err(|_| SendRefused::InvalidHeader)?;
        Ok(Flush::Now)
    }

    /// The response's status and fields. Its head is written with the first body message; a
    /// 101 (to a request that offered an upgrade) is written at once and ends HTTP on this
    /// connection.
    pub fn send_start(
        &mut self,
        status: u16,
        fields: Vec<(Bytes, Bytes)>,
        trailers: bool,
    ) -> Result<Flush, SendRefused> {
        self.may_send()?;
        if !matches!(self.write, Write::Idle) {
            return Err(SendRefused::OutOfOrder("response already started"));
        }
        let upgrade = status == 101 && self.exchange.upgrade_offered;
        if !upgrade && !(200..=999).contains(&status) {
            return Err(SendRefused::InvalidStatus(status));
        }
        let mut content_length = None;
        let mut close = false;
        for (name, value) in &fields {
            validate_header(name, value).map_err(|_| SendRefused::InvalidHeader)?;
            if name.eq_ignore_ascii_case(b"content-length") {
                let parsed =
                    parse_content_length(value).map_err(|_| SendRefused::InvalidContentLength)?;
                if content_length.is_some_and(|earlier| earlier != parsed) {
                    return Err(SendRefused::InvalidContentLength);
                }
                content_length = Some(parsed);
            } else if name.eq_ignore_ascii_case(b"connection") {
                close |= value
                    .split(|&b| b == b',')
                    .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"));
            }
        }
        let start = PendingStart {
            status,
            fields,
            trailers,
            content_length,
            close,
        };
        if upgrade {
            self.write_head(start, None, &[]);
            self.write = Write::Upgraded;
            self.read = Read::Closed;
            self.close_for(CloseReason::Upgraded);
            return Ok(Flush::Now);
        }
        self.write = Write::StartHeld(start);
        Ok(Flush::Later)
    }

    /// A piece of the response body; `more: false` marks the last one.
    pub fn send_body(&mut self, body: Bytes, more: bool) -> Result<Flush, SendRefused> {
        self.send_body_with_lines(body, more, &[])
    }

    /// [`ServerConn::send_body`] for the first body of a held start, whose head gets more
    /// fields as `lines`: `name: value\r\n` each, every one already checked by the caller (a
    /// token name that is none of `content-length`, `transfer-encoding` and `connection`; a
    /// value free of control characters), as rasgi-protocol's `FieldLines` are. They are
    /// copied into the head after the start's fields, whole and unchecked. Refused after the
    /// head is written.
    pub fn send_body_with_lines(
        &mut self,
        body: Bytes,
        more: bool,
        lines: &[u8],
    ) -> Result<Flush, SendRefused> {
        self.may_send()?;
        let framing = match std::mem::replace(&mut self.write, Write::Broken) {
            Write::StartHeld(start) => {
                let known_length = start
                    .content_length
                    .or((!more).then_some(body.len() as u64));
                self.write_head(start, known_length, lines)
            }
            Write::Streaming(framing) if lines.is_empty() => framing,
            Write::Streaming(framing) => {
                self.write = Write::Streaming(framing);
                return Err(SendRefused::OutOfOrder("fields after the head"));
            }
            Write::Idle => {
                self.write = Write::Idle;
                return Err(SendRefused::OutOfOrder("body before the response start"));
            }
            Write::Upgraded => {
                self.write = Write::Upgraded;
                return Err(SendRefused::OutOfOrder("the connection was upgraded"));
            }
            other => {
                self.write = other;
                return Err(SendRefused::OutOfOrder("body after the final body"));
            }
        };
        self.write_body(framing, body, more)
    }

    /// The whole body as `len` bytes the caller writes itself (a file), straight after what the
    /// output holds once it is written out: the head is queued with `content-length: len`, and
    /// the response is complete as far as the machine goes. Returns how many bytes the caller
    /// must write (none for a HEAD request or a 204 or 304 response). A caller that cannot write
    /// them all must call [`ServerConn::write_failed`]: the length was promised.
    pub fn send_file_body(&mut self, len: u64) -> Result<u64, SendRefused> {
        self.may_send()?;
        let start = match std::mem::replace(&mut self.write, Write::Broken) {
            Write::StartHeld(start) if start.content_length.is_none_or(|given| given == len) => {
                start
            }
            Write::StartHeld(start) => {
                self.write = Write::StartHeld(start);
                return Err(SendRefused::InvalidContentLength);
            }
            other => {
                let what = match other {
                    Write::Idle => "file before the response start",
                    Write::Upgraded => "the connection was upgraded",
                    _ => "file after a body",
                };
                self.write = other;
                return Err(SendRefused::OutOfOrder(what));
            }
        };
        let to_write = match self.write_head(start, Some(len), &[]) {
            Framing::Length(_) => len,
            _ => 0,
        };
        self.body_bytes += to_write;
        self.write = if self.trailers_announced {
            Write::AwaitingTrailers { chunked: false }
        } else {
            Write::Complete
        };
        Ok(to_write)
    }

    /// Trailer fields, after the final body of a response whose start announced them.
    pub fn send_trailers(&mut self, fields: &[(Bytes, Bytes)]) -> Result<Flush, SendRefused> {
        self.may_send()?;
        let Write::AwaitingTrailers { chunked } = self.write else {
            return Err(SendRefused::OutOfOrder(
                "trailers not announced or not after the final body",
            ));
        };
        for (name, value) in fields {
            validate_header(name, value).map_err(|_| SendRefused::InvalidHeader)?;
        }
        if chunked {
            let pairs = fields.iter().map(|(n, v)| (&n[..], &v[..]));
            write_last_chunk(self.output.buf(), pairs).map_err(|_| SendRefused::InvalidHeader)?;
        }
        self.write = Write::Complete;
        Ok(Flush::Later)
    }

    /// Sends are refused once the client is gone or the body was refused.
    fn may_send(&self) -> Result<(), SendRefused> {
        if self.client_gone || matches!(self.read, Read::Refused(_)) {
            return Err(SendRefused::Disconnected);
        }
        Ok(())
    }

    /// Decide the framing and write the head (RFC 9112 §6.3 from the sender's side).
    /// `known_length` is the body's length if known (the app's `content-length`, or a body that
    /// arrived whole); a 101 passes `None` and gets no framing at all.
    fn write_head(
        &mut self,
        start: PendingStart,
        known_length: Option<u64>,
        lines: &[u8],
    ) -> Framing {
        let status = start.status;
        let bodiless_status = status == 204 || status == 304 || status < 200;
        if start.close {
            self.close_for(CloseReason::AppAsked);
        }
        if self.stopping {
            self.close_for(CloseReason::Stopping);
        }
        let framing = if self.exchange.head || bodiless_status {
            Framing::Empty
        } else if let Some(length) = known_length {
            Framing::Length(LengthEncoder::new(length))
        } else if self.exchange.version == Version::Http11 {
            Framing::Chunked
        } else {
            self.close_for(CloseReason::CloseDelimited);
            Framing::CloseDelimited
        };
        self.trailers_announced = start.trailers;

        let content_length = match known_length {
            Some(length) if start.content_length.is_none() && !bodiless_status => Some(length),
            _ => None,
        };
        // A HEAD response names the framing a GET would have had (RFC 9112 §6.1), and sends no body.
        let chunked_for_get = self.exchange.head
            && !bodiless_status
            && known_length.is_none()
            && self.exchange.version == Version::Http11;
        let connection: Option<&'static [u8]> = match (self.exchange.version, self.keep_alive()) {
            _ if status == 101 => None,
            (Version::Http11, false) if !start.close => Some(b"close"),
            (Version::Http10, true) => Some(b"keep-alive"),
            _ => None,
        };
        put_head(
            &mut self.output,
            &ResponseHead {
                status,
                fields: &start.fields,
                lines,
                strip_length: status == 204 || status < 200,
                content_length,
                chunked: matches!(framing, Framing::Chunked) || chunked_for_get,
                connection,
                server_header: self.settings.server_header,
                default_fields: self
                    .settings
                    .default_fields
                    .as_deref()
                    .map_or(&[][..], |fields| &fields[..]),
                date_line: self.settings.date_line,
            },
        );
        self.status = status;
        give_back_field_list(start.fields);
        framing
    }

    /// Frame one body message. The response stays `Broken` if the body contradicts its length.
    fn write_body(
        &mut self,
        mut framing: Framing,
        body: Bytes,
        more: bool,
    ) -> Result<Flush, SendRefused> {
        let len = body.len();
        let mut suffix: &'static [u8] = b"";
        let mut send_body = len > 0;
        match &mut framing {
            Framing::Empty => send_body = false,
            Framing::Length(encoder) => {
                if encoder.write(len).is_err() {
                    return Err(SendRefused::BodyTooLong);
                }
                if !more && encoder.finish().is_err() {
                    return Err(SendRefused::BodyTooShort);
                }
            }
            Framing::Chunked if len > 0 => {
                write_chunk_size(self.output.buf(), len);
                suffix = b"\r\n";
            }
            Framing::Chunked | Framing::CloseDelimited => {}
        }
        if !matches!(framing, Framing::Empty) {
            self.body_bytes += len as u64;
        }
        let chunked = matches!(framing, Framing::Chunked);
        let then = if more {
            Write::Streaming(framing)
        } else if self.trailers_announced {
            Write::AwaitingTrailers { chunked }
        } else {
            if chunked {
                // The last chunk follows the data.
                suffix = if send_body {
                    b"\r\n0\r\n\r\n"
                } else {
                    b"0\r\n\r\n"
                };
            }
            Write::Complete
        };
        if send_body {
            self.output.put_body(body);
        }
        self.output.buf().extend_from_slice(suffix);
        self.write = then;
        if more {
            self.streamed_output = true;
            if self.output.len() >= STREAM_GATHER_BYTES {
                return Ok(Flush::Now);
            }
        }
        Ok(Flush::Later)
    }

    /// A complete plain-text response from the server itself (errors, limits), queued, unless
    /// the client is gone.
    pub(super) fn answer(&mut self, status: u16) {
        self.write = Write::Idle;
        if self.client_gone {
            return;
        }
        let text = answer_text(status);
        let fields = vec![(
            Bytes::from_static(b"content-type"),
            Bytes::from_static(ANSWER_CONTENT_TYPE.as_bytes()),
        )];
        let start = PendingStart {
            status,
            fields,
            trailers: false,
            content_length: None,
            close: false,
        };
        let framing = self.write_head(start, Some(text.len() as u64), &[]);
        let _ = self.write_body(framing, Bytes::from_static(text.as_bytes()), false);
    }
}

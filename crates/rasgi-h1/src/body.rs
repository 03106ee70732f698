//! Request-body decoders: `Content-Length` and chunked, as one [`Decoder`] with named
//! constructors.
//!
//! The rule: a decoder is a state machine fed whatever bytes have arrived. Each
//! [`Decoder::decode`] step consumes a prefix of its input and returns at most one zero-copy
//! slice of body data; running out of input mid-way is [`Decoded::NeedMore`], never an error.
//! The chunked grammar (RFC 9112 §7.1) is checked byte by byte: a hex size with an overflow
//! check, extensions capped, exactly CRLF after each chunk's data, trailer fields parsed and
//! capped, then the end. Trailer fields are validated and discarded (ASGI has no request
//! trailers).

use crate::class::{is_token, FIELD_VALUE, HEX_DIGIT, NOT_HEX};
use crate::{H1Error, Limits};

/// What one decode step produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// Body bytes (a slice of the input).
    Data(&'a [u8]),
    /// The input was used up before the body's end; feed more bytes.
    NeedMore,
    /// The body is complete; bytes after `consumed` belong to the next request.
    End,
}

/// A body decoder: the framing of one message body and how far through it we are.
#[derive(Debug, Clone)]
pub struct Decoder {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Length { remaining: u64 },
    Chunked(Chunked),
}

#[derive(Debug, Clone)]
struct Chunked {
    state: ChunkState,
    /// The chunk size read so far, or the data left of the current chunk.
    size: u64,
    /// Extension bytes seen in this body (capped by `max_extension_bytes`).
    extension_bytes: usize,
    /// Trailer bytes seen in this body (capped by `max_trailer_bytes`).
    trailer_bytes: usize,
    max_extension_bytes: usize,
    max_trailer_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Before the first hex digit of a chunk size.
    SizeStart,
    /// Inside the hex digits.
    Size,
    /// After `;`: want the first byte of an extension name.
    ExtensionNameStart,
    /// Inside an extension name.
    ExtensionName,
    /// After `=`: want a token or a quoted string.
    ExtensionValueStart,
    /// Inside a token extension value.
    ExtensionToken,
    /// Inside a quoted extension value.
    ExtensionQuoted,
    /// After a backslash inside a quoted value.
    ExtensionQuotedEscape,
    /// After the closing quote: want `;` or CR.
    ExtensionAfterQuote,
    /// Saw the CR after the size line; want LF.
    SizeLf,
    /// Inside chunk data; `size` bytes left.
    Data,
    /// After chunk data; want CR.
    DataCr,
    /// After chunk data and CR; want LF.
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer field's name.
    TrailerName,
    /// Inside a trailer field's value.
    TrailerValue,
    /// Saw CR at the end of a trailer line; want LF.
    TrailerLf,
    /// Saw CR of the final empty line; want LF.
    EndLf,
    /// The body is complete.
    Done,
}

impl Decoder {
    /// A body of exactly `n` bytes.
    pub fn length(n: u64) -> Decoder {
        Decoder {
            kind: Kind::Length { remaining: n },
        }
    }

    /// A chunked body, with the extension and trailer caps of `limits`.
    pub fn chunked(limits: &Limits) -> Decoder {
        Decoder {
            kind: Kind::Chunked(Chunked {
                state: ChunkState::SizeStart,
                size: 0,
                extension_bytes: 0,
                trailer_bytes: 0,
                max_extension_bytes: limits.max_chunk_extension_bytes,
                max_trailer_bytes: limits.max_trailer_bytes,
            }),
        }
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        match &self.kind {
            Kind::Length { remaining } => *remaining == 0,
            Kind::Chunked(chunked) => chunked.state == ChunkState::Done,
        }
    }

    /// The body bytes still expected, when the framing says so (`Content-Length`).
    pub fn remaining(&self) -> Option<u64> {
        match &self.kind {
            Kind::Length { remaining } => Some(*remaining),
            Kind::Chunked(_) => None,
        }
    }

    /// Decode from the start of `input`: returns how many bytes were consumed and what they
    /// meant. Call again with the unconsumed rest (plus any newly read bytes).
    #[inline]
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Decoded<'a>), H1Error> {
        match &mut self.kind {
            Kind::Length { remaining } => {
                if *remaining == 0 {
                    return Ok((0, Decoded::End));
                }
                if input.is_empty() {
                    return Ok((0, Decoded::NeedMore));
                }
                let n = clamp(*remaining, input.len());
                *remaining -= n as u64;
                Ok((n, Decoded::Data(&input[..n])))
            }
            Kind::Chunked(chunked) => chunked.decode(input),
        }
    }
}

/// `min(remaining, available)` as a `usize`.
fn clamp(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

impl Chunked {
    #[inline]
    fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Decoded<'a>), H1Error> {
        use ChunkState::*;
        // The common shape straight through: the CRLF after a chunk, a size line, its data.
        let mut i = 0;
        if self.state == DataCr && input.starts_with(b"\r\n") {
            self.state = SizeStart;
            i = 2;
        }
        if self.state == SizeStart {
            i += self.size_line(&input[i..]).unwrap_or(0);
        }
        if self.state == Data && i < input.len() {
            return Ok(self.data(input, i));
        }
        if self.state == TrailerStart && input[i..].starts_with(b"\r\n") {
            // The last chunk without trailers: the end.
            self.state = Done;
            return Ok((i + 2, Decoded::End));
        }
        self.decode_bytes(input, i)
    }

    /// Chunk data from `input[i..]` (not empty), as much as the chunk has left.
    #[inline(always)]
    fn data<'a>(&mut self, input: &'a [u8], i: usize) -> (usize, Decoded<'a>) {
        let n = clamp(self.size, input.len() - i);
        self.size -= n as u64;
        if self.size == 0 {
            self.state = ChunkState::DataCr;
        }
        (i + n, Decoded::Data(&input[i..i + n]))
    }

    /// The byte-by-byte state machine, from `input[i..]`: every shape and every error.
    #[inline(never)]
    fn decode_bytes<'a>(
        &mut self,
        input: &'a [u8],
        mut i: usize,
    ) -> Result<(usize, Decoded<'a>), H1Error> {
        use ChunkState::*;
        while i < input.len() {
            if let Some(used) = self.fast_path(&input[i..]) {
                i += used;
                continue;
            }
            let b = input[i];
            match self.state {
                SizeStart | Size => match hex_value(b) {
                    Some(digit) => {
                        self.size = self
                            .size
                            .checked_mul(16)
                            .map(|size| size | u64::from(digit))
                            .ok_or(H1Error::ChunkSizeOverflow)?;
                        self.state = Size;
                    }
                    None if self.state == SizeStart => return Err(H1Error::InvalidChunkSize),
                    None => match b {
                        b';' => {
                            self.count_extension_byte()?;
                            self.state = ExtensionNameStart;
                        }
                        b'\r' => self.state = SizeLf,
                        _ => return Err(H1Error::InvalidChunkSize),
                    },
                },
                ExtensionNameStart
                | ExtensionName
                | ExtensionValueStart
                | ExtensionToken
                | ExtensionQuoted
                | ExtensionQuotedEscape
                | ExtensionAfterQuote => {
                    if b == b'\r'
                        && matches!(
                            self.state,
                            ExtensionName | ExtensionToken | ExtensionAfterQuote
                        )
                    {
                        self.state = SizeLf;
                    } else {
                        self.count_extension_byte()?;
                        self.state = extension_step(self.state, b)?;
                    }
                }
                SizeLf => {
                    if b != b'\n' {
                        return Err(H1Error::InvalidChunkSize);
                    }
                    self.state = if self.size == 0 { TrailerStart } else { Data };
                }
                Data => return Ok(self.data(input, i)),
                DataCr => {
                    if b != b'\r' {
                        return Err(H1Error::InvalidChunkEnd);
                    }
                    self.state = DataLf;
                }
                DataLf => {
                    if b != b'\n' {
                        return Err(H1Error::InvalidChunkEnd);
                    }
                    self.state = SizeStart;
                }
                TrailerStart => {
                    // The empty line that ends the body is no trailer byte (the fast path in
                    // `decode` takes it without counting too, so a split cannot change that).
                    self.state = match b {
                        b'\r' => EndLf,
                        _ if is_token(b) => {
                            self.count_trailer_byte()?;
                            TrailerName
                        }
                        _ => return Err(H1Error::InvalidTrailer),
                    };
                }
                TrailerName => {
                    self.count_trailer_byte()?;
                    match b {
                        b':' => self.state = TrailerValue,
                        _ if is_token(b) => {}
                        _ => return Err(H1Error::InvalidTrailer),
                    }
                }
                TrailerValue => {
                    self.count_trailer_byte()?;
                    match b {
                        b'\r' => self.state = TrailerLf,
                        _ if FIELD_VALUE[b as usize] => {}
                        _ => return Err(H1Error::InvalidTrailer),
                    }
                }
                TrailerLf | EndLf => {
                    if b != b'\n' {
                        return Err(H1Error::InvalidTrailer);
                    }
                    if self.state == EndLf {
                        self.state = Done;
                        return Ok((i + 1, Decoded::End));
                    }
                    self.state = TrailerStart;
                }
                Done => return Ok((i, Decoded::End)),
            }
            i += 1;
        }
        if self.state == Done {
            return Ok((i, Decoded::End));
        }
        Ok((i, Decoded::NeedMore))
    }

    /// The common shapes, taken whole: a chunk's CRLF after its data, and a size line of hex
    /// digits and CRLF. Returns the bytes taken, or `None` to go byte by byte (which also
    /// handles every error, so both paths judge the same input the same way).
    #[inline]
    fn fast_path(&mut self, input: &[u8]) -> Option<usize> {
        match self.state {
            ChunkState::DataCr if input.starts_with(b"\r\n") => {
                self.state = ChunkState::SizeStart;
                Some(2)
            }
            ChunkState::SizeStart => self.size_line(input),
            _ => None,
        }
    }

    /// At [`ChunkState::SizeStart`]: a whole size line of hex digits and CRLF, taken at once
    /// (the state becomes `Data`, or `TrailerStart` for the last chunk); `None` leaves it to
    /// the byte loop.
    #[inline(always)]
    fn size_line(&mut self, input: &[u8]) -> Option<usize> {
        // At most 16 digits: a u64 cannot overflow here (longer sizes go byte by byte, which
        // checks).
        let mut size = 0u64;
        let mut digits = 0;
        while let Some(&b) = input.get(digits).filter(|_| digits < 16) {
            let digit = HEX_DIGIT[b as usize];
            if digit == NOT_HEX {
                break;
            }
            size = size << 4 | u64::from(digit);
            digits += 1;
        }
        if digits == 0 || input.get(digits..digits + 2) != Some(b"\r\n") {
            return None;
        }
        self.size = size;
        self.state = if size == 0 {
            ChunkState::TrailerStart
        } else {
            ChunkState::Data
        };
        Some(digits + 2)
    }

    fn count_extension_byte(&mut self) -> Result<(), H1Error> {
        self.extension_bytes += 1;
        if self.extension_bytes > self.max_extension_bytes {
            return Err(H1Error::ChunkExtensionsTooLarge);
        }
        Ok(())
    }

    fn count_trailer_byte(&mut self) -> Result<(), H1Error> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > self.max_trailer_bytes {
            return Err(H1Error::TrailersTooLarge);
        }
        Ok(())
    }
}

/// One byte of `chunk-ext = *( ";" ext-name [ "=" ( token / quoted-string ) ] )` (RFC 9112
/// §7.1.1), without the optional white space: the CR that ends the line is handled by the caller.
fn extension_step(state: ChunkState, b: u8) -> Result<ChunkState, H1Error> {
    use ChunkState::*;
    let next = match (state, b) {
        (ExtensionNameStart, _) if is_token(b) => ExtensionName,
        (ExtensionName, _) if is_token(b) => ExtensionName,
        (ExtensionName | ExtensionToken | ExtensionAfterQuote, b';') => ExtensionNameStart,
        (ExtensionName, b'=') => ExtensionValueStart,
        (ExtensionValueStart, b'"') => ExtensionQuoted,
        (ExtensionValueStart | ExtensionToken, _) if is_token(b) => ExtensionToken,
        (ExtensionQuoted, b'"') => ExtensionAfterQuote,
        (ExtensionQuoted, b'\\') => ExtensionQuotedEscape,
        (ExtensionQuoted | ExtensionQuotedEscape, _) if FIELD_VALUE[b as usize] => ExtensionQuoted,
        _ => return Err(H1Error::InvalidChunkExtension),
    };
    Ok(next)
}

fn hex_value(b: u8) -> Option<u8> {
    Some(HEX_DIGIT[b as usize]).filter(|&digit| digit != NOT_HEX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode `input` fed in pieces of `step` bytes; returns the body or the error.
    fn decode_in_steps(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), H1Error> {
        decode_in_steps_with(input, step, &Limits::default())
    }

    /// [`decode_in_steps`] under `limits`.
    fn decode_in_steps_with(
        input: &[u8],
        step: usize,
        limits: &Limits,
    ) -> Result<(Vec<u8>, usize), H1Error> {
        let mut decoder = Decoder::chunked(limits);
        let mut body = Vec::new();
        let mut pending = Vec::new();
        let mut fed = 0;
        let mut used = 0;
        loop {
            let (n, decoded) = decoder.decode(&pending)?;
            used += n;
            match decoded {
                Decoded::Data(data) => body.extend_from_slice(data),
                Decoded::End => return Ok((body, used)),
                Decoded::NeedMore => {
                    if fed >= input.len() {
                        return Err(H1Error::InvalidChunkSize);
                    }
                    let next = (fed + step).min(input.len());
                    pending.drain(..n);
                    pending.extend_from_slice(&input[fed..next]);
                    fed = next;
                    continue;
                }
            }
            pending.drain(..n);
        }
    }

    #[test]
    fn chunked_body_decodes_the_same_at_every_feed_size() {
        let input = b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        for step in 1..input.len() {
            let (body, used) = decode_in_steps(input, step).unwrap();
            assert_eq!(body, b"hello world", "step {step}");
            assert_eq!(used, input.len() - 4);
        }
    }

    #[test]
    fn length_decoder_stops_at_its_length() {
        let mut decoder = Decoder::length(3);
        assert_eq!(decoder.decode(b"abcdef"), Ok((3, Decoded::Data(b"abc"))));
        assert_eq!(decoder.decode(b"def"), Ok((0, Decoded::End)));
        assert!(decoder.is_done());
    }

    #[test]
    fn size_without_digits_is_invalid() {
        let mut decoder = Decoder::chunked(&Limits::default());
        assert_eq!(decoder.decode(b";x\r\n"), Err(H1Error::InvalidChunkSize));
    }

    #[test]
    fn space_after_the_size_is_invalid() {
        let mut decoder = Decoder::chunked(&Limits::default());
        assert_eq!(decoder.decode(b"5 \r\n"), Err(H1Error::InvalidChunkSize));
    }

    #[test]
    fn the_final_empty_line_is_no_trailer_byte_however_it_arrives() {
        let limits = Limits {
            max_trailer_bytes: 0,
            ..Limits::default()
        };
        for step in 1..=8 {
            let (body, _) = decode_in_steps_with(b"4\r\nabcd\r\n0\r\n\r\n", step, &limits).unwrap();
            assert_eq!(body, b"abcd", "step {step}");
            assert_eq!(
                decode_in_steps_with(b"4\r\nabcd\r\n0\r\nX: y\r\n\r\n", step, &limits),
                Err(H1Error::TrailersTooLarge),
                "step {step}"
            );
        }
    }
}

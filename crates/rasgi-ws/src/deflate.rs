//! permessage-deflate (RFC 7692): the negotiation, and one compressor and one decompressor per
//! connection, made on their first message.
//!
//! The rules: a message is compressed as one deflate stream flushed with a sync flush, whose
//! last four bytes (`00 00 ff ff`) are left off on the wire and put back before inflating.
//! Without `no_context_takeover` the window carries over from message to message; with it, each
//! message starts afresh. A message inflated past the size limit fails with 1009 as soon as the
//! limit is passed, not after it has been inflated whole.

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::Error;

/// The negotiated parameters, seen from one side: what this side compresses with and what the
/// peer compresses with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// This side resets its compressor after every message.
    pub own_no_context_takeover: bool,
    /// The peer resets its compressor after every message (so ours inflates each afresh).
    pub peer_no_context_takeover: bool,
    /// This side's LZ77 window, 9 to 15 bits.
    pub own_max_window_bits: u8,
    /// The peer's window, 8 to 15 bits.
    pub peer_max_window_bits: u8,
}

/// The server's answer to a client's `Sec-WebSocket-Extensions`: the first permessage-deflate
/// offer it can honour, as the parameters it will use and the value of the response field.
/// `None`: no offer was acceptable (the connection goes on without compression).
///
/// An offer is declined (the next one tried) when a parameter is unknown, repeated, or out of
/// range, or when it asks the server for an 8-bit window, which zlib cannot produce.
pub fn negotiate<'a>(
    fields: impl IntoIterator<Item = &'a [u8]>,
) -> Option<(DeflateParams, String)> {
    for field in fields {
        let Ok(field) = std::str::from_utf8(field) else {
            continue;
        };
        for offer in field.split(',') {
            if let Some(accepted) = accept_offer(offer) {
                return Some(accepted);
            }
        }
    }
    None
}

fn accept_offer(offer: &str) -> Option<(DeflateParams, String)> {
    let mut parts = offer.split(';').map(str::trim);
    if !parts.next()?.eq_ignore_ascii_case("permessage-deflate") {
        return None;
    }
    let mut seen = [false; 4];
    let mut params = DeflateParams {
        own_no_context_takeover: false,
        peer_no_context_takeover: false,
        own_max_window_bits: 15,
        peer_max_window_bits: 15,
    };
    let mut answer = String::from("permessage-deflate");
    for part in parts {
        let (name, value) = match part.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (part, None),
        };
        let slot = match name {
            "server_no_context_takeover" => 0,
            "client_no_context_takeover" => 1,
            "server_max_window_bits" => 2,
            "client_max_window_bits" => 3,
            _ => return None,
        };
        if std::mem::replace(&mut seen[slot], true) {
            return None;
        }
        match (slot, value) {
            (0, None) => {
                params.own_no_context_takeover = true;
                answer.push_str("; server_no_context_takeover");
            }
            (1, None) => {
                params.peer_no_context_takeover = true;
                answer.push_str("; client_no_context_takeover");
            }
            (2, Some(bits)) => {
                let bits = window_bits(bits)?;
                if bits < 9 {
                    return None;
                }
                params.own_max_window_bits = bits;
                answer.push_str(&format!("; server_max_window_bits={bits}"));
            }
            // The client may limit its own window; without a value it only says it could.
            (3, None) => {}
            (3, Some(bits)) => {
                params.peer_max_window_bits = window_bits(bits)?;
                answer.push_str(&format!("; client_max_window_bits={bits}"));
            }
            _ => return None,
        }
    }
    Some((params, answer))
}

fn window_bits(value: &str) -> Option<u8> {
    if value.len() > 2 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u8 = value.parse().ok()?;
    (8..=15).contains(&bits).then_some(bits)
}

/// The four bytes a sync flush ends with, left off on the wire.
const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// One side's compressor and decompressor, each made on first use.
pub(crate) struct Deflate {
    params: DeflateParams,
    compress: Option<Compress>,
    decompress: Option<Decompress>,
}

impl std::fmt::Debug for Deflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflate")
            .field("params", &self.params)
            .finish()
    }
}

impl Deflate {
    pub(crate) fn new(params: DeflateParams) -> Deflate {
        Deflate {
            params,
            compress: None,
            decompress: None,
        }
    }

    /// Compress one message's payload.
    pub(crate) fn compress(&mut self, payload: &[u8]) -> Vec<u8> {
        let bits = self.params.own_max_window_bits.max(9);
        let compress = self.compress.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::fast(), false, bits)
        });
        let mut out = Vec::with_capacity(payload.len() / 2 + 64);
        let mut input = payload;
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.len().max(64));
            }
            let before = compress.total_in();
            compress
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .expect("compressing into memory cannot fail");
            input = &input[(compress.total_in() - before) as usize..];
            // Done once all input is in and the flush left room to spare.
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        // Nothing came out (an empty message right after a flush): the empty stored block's
        // first byte, so that the peer's appended tail completes a block (RFC 7692 §7.2.3.6).
        if out.is_empty() {
            out.push(0x00);
        }
        if self.params.own_no_context_takeover {
            compress.reset();
        }
        out
    }

    /// Inflate one message's payload (its frames' payloads joined), failing with
    /// [`Error::TooBig`] once the result would pass `limit` bytes.
    pub(crate) fn decompress(&mut self, payload: &[u8], limit: usize) -> Result<Bytes, Error> {
        let bits = self.params.peer_max_window_bits.max(9);
        let decompress = self
            .decompress
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        let mut out = Vec::with_capacity((payload.len() * 3).min(limit) + 16);
        for mut input in [payload, &TAIL[..]] {
            loop {
                if out.len() == out.capacity() {
                    out.reserve(out.len().max(1024));
                }
                let (before, written) = (decompress.total_in(), out.len());
                let status = decompress
                    .decompress_vec(input, &mut out, FlushDecompress::Sync)
                    .map_err(|_| Error::BadCompression)?;
                let read = (decompress.total_in() - before) as usize;
                input = &input[read..];
                if read == 0 && out.len() == written && out.len() < out.capacity() {
                    // No progress with room to spare: the rest cannot be inflated.
                    if input.is_empty() {
                        break;
                    }
                    return Err(Error::BadCompression);
                }
                // A final block ends the stream: permessage-deflate never sends one.
                if status == Status::StreamEnd {
                    return Err(Error::BadCompression);
                }
                if out.len() > limit {
                    return Err(Error::TooBig);
                }
                if input.is_empty() && out.len() < out.capacity() {
                    break;
                }
            }
        }
        if self.params.peer_no_context_takeover {
            decompress.reset(false);
        }
        Ok(Bytes::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(value: &str) -> Option<(DeflateParams, String)> {
        negotiate([value.as_bytes()])
    }

    #[test]
    fn a_plain_offer_is_accepted_as_it_is() {
        let (params, answer) = offer("permessage-deflate; client_max_window_bits").unwrap();
        assert_eq!(answer, "permessage-deflate");
        assert_eq!(
            (params.own_max_window_bits, params.peer_max_window_bits),
            (15, 15)
        );
    }

    #[test]
    fn parameters_are_honoured_and_echoed() {
        let (params, answer) = offer(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=\"12\"",
        )
        .unwrap();
        assert!(params.own_no_context_takeover && params.peer_no_context_takeover);
        assert_eq!(
            (params.own_max_window_bits, params.peer_max_window_bits),
            (10, 12)
        );
        assert_eq!(
            answer,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"
        );
    }

    #[test]
    fn bad_offers_are_declined_and_the_next_one_taken() {
        for bad in [
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=8",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; unknown",
            "x-webkit-deflate-frame",
        ] {
            assert_eq!(offer(bad), None, "{bad}");
        }
        let (params, _) = offer(
            "permessage-deflate; server_max_window_bits=99, permessage-deflate; server_max_window_bits=11",
        )
        .unwrap();
        assert_eq!(params.own_max_window_bits, 11);
    }

    fn pair(own: bool, peer: bool) -> (Deflate, Deflate) {
        let server = DeflateParams {
            own_no_context_takeover: own,
            peer_no_context_takeover: peer,
            own_max_window_bits: 15,
            peer_max_window_bits: 15,
        };
        let client = DeflateParams {
            own_no_context_takeover: peer,
            peer_no_context_takeover: own,
            ..server
        };
        (Deflate::new(server), Deflate::new(client))
    }

    #[test]
    fn messages_round_trip_with_and_without_context_takeover() {
        for takeover in [false, true] {
            let (mut a, mut b) = pair(takeover, takeover);
            for i in 0..5 {
                let message = format!("message {i}: {}", "abc".repeat(500));
                let wire = a.compress(message.as_bytes());
                assert!(!wire.ends_with(&TAIL));
                assert!(wire.len() < message.len() / 4);
                let back = b.decompress(&wire, 1 << 20).unwrap();
                assert_eq!(&back[..], message.as_bytes());
            }
        }
    }

    #[test]
    fn messages_of_every_size_round_trip() {
        let (mut a, mut b) = pair(false, false);
        for len in [0, 1, 2, 16, 125, 4096, 65_536, 1 << 20] {
            let message: Vec<u8> = (0..len).map(|i| (i % 7) as u8 + b'a').collect();
            let wire = a.compress(&message);
            assert_eq!(
                b.decompress(&wire, 1 << 21).as_deref(),
                Ok(&message[..]),
                "{len}"
            );
        }
    }

    #[test]
    fn empty_messages_in_a_row_keep_both_ends_in_step() {
        let (mut a, mut b) = pair(false, false);
        for message in [&b""[..], b"", b"", b"a", b"", &[7u8; 16]] {
            let wire = a.compress(message);
            assert!(!wire.is_empty());
            assert_eq!(b.decompress(&wire, 1 << 20).as_deref(), Ok(message));
        }
    }

    #[test]
    fn inflating_past_the_limit_fails_before_it_is_whole() {
        let (mut a, mut b) = pair(false, false);
        let wire = a.compress(&vec![0u8; 1 << 20]);
        assert_eq!(b.decompress(&wire, 1000), Err(Error::TooBig));
    }

    #[test]
    fn garbage_does_not_inflate() {
        let (_, mut b) = pair(false, false);
        assert_eq!(
            b.decompress(&[0xFF; 16], 1 << 20),
            Err(Error::BadCompression)
        );
    }
}

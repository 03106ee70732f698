//! The opening handshake's rules (RFC 6455 §4.2): which requests are WebSocket requests, what a
//! valid one must carry, and the accept key.

use bytes::Bytes;
use sha1::{Digest, Sha1};

/// The GUID every accept key is made with (RFC 6455 §1.3).
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Whether a request asks for a WebSocket: `GET`, `websocket` among the `Upgrade` field's
/// protocols and `upgrade` among the `Connection` field's tokens (any case, any position).
/// Anything else is plain HTTP for the app.
pub fn is_websocket_request(method: &[u8], headers: &[(Bytes, Bytes)]) -> bool {
    method == b"GET"
        && has_token(headers, b"upgrade", b"websocket")
        && has_token(headers, b"connection", b"upgrade")
}

fn has_token(headers: &[(Bytes, Bytes)], name: &[u8], token: &[u8]) -> bool {
    headers
        .iter()
        .filter(|(n, _)| &n[..] == name)
        .flat_map(|(_, v)| v.split(|&b| b == b','))
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// What a valid WebSocket request offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// `Sec-WebSocket-Accept` for the 101.
    pub accept: String,
    /// The subprotocols offered, in the client's order of preference.
    pub subprotocols: Vec<String>,
    /// The `Sec-WebSocket-Extensions` field values, for [`crate::deflate::negotiate`].
    pub extensions: Vec<Bytes>,
}

/// Why a WebSocket request cannot be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// `Sec-WebSocket-Version` is missing or not 13: answered 426 with
    /// `Sec-WebSocket-Version: 13`.
    #[error("unsupported WebSocket version (this server speaks 13)")]
    Version,
    /// `Sec-WebSocket-Key` is missing, repeated, or not 16 bytes in base64: answered 400.
    #[error("missing or invalid Sec-WebSocket-Key")]
    Key,
}

impl HandshakeError {
    /// The HTTP status the request is answered with.
    pub fn status(self) -> u16 {
        match self {
            HandshakeError::Version => 426,
            HandshakeError::Key => 400,
        }
    }
}

/// Check a WebSocket request's fields (names lowercase, as the parser gives them).
pub fn check(headers: &[(Bytes, Bytes)]) -> Result<Offer, HandshakeError> {
    check_version(headers)?;
    let mut keys = headers
        .iter()
        .filter(|(n, _)| &n[..] == b"sec-websocket-key");
    let key = match (keys.next(), keys.next()) {
        (Some((_, v)), None) => v.trim_ascii(),
        _ => return Err(HandshakeError::Key),
    };
    if decoded_len(key) != Some(16) {
        return Err(HandshakeError::Key);
    }
    Ok(offer(headers, accept_key(key)))
}

/// Check the fields of an HTTP/2 extended CONNECT for a WebSocket (RFC 8441 §5): the version
/// as over HTTP/1.1; there is no key (the stream is the proof), so `accept` is empty.
pub fn check_extended_connect(headers: &[(Bytes, Bytes)]) -> Result<Offer, HandshakeError> {
    check_version(headers)?;
    Ok(offer(headers, String::new()))
}

/// `Sec-WebSocket-Version`: exactly one, 13.
fn check_version(headers: &[(Bytes, Bytes)]) -> Result<(), HandshakeError> {
    let mut versions = headers
        .iter()
        .filter(|(n, _)| &n[..] == b"sec-websocket-version");
    match (versions.next(), versions.next()) {
        (Some((_, v)), None) if v.trim_ascii() == b"13" => Ok(()),
        _ => Err(HandshakeError::Version),
    }
}

/// The subprotocols and extensions offered.
fn offer(headers: &[(Bytes, Bytes)], accept: String) -> Offer {
    let subprotocols = headers
        .iter()
        .filter(|(n, _)| &n[..] == b"sec-websocket-protocol")
        .flat_map(|(_, v)| v.split(|&b| b == b','))
        .map(|p| String::from_utf8_lossy(p.trim_ascii()).into_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let extensions = headers
        .iter()
        .filter(|(n, _)| &n[..] == b"sec-websocket-extensions")
        .map(|(_, v)| v.clone())
        .collect();
    Offer {
        accept,
        subprotocols,
        extensions,
    }
}

/// `Sec-WebSocket-Accept` for a client's key: base64 of SHA-1 of the key and the GUID.
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID);
    base64(&sha.finalize())
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = u32::from(chunk[0]) << 16
            | u32::from(*chunk.get(1).unwrap_or(&0)) << 8
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// How many bytes strict, padded base64 `text` decodes to; `None` if it is not such base64
/// (wrong length, a character outside the alphabet, padding in the middle, stray low bits).
fn decoded_len(text: &[u8]) -> Option<usize> {
    if text.is_empty() || text.len() % 4 != 0 {
        return None;
    }
    let pad = text.iter().rev().take_while(|&&b| b == b'=').count();
    if pad > 2 {
        return None;
    }
    let body = &text[..text.len() - pad];
    let mut last = 0;
    for &b in body {
        last = ALPHABET.iter().position(|&a| a == b)? as u8;
    }
    // Padding means the last character's unused low bits must be zero.
    let unused_mask = match pad {
        1 => 0b11,
        2 => 0b1111,
        _ => 0,
    };
    (last & unused_mask == 0).then_some(text.len() / 4 * 3 - pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(Bytes, Bytes)> {
        pairs
            .iter()
            .map(|(n, v)| (Bytes::from(n.to_string()), Bytes::from(v.to_string())))
            .collect()
    }

    #[test]
    fn the_rfc_example_key_gives_its_accept_value() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn base64_pads_like_the_rfc() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn websocket_requests_are_told_by_their_tokens_in_any_case() {
        let h = fields(&[
            ("upgrade", "WebSocket"),
            ("connection", "keep-alive, Upgrade"),
        ]);
        assert!(is_websocket_request(b"GET", &h));
        assert!(!is_websocket_request(b"POST", &h));
        assert!(!is_websocket_request(
            b"GET",
            &fields(&[("upgrade", "websocket")])
        ));
        assert!(!is_websocket_request(
            b"GET",
            &fields(&[("upgrade", "h2c"), ("connection", "upgrade")])
        ));
    }

    #[test]
    fn a_valid_request_is_checked_and_its_offers_kept() {
        let h = fields(&[
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-version", "13"),
            ("sec-websocket-protocol", "chat, superchat"),
            ("sec-websocket-protocol", "v2"),
            ("sec-websocket-extensions", "permessage-deflate"),
        ]);
        let offer = check(&h).unwrap();
        assert_eq!(offer.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(offer.subprotocols, ["chat", "superchat", "v2"]);
        assert_eq!(offer.extensions, [Bytes::from("permessage-deflate")]);
    }

    #[test]
    fn a_wrong_version_is_426_and_a_bad_key_400() {
        let key = ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        for version in [
            &[][..],
            &[("sec-websocket-version", "8")],
            &[
                ("sec-websocket-version", "13"),
                ("sec-websocket-version", "13"),
            ],
        ] {
            let mut h = vec![key];
            h.extend_from_slice(version);
            assert_eq!(check(&fields(&h)), Err(HandshakeError::Version));
        }
        assert_eq!(HandshakeError::Version.status(), 426);
        for bad in [
            "",
            "short",
            "dGhlIHNhbXBsZSBub25jZQ=",
            "dGhlIHNhbXBsZSBub25jZR==",
            "dGhlIHNhbXBsZSBub25j====",
            "dGhlIHNhbXBsZSBub25jZQ!!",
            "dGhlIHNhbXBsZSBub25jZXh4",
        ] {
            let h = fields(&[("sec-websocket-version", "13"), ("sec-websocket-key", bad)]);
            assert_eq!(check(&h), Err(HandshakeError::Key), "{bad}");
        }
        let twice = fields(&[("sec-websocket-version", "13"), key, key]);
        assert_eq!(check(&twice), Err(HandshakeError::Key));
        assert_eq!(HandshakeError::Key.status(), 400);
    }
}

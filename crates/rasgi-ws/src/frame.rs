//! Frames (RFC 6455 §5.2): the head's parsing and writing, and masking.
//!
//! The rule: a head is judged whole before any payload byte is looked at. Everything the RFC
//! says must fail the connection at the frame level is an [`Error`] here, with its close code.

use bytes::BufMut;

use crate::Error;

/// A frame's opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// The next fragment of a message.
    Continuation,
    /// The first (or only) frame of a text message.
    Text,
    /// The first (or only) frame of a binary message.
    Binary,
    /// The closing handshake.
    Close,
    /// A ping: answered with a pong carrying the same payload.
    Ping,
    /// A pong.
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Result<OpCode, Error> {
        Ok(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => return Err(Error::ReservedOpcode(other)),
        })
    }

    fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong.
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// Longest payload of a control frame (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The last frame of its message.
    pub fin: bool,
    /// RSV1: the message is compressed (permessage-deflate).
    pub rsv1: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, for a frame a client sent.
    pub mask: Option<[u8; 4]>,
    /// The payload's length.
    pub payload_len: u64,
    /// The head's own length in bytes (2 to 14).
    pub head_len: usize,
}

/// Parse a frame head from the start of `buf`: `Ok(None)` while it is incomplete.
///
/// `masked` says whether the peer must mask (a client does, a server must not); `rsv1_allowed`
/// whether an extension gave RSV1 a meaning. RSV1 is checked against the opcode by the message
/// layer (it may only start a data message).
pub fn parse_head(buf: &[u8], masked: bool, rsv1_allowed: bool) -> Result<Option<Head>, Error> {
    let [first, second, ..] = *buf else {
        return Ok(None);
    };
    if first & 0x30 != 0 || (first & 0x40 != 0 && !rsv1_allowed) {
        return Err(Error::ReservedBits);
    }
    let opcode = OpCode::from_bits(first & 0x0F)?;
    let fin = first & 0x80 != 0;
    let has_mask = second & 0x80 != 0;
    if has_mask != masked {
        return Err(if masked {
            Error::Unmasked
        } else {
            Error::Masked
        });
    }
    let short = second & 0x7F;
    if opcode.is_control() {
        if !fin {
            return Err(Error::FragmentedControl);
        }
        if usize::from(short) > MAX_CONTROL_PAYLOAD {
            return Err(Error::ControlTooLong);
        }
    }
    let (payload_len, mut at) = match short {
        126 => {
            let Some(b) = buf.get(2..4) else {
                return Ok(None);
            };
            let len = u16::from_be_bytes([b[0], b[1]]);
            if len < 126 {
                return Err(Error::LengthNotMinimal);
            }
            (u64::from(len), 4)
        }
        127 => {
            let Some(b) = buf.get(2..10) else {
                return Ok(None);
            };
            let len = u64::from_be_bytes(b.try_into().expect("eight bytes"));
            if len >> 63 != 0 {
                return Err(Error::LengthTooLarge);
            }
            if len <= u64::from(u16::MAX) {
                return Err(Error::LengthNotMinimal);
            }
            (len, 10)
        }
        n => (u64::from(n), 2),
    };
    let mask = if has_mask {
        let Some(key) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some(key.try_into().expect("four bytes"))
    } else {
        None
    };
    Ok(Some(Head {
        fin,
        rsv1: first & 0x40 != 0,
        opcode,
        mask,
        payload_len,
        head_len: at,
    }))
}

/// Write a frame head for a payload of `len` bytes (with `mask`, the key the payload will be
/// masked with).
pub fn write_head(
    out: &mut impl BufMut,
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    len: usize,
    mask: Option<[u8; 4]>,
) {
    // Each shape is written as one fixed-size piece (one room check, no copy loop).
    let first = u8::from(fin) << 7 | u8::from(rsv1) << 6 | opcode.bits();
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    if len < 126 {
        out.put_slice(&[first, mask_bit | len as u8]);
    } else if let Ok(len) = u16::try_from(len) {
        let [high, low] = len.to_be_bytes();
        out.put_slice(&[first, mask_bit | 126, high, low]);
    } else {
        let mut head = [0u8; 10];
        head[0] = first;
        head[1] = mask_bit | 127;
        head[2..].copy_from_slice(&(len as u64).to_be_bytes());
        out.put_slice(&head);
    }
    if let Some(key) = mask {
        out.put_slice(&key);
    }
}

/// XOR `data` with `key` in place, as if `data` began `offset` bytes into the payload.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    // The key as if the payload began `offset` bytes earlier: rotated by whole bytes.
    let turn = 8 * (offset % 4) as u32;
    let [k0, k1, k2, k3] = u32::from_le_bytes(key).rotate_right(turn).to_le_bytes();
    let wide = [k0, k1, k2, k3, k0, k1, k2, k3];
    let wide_word = u64::from_ne_bytes(wide);
    let mut words = data.chunks_exact_mut(8);
    for word in &mut words {
        let masked = u64::from_ne_bytes((&*word).try_into().expect("eight bytes")) ^ wide_word;
        word.copy_from_slice(&masked.to_ne_bytes());
    }
    // The tail starts a whole number of keys in: byte `i` takes the key's byte `i`.
    for (byte, k) in words.into_remainder().iter_mut().zip(wide) {
        *byte ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &[u8]) -> Result<Option<Head>, Error> {
        parse_head(bytes, true, false)
    }

    #[test]
    fn a_masked_text_frame_head_parses() {
        let h = head(&[0x81, 0x85, 1, 2, 3, 4]).unwrap().unwrap();
        assert!(h.fin && !h.rsv1);
        assert_eq!(h.opcode, OpCode::Text);
        assert_eq!(h.mask, Some([1, 2, 3, 4]));
        assert_eq!((h.payload_len, h.head_len), (5, 6));
    }

    #[test]
    fn an_incomplete_head_asks_for_more() {
        for bytes in [&[][..], &[0x81], &[0x81, 0xFE, 0], &[0x81, 0x85, 1, 2, 3]] {
            assert_eq!(head(bytes), Ok(None), "{bytes:?}");
        }
    }

    #[test]
    fn every_frame_level_rule_fails_with_its_error() {
        let cases: &[(&[u8], Error)] = &[
            (&[0x91, 0x80, 0, 0, 0, 0], Error::ReservedBits),
            (&[0xA1, 0x80, 0, 0, 0, 0], Error::ReservedBits),
            (&[0xC1, 0x80, 0, 0, 0, 0], Error::ReservedBits),
            (&[0x83, 0x80, 0, 0, 0, 0], Error::ReservedOpcode(3)),
            (&[0x8B, 0x80, 0, 0, 0, 0], Error::ReservedOpcode(0xB)),
            (&[0x81, 0x00], Error::Unmasked),
            (&[0x09, 0x80, 0, 0, 0, 0], Error::FragmentedControl),
            (&[0x89, 0xFE, 0, 126], Error::ControlTooLong),
            (&[0x88, 0xFE, 0, 126], Error::ControlTooLong),
            (&[0x82, 0xFE, 0, 5], Error::LengthNotMinimal),
            (
                &[0x82, 0xFF, 0, 0, 0, 0, 0, 0, 1, 0],
                Error::LengthNotMinimal,
            ),
            (
                &[0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0],
                Error::LengthTooLarge,
            ),
        ];
        for (bytes, error) in cases {
            assert_eq!(head(bytes), Err(*error), "{bytes:02x?}");
            assert_eq!(error.close_code(), 1002);
        }
        // A server's frames must not be masked.
        assert_eq!(
            parse_head(&[0x81, 0x80, 0, 0, 0, 0], false, false),
            Err(Error::Masked)
        );
        // RSV1 is allowed once an extension is negotiated.
        assert!(
            parse_head(&[0xC1, 0x80, 0, 0, 0, 0], true, true)
                .unwrap()
                .unwrap()
                .rsv1
        );
    }

    #[test]
    fn heads_written_parse_back_at_every_length_form() {
        for len in [0, 125, 126, 65_535, 65_536, 1 << 20] {
            let mut out = Vec::new();
            write_head(
                &mut out,
                true,
                false,
                OpCode::Binary,
                len,
                Some([9, 8, 7, 6]),
            );
            let h = head(&out).unwrap().unwrap();
            assert_eq!((h.payload_len, h.head_len), (len as u64, out.len()));
        }
    }

    #[test]
    fn masking_at_any_offset_and_length_matches_byte_by_byte() {
        let key = [0x12, 0x34, 0x56, 0x78];
        // Every tail length after the 8-byte words, and a long run.
        for len in (0..=24).chain([256]) {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            for offset in 0..8 {
                let mut wide = data.clone();
                apply_mask(&mut wide, key, offset);
                let slow: Vec<u8> = data
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[(i + offset) % 4])
                    .collect();
                assert_eq!(wide, slow, "length {len}, offset {offset}");
            }
        }
    }
}

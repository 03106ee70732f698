//! Header blocks arriving in pieces (RFC 9113 §4.3, §6.10): a HEADERS frame without
//! END_HEADERS must be followed by CONTINUATION frames on the same stream and nothing else,
//! until one has END_HEADERS. The pieces are joined here, within bounds: a block larger than
//! its limit, or split into more frames than a real client ever sends, is the CONTINUATION
//! flood of CVE-2024-27316 and its siblings, answered ENHANCE_YOUR_CALM before it costs
//! memory or the decoder's time.

use bytes::{Bytes, BytesMut};

use crate::frame::{ErrorCode, FrameError};

/// The most frames one header block may take (HEADERS and its CONTINUATIONs). Clients send a
/// block in one frame, or a few when it is larger than their peer's frame size.
pub const MAX_BLOCK_FRAMES: usize = 32;

/// A header block being gathered.
#[derive(Debug, Default)]
pub struct BlockAssembler {
    /// The stream whose block is open, with its pieces so far and whether END_STREAM came.
    open: Option<Open>,
    /// The largest block accepted, in octets.
    max_block: usize,
}

#[derive(Debug)]
struct Open {
    stream_id: u32,
    end_stream: bool,
    pieces: BytesMut,
    frames: usize,
}

/// A whole header block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Its stream.
    pub stream_id: u32,
    /// END_STREAM was on its HEADERS frame.
    pub end_stream: bool,
    /// The block, for the HPACK decoder.
    pub fragment: Bytes,
}

impl BlockAssembler {
    /// Blocks up to `max_block` octets are gathered.
    pub fn new(max_block: usize) -> BlockAssembler {
        BlockAssembler {
            open: None,
            max_block,
        }
    }

    /// Whether a block is open: until it ends, only CONTINUATION on its stream may come.
    pub fn expecting_continuation(&self) -> Option<u32> {
        self.open.as_ref().map(|open| open.stream_id)
    }

    /// Any frame but CONTINUATION arrived: refused while a block is open (§6.10).
    pub fn other_frame(&self) -> Result<(), FrameError> {
        match self.open {
            Some(_) => Err(FrameError::connection(
                ErrorCode::ProtocolError,
                "a frame other than CONTINUATION inside a header block",
            )),
            None => Ok(()),
        }
    }

    /// A HEADERS frame: its block whole (END_HEADERS), or `None` while CONTINUATIONs follow.
    pub fn headers(
        &mut self,
        stream_id: u32,
        fragment: Bytes,
        end_stream: bool,
        end_headers: bool,
    ) -> Result<Option<Block>, FrameError> {
        self.other_frame()?;
        self.check_size(fragment.len())?;
        if end_headers {
            return Ok(Some(Block {
                stream_id,
                end_stream,
                fragment,
            }));
        }
        self.open = Some(Open {
            stream_id,
            end_stream,
            pieces: BytesMut::from(&fragment[..]),
            frames: 1,
        });
        Ok(None)
    }

    /// A CONTINUATION frame: the block whole once END_HEADERS comes.
    pub fn continuation(
        &mut self,
        stream_id: u32,
        fragment: &[u8],
        end_headers: bool,
    ) -> Result<Option<Block>, FrameError> {
        let Some(open) = self.open.as_mut() else {
            return Err(FrameError::connection(
                ErrorCode::ProtocolError,
                "CONTINUATION without a header block open",
            ));
        };
        if open.stream_id != stream_id {
            return Err(FrameError::connection(
                ErrorCode::ProtocolError,
                "CONTINUATION on another stream than its block's",
            ));
        }
        open.frames += 1;
        let (frames, size) = (open.frames, open.pieces.len() + fragment.len());
        if frames > MAX_BLOCK_FRAMES {
            return Err(FrameError::connection(
                ErrorCode::EnhanceYourCalm,
                "a header block in too many CONTINUATION frames",
            ));
        }
        self.check_size(size)?;
        let open = self.open.as_mut().expect("checked above");
        open.pieces.extend_from_slice(fragment);
        if !end_headers {
            return Ok(None);
        }
        let open = self.open.take().expect("checked above");
        Ok(Some(Block {
            stream_id: open.stream_id,
            end_stream: open.end_stream,
            fragment: open.pieces.freeze(),
        }))
    }

    fn check_size(&self, size: usize) -> Result<(), FrameError> {
        if size > self.max_block {
            return Err(FrameError::connection(
                ErrorCode::EnhanceYourCalm,
                "a header block larger than the server takes",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(error: FrameError) -> (ErrorCode, Option<u32>) {
        (error.code, error.stream)
    }

    #[test]
    fn rfc9113_6_10_a_block_in_pieces_is_joined() {
        let mut blocks = BlockAssembler::new(1024);
        assert_eq!(
            blocks.headers(1, Bytes::from_static(b"ab"), true, false),
            Ok(None)
        );
        assert_eq!(blocks.expecting_continuation(), Some(1));
        assert_eq!(blocks.continuation(1, b"cd", false), Ok(None));
        let block = blocks.continuation(1, b"ef", true).unwrap().unwrap();
        assert_eq!(
            block,
            Block {
                stream_id: 1,
                end_stream: true,
                fragment: Bytes::from_static(b"abcdef")
            }
        );
        assert_eq!(blocks.expecting_continuation(), None);
        // A whole block in one HEADERS frame.
        let whole = blocks
            .headers(3, Bytes::from_static(b"x"), false, true)
            .unwrap()
            .unwrap();
        assert_eq!(whole.fragment, "x");
    }

    #[test]
    fn rfc9113_6_10_only_continuation_on_the_same_stream_may_follow() {
        let mut blocks = BlockAssembler::new(1024);
        blocks
            .headers(1, Bytes::from_static(b"ab"), false, false)
            .unwrap();
        assert_eq!(
            code(blocks.other_frame().unwrap_err()),
            (ErrorCode::ProtocolError, None)
        );
        assert_eq!(
            code(blocks.continuation(3, b"cd", true).unwrap_err()),
            (ErrorCode::ProtocolError, None)
        );
        assert_eq!(
            code(blocks.headers(3, Bytes::new(), false, true).unwrap_err()),
            (ErrorCode::ProtocolError, None)
        );
        let mut idle = BlockAssembler::new(1024);
        assert_eq!(
            code(idle.continuation(1, b"x", true).unwrap_err()),
            (ErrorCode::ProtocolError, None)
        );
    }

    #[test]
    fn cve_2024_27316_a_continuation_flood_is_answered_enhance_your_calm() {
        // Many small CONTINUATIONs that never end: refused at the frame limit, holding little.
        let mut blocks = BlockAssembler::new(64 * 1024);
        blocks
            .headers(1, Bytes::from_static(b"a"), false, false)
            .unwrap();
        let mut refused = None;
        for n in 2..=1000 {
            if let Err(error) = blocks.continuation(1, b"a", false) {
                refused = Some((n, code(error)));
                break;
            }
        }
        assert_eq!(
            refused,
            Some((MAX_BLOCK_FRAMES + 1, (ErrorCode::EnhanceYourCalm, None)))
        );
        // Large CONTINUATIONs: refused once the block passes its size.
        let mut blocks = BlockAssembler::new(40_000);
        blocks
            .headers(1, Bytes::from(vec![0; 16_384]), false, false)
            .unwrap();
        blocks.continuation(1, &[0; 16_384], false).unwrap();
        let error = blocks.continuation(1, &[0; 16_384], false).unwrap_err();
        assert_eq!(code(error), (ErrorCode::EnhanceYourCalm, None));
    }
}

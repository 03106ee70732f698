//! Reading frames: the 9-octet header (§4.1), then each type's payload with its rules (§6).
//! A rule broken is a [`FrameError`] with the code and the scope (stream or connection) the
//! RFC names.

use bytes::{Buf, Bytes, BytesMut};

use super::error::{ErrorCode, FrameError};
use super::{flag, kind, setting, MAX_MAX_FRAME_SIZE, MAX_WINDOW};

/// The frame header's length.
pub const HEADER_LEN: usize = 9;

/// A priority block (§5.3.2: parsed, then ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    /// The stream depended on.
    pub dependency: u32,
    /// The exclusive flag.
    pub exclusive: bool,
    /// The weight, minus one.
    pub weight: u8,
}

/// One setting of a SETTINGS frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// Its identifier ([`setting`]).
    pub id: u16,
    /// Its value.
    pub value: u32,
}

/// A frame, its payload checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// DATA: the data without padding; `flow_len` is the whole payload, padding included,
    /// which flow control counts (§6.1).
    Data {
        /// The stream.
        stream_id: u32,
        /// END_STREAM.
        end_stream: bool,
        /// The data.
        data: Bytes,
        /// The octets flow control counts.
        flow_len: u32,
    },
    /// HEADERS: the start of a header block.
    Headers {
        /// The stream.
        stream_id: u32,
        /// END_STREAM.
        end_stream: bool,
        /// END_HEADERS: no CONTINUATION follows.
        end_headers: bool,
        /// The priority block, if the PRIORITY flag was set.
        priority: Option<Priority>,
        /// The header block fragment.
        fragment: Bytes,
    },
    /// PRIORITY.
    Priority {
        /// The stream.
        stream_id: u32,
        /// The priority.
        priority: Priority,
    },
    /// RST_STREAM.
    RstStream {
        /// The stream.
        stream_id: u32,
        /// Why.
        code: ErrorCode,
    },
    /// SETTINGS, or its acknowledgement.
    Settings {
        /// An acknowledgement (no settings).
        ack: bool,
        /// The settings, in order (unknown ones included: the receiver ignores them).
        settings: Vec<Setting>,
    },
    /// PUSH_PROMISE (a server receiving one answers PROTOCOL_ERROR, §8.4).
    PushPromise {
        /// The stream.
        stream_id: u32,
        /// The stream promised.
        promised_id: u32,
        /// END_HEADERS.
        end_headers: bool,
        /// The header block fragment.
        fragment: Bytes,
    },
    /// PING, or its acknowledgement.
    Ping {
        /// An acknowledgement.
        ack: bool,
        /// The opaque data.
        data: [u8; 8],
    },
    /// GOAWAY.
    GoAway {
        /// The last stream the sender processed.
        last_stream_id: u32,
        /// Why.
        code: ErrorCode,
        /// Debug data.
        debug: Bytes,
    },
    /// WINDOW_UPDATE.
    WindowUpdate {
        /// The stream, or 0 for the connection.
        stream_id: u32,
        /// The increment, 1 to 2^31 - 1.
        increment: u32,
    },
    /// CONTINUATION.
    Continuation {
        /// The stream.
        stream_id: u32,
        /// END_HEADERS.
        end_headers: bool,
        /// The header block fragment.
        fragment: Bytes,
    },
    /// A type this implementation does not know: ignored (§5.5).
    Unknown {
        /// The type.
        kind: u8,
        /// The stream.
        stream_id: u32,
    },
}

/// Read the frame at the front of `buf` once it is whole (`Ok(None)` until then), taking its
/// octets. A frame longer than `max_frame_size` (our SETTINGS_MAX_FRAME_SIZE) is refused as
/// soon as its header is in (§4.2).
pub fn read_frame(buf: &mut BytesMut, max_frame_size: u32) -> Result<Option<Frame>, FrameError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let len = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]);
    let (frame_kind, flags) = (buf[3], buf[4]);
    let stream_id = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) & MAX_WINDOW;
    if len > max_frame_size {
        return Err(FrameError::connection(
            ErrorCode::FrameSizeError,
            "a frame larger than SETTINGS_MAX_FRAME_SIZE",
        ));
    }
    if buf.len() < HEADER_LEN + len as usize {
        return Ok(None);
    }
    buf.advance(HEADER_LEN);
    let payload = buf.split_to(len as usize).freeze();
    parse(frame_kind, flags, stream_id, payload).map(Some)
}

fn parse(frame_kind: u8, flags: u8, stream_id: u32, payload: Bytes) -> Result<Frame, FrameError> {
    use ErrorCode::{FrameSizeError, ProtocolError};
    let on_stream = |what| {
        if stream_id == 0 {
            Err(FrameError::connection(ProtocolError, what))
        } else {
            Ok(())
        }
    };
    let on_connection = |what| {
        if stream_id != 0 {
            Err(FrameError::connection(ProtocolError, what))
        } else {
            Ok(())
        }
    };
    let len = payload.len();
    match frame_kind {
        kind::DATA => {
            on_stream("DATA on stream 0")?;
            let flow_len = len as u32;
            let data = unpad(payload, flags)?;
            Ok(Frame::Data {
                stream_id,
                end_stream: flags & flag::END_STREAM != 0,
                data,
                flow_len,
            })
        }
        kind::HEADERS => {
            on_stream("HEADERS on stream 0")?;
            let mut block = unpad(payload, flags)?;
            let priority = if flags & flag::PRIORITY != 0 {
                if block.len() < 5 {
                    return Err(FrameError::connection(
                        FrameSizeError,
                        "HEADERS too short for its priority block",
                    ));
                }
                // A HEADERS that makes its stream depend on itself is refused by the
                // connection once its block is decoded: refused here, the block would be
                // dropped undecoded and the HPACK tables would fall out of step.
                Some(priority_block(&block.split_to(5)))
            } else {
                None
            };
            Ok(Frame::Headers {
                stream_id,
                end_stream: flags & flag::END_STREAM != 0,
                end_headers: flags & flag::END_HEADERS != 0,
                priority,
                fragment: block,
            })
        }
        kind::PRIORITY => {
            on_stream("PRIORITY on stream 0")?;
            if len != 5 {
                return Err(FrameError::stream(
                    stream_id,
                    FrameSizeError,
                    "PRIORITY of other than 5 octets",
                ));
            }
            let priority = priority_block(&payload);
            refuse_self_dependency(stream_id, &priority)?;
            Ok(Frame::Priority {
                stream_id,
                priority,
            })
        }
        kind::RST_STREAM => {
            on_stream("RST_STREAM on stream 0")?;
            if len != 4 {
                return Err(FrameError::connection(
                    FrameSizeError,
                    "RST_STREAM of other than 4 octets",
                ));
            }
            Ok(Frame::RstStream {
                stream_id,
                code: ErrorCode::from_code(be32(&payload)),
            })
        }
        kind::SETTINGS => {
            on_connection("SETTINGS on a stream")?;
            let ack = flags & flag::ACK != 0;
            if ack && len != 0 {
                return Err(FrameError::connection(
                    FrameSizeError,
                    "a SETTINGS acknowledgement with a payload",
                ));
            }
            if len % 6 != 0 {
                return Err(FrameError::connection(
                    FrameSizeError,
                    "SETTINGS of a length not a multiple of 6",
                ));
            }
            let settings = payload
                .chunks(6)
                .map(|item| {
                    let one = Setting {
                        id: u16::from_be_bytes([item[0], item[1]]),
                        value: be32(&item[2..]),
                    };
                    check_setting(one).map(|()| one)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Frame::Settings { ack, settings })
        }
        kind::PUSH_PROMISE => {
            on_stream("PUSH_PROMISE on stream 0")?;
            let mut block = unpad(payload, flags)?;
            if block.len() < 4 {
                return Err(FrameError::connection(
                    FrameSizeError,
                    "PUSH_PROMISE too short for its stream",
                ));
            }
            let promised_id = be32(&block.split_to(4)) & MAX_WINDOW;
            Ok(Frame::PushPromise {
                stream_id,
                promised_id,
                end_headers: flags & flag::END_HEADERS != 0,
                fragment: block,
            })
        }
        kind::PING => {
            on_connection("PING on a stream")?;
            let data: [u8; 8] = payload[..].try_into().map_err(|_| {
                FrameError::connection(FrameSizeError, "PING of other than 8 octets")
            })?;
            Ok(Frame::Ping {
                ack: flags & flag::ACK != 0,
                data,
            })
        }
        kind::GOAWAY => {
            on_connection("GOAWAY on a stream")?;
            if len < 8 {
                return Err(FrameError::connection(
                    FrameSizeError,
                    "GOAWAY shorter than 8 octets",
                ));
            }
            Ok(Frame::GoAway {
                last_stream_id: be32(&payload) & MAX_WINDOW,
                code: ErrorCode::from_code(be32(&payload[4..])),
                debug: payload.slice(8..),
            })
        }
        kind::WINDOW_UPDATE => {
            if len != 4 {
                return Err(FrameError::connection(
                    FrameSizeError,
                    "WINDOW_UPDATE of other than 4 octets",
                ));
            }
            let increment = be32(&payload) & MAX_WINDOW;
            if increment == 0 {
                let what = "a WINDOW_UPDATE of 0";
                return Err(match stream_id {
                    0 => FrameError::connection(ProtocolError, what),
                    id => FrameError::stream(id, ProtocolError, what),
                });
            }
            Ok(Frame::WindowUpdate {
                stream_id,
                increment,
            })
        }
        kind::CONTINUATION => {
            on_stream("CONTINUATION on stream 0")?;
            Ok(Frame::Continuation {
                stream_id,
                end_headers: flags & flag::END_HEADERS != 0,
                fragment: payload,
            })
        }
        other => Ok(Frame::Unknown {
            kind: other,
            stream_id,
        }),
    }
}

/// The payload without its padding, when the PADDED flag is set (§6.1, §6.2, §6.6).
fn unpad(mut payload: Bytes, flags: u8) -> Result<Bytes, FrameError> {
    if flags & flag::PADDED == 0 {
        return Ok(payload);
    }
    let Some(&pad) = payload.first() else {
        return Err(FrameError::connection(
            ErrorCode::FrameSizeError,
            "a padded frame too short for its pad length",
        ));
    };
    if usize::from(pad) >= payload.len() {
        return Err(FrameError::connection(
            ErrorCode::ProtocolError,
            "padding as long as the payload",
        ));
    }
    payload.advance(1);
    payload.truncate(payload.len() - usize::from(pad));
    Ok(payload)
}

fn priority_block(block: &[u8]) -> Priority {
    let word = be32(block);
    Priority {
        dependency: word & MAX_WINDOW,
        exclusive: word & !MAX_WINDOW != 0,
        weight: block[4],
    }
}

/// §5.3.1: a stream cannot depend on itself.
fn refuse_self_dependency(stream_id: u32, priority: &Priority) -> Result<(), FrameError> {
    if priority.dependency == stream_id {
        return Err(FrameError::stream(
            stream_id,
            ErrorCode::ProtocolError,
            "a stream that depends on itself",
        ));
    }
    Ok(())
}

/// §6.5.2's bounds on known settings; unknown ones pass (and are ignored).
fn check_setting(one: Setting) -> Result<(), FrameError> {
    let bad = |code, what| Err(FrameError::connection(code, what));
    match one.id {
        setting::ENABLE_PUSH | setting::ENABLE_CONNECT_PROTOCOL if one.value > 1 => bad(
            ErrorCode::ProtocolError,
            "a boolean setting other than 0 or 1",
        ),
        setting::INITIAL_WINDOW_SIZE if one.value > MAX_WINDOW => bad(
            ErrorCode::FlowControlError,
            "SETTINGS_INITIAL_WINDOW_SIZE above 2^31 - 1",
        ),
        setting::MAX_FRAME_SIZE
            if !(super::DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&one.value) =>
        {
            bad(
                ErrorCode::ProtocolError,
                "SETTINGS_MAX_FRAME_SIZE outside 2^14 to 2^24 - 1",
            )
        }
        _ => Ok(()),
    }
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

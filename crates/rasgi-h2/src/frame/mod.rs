//! HTTP/2 frames (RFC 9113 §4, §6): read from bytes with every size and field rule checked,
//! and written.
//!
//! | file | what |
//! | --- | --- |
//! | `error.rs` | error codes (§7) and a frame's refusal: which code, and whether the stream or the connection fails |
//! | `read.rs` | the frame header, then each type's payload, checked |
//! | `write.rs` | frames the server sends |
//!
//! Unknown frame types and unknown flags are ignored (§4.1, §5.5); PRIORITY is parsed and
//! ignored (§5.3.2), a PRIORITY making its stream depend on itself refused (a HEADERS that
//! does is refused by the connection, once its header block is decoded).

mod error;
mod read;
mod write;

pub use error::{ErrorCode, FrameError};
pub use read::{read_frame, Frame, Priority, Setting, HEADER_LEN};
pub use write::{
    write_continuation, write_data, write_data_header, write_goaway, write_headers, write_ping,
    write_rst_stream, write_settings, write_settings_ack, write_window_update,
};

/// The frame payload size every endpoint accepts before SETTINGS_MAX_FRAME_SIZE (§4.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// The largest SETTINGS_MAX_FRAME_SIZE allowed (§6.5.2).
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// The largest flow-control window (§6.9.1).
pub const MAX_WINDOW: u32 = (1 << 31) - 1;

/// The frame types of §6, by their codes.
pub mod kind {
    /// DATA (§6.1).
    pub const DATA: u8 = 0x0;
    /// HEADERS (§6.2).
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY (§6.3).
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM (§6.4).
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS (§6.5).
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE (§6.6).
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING (§6.7).
    pub const PING: u8 = 0x6;
    /// GOAWAY (§6.8).
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE (§6.9).
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION (§6.10).
    pub const CONTINUATION: u8 = 0x9;
}

/// The flags of §6, by their bits.
pub mod flag {
    /// DATA, HEADERS: the last frame the sender sends on the stream.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: an acknowledgement.
    pub const ACK: u8 = 0x1;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the header block ends here.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS, PUSH_PROMISE: a pad length and padding.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: a priority block.
    pub const PRIORITY: u8 = 0x20;
}

/// The settings of §6.5.2 (and RFC 8441's), by their identifiers.
pub mod setting {
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// SETTINGS_ENABLE_PUSH.
    pub const ENABLE_PUSH: u16 = 0x2;
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    /// SETTINGS_INITIAL_WINDOW_SIZE.
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    /// SETTINGS_MAX_FRAME_SIZE.
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3).
    pub const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;
}

//! Writing the frames a server sends, each appended whole (header and payload) to `out`.

use super::error::ErrorCode;
use super::read::Setting;
use super::{flag, kind};

fn header(out: &mut Vec<u8>, len: usize, frame_kind: u8, flags: u8, stream_id: u32) {
    debug_assert!(len < 1 << 24, "a frame's length fits 24 bits");
    out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    out.push(frame_kind);
    out.push(flags);
    out.extend_from_slice(&stream_id.to_be_bytes());
}

/// SETTINGS with `settings`.
pub fn write_settings(out: &mut Vec<u8>, settings: &[Setting]) {
    header(out, settings.len() * 6, kind::SETTINGS, 0, 0);
    for one in settings {
        out.extend_from_slice(&one.id.to_be_bytes());
        out.extend_from_slice(&one.value.to_be_bytes());
    }
}

/// The acknowledgement of the peer's SETTINGS.
pub fn write_settings_ack(out: &mut Vec<u8>) {
    header(out, 0, kind::SETTINGS, flag::ACK, 0);
}

/// A header block as HEADERS and as many CONTINUATIONs as `max_frame_size` requires.
pub fn write_headers(
    out: &mut Vec<u8>,
    stream_id: u32,
    block: &[u8],
    end_stream: bool,
    max_frame_size: usize,
) {
    let mut pieces = block.chunks(max_frame_size.max(1));
    let first = pieces.next().unwrap_or(&[]);
    let rest: Vec<&[u8]> = pieces.collect();
    let mut flags = if end_stream { flag::END_STREAM } else { 0 };
    if rest.is_empty() {
        flags |= flag::END_HEADERS;
    }
    header(out, first.len(), kind::HEADERS, flags, stream_id);
    out.extend_from_slice(first);
    for (i, piece) in rest.iter().enumerate() {
        write_continuation(out, stream_id, piece, i == rest.len() - 1);
    }
}

/// CONTINUATION with `fragment`.
pub fn write_continuation(out: &mut Vec<u8>, stream_id: u32, fragment: &[u8], end_headers: bool) {
    let flags = if end_headers { flag::END_HEADERS } else { 0 };
    header(out, fragment.len(), kind::CONTINUATION, flags, stream_id);
    out.extend_from_slice(fragment);
}

/// DATA with `data` (at most the peer's SETTINGS_MAX_FRAME_SIZE).
pub fn write_data(out: &mut Vec<u8>, stream_id: u32, data: &[u8], end_stream: bool) {
    write_data_header(out, stream_id, data.len(), end_stream);
    out.extend_from_slice(data);
}

/// The 9 octets that begin a DATA frame of `len` octets, for a payload sent apart.
pub fn write_data_header(out: &mut Vec<u8>, stream_id: u32, len: usize, end_stream: bool) {
    let flags = if end_stream { flag::END_STREAM } else { 0 };
    header(out, len, kind::DATA, flags, stream_id);
}

/// PING's acknowledgement (or a PING of ours, `ack` false).
pub fn write_ping(out: &mut Vec<u8>, data: [u8; 8], ack: bool) {
    header(out, 8, kind::PING, if ack { flag::ACK } else { 0 }, 0);
    out.extend_from_slice(&data);
}

/// GOAWAY naming the last stream processed.
pub fn write_goaway(out: &mut Vec<u8>, last_stream_id: u32, code: ErrorCode, debug: &[u8]) {
    header(out, 8 + debug.len(), kind::GOAWAY, 0, 0);
    out.extend_from_slice(&last_stream_id.to_be_bytes());
    out.extend_from_slice(&code.code().to_be_bytes());
    out.extend_from_slice(debug);
}

/// RST_STREAM.
pub fn write_rst_stream(out: &mut Vec<u8>, stream_id: u32, code: ErrorCode) {
    header(out, 4, kind::RST_STREAM, 0, stream_id);
    out.extend_from_slice(&code.code().to_be_bytes());
}

/// WINDOW_UPDATE for a stream, or the connection (`stream_id` 0).
pub fn write_window_update(out: &mut Vec<u8>, stream_id: u32, increment: u32) {
    header(out, 4, kind::WINDOW_UPDATE, 0, stream_id);
    out.extend_from_slice(&increment.to_be_bytes());
}

//! Error codes (RFC 9113 §7) and why a frame was refused.

/// An error code, as RST_STREAM and GOAWAY carry it. Unknown codes are kept as they came
/// (§7: they must not trigger special behaviour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 0x0: a graceful shutdown, or no error.
    NoError,
    /// 0x1: an unspecific protocol error.
    ProtocolError,
    /// 0x2: an unexpected internal error.
    InternalError,
    /// 0x3: the flow-control protocol was broken.
    FlowControlError,
    /// 0x4: SETTINGS were not acknowledged in time.
    SettingsTimeout,
    /// 0x5: a frame on a half-closed stream.
    StreamClosed,
    /// 0x6: a frame of the wrong size.
    FrameSizeError,
    /// 0x7: the stream was refused before any processing.
    RefusedStream,
    /// 0x8: the stream is no longer needed.
    Cancel,
    /// 0x9: the header compression context cannot be kept.
    CompressionError,
    /// 0xa: a CONNECT's connection was reset.
    ConnectError,
    /// 0xb: the peer generates excessive load.
    EnhanceYourCalm,
    /// 0xc: the transport's security is inadequate.
    InadequateSecurity,
    /// 0xd: HTTP/1.1 is required.
    Http11Required,
    /// A code this implementation does not know.
    Unknown(u32),
}

impl ErrorCode {
    /// The code on the wire.
    pub fn code(self) -> u32 {
        match self {
            ErrorCode::NoError => 0x0,
            ErrorCode::ProtocolError => 0x1,
            ErrorCode::InternalError => 0x2,
            ErrorCode::FlowControlError => 0x3,
            ErrorCode::SettingsTimeout => 0x4,
            ErrorCode::StreamClosed => 0x5,
            ErrorCode::FrameSizeError => 0x6,
            ErrorCode::RefusedStream => 0x7,
            ErrorCode::Cancel => 0x8,
            ErrorCode::CompressionError => 0x9,
            ErrorCode::ConnectError => 0xa,
            ErrorCode::EnhanceYourCalm => 0xb,
            ErrorCode::InadequateSecurity => 0xc,
            ErrorCode::Http11Required => 0xd,
            ErrorCode::Unknown(code) => code,
        }
    }

    /// The code a wire value stands for.
    pub fn from_code(code: u32) -> ErrorCode {
        match code {
            0x0 => ErrorCode::NoError,
            0x1 => ErrorCode::ProtocolError,
            0x2 => ErrorCode::InternalError,
            0x3 => ErrorCode::FlowControlError,
            0x4 => ErrorCode::SettingsTimeout,
            0x5 => ErrorCode::StreamClosed,
            0x6 => ErrorCode::FrameSizeError,
            0x7 => ErrorCode::RefusedStream,
            0x8 => ErrorCode::Cancel,
            0x9 => ErrorCode::CompressionError,
            0xa => ErrorCode::ConnectError,
            0xb => ErrorCode::EnhanceYourCalm,
            0xc => ErrorCode::InadequateSecurity,
            0xd => ErrorCode::Http11Required,
            other => ErrorCode::Unknown(other),
        }
    }
}

/// Why a frame was refused: the code, and whether it ends one stream (a stream error, §5.4.2)
/// or the whole connection (§5.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{code:?} ({}): {reason}", match stream { Some(id) => format!("stream {id}"), None => "connection".to_string() })]
pub struct FrameError {
    /// The code to send.
    pub code: ErrorCode,
    /// `Some(id)`: a stream error on stream `id`; `None`: a connection error.
    pub stream: Option<u32>,
    /// What was wrong, for the log and GOAWAY's debug data.
    pub reason: &'static str,
}

impl FrameError {
    /// A connection error.
    pub fn connection(code: ErrorCode, reason: &'static str) -> FrameError {
        FrameError {
            code,
            stream: None,
            reason,
        }
    }

    /// A stream error on stream `id`.
    pub fn stream(id: u32, code: ErrorCode, reason: &'static str) -> FrameError {
        FrameError {
            code,
            stream: Some(id),
            reason,
        }
    }
}

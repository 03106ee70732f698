//! Why a connection fails, with the close code it fails with (RFC 6455 §7.4.1).

/// A rule the peer broke. The connection fails: a close frame with [`Error::close_code`] is
/// sent and nothing more is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// RSV2 or RSV3 set, or RSV1 without a negotiated extension.
    #[error("reserved bits set")]
    ReservedBits,
    /// An opcode the RFC reserves.
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A client frame without a mask.
    #[error("client frame not masked")]
    Unmasked,
    /// A server frame with a mask.
    #[error("server frame masked")]
    Masked,
    /// A control frame with FIN clear.
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A control frame with more than 125 bytes of payload.
    #[error("control frame over 125 bytes")]
    ControlTooLong,
    /// A length in more bytes than it needs.
    #[error("payload length not minimally encoded")]
    LengthNotMinimal,
    /// A 64-bit length with its top bit set.
    #[error("payload length over 2^63")]
    LengthTooLarge,
    /// A continuation frame with no message begun.
    #[error("continuation without a message")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is unfinished.
    #[error("new message before the last one ended")]
    MessageNotEnded,
    /// RSV1 on a continuation or control frame.
    #[error("compression bit on a continuation or control frame")]
    CompressedFragment,
    /// A close frame with a one-byte payload.
    #[error("close frame with a one-byte payload")]
    CloseTooShort,
    /// A close code nobody may send.
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    /// Compressed data that does not inflate.
    #[error("compressed data does not inflate")]
    BadCompression,
    /// A text message (or close reason) that is not UTF-8.
    #[error("text is not UTF-8")]
    InvalidUtf8,
    /// A message over the size limit.
    #[error("message over the size limit")]
    TooBig,
}

impl Error {
    /// The close code the connection fails with: 1002 (protocol error), 1007 (invalid data) or
    /// 1009 (too big).
    pub fn close_code(self) -> u16 {
        match self {
            Error::InvalidUtf8 => close_code::INVALID_DATA,
            Error::TooBig => close_code::TOO_BIG,
            _ => close_code::PROTOCOL_ERROR,
        }
    }
}

/// Close codes (RFC 6455 §7.4.1) and which of them a peer may send.
pub mod close_code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// The endpoint is going away (server shutdown, page navigated away).
    pub const GOING_AWAY: u16 = 1001;
    /// A protocol error.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A data type the endpoint does not accept.
    pub const UNSUPPORTED: u16 = 1003;
    /// No code was present (never sent; reported for an empty close frame).
    pub const NO_STATUS: u16 = 1005;
    /// The connection ended without a close frame (never sent).
    pub const ABNORMAL: u16 = 1006;
    /// Data inconsistent with its type (text that is not UTF-8).
    pub const INVALID_DATA: u16 = 1007;
    /// A message that violates the endpoint's policy.
    pub const POLICY: u16 = 1008;
    /// A message too big to process.
    pub const TOO_BIG: u16 = 1009;
    /// An unexpected condition on the server (the app failed).
    pub const INTERNAL_ERROR: u16 = 1011;

    /// Whether a close frame may carry `code`: the RFC's defined codes that are meant to be
    /// sent (1000-1003, 1007-1011, and 1012-1014 registered with IANA since), and 3000-4999
    /// for libraries and apps.
    pub fn is_sendable(code: u16) -> bool {
        matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

//! A stream's states (RFC 9113 §5.1), as the server sees them, and the one transition
//! function over every state and event: each pair either moves the stream, leaves it, ignores
//! the frame, or is refused with the error (and scope) §5.1 names.
//!
//! ```text
//!          recv HEADERS                 recv END_STREAM
//!   idle ──────────────▶ open ─────────────────────────▶ half-closed (remote)
//!                         │ send END_STREAM                      │ send END_STREAM
//!                         ▼                                      ▼
//!                half-closed (local) ── recv END_STREAM ──▶ closed ◀── RST either way
//! ```
//!
//! A server never reserves streams (it does not push), so the reserved states are absent.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::frame::{ErrorCode, FrameError};

/// A map keyed by stream id, hashed by one multiplication: a stream's state is looked up
/// several times per frame, and a general-purpose hash costs more than the rest of the look.
/// The peer chooses the ids, but only rising ones, and a connection holds at most its
/// concurrent-stream limit of them.
pub type StreamMap<V> = HashMap<u32, V, BuildHasherDefault<StreamIdHasher>>;

/// The hasher of [`StreamMap`]: the id times a large odd constant, its high half folded into
/// its low half (the map's buckets are chosen by the low bits).
#[derive(Debug, Default, Clone, Copy)]
pub struct StreamIdHasher(u64);

impl Hasher for StreamIdHasher {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u32(u32::from(b) ^ (self.0 as u32).rotate_left(8));
        }
    }

    fn write_u32(&mut self, id: u32) {
        self.0 = u64::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A stream's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No frame yet.
    Idle,
    /// Both sides may send.
    Open,
    /// The client has sent END_STREAM; the server still sends.
    HalfClosedRemote,
    /// The server has sent END_STREAM; the client still sends.
    HalfClosedLocal,
    /// Done; how it closed decides what a late frame means.
    Closed(ClosedBy),
}

/// How a stream closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedBy {
    /// Both sides sent END_STREAM.
    EndStream,
    /// The client reset it.
    PeerReset,
    /// The server reset it: frames already on their way are ignored (§5.1).
    OurReset,
}

/// What happens on a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// HEADERS received (a request's, or trailers); END_STREAM with it or not.
    RecvHeaders {
        /// END_STREAM.
        end_stream: bool,
    },
    /// DATA received.
    RecvData {
        /// END_STREAM.
        end_stream: bool,
    },
    /// RST_STREAM received.
    RecvReset,
    /// WINDOW_UPDATE received.
    RecvWindowUpdate,
    /// PRIORITY received.
    RecvPriority,
    /// HEADERS or DATA sent; END_STREAM with it or not.
    Send {
        /// END_STREAM.
        end_stream: bool,
    },
    /// RST_STREAM sent.
    SendReset,
}

/// What an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The stream is now in this state.
    Now(State),
    /// The frame is dropped, the state unchanged.
    Ignored,
}

/// The transition for `event` in `state` on stream `id`.
pub fn transition(state: State, event: Event, id: u32) -> Result<Outcome, FrameError> {
    use Event::*;
    use State::*;
    let closed_stream = || {
        Err(FrameError::stream(
            id,
            ErrorCode::StreamClosed,
            "a frame on a stream the client had ended",
        ))
    };
    let now = |state| Ok(Outcome::Now(state));
    match (state, event) {
        // Idle: only the request's HEADERS opens it; PRIORITY may come first (§5.1, §5.3.2).
        (Idle, RecvHeaders { end_stream: false }) => now(Open),
        (Idle, RecvHeaders { end_stream: true }) => now(HalfClosedRemote),
        (Idle, RecvPriority) => Ok(Outcome::Ignored),
        (Idle, RecvData { .. } | RecvReset | RecvWindowUpdate) => Err(FrameError::connection(
            ErrorCode::ProtocolError,
            "a frame on an idle stream",
        )),
        (Idle, Send { .. } | SendReset) => Err(FrameError::connection(
            ErrorCode::InternalError,
            "the server sent on an idle stream",
        )),

        // Open: END_STREAM from either side half-closes; a reset closes.
        (Open, RecvHeaders { end_stream } | RecvData { end_stream }) => {
            now(if end_stream { HalfClosedRemote } else { Open })
        }
        (Open, Send { end_stream }) => now(if end_stream { HalfClosedLocal } else { Open }),

        // Half-closed (remote): the client may only reset, update windows, or reprioritise.
        (HalfClosedRemote, RecvHeaders { .. } | RecvData { .. }) => closed_stream(),
        (HalfClosedRemote, Send { end_stream }) => now(if end_stream {
            Closed(ClosedBy::EndStream)
        } else {
            HalfClosedRemote
        }),

        // Half-closed (local): the client's END_STREAM closes it.
        (HalfClosedLocal, RecvHeaders { end_stream } | RecvData { end_stream }) => {
            now(if end_stream {
                Closed(ClosedBy::EndStream)
            } else {
                HalfClosedLocal
            })
        }
        (HalfClosedLocal, Send { .. }) => Err(FrameError::connection(
            ErrorCode::InternalError,
            "the server sent after its END_STREAM",
        )),

        // Resets and the frames every live state takes.
        (Open | HalfClosedRemote | HalfClosedLocal, RecvReset) => now(Closed(ClosedBy::PeerReset)),
        (Open | HalfClosedRemote | HalfClosedLocal, SendReset) => now(Closed(ClosedBy::OurReset)),
        (Open | HalfClosedRemote | HalfClosedLocal, RecvWindowUpdate | RecvPriority) => {
            Ok(Outcome::Ignored)
        }

        // Closed by our reset: what the client had already sent is dropped (§5.1).
        (Closed(ClosedBy::OurReset), RecvHeaders { .. } | RecvData { .. }) => Ok(Outcome::Ignored),
        // Closed otherwise: HEADERS or DATA is the connection's STREAM_CLOSED error (§5.1).
        (Closed(_), RecvHeaders { .. } | RecvData { .. }) => Err(FrameError::connection(
            ErrorCode::StreamClosed,
            "HEADERS or DATA on a closed stream",
        )),
        // A reset, window update or priority crossing the close is harmless.
        (Closed(_), RecvReset | RecvWindowUpdate | RecvPriority) => Ok(Outcome::Ignored),
        (Closed(_), Send { .. } | SendReset) => Err(FrameError::connection(
            ErrorCode::InternalError,
            "the server sent on a closed stream",
        )),
    }
}

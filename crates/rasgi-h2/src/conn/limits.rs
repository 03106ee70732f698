//! What a peer may make the server spend, each a named limit. Past one, the connection ends
//! with GOAWAY ENHANCE_YOUR_CALM: the peer is abusing it, not making a mistake.
//!
//! The limits count what costs the server work without giving it any: resets, frames that
//! ask nothing of the app, header blocks that decode to nothing kept. Real work (a request
//! opened, request or response bytes moved) refills what the budgets allow.

use crate::frame::{ErrorCode, FrameError};

/// Rapid reset (CVE-2023-44487): streams the peer resets before their response is complete.
/// Each complete response gives one back, so a browser cancelling now and then never meets it.
pub const PEER_RESET_BUDGET: u32 = 200;

/// MadeYouReset (CVE-2025-8671) and the reset flood (CVE-2019-9514): streams the server had to
/// reset because of the peer's errors (a malformed request, a frame on the wrong stream, a
/// refused stream past the concurrency limit). Each complete response gives one back.
pub const PROVOKED_RESET_BUDGET: u32 = 100;

/// The 2019 floods of frames that ask nothing of the app: PING (CVE-2019-9512), SETTINGS
/// (9515), empty frames (9518), PRIORITY and its resource loop (9513), WINDOW_UPDATE, and
/// DATA frames of a few bytes. That many in a row, with no real work between, ends the
/// connection.
pub const IDLE_FRAME_BUDGET: u32 = 10_000;

/// The work that refills [`IDLE_FRAME_BUDGET`]: this many body bytes moved either way, or a
/// stream opened.
pub const WORK_BYTES: u64 = 16 * 1024;

/// A DATA frame shorter than this that does not end its stream is counted as idle: a flood
/// of them costs a frame's work per byte or two. On an extended CONNECT's stream (a
/// WebSocket), where each frame is a message for the app, only an empty one is.
pub const SMALL_DATA: usize = 16;

/// The counters behind the limits.
#[derive(Debug, Default)]
pub(crate) struct Budgets {
    peer_resets: u32,
    provoked_resets: u32,
    idle_frames: u32,
    work_bytes: u64,
}

impl Budgets {
    /// The peer reset a stream whose response was not complete.
    pub(crate) fn peer_reset(&mut self) -> Result<(), FrameError> {
        self.peer_resets += 1;
        if self.peer_resets > PEER_RESET_BUDGET {
            return Err(calm("too many streams reset by the client (rapid reset)"));
        }
        Ok(())
    }

    /// The server reset a stream for the peer's error.
    pub(crate) fn provoked_reset(&mut self) -> Result<(), FrameError> {
        self.provoked_resets += 1;
        if self.provoked_resets > PROVOKED_RESET_BUDGET {
            return Err(calm("too many streams reset for the client's errors"));
        }
        Ok(())
    }

    /// A response went out whole: one of each reset back.
    pub(crate) fn response_complete(&mut self) {
        self.peer_resets = self.peer_resets.saturating_sub(1);
        self.provoked_resets = self.provoked_resets.saturating_sub(1);
    }

    /// A frame that asks nothing of the app.
    pub(crate) fn idle_frame(&mut self) -> Result<(), FrameError> {
        self.idle_frames += 1;
        if self.idle_frames > IDLE_FRAME_BUDGET {
            return Err(calm("too many frames without work between them"));
        }
        Ok(())
    }

    /// A stream opened: real work.
    pub(crate) fn stream_opened(&mut self) {
        self.idle_frames = 0;
    }

    /// Body bytes moved (received or sent).
    pub(crate) fn moved(&mut self, bytes: usize) {
        self.work_bytes += bytes as u64;
        if self.work_bytes >= WORK_BYTES {
            self.work_bytes = 0;
            self.idle_frames = 0;
        }
    }
}

fn calm(reason: &'static str) -> FrameError {
    FrameError::connection(ErrorCode::EnhanceYourCalm, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_responses_give_resets_back() {
        let mut budgets = Budgets::default();
        for _ in 0..PEER_RESET_BUDGET {
            budgets.peer_reset().unwrap();
        }
        budgets.response_complete();
        budgets.peer_reset().unwrap();
        let error = budgets.peer_reset().unwrap_err();
        assert_eq!(error.code, ErrorCode::EnhanceYourCalm);
    }

    #[test]
    fn work_between_idle_frames_refills_their_budget() {
        let mut budgets = Budgets::default();
        for _ in 0..3 {
            for _ in 0..IDLE_FRAME_BUDGET {
                budgets.idle_frame().unwrap();
            }
            budgets.moved(WORK_BYTES as usize);
        }
        for _ in 0..IDLE_FRAME_BUDGET {
            budgets.idle_frame().unwrap();
        }
        assert!(budgets.idle_frame().is_err());
    }
}

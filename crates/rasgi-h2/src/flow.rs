//! Flow-control windows (RFC 9113 §5.2, §6.9): one per stream and one for the connection, on
//! each side. A window is a signed count: a SETTINGS_INITIAL_WINDOW_SIZE change moves every
//! stream's window by the difference and may leave it negative (§6.9.2); WINDOW_UPDATE raises
//! it, never past 2^31 - 1 (§6.9.1); DATA lowers it, never below zero for data received.

use crate::frame::{ErrorCode, FrameError, MAX_WINDOW};

/// The window every stream and the connection start with (§6.9.2).
pub const DEFAULT_WINDOW: u32 = 65_535;

/// One flow-control window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window(i64);

impl Window {
    /// A window of `size` octets.
    pub fn new(size: u32) -> Window {
        Window(i64::from(size))
    }

    /// The octets that may be sent (or received) now; 0 when the window is negative.
    pub fn available(self) -> u32 {
        self.0.clamp(0, i64::from(MAX_WINDOW)) as u32
    }

    /// The window as the RFC counts it, negative after a shrinking SETTINGS.
    pub fn size(self) -> i64 {
        self.0
    }

    /// A WINDOW_UPDATE of `increment` for this window. Past 2^31 - 1 it is a
    /// FLOW_CONTROL_ERROR: on `stream` (`Some(id)`) a stream error, else the connection's.
    pub fn increase(&mut self, increment: u32, stream: Option<u32>) -> Result<(), FrameError> {
        let raised = self.0 + i64::from(increment);
        if raised > i64::from(MAX_WINDOW) {
            let what = "a WINDOW_UPDATE past 2^31 - 1";
            return Err(match stream {
                Some(id) => FrameError::stream(id, ErrorCode::FlowControlError, what),
                None => FrameError::connection(ErrorCode::FlowControlError, what),
            });
        }
        self.0 = raised;
        Ok(())
    }

    /// `len` octets of DATA received against this window. More than it allows is a
    /// FLOW_CONTROL_ERROR (of the connection for its window, of the stream for a stream's).
    pub fn receive(&mut self, len: u32, stream: Option<u32>) -> Result<(), FrameError> {
        if i64::from(len) > self.0 {
            let what = "DATA past the flow-control window";
            return Err(match stream {
                Some(id) => FrameError::stream(id, ErrorCode::FlowControlError, what),
                None => FrameError::connection(ErrorCode::FlowControlError, what),
            });
        }
        self.0 -= i64::from(len);
        Ok(())
    }

    /// `len` octets sent against this window (at most [`Window::available`]).
    pub fn send(&mut self, len: u32) {
        debug_assert!(len <= self.available(), "sent past the window");
        self.0 -= i64::from(len);
    }

    /// SETTINGS_INITIAL_WINDOW_SIZE moved from `old` to `new`: the window moves by the
    /// difference (§6.9.2). Past 2^31 - 1 it is a connection FLOW_CONTROL_ERROR.
    pub fn resize(&mut self, old: u32, new: u32) -> Result<(), FrameError> {
        let moved = self.0 + i64::from(new) - i64::from(old);
        if moved > i64::from(MAX_WINDOW) {
            return Err(FrameError::connection(
                ErrorCode::FlowControlError,
                "SETTINGS_INITIAL_WINDOW_SIZE takes a window past 2^31 - 1",
            ));
        }
        self.0 = moved;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9113_6_9_1_a_window_update_past_the_maximum_is_a_flow_control_error() {
        let mut window = Window::new(DEFAULT_WINDOW);
        window
            .increase(MAX_WINDOW - DEFAULT_WINDOW, Some(1))
            .unwrap();
        assert_eq!(window.available(), MAX_WINDOW);
        let error = window.increase(1, Some(1)).unwrap_err();
        assert_eq!(
            (error.code, error.stream),
            (ErrorCode::FlowControlError, Some(1))
        );
        let error = Window::new(MAX_WINDOW).increase(1, None).unwrap_err();
        assert_eq!(
            (error.code, error.stream),
            (ErrorCode::FlowControlError, None)
        );
    }

    #[test]
    fn rfc9113_6_9_data_past_the_window_is_refused_and_within_it_counted() {
        let mut window = Window::new(10);
        window.receive(10, Some(3)).unwrap();
        assert_eq!(window.available(), 0);
        let error = window.receive(1, Some(3)).unwrap_err();
        assert_eq!(
            (error.code, error.stream),
            (ErrorCode::FlowControlError, Some(3))
        );
        let error = Window::new(0).receive(1, None).unwrap_err();
        assert_eq!(error.stream, None);
    }

    #[test]
    fn rfc9113_6_9_2_a_smaller_initial_window_can_leave_a_window_negative() {
        let mut window = Window::new(DEFAULT_WINDOW);
        window.send(60_000);
        window.resize(DEFAULT_WINDOW, 16_384).unwrap();
        // 65,535 - 60,000 sent, then 49,151 taken away by the smaller setting.
        assert_eq!(window.size(), -43_616);
        assert_eq!(window.available(), 0);
        // A WINDOW_UPDATE brings it back above zero only once the deficit is covered.
        window.increase(43_616, Some(1)).unwrap();
        assert_eq!(window.available(), 0);
        window.increase(100, Some(1)).unwrap();
        assert_eq!(window.available(), 100);
        // Growing the initial window past the maximum is the connection's error.
        let mut full = Window::new(MAX_WINDOW - 10);
        let error = full
            .resize(DEFAULT_WINDOW, DEFAULT_WINDOW + 11)
            .unwrap_err();
        assert_eq!(
            (error.code, error.stream),
            (ErrorCode::FlowControlError, None)
        );
    }
}

//! Timing: `x-process-time`, the seconds from the request reaching this middleware to the
//! response start leaving it (Starlette's classic example).

use bytes::Bytes;
use rasgi_protocol::{FieldName, Headers, Scope, SendError};

use crate::{Decision, ResponseHook, ResponseStart, Step};

/// Adds `x-process-time: <seconds>` to every HTTP response.
#[derive(Debug, Clone, Default)]
pub struct Timing;

impl Timing {
    /// The timing middleware.
    pub fn new() -> Timing {
        Timing
    }
}

/// When the request reached the middleware.
pub struct Clock(Monotonic);

/// A reading of the monotonic clock (the one `Instant` reads), in nanoseconds from a start of
/// its own: the difference of two readings is the time between them. Read directly, so that a
/// request's readings and their difference cost little beyond the clock itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Monotonic(u64);

impl Monotonic {
    /// The clock now.
    #[cfg(unix)]
    #[inline]
    pub fn now() -> Monotonic {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a `timespec` the call may write; the monotonic clock is one every
        // unix has, so the call does not fail (and `now` would stay at zero if it did).
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        Monotonic((now.tv_sec as u64).wrapping_mul(1_000_000_000) + now.tv_nsec as u64)
    }

    /// The clock now.
    #[cfg(not(unix))]
    pub fn now() -> Monotonic {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let start = *START.get_or_init(std::time::Instant::now);
        Monotonic(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    /// Nanoseconds from `self` to now (zero if the readings came out of order).
    #[inline]
    pub fn elapsed_nanos(self) -> u64 {
        Monotonic::now().0.saturating_sub(self.0)
    }
}

/// The field's name.
const X_PROCESS_TIME: FieldName = FieldName::new("x-process-time");

impl ResponseHook for Clock {
    fn on_start(&mut self, start: &mut ResponseStart, _: &Bytes, _: bool) -> Result<(), SendError> {
        let micros = self.0.elapsed_nanos() / 1_000;
        let mut text = [0u8; SECONDS_TEXT_LEN];
        let value = seconds_text(micros, &mut text);
        start
            .lines
            .push(X_PROCESS_TIME, value)
            .map_err(|_| SendError::InvalidHeader)
    }

    fn on_accept(&mut self, headers: &mut Headers) {
        let micros = self.0.elapsed_nanos() / 1_000;
        let mut text = [0u8; SECONDS_TEXT_LEN];
        let value = seconds_text(micros, &mut text);
        headers.append(
            X_PROCESS_TIME.as_str(),
            rasgi_protocol::headers::arena_value(value),
        );
    }
}

/// The longest text [`seconds_text`] writes: 14 whole digits (`u64::MAX` microseconds), the
/// point and six decimals.
const SECONDS_TEXT_LEN: usize = 21;

/// Microseconds as seconds with six decimals (`0.000123`), formatted by hand into the end of
/// `text`: the float formatter cost more than the rest of the middleware.
fn seconds_text(micros: u64, text: &mut [u8; SECONDS_TEXT_LEN]) -> &[u8] {
    let (mut seconds, mut fraction) = (micros / 1_000_000, micros % 1_000_000);
    let mut at = text.len();
    // The six fraction digits, two at a time, then the whole seconds (at least one digit).
    for _ in 0..3 {
        at -= 2;
        let pair = 2 * (fraction % 100) as usize;
        text[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        fraction /= 100;
    }
    at -= 1;
    text[at] = b'.';
    loop {
        at -= 1;
        text[at] = b'0' + (seconds % 10) as u8;
        seconds /= 10;
        if seconds == 0 {
            break;
        }
    }
    &text[at..]
}

/// `00` to `99`, each as its two digits.
const DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0u8; 200];
    let mut n = 0;
    while n < 100 {
        pairs[2 * n] = b'0' + (n / 10) as u8;
        pairs[2 * n + 1] = b'0' + (n % 10) as u8;
        n += 1;
    }
    pairs
};

impl Step for Timing {
    type Hook<'a> = Option<Clock>;

    fn describe(&self) -> String {
        "Timing(x-process-time)".into()
    }

    fn on_request(&self, scope: &mut Scope) -> Decision<Option<Clock>> {
        Decision::Continue(
            matches!(scope, Scope::Http(_) | Scope::WebSocket(_)).then(|| Clock(Monotonic::now())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{seconds_text, Monotonic, SECONDS_TEXT_LEN};
    use std::time::{Duration, Instant};

    #[test]
    fn monotonic_readings_measure_what_instant_measures() {
        let (stamp, instant) = (Monotonic::now(), Instant::now());
        std::thread::sleep(Duration::from_millis(20));
        let (by_stamp, by_instant) = (stamp.elapsed_nanos(), instant.elapsed().as_nanos() as u64);
        // The same clock in the same unit: the two spans differ by the moments between the
        // readings (generous room for a busy machine; a wrong unit is a thousandfold off).
        assert!(by_stamp >= 20_000_000, "{by_stamp}");
        assert!(
            by_stamp <= by_instant + 50_000_000,
            "{by_stamp} {by_instant}"
        );
        assert!(Monotonic::now() >= stamp);
    }

    #[test]
    fn seconds_have_six_decimals() {
        for (micros, text) in [
            (0, "0.000000"),
            (7, "0.000007"),
            (123_456, "0.123456"),
            (1_000_000, "1.000000"),
            (12_345_678, "12.345678"),
            (999_999, "0.999999"),
            (10_000_009, "10.000009"),
            (u64::MAX, "18446744073709.551615"),
        ] {
            let mut room = [0u8; SECONDS_TEXT_LEN];
            assert_eq!(seconds_text(micros, &mut room), text.as_bytes(), "{micros}");
        }
    }
}

//! Timing: `x-process-time`, the seconds from the request reaching this middleware to the
//! response start leaving it (Starlette's classic example).

use std::future::Future;
use std::time::Instant;

use bytes::Bytes;
use rasgi_protocol::{App, AppError, Receive, Scope, SendError, Sender};

use crate::{HookedSender, Middleware, ResponseHook, ResponseStart};

/// Adds `x-process-time: <seconds>` to every HTTP response.
#[derive(Debug, Clone, Default)]
pub struct Timing;

impl Timing {
    /// The timing middleware.
    pub fn new() -> Timing {
        Timing
    }
}

struct Clock(Instant);

impl ResponseHook for Clock {
    async fn on_start(
        &mut self,
        start: &mut ResponseStart,
        _: &Bytes,
        _: bool,
    ) -> Result<(), SendError> {
        let seconds = self.0.elapsed().as_secs_f64();
        let value = rasgi_protocol::headers::format_value(format_args!("{seconds:.6}"));
        start.headers.append("x-process-time", value);
        Ok(())
    }
}

impl Middleware for Timing {
    fn describe(&self) -> String {
        "Timing(x-process-time)".into()
    }

    fn call<A: App, R: Receive, S: Sender>(
        &self,
        inner: &A,
        scope: Scope,
        receive: R,
        send: S,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        let clock = matches!(scope, Scope::Http(_)).then(|| Clock(Instant::now()));
        inner.call(scope, receive, HookedSender::new(send, clock))
    }
}

//! Request counters and the `/metrics` page (Prometheus text format).

use std::fmt::Write;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use rasgi_background::Counters;
use rasgi_middleware::{HookedSender, Middleware, ResponseHook, ResponseStart};
use rasgi_protocol::{App, AppError, Receive, Scope, SendError, Sender};
use rasgi_server::CounterSnapshot;

/// Responses counted by status.
#[derive(Debug)]
pub struct RequestCounts {
    by_status: [AtomicU64; 1000],
}

impl Default for RequestCounts {
    fn default() -> Self {
        RequestCounts {
            by_status: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl RequestCounts {
    fn record(&self, status: u16) {
        if let Some(counter) = self.by_status.get(status as usize) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// (status, count) for every status seen.
    pub fn snapshot(&self) -> Vec<(u16, u64)> {
        self.by_status
            .iter()
            .enumerate()
            .filter_map(|(status, n)| {
                let n = n.load(Ordering::Relaxed);
                (n > 0).then_some((status as u16, n))
            })
            .collect()
    }
}

/// The outermost middleware of the demo: counts every response by status.
pub struct Metrics {
    counts: Arc<RequestCounts>,
}

impl Metrics {
    /// Count into `counts`.
    pub fn new(counts: Arc<RequestCounts>) -> Metrics {
        Metrics { counts }
    }
}

struct Count<'a>(&'a RequestCounts);

impl ResponseHook for Count<'_> {
    fn on_start(&mut self, start: &mut ResponseStart, _: &Bytes, _: bool) -> Result<(), SendError> {
        self.0.record(start.status);
        Ok(())
    }
}

impl Middleware for Metrics {
    fn describe(&self) -> String {
        "Metrics(requests by status)".into()
    }

    fn call<A: App, R: Receive, S: Sender>(
        &self,
        inner: &A,
        scope: Scope,
        receive: R,
        send: S,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        let hook = matches!(scope, Scope::Http(_)).then_some(Count(&self.counts));
        inner.call(scope, receive, HookedSender::new(send, hook))
    }
}

/// The Prometheus text for the request counts, the background counters and the server's.
pub fn render(counts: &RequestCounts, background: Counters, server: CounterSnapshot) -> String {
    let mut out = String::new();
    out.push_str("# HELP rasgi_requests_total Responses sent, by status.\n");
    out.push_str("# TYPE rasgi_requests_total counter\n");
    for (status, n) in counts.snapshot() {
        let _ = writeln!(out, "rasgi_requests_total{{status=\"{status}\"}} {n}");
    }
    let gauges = [
        ("submitted", background.submitted, "counter"),
        ("completed", background.completed, "counter"),
        ("failed", background.failed, "counter"),
        ("panicked", background.panicked, "counter"),
        ("cancelled", background.cancelled, "counter"),
        ("dropped", background.dropped, "counter"),
    ];
    for (name, value, kind) in gauges {
        let _ = writeln!(
            out,
            "# HELP rasgi_background_tasks_{name}_total Background tasks {name}."
        );
        let _ = writeln!(out, "# TYPE rasgi_background_tasks_{name}_total {kind}");
        let _ = writeln!(out, "rasgi_background_tasks_{name}_total {value}");
    }
    out.push_str("# HELP rasgi_background_tasks_running Background tasks running now.\n");
    out.push_str("# TYPE rasgi_background_tasks_running gauge\n");
    let _ = writeln!(out, "rasgi_background_tasks_running {}", background.running);
    out.push_str(
        "# HELP rasgi_background_batches_waiting Responses' task batches waiting for a slot.\n",
    );
    out.push_str("# TYPE rasgi_background_batches_waiting gauge\n");
    let _ = writeln!(
        out,
        "rasgi_background_batches_waiting {}",
        background.waiting
    );
    let server_counters = [
        (
            "panics",
            server.panics,
            "Panics in the app or its middleware.",
        ),
        (
            "body_timeouts",
            server.body_timeouts,
            "Request bodies cut off by the body timeout.",
        ),
        (
            "send_timeouts",
            server.send_timeouts,
            "Responses cut off by the send timeout.",
        ),
    ];
    for (name, value, help) in server_counters {
        let _ = writeln!(out, "# HELP rasgi_{name}_total {help}");
        let _ = writeln!(out, "# TYPE rasgi_{name}_total counter");
        let _ = writeln!(out, "rasgi_{name}_total {value}");
    }
    out
}

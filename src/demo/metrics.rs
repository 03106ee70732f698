//! Request counters, a request-duration histogram by method and status, an in-flight gauge,
//! and the `/metrics` page (Prometheus text format).

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rasgi_background::Counters;
use rasgi_middleware::timing::Monotonic;
use rasgi_middleware::{Decision, ResponseHook, ResponseStart, Step};
use rasgi_protocol::{Scope, SendError};
use rasgi_server::CounterSnapshot;

/// The upper bounds (seconds) of the duration histogram's buckets: Prometheus' defaults.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The methods the histogram tells apart; any other is counted as `OTHER`.
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER",
];

/// The HTTP versions told apart, as the scope's `http_version` names them.
const VERSIONS: [&str; 3] = ["1.1", "2", "1.0"];

/// Responses counted by status and by HTTP version, request durations by method and status,
/// and requests in flight.
#[derive(Debug)]
pub struct RequestCounts {
    by_status: [AtomicU64; 1000],
    /// One histogram per (method, status) seen, found by a short scan, and the responses
    /// finished by HTTP version: both taken under the one lock a finished request takes.
    durations: Mutex<Series>,
    /// Requests whose response is not finished.
    in_flight: AtomicI64,
}

/// What a finished request is counted into.
#[derive(Debug, Default)]
struct Series {
    durations: Vec<Durations>,
    by_version: [u64; VERSIONS.len()],
}

/// One (method, status) series of the duration histogram.
#[derive(Debug)]
struct Durations {
    method: u8,
    status: u16,
    /// Observations over the bound before each of [`BUCKETS`] and at or under its own (made
    /// cumulative, as Prometheus has them, when the page is rendered: a request adds to one).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Default for RequestCounts {
    fn default() -> Self {
        RequestCounts {
            by_status: std::array::from_fn(|_| AtomicU64::new(0)),
            durations: Mutex::new(Series::default()),
            in_flight: AtomicI64::new(0),
        }
    }
}

impl RequestCounts {
    fn record(&self, status: u16) {
        if let Some(counter) = self.by_status.get(status as usize) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn observe(&self, method: u8, status: u16, version: u8, seconds: f64) {
        let mut series = self
            .durations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        series.by_version[usize::from(version)] += 1;
        let durations = &mut series.durations;
        let at = match durations
            .iter()
            .position(|d| d.method == method && d.status == status)
        {
            Some(at) => at,
            None => {
                durations.push(Durations {
                    method,
                    status,
                    buckets: [0; BUCKETS.len()],
                    count: 0,
                    sum: 0.0,
                });
                durations.len() - 1
            }
        };
        let series = &mut durations[at];
        if let Some(at) = BUCKETS.iter().position(|&bound| seconds <= bound) {
            series.buckets[at] += 1;
        }
        series.count += 1;
        series.sum += seconds;
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

/// One request's measurement: counts the status when the response starts, and the duration
/// and the end of the request when the app is done with its `send` (the hook is dropped with
/// it), so no future of its own is needed.
pub struct Count<'a> {
    counts: &'a RequestCounts,
    method: u8,
    version: u8,
    status: u16,
    started: Monotonic,
}

impl<'a> Count<'a> {
    fn start(counts: &'a RequestCounts, method: &str, version: &str) -> Count<'a> {
        counts.in_flight.fetch_add(1, Ordering::Relaxed);
        // As matches (compared by length first), not searches of the tables.
        let method = match method {
            "GET" => 0,
            "HEAD" => 1,
            "POST" => 2,
            "PUT" => 3,
            "PATCH" => 4,
            "DELETE" => 5,
            "OPTIONS" => 6,
            _ => 7,
        };
        let version = match version {
            "2" => 1,
            "1.0" => 2,
            _ => 0,
        };
        Count {
            counts,
            method,
            version,
            status: 0,
            started: Monotonic::now(),
        }
    }
}

impl ResponseHook for Count<'_> {
    fn on_start(&mut self, start: &mut ResponseStart, _: &Bytes, _: bool) -> Result<(), SendError> {
        self.counts.record(start.status);
        self.status = start.status;
        Ok(())
    }
}

impl Drop for Count<'_> {
    fn drop(&mut self) {
        self.counts.in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.status != 0 {
            let seconds = self.started.elapsed_nanos() as f64 / 1e9;
            self.counts
                .observe(self.method, self.status, self.version, seconds);
        }
    }
}

impl Step for Metrics {
    type Hook<'a> = Option<Count<'a>>;

    fn describe(&self) -> String {
        "Metrics(requests by status, durations by method and status, in flight)".into()
    }

    fn on_request(&self, scope: &mut Scope) -> Decision<Option<Count<'_>>> {
        Decision::Continue(match scope {
            Scope::Http(http) => Some(Count::start(&self.counts, &http.method, http.http_version)),
            _ => None,
        })
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
    out.push_str("# HELP rasgi_requests_by_version_total Responses finished, by HTTP version.\n");
    out.push_str("# TYPE rasgi_requests_by_version_total counter\n");
    let by_version = counts
        .durations
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .by_version;
    for (version, n) in VERSIONS.iter().zip(by_version) {
        if n > 0 {
            let _ = writeln!(
                out,
                "rasgi_requests_by_version_total{{http_version=\"{version}\"}} {n}"
            );
        }
    }
    out.push_str("# HELP rasgi_requests_in_flight Requests whose response is not finished.\n");
    out.push_str("# TYPE rasgi_requests_in_flight gauge\n");
    let _ = writeln!(
        out,
        "rasgi_requests_in_flight {}",
        counts.in_flight.load(Ordering::Relaxed)
    );
    out.push_str(
        "# HELP rasgi_request_duration_seconds Time from the request to the end of its response.\n",
    );
    out.push_str("# TYPE rasgi_request_duration_seconds histogram\n");
    {
        let series = counts
            .durations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for series in series.durations.iter() {
            let labels = format!(
                "method=\"{}\",status=\"{}\"",
                METHODS[series.method as usize], series.status
            );
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(series.buckets) {
                cumulative += n;
                let n = cumulative;
                let _ = writeln!(
                    out,
                    "rasgi_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "rasgi_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                series.count
            );
            let _ = writeln!(
                out,
                "rasgi_request_duration_seconds_sum{{{labels}}} {}",
                series.sum
            );
            let _ = writeln!(
                out,
                "rasgi_request_duration_seconds_count{{{labels}}} {}",
                series.count
            );
        }
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
    out.push_str("# HELP rasgi_websockets_open WebSockets open now.\n");
    out.push_str("# TYPE rasgi_websockets_open gauge\n");
    let _ = writeln!(out, "rasgi_websockets_open {}", server.websockets_open);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_versions_are_told_apart_as_their_tables_name_them() {
        let counts = RequestCounts::default();
        for (at, method) in METHODS.iter().enumerate() {
            let count = Count::start(&counts, method, "1.1");
            assert_eq!((count.method as usize, count.version), (at, 0), "{method}");
        }
        for (at, version) in VERSIONS.iter().enumerate() {
            let count = Count::start(&counts, "GET", version);
            assert_eq!(count.version as usize, at, "{version}");
        }
        assert_eq!(
            Count::start(&counts, "BREW", "3").method as usize,
            METHODS.len() - 1
        );
    }

    #[test]
    fn each_duration_counts_in_its_bucket_and_every_bucket_above_it() {
        let counts = RequestCounts::default();
        for seconds in [0.003, 0.03, 3.0, 20.0] {
            counts.observe(0, 200, 0, seconds);
        }
        let page = render(&counts, Counters::default(), CounterSnapshot::default());
        let buckets: Vec<(&str, u64)> = page
            .lines()
            .filter_map(|line| line.strip_prefix("rasgi_request_duration_seconds_bucket{"))
            .map(|line| {
                let (labels, n) = line.split_once("} ").unwrap();
                let bound = labels.rsplit_once("le=\"").unwrap().1.trim_end_matches('"');
                (bound, n.parse().unwrap())
            })
            .collect();
        assert_eq!(
            buckets,
            [
                ("0.005", 1),
                ("0.01", 1),
                ("0.025", 1),
                ("0.05", 2),
                ("0.1", 2),
                ("0.25", 2),
                ("0.5", 2),
                ("1", 2),
                ("2.5", 2),
                ("5", 3),
                ("10", 3),
                ("+Inf", 4),
            ]
        );
    }
}

//! Logs and metrics: `tracing` set-up (text or JSON), per-request spans, and the counters
//! behind `/metrics`.

use std::{
    sync::Arc,
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG` overrides the default level (`info`).
pub fn init_tracing(format: LogFormat) {
    init_tracing_with(format, std::io::stdout);
}

/// Logs to stderr: for commands whose stdout is their result (`ldap test` prints JSON).
pub fn init_tracing_to_stderr(format: LogFormat) {
    init_tracing_with(format, std::io::stderr);
}

fn init_tracing_with<W>(format: LogFormat, writer: W)
where
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,tower_http=info"));
    let registry = tracing_subscriber::registry().with(filter);
    // A second call (tests start several servers in one process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => registry
            .with(fmt::layer().with_target(false).with_writer(writer))
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true).with_writer(writer))
            .try_init(),
    };
}

/// Counters for Prometheus.
#[derive(Default)]
pub struct Metrics {
    requests_by_class: [AtomicU64; 5],
    request_micros_total: AtomicU64,
    /// Contact-list answers by kind (`ContactSync`): shows whether clients pull deltas or
    /// keep re-downloading snapshots.
    contact_syncs: [AtomicU64; 4],
}

/// What a contact-list request was answered with.
#[derive(Debug, Clone, Copy)]
pub enum ContactSync {
    Snapshot,
    /// `304` to a snapshot request with a current `If-None-Match`.
    NotModified,
    Delta,
    /// A delta answer with `reset: true`.
    Reset,
}

impl ContactSync {
    const ALL: [ContactSync; 4] = [
        ContactSync::Snapshot,
        ContactSync::NotModified,
        ContactSync::Delta,
        ContactSync::Reset,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Snapshot => "snapshot",
            Self::NotModified => "not_modified",
            Self::Delta => "delta",
            Self::Reset => "reset",
        }
    }
}

impl Metrics {
    pub fn record_request(&self, status: u16, elapsed_micros: u64) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.requests_by_class[class].fetch_add(1, Ordering::Relaxed);
        self.request_micros_total
            .fetch_add(elapsed_micros, Ordering::Relaxed);
    }

    pub fn record_contact_sync(&self, kind: ContactSync) {
        self.contact_syncs[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP switchboard_http_requests_total HTTP requests answered, by status class.\n\
             # TYPE switchboard_http_requests_total counter\n",
        );
        for (index, counter) in self.requests_by_class.iter().enumerate() {
            out.push_str(&format!(
                "switchboard_http_requests_total{{class=\"{}xx\"}} {}\n",
                index + 1,
                counter.load(Ordering::Relaxed)
            ));
        }
        out.push_str(&format!(
            "# HELP switchboard_http_request_seconds_total Time spent answering HTTP requests.\n\
             # TYPE switchboard_http_request_seconds_total counter\n\
             switchboard_http_request_seconds_total {:.6}\n",
            self.request_micros_total.load(Ordering::Relaxed) as f64 / 1e6
        ));
        out.push_str(
            "# HELP switchboard_contacts_sync_total Contact-list requests answered, by answer.\n\
             # TYPE switchboard_contacts_sync_total counter\n",
        );
        for kind in ContactSync::ALL {
            out.push_str(&format!(
                "switchboard_contacts_sync_total{{answer=\"{}\"}} {}\n",
                kind.label(),
                self.contact_syncs[kind as usize].load(Ordering::Relaxed)
            ));
        }
        out
    }
}

/// Middleware that counts every answered request.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.record_request(
        response.status().as_u16(),
        started.elapsed().as_micros() as u64,
    );
    response
}

/// Appends one unlabelled counter or gauge (`kind`) in Prometheus text format.
pub fn render_value(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    out.push_str(&format!(
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
    ));
}

/// Upper bounds of the latency buckets, in microseconds (Prometheus adds `+Inf`).
const BUCKETS_MICROS: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 20_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 5_000_000,
];

/// A lock-free latency histogram in Prometheus' cumulative form.
#[derive(Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative; the last one is `+Inf`).
    buckets: [AtomicU64; BUCKETS_MICROS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, elapsed: std::time::Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let index = BUCKETS_MICROS.partition_point(|&bound| bound < micros);
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Appends the `_bucket`, `_sum` and `_count` lines of one labelled series.
    pub fn render(&self, name: &str, labels: &str, out: &mut String) {
        let mut cumulative = 0;
        for (index, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = BUCKETS_MICROS
                .get(index)
                .map_or("+Inf".to_owned(), |&b| format!("{}", b as f64 / 1e6));
            out.push_str(&format!(
                "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}\n"
            ));
        }
        out.push_str(&format!(
            "{name}_sum{{{labels}}} {:.6}\n{name}_count{{{labels}}} {cumulative}\n",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Histogram;

    #[test]
    fn histogram_buckets_are_cumulative_with_inclusive_bounds() {
        let histogram = Histogram::default();
        for micros in [50, 100, 101, 3_000, 9_000_000] {
            histogram.observe(Duration::from_micros(micros));
        }
        let mut text = String::new();
        histogram.render("x", "stage=\"a\"", &mut text);
        assert!(
            text.contains("x_bucket{stage=\"a\",le=\"0.0001\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("x_bucket{stage=\"a\",le=\"0.00025\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("x_bucket{stage=\"a\",le=\"0.005\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("x_bucket{stage=\"a\",le=\"5\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("x_bucket{stage=\"a\",le=\"+Inf\"} 5\n"),
            "{text}"
        );
        assert!(text.contains("x_count{stage=\"a\"} 5\n"), "{text}");
    }
}

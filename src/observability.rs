//! Logs and metrics: `tracing` set-up (text or JSON), per-request spans, and the counters
//! behind `/metrics`.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::{app::AppState, config::LogFormat};

/// Installs the global subscriber. `RUST_LOG` overrides the default level (`info`).
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,tower_http=info"));
    let registry = tracing_subscriber::registry().with(filter);
    // A second call (tests start several servers in one process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => registry.with(fmt::layer().with_target(false)).try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true))
            .try_init(),
    };
}

/// Counters for Prometheus.
#[derive(Default)]
pub struct Metrics {
    requests_by_class: [AtomicU64; 5],
    request_micros_total: AtomicU64,
}

impl Metrics {
    pub fn record_request(&self, status: u16, elapsed_micros: u64) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.requests_by_class[class].fetch_add(1, Ordering::Relaxed);
        self.request_micros_total
            .fetch_add(elapsed_micros, Ordering::Relaxed);
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
        out
    }
}

/// Middleware that counts every answered request.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.record_request(
        response.status().as_u16(),
        started.elapsed().as_micros() as u64,
    );
    response
}

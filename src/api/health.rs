//! Liveness, readiness and Prometheus metrics.

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = String), (status = 503, body = String)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if crate::store::ping(state.directory.db()).await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let (version, staff, departments) = {
        let replica = state.directory.read();
        (
            replica.version().0,
            replica.staff_count(),
            replica.department_count(),
        )
    };
    let snapshots = state.contacts.snapshots_in_flight();
    let mut text = state.metrics.render();
    state.im.render_metrics(&mut text);
    state.mail.render_metrics(&mut text);
    state.push.render_metrics(&mut text);
    text.push_str(&format!(
        "# HELP switchboard_directory_version Newest committed directory version.\n\
         # TYPE switchboard_directory_version gauge\nswitchboard_directory_version {version}\n\
         # HELP switchboard_staff Staff records in the directory.\n\
         # TYPE switchboard_staff gauge\nswitchboard_staff {staff}\n\
         # HELP switchboard_departments Departments in the directory.\n\
         # TYPE switchboard_departments gauge\nswitchboard_departments {departments}\n\
         # HELP switchboard_contacts_snapshots_in_flight Snapshot bodies being sent, each \
         holding the frozen view it started from.\n\
         # TYPE switchboard_contacts_snapshots_in_flight gauge\n\
         switchboard_contacts_snapshots_in_flight {snapshots}\n"
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

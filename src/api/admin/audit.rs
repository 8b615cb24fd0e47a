//! The audit log: who changed what, when, from where.

use crate::api::error::{BadRequest, Forbidden, Unauthorized};
use axum::{Json, Router, extract::State, routing::get};
use serde::Deserialize;

use crate::{
    api::{Admin, ApiError, ApiQuery},
    state::AppState,
    store::{AuditQuery, AuditRecord},
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/admin/audit", get(list))
}

/// Audit filters; entries come newest first.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only entries about this department, person, role, …
    pub entity_id: Option<uuid::Uuid>,
    /// Only entries older than this entry id (the `id` of the last entry of the previous page).
    pub before: Option<i64>,
    /// Default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
}

/// Reads the audit log.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin: audit", security(("bearer" = [])),
    params(AuditParams),
    responses((status = 200, body = Vec<AuditRecord>), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    let records = state
        .directory
        .journal()
        .audit_log(&AuditQuery {
            entity_id: params.entity_id,
            before_id: params.before,
            limit: crate::api::in_range("limit", params.limit, 100, 1, 1000)?,
        })
        .await?;
    Ok(Json(records))
}

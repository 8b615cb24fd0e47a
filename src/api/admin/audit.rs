//! The audit log: who changed what, when, from where.

use crate::api::error::{BadRequest, Forbidden, Unauthorized};
use axum::{Json, Router, extract::State, routing::get};
use serde::Deserialize;

use crate::{
    api::{Admin, ApiError, ApiQuery},
    state::AppState,
    store::{AuditQuery, AuditRecord, EntityKind, Source},
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
    /// Only entries by this actor (a login, `admin`, `ldap`, `demo`, `system`).
    pub actor: Option<String>,
    /// Only entries about this kind of entity.
    #[param(inline, value_type = Option<String>, pattern = "^(department|staff|account|role|rule|assignment|field_definition|ldap_run|setting|mail|api_key|webhook|conversation)$")]
    pub entity_kind: Option<String>,
    /// Only entries from this source.
    #[param(value_type = Option<String>, pattern = "^(portal|api|ldap|demo|system)$")]
    pub source: Option<String>,
    /// Only entries at or after this time (milliseconds since the Unix epoch).
    pub since: Option<i64>,
    /// Only entries before this time (milliseconds since the Unix epoch).
    pub until: Option<i64>,
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
            actor: params.actor,
            entity_kind: match params.entity_kind.as_deref() {
                None => None,
                Some(text) => Some(EntityKind::parse(text).ok_or_else(|| {
                    ApiError::BadRequest(format!("entity_kind: '{text}' is not an entity kind"))
                })?),
            },
            source: match params.source.as_deref() {
                None => None,
                Some(text) => Some(Source::parse(text).ok_or_else(|| {
                    ApiError::BadRequest(format!("source: '{text}' is not a source"))
                })?),
            },
            since: params.since,
            until: params.until,
            before_id: params.before,
            limit: crate::api::in_range("limit", params.limit, 100, 1, 1000)?,
        })
        .await?;
    Ok(Json(records))
}

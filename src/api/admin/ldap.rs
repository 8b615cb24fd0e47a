//! `/api/v1/admin/ldap/...`: test the connection, sync now, sync history, approve a blocked run.

use axum::{
    Json, Router,
    extract::State,
    routing::{get, post},
};
use serde::Deserialize;

use crate::{
    api::{Admin, ApiError, ApiPath, ApiQuery, ErrorBody},
    ldap::{LdapError, LdapService, Run, SyncKind, TestReport},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/ldap/test", post(test))
        .route("/api/v1/admin/ldap/sync", post(sync))
        .route("/api/v1/admin/ldap/runs", get(runs))
        .route("/api/v1/admin/ldap/runs/{id}/approve", post(approve))
}

fn connector(state: &AppState) -> Result<&LdapService, ApiError> {
    state
        .ldap
        .as_deref()
        .ok_or_else(|| LdapError::NotConfigured.into())
}

/// Connects and binds, counts entries per base, maps one sample, and reports what a sync would
/// change (a dry run: nothing is applied).
#[utoipa::path(post, path = "/api/v1/admin/ldap/test", tag = "admin: ldap", security(("bearer" = [])),
    responses((status = 200, body = TestReport), (status = 404, body = ErrorBody, description = "LDAP is not configured"),
              (status = 503, body = ErrorBody, description = "unreachable, bind refused, or search failed")))]
pub async fn test(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<TestReport>, ApiError> {
    Ok(Json(connector(&state)?.test().await?))
}

/// Which kind of sync to run.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SyncParams {
    /// `full` (default) or `incremental`.
    pub kind: Option<String>,
}

/// Runs a sync now and returns its record (status `succeeded`, `failed` or `blocked`).
#[utoipa::path(post, path = "/api/v1/admin/ldap/sync", tag = "admin: ldap", security(("bearer" = [])),
    params(SyncParams),
    responses((status = 200, body = Run), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "another sync is running")))]
pub async fn sync(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(params): ApiQuery<SyncParams>,
) -> Result<Json<Run>, ApiError> {
    let kind = match params.kind.as_deref() {
        None | Some("full") => SyncKind::Full,
        Some("incremental") => SyncKind::Incremental,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "kind: '{other}' is not full or incremental"
            )));
        }
    };
    Ok(Json(connector(&state)?.sync("manual", kind, false).await?))
}

/// Paging for the run history.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RunParams {
    /// 1-500, default 50.
    pub limit: Option<u64>,
}

/// Sync history, newest first.
#[utoipa::path(get, path = "/api/v1/admin/ldap/runs", tag = "admin: ldap", security(("bearer" = [])),
    params(RunParams), responses((status = 200, body = Vec<Run>), (status = 404, body = ErrorBody)))]
pub async fn runs(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(params): ApiQuery<RunParams>,
) -> Result<Json<Vec<Run>>, ApiError> {
    Ok(Json(
        connector(&state)?.runs(params.limit.unwrap_or(50)).await?,
    ))
}

/// Approves a blocked run: a full sync runs now and may disable beyond the threshold.
#[utoipa::path(post, path = "/api/v1/admin/ldap/runs/{id}/approve", tag = "admin: ldap", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Run), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn approve(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<Json<Run>, ApiError> {
    Ok(Json(connector(&state)?.approve(id).await?))
}

//! `/api/v1/admin/ldap/...`: test the connection, start a sync, sync history and one run's
//! progress, approve a blocked run. Syncs run as background jobs: no request waits for one.

use std::sync::Arc;

use crate::api::error::{BadRequest, Forbidden, Invalid, NotFound, Unauthorized};
use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::{get, post},
};
use serde::Deserialize;

use crate::{
    api::{AccessAdmin, Admin, ApiError, ApiPath, ApiQuery, ErrorBody},
    ldap::{LdapError, LdapService, Run, SyncKind, TestReport},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/ldap/test", post(test))
        .route("/api/v1/admin/ldap/sync", post(sync))
        .route("/api/v1/admin/ldap/runs", get(runs))
        .route("/api/v1/admin/ldap/runs/{id}", get(run))
        .route("/api/v1/admin/ldap/runs/{id}/approve", post(approve))
}

fn connector(state: &AppState) -> Result<&Arc<LdapService>, ApiError> {
    state
        .ldap
        .as_ref()
        .ok_or_else(|| LdapError::NotConfigured.into())
}

/// `202 Accepted` with the started run, and where to follow it.
fn accepted(run: Run) -> impl IntoResponse {
    let location = format!("/api/v1/admin/ldap/runs/{}", run.id);
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(run),
    )
}

/// Connects and binds, counts entries per base, maps one sample, and reports what a sync would
/// change (a dry run: nothing is applied).
#[utoipa::path(post, path = "/api/v1/admin/ldap/test", tag = "admin: ldap", security(("bearer" = [])),
    responses((status = 200, body = TestReport), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, description = "LDAP is not configured", body = ErrorBody), (status = 422, response = Invalid), (status = 503, description = "unreachable, bind refused, or search failed", body = ErrorBody)))]
pub async fn test(
    State(state): State<AppState>,
    _admin: AccessAdmin,
) -> Result<Json<TestReport>, ApiError> {
    Ok(Json(connector(&state)?.test().await?))
}

/// Which kind of sync to run.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncParams {
    /// Default `full`.
    pub kind: Option<SyncKindParam>,
}

/// A full or an incremental sync.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncKindParam {
    Full,
    Incremental,
}

/// Starts a sync in the background and answers at once with its record (status `running`);
/// follow it with `GET /api/v1/admin/ldap/runs/{id}` until the status is `succeeded`,
/// `failed` or `blocked`.
#[utoipa::path(post, path = "/api/v1/admin/ldap/sync", tag = "admin: ldap", security(("bearer" = [])),
    params(SyncParams),
    responses((status = 202, body = Run, description = "started; the Location header names the run",
               headers(("Location" = String, description = "the run's URL"))),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, description = "LDAP is not configured", body = ErrorBody),
              (status = 409, description = "another sync is running", body = ErrorBody)))]
pub async fn sync(
    State(state): State<AppState>,
    _admin: AccessAdmin,
    ApiQuery(params): ApiQuery<SyncParams>,
) -> Result<impl IntoResponse, ApiError> {
    let kind = match params.kind {
        None | Some(SyncKindParam::Full) => SyncKind::Full,
        Some(SyncKindParam::Incremental) => SyncKind::Incremental,
    };
    let run = connector(&state)?.start_sync("manual", kind, false).await?;
    Ok(accepted(run))
}

/// Paging for the run history.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunParams {
    /// Default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Sync history, newest first.
#[utoipa::path(get, path = "/api/v1/admin/ldap/runs", tag = "admin: ldap", security(("bearer" = [])),
    params(RunParams), responses((status = 200, body = Vec<Run>), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn runs(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(params): ApiQuery<RunParams>,
) -> Result<Json<Vec<Run>>, ApiError> {
    Ok(Json(
        connector(&state)?
            .runs(crate::api::in_range("limit", params.limit, 50, 1, 500)?)
            .await?,
    ))
}

/// One run: while it runs, `message` says how far it has come and `counts` what it has
/// counted so far.
#[utoipa::path(get, path = "/api/v1/admin/ldap/runs/{id}", tag = "admin: ldap", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Run), (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn run(
    State(state): State<AppState>,
    _admin: AccessAdmin,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<Json<Run>, ApiError> {
    Ok(Json(connector(&state)?.run(id).await?))
}

/// Approves a blocked run and starts a full sync in the background that may disable beyond
/// the threshold; answers at once with the new run (status `running`).
#[utoipa::path(post, path = "/api/v1/admin/ldap/runs/{id}/approve", tag = "admin: ldap", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 202, body = Run, description = "the approved sync started; the Location header names it",
               headers(("Location" = String, description = "the new run's URL"))),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound),
              (status = 409, description = "the run is not blocked, or another sync is running", body = ErrorBody)))]
pub async fn approve(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(accepted(connector(&state)?.approve(id).await?))
}

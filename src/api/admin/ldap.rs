//! `/api/v1/admin/ldap/...`: the settings, test the connection, start a sync, sync history and
//! one run's progress, approve or reject a blocked run. Syncs run as background jobs: no
//! request waits for one. Reads are open to every administrator; changes need the `access`
//! power (docs/api.md, "Admin powers").

use crate::api::error::{BadRequest, Forbidden, Invalid, NotFound, PayloadTooLarge, Unauthorized};
use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::{get, post},
};
use serde::Deserialize;

use crate::{
    api::{AccessAdmin, Admin, ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, RemoteAddr},
    ldap::{LdapSettings, RawLdapConfig, Run, SyncKind, TestReport},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/admin/ldap/settings",
            get(settings).put(set_settings),
        )
        .route("/api/v1/admin/ldap/test", post(test))
        .route("/api/v1/admin/ldap/sync", post(sync))
        .route("/api/v1/admin/ldap/runs", get(runs))
        .route("/api/v1/admin/ldap/runs/{id}", get(run))
        .route("/api/v1/admin/ldap/runs/{id}/approve", post(approve))
        .route("/api/v1/admin/ldap/runs/{id}/reject", post(reject))
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

/// The LDAP settings in force: the ones IT saved (`source: "portal"`), else the configuration
/// file's. The bind password is never shown: `bind_password_stored` says whether IT entered one.
#[utoipa::path(get, path = "/api/v1/admin/ldap/settings", tag = "admin: ldap", security(("bearer" = [])),
    responses((status = 200, body = LdapSettings), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, description = "LDAP is not configured", body = ErrorBody)))]
pub async fn settings(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<LdapSettings>, ApiError> {
    Ok(Json(state.ldap.settings().await?))
}

/// Replaces the LDAP settings (the `[ldap]` table's fields; `bind_password` absent keeps the
/// one in force, `""` goes back to the file's or environment's). Checked as the file's are, each
/// error naming its field; the next run, login and write-back use them, no restart. Audited.
#[utoipa::path(put, path = "/api/v1/admin/ldap/settings", tag = "admin: ldap", security(("bearer" = [])),
    request_body = RawLdapConfig,
    responses((status = 200, body = LdapSettings), (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, description = "LDAP is not configured", body = ErrorBody),
              (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn set_settings(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiJson(input): ApiJson<RawLdapConfig>,
) -> Result<Json<LdapSettings>, ApiError> {
    Ok(Json(
        state
            .ldap
            .save_settings(&admin.actor(&remote), input)
            .await?,
    ))
}

/// Connects and binds, counts entries per base, maps one sample, and reports what a sync would
/// change (a dry run: nothing is applied).
#[utoipa::path(post, path = "/api/v1/admin/ldap/test", tag = "admin: ldap", security(("bearer" = [])),
    responses((status = 200, body = TestReport), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, description = "LDAP is not configured", body = ErrorBody), (status = 422, response = Invalid), (status = 503, description = "unreachable, bind refused, or search failed", body = ErrorBody)))]
pub async fn test(
    State(state): State<AppState>,
    _admin: AccessAdmin,
) -> Result<Json<TestReport>, ApiError> {
    Ok(Json(state.ldap.test().await?))
}

/// Which kind of sync to run.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncParams {
    /// Default `full`.
    #[param(inline)]
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
    let run = state.ldap.start_sync("manual", kind, false).await?;
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
        state
            .ldap
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
    _admin: Admin,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<Json<Run>, ApiError> {
    Ok(Json(state.ldap.run(id).await?))
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
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = admin.actor(&remote);
    Ok(accepted(state.ldap.approve(&actor, id).await?))
}

/// Rejects a blocked run: nothing of it is applied and it no longer waits (status `rejected`).
/// The next scheduled or manual run is blocked again if the deletions are still there.
#[utoipa::path(post, path = "/api/v1/admin/ldap/runs/{id}/reject", tag = "admin: ldap", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Run), (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound),
              (status = 409, description = "the run is not waiting for approval", body = ErrorBody)))]
pub async fn reject(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<Json<Run>, ApiError> {
    let actor = admin.actor(&remote);
    Ok(Json(state.ldap.reject(&actor, id).await?))
}

//! `/api/v1/contacts/...`: the caller's contact list — snapshot, delta, search, one person.
//! Everything here is limited to the caller's view; outside it, people do not exist (404).

use crate::api::error::{BadRequest, Forbidden, NotFound, Unauthorized};
use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, ApiPath, ApiQuery, Caller, ErrorBody};
use crate::{
    contacts::{ContactStaff, Delta, SearchResult, Snapshot},
    directory::StaffId,
    observability::ContactSync,
    state::AppState,
    store::Version,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/contacts/snapshot", get(snapshot))
        .route("/api/v1/contacts/delta", get(delta))
        .route("/api/v1/contacts/version", get(version))
        .route("/api/v1/contacts/search", get(search))
        .route("/api/v1/contacts/staff/{id}", get(staff))
}

fn viewer(caller: &Caller) -> Result<StaffId, ApiError> {
    caller.0.staff_id.ok_or_else(|| {
        ApiError::Forbidden(
            "this account has no contact list (it is not a person in the directory)".into(),
        )
    })
}

/// The caller's whole contact list at one version. Sends `ETag`; answers `304` to a
/// matching `If-None-Match`. The body is written as the client reads it, from a frozen view
/// of the list: a slow client holds up no writer.
#[utoipa::path(get, path = "/api/v1/contacts/snapshot", tag = "contacts", security(("bearer" = [])),
    responses((status = 200, body = Snapshot), (status = 304, description = "unchanged since the ETag"), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn snapshot(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let staff = viewer(&caller)?;
    let body = state.contacts.snapshot_body(staff)?;
    let etag = format!("\"{}.{}\"", body.class().0, body.version());
    let etag_value = HeaderValue::from_str(&etag).map_err(|e| ApiError::Internal(e.to_string()))?;
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    if matches {
        state.metrics.record_contact_sync(ContactSync::NotModified);
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    state.metrics.record_contact_sync(ContactSync::Snapshot);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, etag_value),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Body::from_stream(futures_util::stream::iter(body)),
    )
        .into_response())
}

/// `since`: the version of the caller's last snapshot or delta.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeltaParams {
    /// A version this server gave the caller.
    #[param(value_type = i64, minimum = 0)]
    pub since: String,
}

/// Everything that changed in the caller's list since `since`, one entry per id (its last
/// state). `reset: true` means `since` is older than the retained history: fetch a snapshot.
#[utoipa::path(get, path = "/api/v1/contacts/delta", tag = "contacts", security(("bearer" = [])),
    params(DeltaParams),
    responses((status = 200, body = Delta), (status = 400, description = "since is not a non-negative integer", body = ErrorBody), (status = 409, description = "since is newer than the newest version (a copy from another server, or from before a restore): fetch a snapshot", body = ErrorBody), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn delta(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<DeltaParams>,
) -> Result<Json<Delta>, ApiError> {
    let staff = viewer(&caller)?;
    let since: i64 = params
        .since
        .trim()
        .parse()
        .ok()
        .filter(|v: &i64| *v >= 0)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "since: '{}' is not a version (a non-negative integer)",
                params.since
            ))
        })?;
    let delta = state.contacts.delta(staff, Version(since))?;
    state.metrics.record_contact_sync(if delta.reset {
        ContactSync::Reset
    } else {
        ContactSync::Delta
    });
    Ok(Json(delta))
}

/// The newest version, for cheap polling.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionBody {
    pub version: i64,
}

/// The newest version of the contact lists. When it differs from the client's, pull a delta.
#[utoipa::path(get, path = "/api/v1/contacts/version", tag = "contacts", security(("bearer" = [])),
    responses((status = 200, body = VersionBody), (status = 401, response = Unauthorized)))]
pub async fn version(State(state): State<AppState>, _caller: Caller) -> Json<VersionBody> {
    Json(VersionBody {
        version: state.contacts.version().0,
    })
}

/// Search parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Name, pinyin (`zhangwei`), initials (`zw`), login, or — when the caller may see them —
    /// email or phone digits.
    #[param(max_length = 100)]
    pub q: String,
    /// Default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
}

/// Searches the caller's contact list.
#[utoipa::path(get, path = "/api/v1/contacts/search", tag = "contacts", security(("bearer" = [])),
    params(SearchParams),
    responses((status = 200, body = SearchResult), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<SearchResult>, ApiError> {
    let staff = viewer(&caller)?;
    if params.q.chars().count() > 100 {
        return Err(ApiError::BadRequest("q: at most 100 characters".into()));
    }
    let limit = crate::api::in_range("limit", params.limit, 50, 1, 200)?;
    // A scan of every person in the list: off the async workers.
    let contacts = state.contacts.clone();
    let found = tokio::task::spawn_blocking(move || contacts.search(staff, &params.q, limit))
        .await
        .map_err(|e| ApiError::Internal(format!("search task: {e}")))??;
    Ok(Json(found))
}

/// One person in the caller's list. People outside it are `404`, exactly like unknown ids.
#[utoipa::path(get, path = "/api/v1/contacts/staff/{id}", tag = "contacts", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = ContactStaff), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn staff(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<StaffId>,
) -> Result<Json<ContactStaff>, ApiError> {
    let viewer = viewer(&caller)?;
    state
        .contacts
        .staff(viewer, id)?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("staff {id} not found")))
}

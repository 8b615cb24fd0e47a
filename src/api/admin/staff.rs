//! Staff administration: list and search, create, update, disable/enable, delete, memberships,
//! local passwords and admin rights.

use crate::api::error::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, PreconditionFailed,
    Unauthorized, Unavailable,
};
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::IntoResponse,
    routing::{get, post, put},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Committed, Paging};
use crate::{
    api::{
        Admin, ApiError, ApiJson, ApiPath, ApiQuery, DirectoryAdmin, ErrorBody, IfMatch,
        RemoteAddr, etag,
    },
    directory::{
        DepartmentId, DisabledBy, MembershipInput, NewStaff, Staff, StaffId, StaffPatch,
        StaffStatus,
    },
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/staff", get(list).post(create))
        .route(
            "/api/v1/admin/staff/{id}",
            get(show).patch(update).delete(remove),
        )
        .route("/api/v1/admin/staff/{id}/disable", post(disable))
        .route("/api/v1/admin/staff/{id}/enable", post(enable))
        .route("/api/v1/admin/staff/{id}/departments", put(set_departments))
        .route("/api/v1/admin/staff/{id}/password", put(set_password))
}

/// Filters for the staff list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StaffFilter {
    /// Matches login, name, pinyin, initials, email or phone (case-insensitive substring).
    pub q: Option<String>,
    /// Only members of this department (direct members unless `subtree=true`).
    pub department_id: Option<DepartmentId>,
    #[serde(default)]
    pub subtree: bool,
    /// `active` or `disabled`.
    pub status: Option<StaffStatus>,
}

/// One page of staff.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffPage {
    pub version: i64,
    pub total: usize,
    pub items: Vec<Staff>,
}

pub(crate) fn matches(person: &Staff, needle: &str) -> bool {
    person.login.contains(needle)
        || person.display_name.to_lowercase().contains(needle)
        || person.pinyin_full.contains(needle)
        || person.pinyin_initials.starts_with(needle)
        || person
            .emails
            .iter()
            .any(|e| e.to_lowercase().contains(needle))
        || person.phones.iter().any(|p| p.contains(needle))
}

/// Lists staff, filtered and paged, ordered by pinyin.
#[utoipa::path(get, path = "/api/v1/admin/staff", tag = "admin: staff", security(("bearer" = [])),
    params(StaffFilter, Paging),
    responses((status = 200, body = StaffPage), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(filter): ApiQuery<StaffFilter>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<StaffPage>, ApiError> {
    let replica = state.directory.read();
    let needle = filter
        .q
        .as_deref()
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    let departments: Option<std::collections::HashSet<DepartmentId>> = match filter.department_id {
        None => None,
        Some(id) => {
            if replica.department(id).is_none() {
                return Err(ApiError::NotFound(format!("department {id} not found")));
            }
            Some(if filter.subtree {
                replica.subtree(id).into_iter().collect()
            } else {
                [id].into()
            })
        }
    };
    let mut hits: Vec<&Staff> = replica
        .all_staff()
        .map(|s| s.as_ref())
        .filter(|s| filter.status.is_none_or(|status| s.status == status))
        .filter(|s| {
            departments
                .as_ref()
                .is_none_or(|set| s.memberships.iter().any(|m| set.contains(&m.department_id)))
        })
        .filter(|s| needle.as_deref().is_none_or(|n| matches(s, n)))
        .collect();
    hits.sort_by(|a, b| (&a.pinyin_full, &a.login).cmp(&(&b.pinyin_full, &b.login)));
    let total = hits.len();
    let items = hits
        .into_iter()
        .skip(paging.offset())
        .take(paging.limit()?)
        .cloned()
        .collect();
    Ok(Json(StaffPage {
        version: replica.version().0,
        total,
        items,
    }))
}

/// Adds a person.
#[utoipa::path(post, path = "/api/v1/admin/staff", tag = "admin: staff", security(("bearer" = [])),
    request_body = NewStaff,
    responses((status = 201, body = Staff), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, description = "login taken", body = ErrorBody), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn create(
    State(state): State<AppState>,
    admin: DirectoryAdmin,
    remote: RemoteAddr,
    ApiJson(input): ApiJson<NewStaff>,
) -> Result<(StatusCode, Json<Staff>), ApiError> {
    let (person, _) = state
        .directory
        .write(&admin.actor(&remote), |stage| stage.create_staff(input))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(std::sync::Arc::unwrap_or_clone(person)),
    ))
}

fn find(state: &AppState, id: StaffId) -> Result<Staff, ApiError> {
    state
        .directory
        .read()
        .staff(id)
        .map(|s| s.as_ref().clone())
        .ok_or_else(|| ApiError::NotFound(format!("staff {id} not found")))
}

/// One person.
#[utoipa::path(get, path = "/api/v1/admin/staff/{id}", tag = "admin: staff", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Staff, headers(("ETag" = String, description = "the person's version, for `If-Match`"))), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn show(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<StaffId>,
) -> Result<impl IntoResponse, ApiError> {
    let person = find(&state, id)?;
    Ok((etag(person.version), Json(person)))
}

/// Changes a person's fields; `departments` replaces every membership. With
/// `If-Match: "<version>"` (their `ETag`), a person changed since is refused with `412`.
#[utoipa::path(patch, path = "/api/v1/admin/staff/{id}", tag = "admin: staff", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("If-Match" = Option<String>, Header, description = "the `ETag` the edit is based on")), request_body = StaffPatch,
    responses((status = 200, body = Staff, headers(("ETag" = String, description = "the person's new version"))), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 412, response = PreconditionFailed), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid), (status = 503, response = Unavailable)))]
pub async fn update(
    State(state): State<AppState>,
    admin: DirectoryAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<StaffId>,
    IfMatch(if_version): IfMatch,
    ApiJson(mut patch): ApiJson<StaffPatch>,
) -> Result<impl IntoResponse, ApiError> {
    patch.if_version = if_version;
    let Json(person) = apply_patch(&state, &admin, &remote, id, patch).await?;
    Ok((etag(person.version), Json(person)))
}

/// Stores a patch; for people from LDAP, the LDAP connector refuses LDAP-owned fields
/// (read-only mode) or writes them to LDAP in step with the directory (writable mode).
async fn apply_patch(
    state: &AppState,
    admin: &DirectoryAdmin,
    remote: &RemoteAddr,
    id: StaffId,
    patch: StaffPatch,
) -> Result<Json<Staff>, ApiError> {
    let person = store_patch(state, &admin.actor(remote), id, patch).await?;
    Ok(Json(std::sync::Arc::unwrap_or_clone(person)))
}

/// Stores a patch of a person as the API does (through the LDAP connector when there is one):
/// the portal's staff edits come here too.
pub async fn store_patch(
    state: &AppState,
    actor: &crate::store::Actor,
    id: StaffId,
    patch: StaffPatch,
) -> Result<std::sync::Arc<Staff>, ApiError> {
    let person = match state.ldap_connected() {
        Some(ldap) => ldap.update_staff(actor, id, patch).await?,
        None => {
            state
                .directory
                .write(actor, |stage| stage.update_staff(id, patch))
                .await?
                .0
        }
    };
    Ok(person)
}

/// Replaces a person's departments.
#[utoipa::path(put, path = "/api/v1/admin/staff/{id}/departments", tag = "admin: staff",
    security(("bearer" = [])), params(("id" = String, Path, format = Uuid)),
    request_body = Vec<MembershipInput>,
    responses((status = 200, body = Staff), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid), (status = 503, response = Unavailable)))]
pub async fn set_departments(
    State(state): State<AppState>,
    admin: DirectoryAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<StaffId>,
    ApiJson(departments): ApiJson<Vec<MembershipInput>>,
) -> Result<Json<Staff>, ApiError> {
    let patch = StaffPatch {
        departments: Some(departments),
        ..Default::default()
    };
    apply_patch(&state, &admin, &remote, id, patch).await
}

async fn set_status(
    state: &AppState,
    admin: &DirectoryAdmin,
    remote: &RemoteAddr,
    id: StaffId,
    status: StaffStatus,
) -> Result<Json<Staff>, ApiError> {
    let (person, _) = state
        .directory
        .write(&admin.actor(remote), |stage| {
            stage.set_status(id, status, DisabledBy::Admin)
        })
        .await?;
    Ok(Json(std::sync::Arc::unwrap_or_clone(person)))
}

/// Disables a person: their tokens stop working at once and they leave contact lists.
#[utoipa::path(post, path = "/api/v1/admin/staff/{id}/disable", tag = "admin: staff",
    security(("bearer" = [])), params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Staff), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn disable(
    State(state): State<AppState>,
    admin: DirectoryAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<StaffId>,
) -> Result<Json<Staff>, ApiError> {
    set_status(&state, &admin, &remote, id, StaffStatus::Disabled).await
}

/// Enables a disabled person.
#[utoipa::path(post, path = "/api/v1/admin/staff/{id}/enable", tag = "admin: staff",
    security(("bearer" = [])), params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Staff), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn enable(
    State(state): State<AppState>,
    admin: DirectoryAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<StaffId>,
) -> Result<Json<Staff>, ApiError> {
    set_status(&state, &admin, &remote, id, StaffStatus::Active).await
}

/// Deletes a person and their local account. Prefer disabling: it keeps history.
#[utoipa::path(delete, path = "/api/v1/admin/staff/{id}", tag = "admin: staff", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Committed), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn remove(
    State(state): State<AppState>,
    admin: DirectoryAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<StaffId>,
) -> Result<Json<Committed>, ApiError> {
    let actor = admin.actor(&remote);
    let (_, version) = state
        .directory
        .write(&actor, |stage| stage.delete_staff(id))
        .await?;
    state.auth.remove_staff_account(&actor, id).await?;
    Ok(Json(Committed { version: version.0 }))
}

/// A new local password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// At least 8 characters.
    pub password: String,
}

/// Sets a person's local password (creating their local account); ends their sessions.
#[utoipa::path(put, path = "/api/v1/admin/staff/{id}/password", tag = "admin: staff",
    security(("bearer" = [])), params(("id" = String, Path, format = Uuid)), request_body = PasswordRequest,
    responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn set_password(
    State(state): State<AppState>,
    admin: DirectoryAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<StaffId>,
    ApiJson(request): ApiJson<PasswordRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .auth
        .set_staff_password(&admin.actor(&remote), id, &request.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

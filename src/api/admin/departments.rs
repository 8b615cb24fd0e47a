//! Department administration: list, create, rename/move/reorder/retype, delete.

use crate::api::error::{
    BadRequest, Forbidden, Invalid, NotFound, PayloadTooLarge, PreconditionFailed, Unauthorized,
};
use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Committed;
use crate::{
    api::{
        Admin, ApiError, ApiJson, ApiPath, ApiQuery, DirectoryAdmin, ErrorBody, IfMatch,
        RemoteAddr, etag,
    },
    directory::{
        DeleteDepartment, Department, DepartmentId, DepartmentPatch, NewDepartment, Staff,
    },
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/departments", get(list).post(create))
        .route(
            "/api/v1/admin/departments/{id}",
            get(show).patch(update).delete(remove),
        )
        .route("/api/v1/admin/departments/{id}/members", get(members))
}

/// Every department, parents before children, siblings in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentList {
    pub version: i64,
    pub items: Vec<Department>,
}

/// Lists all departments.
#[utoipa::path(get, path = "/api/v1/admin/departments", tag = "admin: departments",
    security(("bearer" = [])),
    responses((status = 200, body = DepartmentList), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn list(State(state): State<AppState>, _admin: Admin) -> Json<DepartmentList> {
    let replica = state.directory.read();
    let mut items = Vec::with_capacity(replica.department_count());
    let mut queue: Vec<Option<DepartmentId>> = vec![None];
    // Breadth-first from the top level, so a client can build the tree in one pass.
    let mut index = 0;
    while index < queue.len() {
        let parent = queue[index];
        index += 1;
        let mut children: Vec<&Department> = replica
            .children(parent)
            .filter_map(|id| replica.department(id).map(|d| d.as_ref()))
            .collect();
        children.sort_by(|a, b| (a.order_key, &a.name).cmp(&(b.order_key, &b.name)));
        for child in children {
            queue.push(Some(child.id));
            items.push(child.clone());
        }
    }
    Json(DepartmentList {
        version: replica.version().0,
        items,
    })
}

/// Creates a department.
#[utoipa::path(post, path = "/api/v1/admin/departments", tag = "admin: departments",
    security(("bearer" = [])), request_body = NewDepartment,
    responses((status = 201, body = Department), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, description = "parent not found", body = ErrorBody), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn create(
    State(state): State<AppState>,
    admin: DirectoryAdmin,
    remote: RemoteAddr,
    ApiJson(input): ApiJson<NewDepartment>,
) -> Result<(StatusCode, Json<Department>), ApiError> {
    let (department, _) = state
        .directory
        .write(&admin.actor(&remote), |stage| {
            stage.create_department(input)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(std::sync::Arc::unwrap_or_clone(department)),
    ))
}

/// One department.
#[utoipa::path(get, path = "/api/v1/admin/departments/{id}", tag = "admin: departments",
    security(("bearer" = [])), params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Department, headers(("ETag" = String, description = "the department's version, for `If-Match`"))), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn show(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<DepartmentId>,
) -> Result<impl IntoResponse, ApiError> {
    let replica = state.directory.read();
    let department = replica
        .department(id)
        .ok_or_else(|| ApiError::NotFound(format!("department {id} not found")))?;
    Ok((etag(department.version), Json(department.as_ref().clone())))
}

/// Renames, moves (`parent_id`), reorders (`order_key`) or retypes a department. With
/// `If-Match: "<version>"` (its `ETag`), a department changed since is refused with `412`.
#[utoipa::path(patch, path = "/api/v1/admin/departments/{id}", tag = "admin: departments",
    security(("bearer" = [])), params(("id" = String, Path, format = Uuid), ("If-Match" = Option<String>, Header, description = "the `ETag` the edit is based on")), request_body = DepartmentPatch,
    responses((status = 200, body = Department, headers(("ETag" = String, description = "the department's new version"))), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, description = "the move would create a cycle, or LDAP owns the field", body = ErrorBody), (status = 412, response = PreconditionFailed), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn update(
    State(state): State<AppState>,
    admin: DirectoryAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<DepartmentId>,
    IfMatch(if_version): IfMatch,
    ApiJson(mut patch): ApiJson<DepartmentPatch>,
) -> Result<impl IntoResponse, ApiError> {
    ldap_lock(&state, id, &patch)?;
    patch.if_version = if_version;
    let (department, _) = state
        .directory
        .write(&admin.actor(&remote), |stage| {
            stage.update_department(id, patch)
        })
        .await?;
    Ok((
        etag(department.version),
        Json(std::sync::Arc::unwrap_or_clone(department)),
    ))
}

/// Why LDAP owns a department's name, type and place, when it does: it came from LDAP and
/// LDAP is not in `unsynced` mode (the portal shows these fields read-only with this reason).
pub fn ldap_owner(state: &AppState, department: &Department) -> Option<&'static str> {
    let synced = state
        .ldap_connected()
        .is_some_and(|l| l.mode() != crate::ldap::Mode::Unsynced);
    (synced && department.source == crate::directory::RecordSource::Ldap).then_some(
        "name, type and place of this department are managed by LDAP; change them in the directory server",
    )
}

/// Refuses a rename, retype or move of a department LDAP owns.
pub fn ldap_lock(
    state: &AppState,
    id: DepartmentId,
    patch: &DepartmentPatch,
) -> Result<(), ApiError> {
    let structural = patch.name.is_some() || patch.parent_id.is_some() || patch.dept_type.is_some();
    let owner = state
        .directory
        .read()
        .department(id)
        .and_then(|d| ldap_owner(state, d));
    match owner {
        Some(reason) if structural => Err(ApiError::Conflict(reason.into())),
        _ => Ok(()),
    }
}

/// Where a deleted department's children and members go.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// A department id, or `root` for the top level. Required when it has sub-departments.
    #[param(value_type = Option<String>, pattern = "^(root|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")]
    pub move_children_to: Option<String>,
    /// A department id. Required when it has members.
    pub move_members_to: Option<DepartmentId>,
}

/// Deletes a department; say where its sub-departments and members go.
#[utoipa::path(delete, path = "/api/v1/admin/departments/{id}", tag = "admin: departments",
    security(("bearer" = [])), params(("id" = String, Path, format = Uuid), DeleteParams),
    responses((status = 200, body = Committed), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, description = "it has children or members and no target was given", body = ErrorBody), (status = 422, response = Invalid)))]
pub async fn remove(
    State(state): State<AppState>,
    admin: DirectoryAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<DepartmentId>,
    ApiQuery(params): ApiQuery<DeleteParams>,
) -> Result<Json<Committed>, ApiError> {
    let move_children_to = match params.move_children_to.as_deref() {
        None => None,
        Some("root") => Some(None),
        // The hyphenated form only, as the document says.
        Some(text) => Some(Some(DepartmentId(
            text.parse()
                .ok()
                .filter(|_| text.len() == 36)
                .ok_or_else(|| {
                    ApiError::BadRequest(
                        "move_children_to: expected a department id or 'root'".into(),
                    )
                })?,
        ))),
    };
    let plan = DeleteDepartment {
        move_children_to,
        move_members_to: params.move_members_to,
    };
    let (_, version) = state
        .directory
        .write(&admin.actor(&remote), |stage| {
            stage.delete_department(id, plan)
        })
        .await?;
    Ok(Json(Committed { version: version.0 }))
}

/// The direct members of a department, in order.
#[utoipa::path(get, path = "/api/v1/admin/departments/{id}/members", tag = "admin: departments",
    security(("bearer" = [])), params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Vec<Staff>), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn members(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<DepartmentId>,
) -> Result<Json<Vec<Staff>>, ApiError> {
    let replica = state.directory.read();
    if replica.department(id).is_none() {
        return Err(ApiError::NotFound(format!("department {id} not found")));
    }
    let mut members: Vec<Staff> = replica
        .members(id)
        .filter_map(|s| replica.staff(s).map(|s| s.as_ref().clone()))
        .collect();
    let order = |s: &Staff| {
        s.memberships
            .iter()
            .find(|m| m.department_id == id)
            .map_or(0, |m| m.order_key)
    };
    members.sort_by(|a, b| (order(a), &a.pinyin_full).cmp(&(order(b), &b.pinyin_full)));
    Ok(Json(members))
}

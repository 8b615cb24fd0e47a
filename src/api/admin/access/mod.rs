//! Roles, visibility rules, role assignments and the "see the directory as this employee"
//! preview.

use crate::api::error::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, Unauthorized,
};
use std::collections::BTreeSet;

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde::Deserialize;

mod bodies;

use super::Committed;
use crate::{
    access::{PolicyChange, Role, RoleId, Rule, RuleId},
    api::{AccessAdmin, Admin, ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, RemoteAddr},
    auth::Powers,
    directory::StaffId,
    state::AppState,
    store::Version,
};
use bodies::requested_powers;
pub use bodies::{
    AssignmentBody, NewRole, Preview, PreviewParams, RolePatch, RoleView, RuleBody, RuleInput,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/roles", get(list_roles).post(create_role))
        .route(
            "/api/v1/admin/roles/{id}",
            get(show_role).patch(update_role).delete(delete_role),
        )
        .route("/api/v1/admin/rules", get(list_rules).post(create_rule))
        .route(
            "/api/v1/admin/rules/{id}",
            get(show_rule).put(replace_rule).delete(delete_rule),
        )
        .route(
            "/api/v1/admin/assignments",
            get(list_assignments).post(assign).delete(unassign),
        )
        .route("/api/v1/admin/views/preview", get(preview))
        .route("/api/v1/admin/staff/{id}/roles", get(staff_roles))
}

/// Every write here is one policy change made by the calling admin; the version it commits
/// at is what the client waits for (`Committed`).
async fn commit(
    state: &AppState,
    admin: &AccessAdmin,
    remote: &RemoteAddr,
    change: PolicyChange,
) -> Result<Version, ApiError> {
    Ok(state
        .access
        .apply(&admin.actor(remote), vec![change])
        .await?)
}

fn found<T: Clone>(
    item: Option<&T>,
    what: &str,
    id: impl std::fmt::Display,
) -> Result<T, ApiError> {
    item.cloned()
        .ok_or_else(|| ApiError::NotFound(format!("{what} {id} not found")))
}

/// Lists roles.
#[utoipa::path(get, path = "/api/v1/admin/roles", tag = "admin: access", security(("bearer" = [])),
    responses((status = 200, body = Vec<RoleView>), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn list_roles(State(state): State<AppState>, _admin: Admin) -> Json<Vec<RoleView>> {
    Json(
        state
            .access
            .snapshot()
            .policy
            .roles
            .values()
            .map(RoleView::from)
            .collect(),
    )
}

/// Creates a role.
#[utoipa::path(post, path = "/api/v1/admin/roles", tag = "admin: access", security(("bearer" = [])),
    request_body = NewRole,
    responses((status = 201, body = RoleView), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn create_role(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiJson(input): ApiJson<NewRole>,
) -> Result<(StatusCode, Json<RoleView>), ApiError> {
    let role = Role {
        id: RoleId(uuid::Uuid::now_v7()),
        name: input.name.trim().to_owned(),
        description: input.description.trim().to_owned(),
        powers: requested_powers(Some(input.is_admin), input.admin_powers.as_deref())
            .unwrap_or(Powers::NONE),
    };
    commit(&state, &admin, &remote, PolicyChange::PutRole(role.clone())).await?;
    Ok((StatusCode::CREATED, Json(RoleView::from(&role))))
}

fn find_role(state: &AppState, id: RoleId) -> Result<Role, ApiError> {
    let snapshot = state.access.snapshot();
    found(snapshot.policy.roles.get(&id), "role", id)
}

/// One role.
#[utoipa::path(get, path = "/api/v1/admin/roles/{id}", tag = "admin: access", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = RoleView), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn show_role(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<RoleId>,
) -> Result<Json<RoleView>, ApiError> {
    find_role(&state, id).map(|role| Json(RoleView::from(&role)))
}

/// Renames a role, or grants or withdraws its admin rights.
#[utoipa::path(patch, path = "/api/v1/admin/roles/{id}", tag = "admin: access", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = RolePatch,
    responses((status = 200, body = RoleView), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn update_role(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<RoleId>,
    ApiJson(patch): ApiJson<RolePatch>,
) -> Result<Json<RoleView>, ApiError> {
    let mut role = find_role(&state, id)?;
    if let Some(name) = patch.name {
        role.name = name.trim().to_owned();
    }
    if let Some(description) = patch.description {
        role.description = description.trim().to_owned();
    }
    if let Some(powers) = requested_powers(patch.is_admin, patch.admin_powers.as_deref()) {
        role.powers = powers;
    }
    commit(&state, &admin, &remote, PolicyChange::PutRole(role.clone())).await?;
    Ok(Json(RoleView::from(&role)))
}

/// Deletes a role with its rules and assignments.
#[utoipa::path(delete, path = "/api/v1/admin/roles/{id}", tag = "admin: access", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Committed), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict)))]
pub async fn delete_role(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<RoleId>,
) -> Result<Json<Committed>, ApiError> {
    let version = commit(&state, &admin, &remote, PolicyChange::DeleteRole(id)).await?;
    Ok(Json(Committed { version: version.0 }))
}

/// Lists rules.
#[utoipa::path(get, path = "/api/v1/admin/rules", tag = "admin: access", security(("bearer" = [])),
    responses((status = 200, body = Vec<RuleBody>), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn list_rules(State(state): State<AppState>, _admin: Admin) -> Json<Vec<RuleBody>> {
    Json(
        state
            .access
            .snapshot()
            .policy
            .rules
            .values()
            .map(RuleBody::from_rule)
            .collect(),
    )
}

/// Creates a rule. The change reaches every affected client as an ordinary delta.
#[utoipa::path(post, path = "/api/v1/admin/rules", tag = "admin: access", security(("bearer" = [])),
    request_body = RuleInput,
    responses((status = 201, body = RuleBody), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, description = "unknown role", body = ErrorBody), (status = 409, description = "no administrator would see anything", body = ErrorBody), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn create_rule(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiJson(body): ApiJson<RuleInput>,
) -> Result<(StatusCode, Json<RuleBody>), ApiError> {
    let rule = body.into_rule(RuleId(uuid::Uuid::now_v7()))?;
    commit(&state, &admin, &remote, PolicyChange::PutRule(rule.clone())).await?;
    Ok((StatusCode::CREATED, Json(RuleBody::from_rule(&rule))))
}

fn find_rule(state: &AppState, id: RuleId) -> Result<Rule, ApiError> {
    let snapshot = state.access.snapshot();
    found(snapshot.policy.rules.get(&id), "rule", id)
}

/// One rule.
#[utoipa::path(get, path = "/api/v1/admin/rules/{id}", tag = "admin: access", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = RuleBody), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn show_rule(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<RuleId>,
) -> Result<Json<RuleBody>, ApiError> {
    find_rule(&state, id).map(|r| Json(RuleBody::from_rule(&r)))
}

/// Replaces a rule.
#[utoipa::path(put, path = "/api/v1/admin/rules/{id}", tag = "admin: access", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = RuleInput,
    responses((status = 200, body = RuleBody), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn replace_rule(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<RuleId>,
    ApiJson(body): ApiJson<RuleInput>,
) -> Result<Json<RuleBody>, ApiError> {
    find_rule(&state, id)?;
    let rule = body.into_rule(id)?;
    commit(&state, &admin, &remote, PolicyChange::PutRule(rule.clone())).await?;
    Ok(Json(RuleBody::from_rule(&rule)))
}

/// Deletes a rule.
#[utoipa::path(delete, path = "/api/v1/admin/rules/{id}", tag = "admin: access", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Committed), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict)))]
pub async fn delete_rule(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<RuleId>,
) -> Result<Json<Committed>, ApiError> {
    let version = commit(&state, &admin, &remote, PolicyChange::DeleteRule(id)).await?;
    Ok(Json(Committed { version: version.0 }))
}

/// Filters for listing assignments.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssignmentFilter {
    pub role_id: Option<RoleId>,
}

/// Lists role assignments.
#[utoipa::path(get, path = "/api/v1/admin/assignments", tag = "admin: access", security(("bearer" = [])),
    params(AssignmentFilter),
    responses((status = 200, body = Vec<AssignmentBody>), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn list_assignments(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(filter): ApiQuery<AssignmentFilter>,
) -> Json<Vec<AssignmentBody>> {
    Json(
        state
            .access
            .snapshot()
            .policy
            .assignments
            .iter()
            .filter(|a| filter.role_id.is_none_or(|r| a.role_id == r))
            .map(AssignmentBody::from)
            .collect(),
    )
}

/// Gives a role to a person or an LDAP group.
#[utoipa::path(post, path = "/api/v1/admin/assignments", tag = "admin: access", security(("bearer" = [])),
    request_body = AssignmentBody,
    responses((status = 200, body = Committed), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn assign(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiJson(body): ApiJson<AssignmentBody>,
) -> Result<Json<Committed>, ApiError> {
    let version = commit(&state, &admin, &remote, PolicyChange::Assign(body.parse()?)).await?;
    Ok(Json(Committed { version: version.0 }))
}

/// Takes a role away (same fields as the assignment, in the query string).
#[utoipa::path(delete, path = "/api/v1/admin/assignments", tag = "admin: access", security(("bearer" = [])),
    params(AssignmentBody),
    responses((status = 200, body = Committed), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 422, response = Invalid)))]
pub async fn unassign(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiQuery(body): ApiQuery<AssignmentBody>,
) -> Result<Json<Committed>, ApiError> {
    let version = commit(
        &state,
        &admin,
        &remote,
        // A subject that cannot be one (a staff id that is not a UUID) is not assigned.
        PolicyChange::Unassign(body.parse().map_err(|e| match e {
            ApiError::Invalid { field, .. } if field == "subject" => {
                ApiError::NotFound("no such assignment".into())
            }
            other => other,
        })?),
    )
    .await?;
    Ok(Json(Committed { version: version.0 }))
}

/// The roles a person holds.
#[utoipa::path(get, path = "/api/v1/admin/staff/{id}/roles", tag = "admin: access", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Vec<RoleView>), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn staff_roles(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<StaffId>,
) -> Result<Json<Vec<RoleView>>, ApiError> {
    if state.directory.read().staff(id).is_none() {
        return Err(ApiError::NotFound(format!("staff {id} not found")));
    }
    let snapshot = state.access.snapshot();
    let roles: BTreeSet<RoleId> = snapshot.roles_of(id);
    Ok(Json(
        roles
            .iter()
            .filter_map(|r| snapshot.policy.roles.get(r).map(RoleView::from))
            .collect(),
    ))
}

/// "See the directory as this employee."
#[utoipa::path(get, path = "/api/v1/admin/views/preview", tag = "admin: access", security(("bearer" = [])),
    params(PreviewParams),
    responses((status = 200, body = Preview), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn preview(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(params): ApiQuery<PreviewParams>,
) -> Result<Json<Preview>, ApiError> {
    preview_of(&state, params.staff_id).map(Json)
}

/// The directory as person `id` sees it, and why (the portal's "view as" shows the same).
pub fn preview_of(state: &AppState, id: StaffId) -> Result<Preview, ApiError> {
    if state.directory.read().staff(id).is_none() {
        return Err(ApiError::NotFound(format!("staff {id} not found")));
    }
    let snapshot = state.access.snapshot();
    let roles = snapshot.roles_of(id);
    let profile = snapshot.class_profile(&roles);
    let warnings = snapshot.dangling_references(&state.directory.read());
    let view = state.contacts.snapshot(id)?;
    let (class, department_count, staff_count) = state.contacts.class_summary(id)?;
    Ok(Preview {
        staff_id: id,
        roles: roles
            .iter()
            .filter_map(|r| snapshot.policy.roles.get(r).map(RoleView::from))
            .collect(),
        class,
        masked_fields: profile.masks.0.iter().map(|m| m.to_string()).collect(),
        warnings,
        department_count,
        staff_count,
        view,
    })
}

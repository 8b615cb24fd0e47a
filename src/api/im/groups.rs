//! `/api/v1/im/groups/...`: create, rename, announce, mute, invite, remove, roles, leave,
//! dissolve. Who may do what is checked by the messaging module at commit time.

use crate::api::error::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, TooManyRequests,
    Unauthorized,
};
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{post, put},
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ConversationRef, person};
use crate::{
    api::{ApiError, ApiJson, ApiPath, Caller},
    directory::StaffId,
    im::{ConversationId, Role, Sender},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/im/groups", post(create))
        .route(
            "/api/v1/im/groups/{id}",
            axum::routing::patch(update).delete(dissolve),
        )
        .route("/api/v1/im/groups/{id}/members", post(invite))
        .route(
            "/api/v1/im/groups/{id}/members/{staff}",
            put(set_member).delete(remove),
        )
        .route("/api/v1/im/groups/{id}/leave", post(leave))
}

/// A new group.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewGroup {
    pub name: String,
    #[serde(default)]
    pub announcement: String,
    /// People to add (the caller is the owner).
    #[serde(default)]
    pub members: Vec<StaffId>,
}

/// Creates a group owned by the caller, with people from their contacts.
#[utoipa::path(post, path = "/api/v1/im/groups", tag = "messaging: groups", security(("bearer" = [])),
    request_body = NewGroup,
    responses((status = 201, body = ConversationRef), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid), (status = 429, response = TooManyRequests)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewGroup>,
) -> Result<(StatusCode, Json<ConversationRef>), ApiError> {
    let me = person(&caller)?;
    let conversation = state
        .im
        .create_group(
            Sender::Staff(me),
            me,
            &body.name,
            &body.announcement,
            &body.members,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(ConversationRef { conversation })))
}

/// Changes to a group (each field optional).
#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupPatch {
    pub name: Option<String>,
    pub announcement: Option<String>,
    /// Only owners and admins may send while this is on.
    pub mute_all: Option<bool>,
}

/// Renames the group, sets its announcement or mutes everyone (owners and admins).
#[utoipa::path(patch, path = "/api/v1/im/groups/{id}", tag = "messaging: groups", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = GroupPatch,
    responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid), (status = 429, response = TooManyRequests)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(patch): ApiJson<GroupPatch>,
) -> Result<StatusCode, ApiError> {
    let me = person(&caller)?;
    state
        .im
        .update_group(
            Sender::Staff(me),
            id,
            patch.name.as_deref(),
            patch.announcement.as_deref(),
            patch.mute_all,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Dissolves the group (its owner): it stays readable and takes no more messages.
#[utoipa::path(delete, path = "/api/v1/im/groups/{id}", tag = "messaging: groups", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 429, response = TooManyRequests)))]
pub async fn dissolve(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<StatusCode, ApiError> {
    state
        .im
        .dissolve(Sender::Staff(person(&caller)?), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// People to add.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Invite {
    pub staff: Vec<StaffId>,
}

/// Invites people from the caller's contacts (any member may).
#[utoipa::path(post, path = "/api/v1/im/groups/{id}/members", tag = "messaging: groups", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = Invite,
    responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid), (status = 429, response = TooManyRequests)))]
pub async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(body): ApiJson<Invite>,
) -> Result<StatusCode, ApiError> {
    state
        .im
        .invite(Sender::Staff(person(&caller)?), id, &body.staff)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member (owners remove anyone but themselves; admins remove members).
#[utoipa::path(delete, path = "/api/v1/im/groups/{id}/members/{staff}", tag = "messaging: groups", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("staff" = String, Path, format = Uuid)),
    responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 429, response = TooManyRequests)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, staff)): ApiPath<(ConversationId, StaffId)>,
) -> Result<StatusCode, ApiError> {
    state
        .im
        .remove_member(Sender::Staff(person(&caller)?), id, staff)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A member's role or mute.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MemberPatch {
    /// `admin` or `member` (the owner decides); `owner` hands the group over.
    pub role: Option<Role>,
    /// Muted until this time (milliseconds since the epoch); 0 unmutes.
    pub muted_until: Option<i64>,
}

/// Changes a member's role (the owner) or mutes them (owners and admins).
#[utoipa::path(put, path = "/api/v1/im/groups/{id}/members/{staff}", tag = "messaging: groups", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("staff" = String, Path, format = Uuid)), request_body = MemberPatch,
    responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid), (status = 429, response = TooManyRequests)))]
pub async fn set_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, staff)): ApiPath<(ConversationId, StaffId)>,
    ApiJson(patch): ApiJson<MemberPatch>,
) -> Result<StatusCode, ApiError> {
    state
        .im
        .set_member(
            Sender::Staff(person(&caller)?),
            id,
            staff,
            patch.role,
            patch.muted_until,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Leaves the group (an owner hands it to an admin or the longest member).
#[utoipa::path(post, path = "/api/v1/im/groups/{id}/leave", tag = "messaging: groups", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 429, response = TooManyRequests)))]
pub async fn leave(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<StatusCode, ApiError> {
    state.im.leave(person(&caller)?, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

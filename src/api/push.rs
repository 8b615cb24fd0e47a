//! `/api/v1/push`: a person's devices for offline push, and the conversations they silenced
//! for push. What is sent to the push gateway: docs/protocol.md, "Offline push".

use crate::api::error::{BadRequest, Forbidden, Invalid, NotFound, PayloadTooLarge, Unauthorized};
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{delete, get, put},
};
use uuid::Uuid;

use super::{ApiError, ApiJson, ApiPath, Caller, im::person};
use crate::{
    im::ConversationId,
    push::{Device, DeviceInput, Mute, MuteInput},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/push/devices", get(devices).post(register))
        .route("/api/v1/push/devices/{id}", delete(remove))
        .route("/api/v1/push/mutes", get(mutes))
        .route(
            "/api/v1/push/mutes/{conversation_id}",
            put(mute).delete(unmute),
        )
}

/// Registers a device for offline push. A token registered before is moved to the caller
/// (and keeps its id if it was theirs); a person has at most 20 devices, the oldest goes first.
/// Signing out (`POST /api/v1/auth/logout`, which ends every session) removes every device.
#[utoipa::path(post, path = "/api/v1/push/devices", tag = "push", security(("bearer" = [])),
    request_body = DeviceInput,
    responses((status = 201, body = Device), (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<DeviceInput>,
) -> Result<(StatusCode, Json<Device>), ApiError> {
    let staff = person(&caller)?;
    Ok((
        StatusCode::CREATED,
        Json(state.push.register(staff, input).await?),
    ))
}

/// The caller's devices, newest first.
#[utoipa::path(get, path = "/api/v1/push/devices", tag = "push", security(("bearer" = [])),
    responses((status = 200, body = Vec<Device>), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn devices(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Device>>, ApiError> {
    Ok(Json(state.push.devices(person(&caller)?).await?))
}

/// Removes one of the caller's devices.
#[utoipa::path(delete, path = "/api/v1/push/devices/{id}", tag = "push", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.push.remove_device(person(&caller)?, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The conversations the caller silenced for push (those whose time has not run out).
#[utoipa::path(get, path = "/api/v1/push/mutes", tag = "push", security(("bearer" = [])),
    responses((status = 200, body = Vec<Mute>), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn mutes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Mute>>, ApiError> {
    Ok(Json(state.push.mutes(person(&caller)?).await?))
}

/// Silences a conversation of the caller's for push, until a time or until unmuted. Messages
/// still arrive in every session; only notifications to the push gateway stop.
#[utoipa::path(put, path = "/api/v1/push/mutes/{conversation_id}", tag = "push", security(("bearer" = [])),
    params(("conversation_id" = String, Path, format = Uuid)), request_body = MuteInput,
    responses((status = 200, body = Mute), (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 413, response = PayloadTooLarge),
              (status = 422, response = Invalid)))]
pub async fn mute(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(conversation): ApiPath<ConversationId>,
    ApiJson(input): ApiJson<MuteInput>,
) -> Result<Json<Mute>, ApiError> {
    let staff = person(&caller)?;
    Ok(Json(state.push.mute(staff, conversation, input).await?))
}

/// Lets a conversation's push through again (whether or not it was muted).
#[utoipa::path(delete, path = "/api/v1/push/mutes/{conversation_id}", tag = "push", security(("bearer" = [])),
    params(("conversation_id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn unmute(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(conversation): ApiPath<ConversationId>,
) -> Result<StatusCode, ApiError> {
    state.push.unmute(person(&caller)?, conversation).await?;
    Ok(StatusCode::NO_CONTENT)
}

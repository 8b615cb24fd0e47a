//! Messaging administration (`/api/v1/admin/im/...`: settings, webhooks, API keys) and the
//! server API for existing back-ends (`/api/v1/im/server/...`, authenticated by an API key in
//! `X-Api-Key` or `Authorization: Bearer sbk_...`): send as the system, manage groups.

use crate::api::error::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, TooManyRequests,
    Unauthorized,
};
use axum::{
    Json, Router,
    extract::{FromRequestParts, State},
    http::{StatusCode, request::Parts},
    routing::{delete, get, post},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ConversationRef, ack};
use crate::{
    api::{AccessAdmin, Admin, ApiError, ApiJson, ApiPath, ApiQuery, RemoteAddr},
    directory::StaffId,
    im::{
        ApiKeyInfo, ConversationId, ConversationInfo, Delivery, GroupPage, GroupQuery, Sender,
        Settings, Webhook,
        protocol::{Ack, SendFrame},
    },
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/im/settings", get(settings).put(set_settings))
        .route("/api/v1/admin/im/webhooks", get(webhooks).post(add_webhook))
        .route(
            "/api/v1/admin/im/webhooks/{id}",
            delete(remove_webhook).put(update_webhook),
        )
        .route(
            "/api/v1/admin/im/webhooks/{id}/deliveries",
            get(webhook_deliveries),
        )
        .route(
            "/api/v1/admin/im/api-keys",
            get(api_keys).post(create_api_key),
        )
        .route("/api/v1/admin/im/api-keys/{id}", delete(revoke_api_key))
        .route("/api/v1/admin/im/groups", get(groups))
        .route("/api/v1/admin/im/groups/{id}", get(group))
        .route("/api/v1/im/server/messages", post(server_send))
        .route("/api/v1/im/server/groups", post(server_create_group))
        .route("/api/v1/im/server/groups/{id}", delete(server_dissolve))
        .route("/api/v1/im/server/groups/{id}/members", post(server_invite))
        .route(
            "/api/v1/im/server/groups/{id}/members/{staff}",
            delete(server_remove),
        )
}

/// Messaging settings.
#[utoipa::path(get, path = "/api/v1/admin/im/settings", tag = "admin: messaging", security(("bearer" = [])),
    responses((status = 200, body = Settings), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn settings(State(state): State<AppState>, _admin: Admin) -> Json<Settings> {
    Json(state.im.settings())
}

/// Replaces the messaging settings.
#[utoipa::path(put, path = "/api/v1/admin/im/settings", tag = "admin: messaging", security(("bearer" = [])),
    request_body = Settings, responses((status = 200, body = Settings), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn set_settings(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiJson(settings): ApiJson<Settings>,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(
        state
            .im
            .set_settings(&admin.actor(&remote), settings)
            .await?,
    ))
}

/// Registered webhooks (secrets are not shown).
#[utoipa::path(get, path = "/api/v1/admin/im/webhooks", tag = "admin: messaging", security(("bearer" = [])),
    responses((status = 200, body = Vec<Webhook>), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn webhooks(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<Webhook>>, ApiError> {
    Ok(Json(state.im.webhooks().await?))
}

/// A webhook to register.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewWebhook {
    pub url: String,
    /// The HMAC key (16 characters or more).
    pub secret: String,
    /// Some of `message`, `message.offline`, `presence`.
    pub events: Vec<String>,
}

/// Registers a webhook.
#[utoipa::path(post, path = "/api/v1/admin/im/webhooks", tag = "admin: messaging", security(("bearer" = [])),
    request_body = NewWebhook, responses((status = 201, body = Webhook), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn add_webhook(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiJson(body): ApiJson<NewWebhook>,
) -> Result<(StatusCode, Json<Webhook>), ApiError> {
    let hook = state
        .im
        .add_webhook(&admin.actor(&remote), &body.url, &body.secret, &body.events)
        .await?;
    Ok((StatusCode::CREATED, Json(hook)))
}

/// A webhook's new URL and events (and secret, when given).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookUpdate {
    pub url: String,
    /// A new HMAC key (16 characters or more); absent: keep the current one.
    #[serde(default)]
    pub secret: Option<String>,
    pub events: Vec<String>,
}

/// Changes a webhook.
#[utoipa::path(put, path = "/api/v1/admin/im/webhooks/{id}", tag = "admin: messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = WebhookUpdate,
    responses((status = 200, body = Webhook), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn update_webhook(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<WebhookUpdate>,
) -> Result<Json<Webhook>, ApiError> {
    let hook = state
        .im
        .update_webhook(
            &admin.actor(&remote),
            id,
            &body.url,
            body.secret.as_deref(),
            &body.events,
        )
        .await?;
    Ok(Json(hook))
}

/// How many deliveries to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// Default 100 (all that are kept).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// A webhook's recent deliveries, newest first: one per batch of events POSTed, with its
/// outcome after the retries, the last HTTP status, the error and the time. The last 100 are
/// kept.
#[utoipa::path(get, path = "/api/v1/admin/im/webhooks/{id}/deliveries", tag = "admin: messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), DeliveryParams),
    responses((status = 200, body = Vec<Delivery>), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn webhook_deliveries(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<DeliveryParams>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    let limit = crate::api::in_range("limit", params.limit, 100, 1, 100)?;
    Ok(Json(state.im.webhook_deliveries(id, limit).await?))
}

/// Removes a webhook.
#[utoipa::path(delete, path = "/api/v1/admin/im/webhooks/{id}", tag = "admin: messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn remove_webhook(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.im.remove_webhook(&admin.actor(&remote), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// API keys of the server API (never the keys).
#[utoipa::path(get, path = "/api/v1/admin/im/api-keys", tag = "admin: messaging", security(("bearer" = [])),
    responses((status = 200, body = Vec<ApiKeyInfo>), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn api_keys(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<ApiKeyInfo>>, ApiError> {
    Ok(Json(state.im.api_keys().await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewApiKey {
    pub name: String,
}

/// A new API key: `key` is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub info: ApiKeyInfo,
    pub key: String,
}

/// Creates an API key for a back-end.
#[utoipa::path(post, path = "/api/v1/admin/im/api-keys", tag = "admin: messaging", security(("bearer" = [])),
    request_body = NewApiKey, responses((status = 201, body = CreatedApiKey), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn create_api_key(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiJson(body): ApiJson<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let (info, key) = state
        .im
        .create_api_key(&admin.actor(&remote), &body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedApiKey { info, key })))
}

/// Revokes an API key.
#[utoipa::path(delete, path = "/api/v1/admin/im/api-keys/{id}", tag = "admin: messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.im.revoke_api_key(&admin.actor(&remote), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which groups to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupParams {
    /// A part of the group's name (any case).
    pub q: Option<String>,
    /// Default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// Groups to skip (default 0).
    #[param(minimum = 0, maximum = 1000000000)]
    pub offset: Option<u64>,
}

/// Every active group, newest first, a page at a time: name, owner, member count, when it was
/// created and its last activity, with the number of groups matching `q` over all pages.
#[utoipa::path(get, path = "/api/v1/admin/im/groups", tag = "admin: messaging", security(("bearer" = [])),
    params(GroupParams),
    responses((status = 200, body = GroupPage), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn groups(
    State(state): State<AppState>,
    _admin: AccessAdmin,
    ApiQuery(params): ApiQuery<GroupParams>,
) -> Result<Json<GroupPage>, ApiError> {
    let query = GroupQuery {
        q: params.q.unwrap_or_default(),
        limit: crate::api::in_range("limit", params.limit, 50, 1, 200)?,
        offset: crate::api::in_range("offset", params.offset, 0, 0, 1_000_000_000)?,
    };
    Ok(Json(state.im.admin_groups(&query).await?))
}

/// One group with its members and their roles (dissolved groups too).
#[utoipa::path(get, path = "/api/v1/admin/im/groups/{id}", tag = "admin: messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = ConversationInfo), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn group(
    State(state): State<AppState>,
    _admin: AccessAdmin,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<ConversationInfo>, ApiError> {
    Ok(Json(state.im.admin_group(id)?))
}

/// A back-end holding a valid API key.
pub struct ServerKey(pub String);

impl FromRequestParts<AppState> for ServerKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let key = header("x-api-key")
            .or_else(|| {
                header("authorization")
                    .and_then(|v| v.split_once(' '))
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map(|(_, key)| key.trim())
            })
            .ok_or_else(|| ApiError::Unauthorized("missing API key".into()))?;
        Ok(Self(state.im.check_api_key(key).await?))
    }
}

/// Sends as the system: into a conversation (`conversation`), or to one person's notice
/// conversation (`to`).
#[utoipa::path(post, path = "/api/v1/im/server/messages", tag = "messaging: server API", security(("api_key" = [])),
    request_body = SendFrame, responses((status = 200, body = Ack), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid), (status = 429, response = TooManyRequests)))]
pub async fn server_send(
    State(state): State<AppState>,
    ServerKey(name): ServerKey,
    ApiJson(frame): ApiJson<SendFrame>,
) -> Result<Json<Ack>, ApiError> {
    tracing::debug!(key = %name, "server API send");
    ack(state.im.send_and_wait(Sender::System, frame).await?)
}

/// A group created by a back-end.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ServerGroup {
    pub name: String,
    pub owner: StaffId,
    #[serde(default)]
    pub members: Vec<StaffId>,
    #[serde(default)]
    pub announcement: String,
}

/// Creates a group with the given owner.
#[utoipa::path(post, path = "/api/v1/im/server/groups", tag = "messaging: server API", security(("api_key" = [])),
    request_body = ServerGroup, responses((status = 201, body = ConversationRef), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid), (status = 429, response = TooManyRequests)))]
pub async fn server_create_group(
    State(state): State<AppState>,
    _key: ServerKey,
    ApiJson(body): ApiJson<ServerGroup>,
) -> Result<(StatusCode, Json<ConversationRef>), ApiError> {
    let conversation = state
        .im
        .create_group(
            Sender::System,
            body.owner,
            &body.name,
            &body.announcement,
            &body.members,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(ConversationRef { conversation })))
}

/// People to add to a group.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ServerInvite {
    pub staff: Vec<StaffId>,
}

/// Adds members to a group.
#[utoipa::path(post, path = "/api/v1/im/server/groups/{id}/members", tag = "messaging: server API", security(("api_key" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = ServerInvite, responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid), (status = 429, response = TooManyRequests)))]
pub async fn server_invite(
    State(state): State<AppState>,
    _key: ServerKey,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(body): ApiJson<ServerInvite>,
) -> Result<StatusCode, ApiError> {
    state.im.invite(Sender::System, id, &body.staff).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member from a group.
#[utoipa::path(delete, path = "/api/v1/im/server/groups/{id}/members/{staff}", tag = "messaging: server API", security(("api_key" = [])),
    params(("id" = String, Path, format = Uuid), ("staff" = String, Path, format = Uuid)), responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 429, response = TooManyRequests)))]
pub async fn server_remove(
    State(state): State<AppState>,
    _key: ServerKey,
    ApiPath((id, staff)): ApiPath<(ConversationId, StaffId)>,
) -> Result<StatusCode, ApiError> {
    state.im.remove_member(Sender::System, id, staff).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Dissolves a group.
#[utoipa::path(delete, path = "/api/v1/im/server/groups/{id}", tag = "messaging: server API", security(("api_key" = [])),
    params(("id" = String, Path, format = Uuid)), responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 429, response = TooManyRequests)))]
pub async fn server_dissolve(
    State(state): State<AppState>,
    _key: ServerKey,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<StatusCode, ApiError> {
    state.im.dissolve(Sender::System, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

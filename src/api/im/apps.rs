//! Apps: their registration (`/api/v1/admin/im/apps`, like the other messaging
//! administration) and what an app does with its key (`/api/v1/im/server/cards`, and the
//! directory lookups it needs to address people).

use crate::api::error::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, TooManyRequests,
    Unauthorized,
};
use axum::{
    Json, Router,
    extract::{FromRequestParts, State},
    http::{StatusCode, request::Parts},
    routing::{get, post, put},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    api::{AccessAdmin, Admin, ApiError, ApiJson, ApiPath, ApiQuery, RemoteAddr},
    directory::DepartmentId,
    im::{
        apps::{App, AppInput, AppPerson, Callback, CardContent, CardTargets, Decision, SentCard},
        protocol::Ack,
    },
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/im/apps", get(apps).post(create_app))
        .route(
            "/api/v1/admin/im/apps/{id}",
            put(update_app).delete(revoke_app),
        )
        .route("/api/v1/admin/im/apps/{id}/callbacks", get(callbacks))
        .route("/api/v1/im/server/cards", post(send_card))
        .route("/api/v1/im/server/cards/{id}", put(update_card))
        .route("/api/v1/im/server/staff/{who}", get(person))
        .route(
            "/api/v1/im/server/departments/{id}/staff",
            get(department_people),
        )
}

/// Registered apps (never their keys or secrets).
#[utoipa::path(get, path = "/api/v1/admin/im/apps", tag = "admin: messaging", security(("bearer" = [])),
    responses((status = 200, body = Vec<App>), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn apps(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<App>>, ApiError> {
    Ok(Json(state.im.apps().await?))
}

/// A new app: `key` (its API key) and `secret` (the HMAC key of its callbacks) are shown
/// this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApp {
    #[serde(flatten)]
    pub app: App,
    pub key: String,
    pub secret: String,
}

/// Registers an app.
#[utoipa::path(post, path = "/api/v1/admin/im/apps", tag = "admin: messaging", security(("bearer" = [])),
    request_body = AppInput, responses((status = 201, body = CreatedApp), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn create_app(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiJson(body): ApiJson<AppInput>,
) -> Result<(StatusCode, Json<CreatedApp>), ApiError> {
    let (app, key, secret) = state.im.create_app(&admin.actor(&remote), &body).await?;
    Ok((StatusCode::CREATED, Json(CreatedApp { app, key, secret })))
}

/// Changes an app's name, picture, callback URL and reach (its key and secret stay).
#[utoipa::path(put, path = "/api/v1/admin/im/apps/{id}", tag = "admin: messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = AppInput,
    responses((status = 200, body = App), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn update_app(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AppInput>,
) -> Result<Json<App>, ApiError> {
    Ok(Json(
        state
            .im
            .update_app(&admin.actor(&remote), id, &body)
            .await?,
    ))
}

/// Revokes an app: its key is refused at once, its cards refuse further actions.
#[utoipa::path(delete, path = "/api/v1/admin/im/apps/{id}", tag = "admin: messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn revoke_app(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.im.revoke_app(&admin.actor(&remote), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many callbacks to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    /// Default 100 (all that are kept).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// An app's recent callbacks, newest first (pending ones included; the last 100 finished
/// ones are kept).
#[utoipa::path(get, path = "/api/v1/admin/im/apps/{id}/callbacks", tag = "admin: messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), CallbackParams),
    responses((status = 200, body = Vec<Callback>), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn callbacks(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<CallbackParams>,
) -> Result<Json<Vec<Callback>>, ApiError> {
    let limit = crate::api::in_range("limit", params.limit, 100, 1, 100)?;
    Ok(Json(state.im.app_callbacks(id, limit).await?))
}

/// An app holding its valid key (`X-Api-Key` or `Authorization: Bearer sbk_...`).
pub struct AppKey(pub App);

impl FromRequestParts<AppState> for AppKey {
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
            .ok_or_else(|| ApiError::Unauthorized("missing app key".into()))?;
        Ok(Self(state.im.check_app_key(key).await?))
    }
}

/// A card to send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCard {
    pub to: CardTargets,
    /// `per_person` (default): everyone may act once; `single`: the first action closes it.
    #[serde(default = "per_person")]
    pub decision: Decision,
    pub card: CardContent,
}

fn per_person() -> Decision {
    Decision::PerPerson
}

/// The cards sent, one per target.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentCards {
    pub items: Vec<SentCard>,
}

/// Sends a card (a message with actions) to people, groups and department chats within the
/// app's reach; every target is checked before any card is sent (`403` names the first one
/// outside the reach).
#[utoipa::path(post, path = "/api/v1/im/server/cards", tag = "messaging: server API", security(("api_key" = [])),
    request_body = NewCard, responses((status = 201, body = SentCards), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid), (status = 429, response = TooManyRequests)))]
pub async fn send_card(
    State(state): State<AppState>,
    AppKey(app): AppKey,
    ApiJson(body): ApiJson<NewCard>,
) -> Result<(StatusCode, Json<SentCards>), ApiError> {
    let items = state
        .im
        .send_card(&app, &body.to, body.decision, &body.card)
        .await?;
    Ok((StatusCode::CREATED, Json(SentCards { items })))
}

/// A card's new content, or its closing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardChange {
    /// Replaces the title, text, fields, image and actions.
    #[serde(default)]
    pub card: Option<CardContent>,
    /// Closes the card: no more actions.
    #[serde(default)]
    pub close: bool,
}

/// Changes a card of this app; every member's devices get a `card_update` event (the answer
/// is its position).
#[utoipa::path(put, path = "/api/v1/im/server/cards/{id}", tag = "messaging: server API", security(("api_key" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = CardChange,
    responses((status = 200, body = Ack), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid), (status = 429, response = TooManyRequests)))]
pub async fn update_card(
    State(state): State<AppState>,
    AppKey(app): AppKey,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<CardChange>,
) -> Result<Json<Ack>, ApiError> {
    Ok(Json(
        state
            .im
            .update_card(app.id, id, body.card.as_ref(), body.close)
            .await?,
    ))
}

/// A person within the app's reach, by id or login, with their departments (to find whom
/// to ask: a department's head, say).
#[utoipa::path(get, path = "/api/v1/im/server/staff/{who}", tag = "messaging: server API", security(("api_key" = [])),
    params(("who" = String, Path, description = "a staff id or a login")),
    responses((status = 200, body = AppPerson), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn person(
    State(state): State<AppState>,
    AppKey(app): AppKey,
    ApiPath(who): ApiPath<String>,
) -> Result<Json<AppPerson>, ApiError> {
    Ok(Json(state.im.app_person(&app, &who).await?))
}

/// The people of a department (its direct members) within the app's reach.
#[utoipa::path(get, path = "/api/v1/im/server/departments/{id}/staff", tag = "messaging: server API", security(("api_key" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Vec<AppPerson>), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn department_people(
    State(state): State<AppState>,
    AppKey(app): AppKey,
    ApiPath(id): ApiPath<DepartmentId>,
) -> Result<Json<Vec<AppPerson>>, ApiError> {
    Ok(Json(state.im.app_department_people(&app, id).await?))
}

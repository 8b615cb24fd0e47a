//! `/api/v1/auth`: log in, log out, who am I.

use crate::api::error::{BadRequest, PayloadTooLarge, TooManyRequests, Unauthorized, Unavailable};
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, ApiJson, Caller};
use crate::{directory::StaffId, state::AppState, store::Actor};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
}

/// Credentials.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub login: String,
    pub password: String,
}

/// A bearer token for `Authorization: Bearer <token>`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub token: String,
    /// Seconds since the Unix epoch.
    pub expires_at: i64,
    /// The person logged in; `null` for service accounts such as `admin`.
    pub staff_id: Option<StaffId>,
    /// May use the admin API and portal (holds some admin power).
    pub is_admin: bool,
    /// Which admin powers: `directory` and/or `access`.
    pub admin_powers: Vec<crate::auth::AdminPower>,
}

/// Who the token belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub account_id: uuid::Uuid,
    pub staff_id: Option<StaffId>,
    /// May use the admin API and portal (holds some admin power).
    pub is_admin: bool,
    /// Which admin powers: `directory` and/or `access`.
    pub admin_powers: Vec<crate::auth::AdminPower>,
    pub name: String,
}

/// Log in with a login and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 413, response = PayloadTooLarge), (status = 429, response = TooManyRequests), (status = 503, response = Unavailable)))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    if request.login.len() > 256 || request.password.len() > 1024 {
        return Err(ApiError::Unauthorized("invalid login or password".into()));
    }
    let session = state.auth.login(&request.login, &request.password).await?;
    Ok(Json(LoginResponse {
        token: session.token,
        expires_at: session.expires_at,
        staff_id: session.staff_id,
        is_admin: session.powers.any(),
        admin_powers: session.powers.list(),
    }))
}

/// Revoke every token of the caller's account (log out everywhere); every device registered
/// for offline push goes with them.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, response = Unauthorized)))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    let actor = Actor::new(caller.0.name.clone(), crate::store::Source::Api);
    state.auth.revoke_all(&actor, caller.0.account_id).await?;
    if let Some(staff) = caller.0.staff_id {
        state.push.signed_out(staff).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's identity.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, response = Unauthorized)))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        account_id: caller.0.account_id,
        staff_id: caller.0.staff_id,
        is_admin: caller.0.is_admin(),
        admin_powers: caller.0.powers.list(),
        name: caller.0.name,
    })
}

//! Mail: the settings and the outbox for administrators (`/api/v1/admin/mail/...`), a
//! person's mail preferences (`/api/v1/me/mail-preferences`), and password reset for local
//! accounts (`/api/v1/auth/password-reset`, no login needed). The pages mail links open live in
//! `crate::mail::pages`.

use crate::api::error::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, TooManyRequests,
    Unauthorized,
};
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AccessAdmin, Admin, ApiError, ApiJson, ApiPath, ApiQuery, Caller, RemoteAddr};
use crate::{
    mail::{MailPreferences, MailSettings, MailSettingsInput, OutboxEntry, OutboxStatus, ResetBy},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/admin/mail/settings",
            get(settings).put(set_settings),
        )
        .route("/api/v1/admin/mail/test", post(send_test))
        .route("/api/v1/admin/mail/outbox", get(outbox))
        .route("/api/v1/admin/mail/outbox/{id}", get(outbox_entry))
        .route("/api/v1/admin/mail/outbox/{id}/retry", post(retry))
        .route(
            "/api/v1/me/mail-preferences",
            get(preferences).put(set_preferences),
        )
        .route("/api/v1/auth/password-reset", post(request_reset))
        .route("/api/v1/auth/password-reset/confirm", post(confirm_reset))
}

/// The mail settings (the SMTP password only as `smtp_password_set`).
#[utoipa::path(get, path = "/api/v1/admin/mail/settings", tag = "admin: mail", security(("bearer" = [])),
    responses((status = 200, body = MailSettings), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn settings(State(state): State<AppState>, _admin: Admin) -> Json<MailSettings> {
    Json(state.mail.settings())
}

/// Replaces the mail settings; mails still queued go out with the new ones.
#[utoipa::path(put, path = "/api/v1/admin/mail/settings", tag = "admin: mail", security(("bearer" = [])),
    request_body = MailSettingsInput,
    responses((status = 200, body = MailSettings), (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn set_settings(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiJson(input): ApiJson<MailSettingsInput>,
) -> Result<Json<MailSettings>, ApiError> {
    let actor = admin.actor(&remote);
    Ok(Json(state.mail.update_settings(&actor, input).await?))
}

/// Where to send a test mail.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestMailRequest {
    /// The address; the caller's own when absent.
    pub to: Option<String>,
}

/// Queues a test mail and answers at once; poll `GET /api/v1/admin/mail/outbox/{id}` for
/// whether the SMTP server took it (`sent`) or why not (`last_error`).
#[utoipa::path(post, path = "/api/v1/admin/mail/test", tag = "admin: mail", security(("bearer" = [])),
    request_body = TestMailRequest,
    responses((status = 202, body = OutboxEntry, description = "queued; the Location header names the mail",
               headers(("Location" = String, description = "the mail's URL in the outbox"))),
              (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
              (status = 409, description = "mail is not configured", body = crate::api::ErrorBody),
              (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn send_test(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiJson(request): ApiJson<TestMailRequest>,
) -> Result<
    (
        StatusCode,
        [(axum::http::HeaderName, String); 1],
        Json<OutboxEntry>,
    ),
    ApiError,
> {
    let entry = state
        .mail
        .send_test(&admin.actor(&remote), request.to, admin.0.staff_id)
        .await?;
    let location = format!("/api/v1/admin/mail/outbox/{}", entry.id);
    Ok((
        StatusCode::ACCEPTED,
        [(axum::http::header::LOCATION, location)],
        Json(entry),
    ))
}

/// Which mails to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxParams {
    /// Only mails in this state.
    pub status: Option<OutboxStatus>,
    /// Default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// The outbox, newest first (never the mails' bodies).
#[utoipa::path(get, path = "/api/v1/admin/mail/outbox", tag = "admin: mail", security(("bearer" = [])),
    params(OutboxParams),
    responses((status = 200, body = Vec<OutboxEntry>), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn outbox(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(params): ApiQuery<OutboxParams>,
) -> Result<Json<Vec<OutboxEntry>>, ApiError> {
    let limit = super::in_range("limit", params.limit, 50, 1, 500)?;
    Ok(Json(state.mail.outbox(params.status, limit).await?))
}

/// One mail of the outbox.
#[utoipa::path(get, path = "/api/v1/admin/mail/outbox/{id}", tag = "admin: mail", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = OutboxEntry), (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn outbox_entry(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<OutboxEntry>, ApiError> {
    Ok(Json(state.mail.outbox_entry(id).await?))
}

/// Queues a failed mail again, its attempts counted afresh.
#[utoipa::path(post, path = "/api/v1/admin/mail/outbox/{id}/retry", tag = "admin: mail", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = OutboxEntry), (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict)))]
pub async fn retry(
    State(state): State<AppState>,
    admin: AccessAdmin,
    remote: RemoteAddr,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<OutboxEntry>, ApiError> {
    Ok(Json(state.mail.retry(&admin.actor(&remote), id).await?))
}

fn person(caller: &Caller) -> Result<crate::directory::StaffId, ApiError> {
    caller.0.staff_id.ok_or_else(|| {
        ApiError::Forbidden(
            "this needs a person's account (service accounts have no mail preferences)".into(),
        )
    })
}

/// The caller's mail preferences.
#[utoipa::path(get, path = "/api/v1/me/mail-preferences", tag = "mail", security(("bearer" = [])),
    responses((status = 200, body = MailPreferences), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn preferences(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<MailPreferences>, ApiError> {
    Ok(Json(state.mail.preferences(person(&caller)?).await?))
}

/// Sets the caller's mail preferences (the digest is opt-in).
#[utoipa::path(put, path = "/api/v1/me/mail-preferences", tag = "mail", security(("bearer" = [])),
    request_body = MailPreferences,
    responses((status = 200, body = MailPreferences), (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
              (status = 403, response = Forbidden), (status = 413, response = PayloadTooLarge)))]
pub async fn set_preferences(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(preferences): ApiJson<MailPreferences>,
) -> Result<Json<MailPreferences>, ApiError> {
    let staff = person(&caller)?;
    Ok(Json(state.mail.set_preferences(staff, preferences).await?))
}

/// Whose password to reset: exactly one of `login` and `email`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub login: Option<String>,
    pub email: Option<String>,
}

/// Mails a single-use, expiring link to choose a new password, if a local account (one whose
/// password Switchboard checks, not LDAP) has this login or address. Always `202`, whether or
/// not there is one; throttled per login or address and per client like logins.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, description = "accepted (whether or not such an account exists)"), (status = 400, response = BadRequest),
              (status = 413, response = PayloadTooLarge), (status = 429, response = TooManyRequests)))]
pub async fn request_reset(
    State(state): State<AppState>,
    remote: RemoteAddr,
    ApiJson(request): ApiJson<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    let by = match (request.login, request.email) {
        (Some(login), None) if !login.trim().is_empty() && login.chars().count() <= 256 => {
            ResetBy::Login(login)
        }
        (None, Some(email)) if !email.trim().is_empty() && email.chars().count() <= 256 => {
            ResetBy::Email(email)
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of login and email (at most 256 characters)".into(),
            ));
        }
    };
    state.mail.request_password_reset(by, remote.0.as_deref())?;
    Ok(StatusCode::ACCEPTED)
}

/// A new password, with the token of a reset link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    pub token: String,
    pub password: String,
}

/// Sets the password with a reset link's token (once, before it expires); every session of
/// the account ends.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm,
    responses((status = 204), (status = 400, response = BadRequest), (status = 413, response = PayloadTooLarge),
              (status = 422, response = Invalid)))]
pub async fn confirm_reset(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ResetConfirm>,
) -> Result<StatusCode, ApiError> {
    state
        .mail
        .confirm_password_reset(&request.token, &request.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

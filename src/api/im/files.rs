//! `/api/v1/im/files`: upload (the raw body, streamed to disk) and download, for members of
//! the conversation only.

use crate::api::error::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, Unauthorized,
};
use axum::{
    Json, Router,
    body::Body,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use uuid::Uuid;

use super::person;
use crate::{
    api::{ApiError, ApiPath, ApiQuery, Caller},
    im::{ConversationId, FileInfo},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        // The size limit is the messaging setting, checked while streaming; the global
        // body limit does not apply here.
        .route(
            "/api/v1/im/files",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/im/files/{id}", get(download))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The conversation the file is for.
    pub conversation: ConversationId,
    /// The file's name as shown to members.
    pub name: String,
}

/// Uploads a file (the request body is the file; `Content-Type` is kept).
#[utoipa::path(post, path = "/api/v1/im/files", tag = "messaging", security(("bearer" = [])),
    params(UploadQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = FileInfo), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<FileInfo>), ApiError> {
    let me = person(&caller)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let info = state
        .im
        .upload(me, query.conversation, &query.name, content_type, body)
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// Downloads a file (members of its conversation only; others get 404).
#[utoipa::path(get, path = "/api/v1/im/files/{id}", tag = "messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let me = person(&caller)?;
    let (info, body) = state.im.download(me, id).await?;
    let content_type = HeaderValue::from_str(&info.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    // RFC 5987 form, so Chinese names survive; the plain form is ASCII-only.
    let ascii: String = info
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = info
        .name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_LENGTH,
                HeaderValue::from_str(&info.size.to_string())
                    .unwrap_or_else(|_| HeaderValue::from_static("0")),
            ),
        ],
        body,
    )
        .into_response())
}

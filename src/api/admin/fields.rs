//! Custom field definitions.

use crate::api::error::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, Unauthorized,
};
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{delete, get},
};

use crate::{
    api::{Admin, ApiError, ApiJson, ApiPath, DirectoryAdmin, RemoteAddr},
    directory::{FieldDefinition, FieldEntity},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/fields", get(list).post(define))
        .route("/api/v1/admin/fields/{entity}/{key}", delete(remove))
}

/// Every custom field definition.
#[utoipa::path(get, path = "/api/v1/admin/fields", tag = "admin: fields", security(("bearer" = [])),
    responses((status = 200, body = Vec<FieldDefinition>), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn list(State(state): State<AppState>, _admin: Admin) -> Json<Vec<FieldDefinition>> {
    Json(state.directory.field_definitions())
}

/// Defines (or redefines) a custom field.
#[utoipa::path(post, path = "/api/v1/admin/fields", tag = "admin: fields", security(("bearer" = [])),
    request_body = FieldDefinition,
    responses((status = 201, body = FieldDefinition), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn define(
    State(state): State<AppState>,
    admin: DirectoryAdmin,
    remote: RemoteAddr,
    ApiJson(def): ApiJson<FieldDefinition>,
) -> Result<(StatusCode, Json<FieldDefinition>), ApiError> {
    state
        .directory
        .define_field(&admin.actor(&remote), def.clone())
        .await?;
    Ok((StatusCode::CREATED, Json(def)))
}

/// Removes a custom field that no record uses.
#[utoipa::path(delete, path = "/api/v1/admin/fields/{entity}/{key}", tag = "admin: fields",
    security(("bearer" = [])),
    params(("entity" = FieldEntity, Path), ("key" = String, Path)),
    responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict)))]
pub async fn remove(
    State(state): State<AppState>,
    admin: DirectoryAdmin,
    remote: RemoteAddr,
    ApiPath((entity, key)): ApiPath<(FieldEntity, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .remove_field(&admin.actor(&remote), entity, &key)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

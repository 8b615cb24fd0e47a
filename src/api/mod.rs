//! The JSON REST API: thin handlers that parse, authorise, call a module and render.
//! Each resource has its own file exporting a `router()`; this file merges them.

pub mod admin;
mod auth;
mod contacts;
mod error;
mod extract;
mod health;
mod im;
mod mail;
mod openapi;
mod openapi_constraints;
mod push;

pub use error::{ApiError, ErrorBody};
pub use extract::{
    AccessAdmin, AccessPower, Admin, AdminWith, ApiJson, ApiPath, ApiQuery, Caller, DirectoryAdmin,
    DirectoryPower, IfMatch, PowerMarker, RemoteAddr, etag, in_range,
};
pub use openapi::ApiDoc;

use axum::Router;

use crate::state::AppState;

/// Every API route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(openapi::router())
        .merge(auth::router())
        .merge(contacts::router())
        .merge(admin::router())
        .merge(im::router())
        .merge(mail::router())
        .merge(push::router())
}

/// The answer to an unknown path, in the API's error shape.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

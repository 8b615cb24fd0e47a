//! API keys of the server API: the list (name, first characters, created, revoked), a new key
//! whose secret is shown on the answer to its creation and never again, and revoking one.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use uuid::Uuid;

use super::{field_error, notice};
use crate::admin::{
    dashboard::local_time,
    error::PortalError,
    it::{
        It,
        posted::{FieldErrors, Posted},
    },
    page::{self, Chrome},
    session::Visitor,
};
use crate::state::AppState;

/// A key as listed.
struct KeyRow {
    id: String,
    name: String,
    /// `sbk_1a2b3c4d…`, or empty for keys made before prefixes were kept.
    prefix: String,
    created: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "admin/api_keys.html")]
struct KeysPage {
    c: Chrome,
    keys: Vec<KeyRow>,
    name: String,
    errors: FieldErrors,
    /// The key just created: (name, the secret), shown this once.
    created: Option<(String, String)>,
    notice: Option<String>,
}

async fn keys_page(state: &AppState, visitor: &Visitor) -> Result<KeysPage, PortalError> {
    let mut keys = state
        .im
        .api_keys()
        .await
        .map_err(|e| PortalError::Api(visitor.lang, e.into()))?;
    keys.sort_by_key(|k| (k.revoked, std::cmp::Reverse(k.created_at)));
    Ok(KeysPage {
        c: Chrome::new(state, visitor, "api_keys", "nav.api_keys"),
        keys: keys
            .into_iter()
            .map(|k| KeyRow {
                id: k.id.to_string(),
                name: k.name,
                prefix: k.prefix.unwrap_or_default(),
                created: local_time(k.created_at),
                revoked: k.revoked,
            })
            .collect(),
        name: String::new(),
        errors: FieldErrors::default(),
        created: None,
        notice: notice(&visitor.tr(), &visitor.path, "keys", &["revoked"]),
    })
}

/// `GET /admin/api-keys`.
pub async fn list(State(state): State<AppState>, It(visitor): It) -> Result<Response, PortalError> {
    Ok(page::render(&keys_page(&state, &visitor).await?))
}

/// `POST /admin/api-keys` (`name`): the answer shows the new key once (no redirect, so it is
/// in no address and no history).
pub async fn create(
    State(state): State<AppState>,
    It(visitor): It,
    posted: Posted,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let name = posted.get("name").to_owned();
    let mut errors = FieldErrors::default();
    let mut created = None;
    match state.im.create_api_key(&visitor.actor(), &name).await {
        Ok((info, key)) => created = Some((info.name, key)),
        Err(error) => field_error(&tr, "keys", &["name"], error, &mut errors)
            .map_err(|e| PortalError::Api(visitor.lang, e))?,
    }
    let mut page = keys_page(&state, &visitor).await?;
    let status = if created.is_some() {
        StatusCode::OK
    } else {
        page.name = name;
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page.errors = errors;
    page.created = created;
    Ok(page::render_status(status, &page))
}

/// `POST /admin/api-keys/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let id = id
        .parse::<Uuid>()
        .map_err(|_| PortalError::NotFound(visitor.lang))?;
    state
        .im
        .revoke_api_key(&visitor.actor(), id)
        .await
        .map_err(|e| PortalError::Api(visitor.lang, e.into()))?;
    Ok(Redirect::to("/admin/api-keys?done=revoked").into_response())
}

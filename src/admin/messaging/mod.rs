//! IT's messaging pages (the `access` power, HR never sees them): chat groups, announcements,
//! the API keys of the server API, the webhooks with their recent deliveries, and the messaging
//! settings. Each action calls the `Im` service as
//! `/api/v1/admin/im/...` does (its checks, its audit lines); nothing is decided here.

mod announce;
mod apps;
mod groups;
mod keys;
mod settings;
mod webhooks;

use axum::{
    Router,
    routing::{get, post},
};

use crate::{api::ApiError, im::ImError, state::AppState};

use super::{i18n::Tr, it::posted::FieldErrors};

/// The messaging routes under `/admin`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/api-keys", get(keys::list).post(keys::create))
        .route("/admin/api-keys/{id}/revoke", post(keys::revoke))
        .route("/admin/apps", get(apps::list).post(apps::create))
        .route("/admin/apps/{id}/revoke", post(apps::revoke))
        .route(
            "/admin/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/admin/webhooks/{id}",
            get(webhooks::show).post(webhooks::update),
        )
        .route("/admin/webhooks/{id}/delete", post(webhooks::delete))
        .route("/admin/messaging", get(settings::show).post(settings::save))
        .route("/admin/groups", get(groups::list))
        .route("/admin/groups/{id}", get(groups::show))
        .route("/admin/groups/{id}/owner", post(groups::set_owner))
        .route("/admin/groups/{id}/remove", post(groups::remove))
        .route("/admin/groups/{id}/add", post(groups::add))
        .route("/admin/groups/{id}/dissolve", post(groups::dissolve))
        .route("/admin/announcements", get(announce::show))
        .route("/admin/announcements/preview", post(announce::preview))
        .route("/admin/announcements/send", post(announce::send))
}

/// A refusal of the service next to its field (translated when the field is known, keyed
/// `<prefix>.error.<field>`); anything else goes to an error page.
fn field_error(
    tr: &Tr,
    prefix: &str,
    fields: &[&str],
    error: ImError,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    match error {
        ImError::Invalid { field, reason } => {
            if fields.contains(&field.as_str()) {
                errors.add(&field, tr.t(&format!("{prefix}.error.{field}")));
            } else {
                errors.add(&field, reason);
            }
            Ok(())
        }
        other => Err(other.into()),
    }
}

/// A `?done=` notice of a page after a redirect, as its i18n key `<prefix>.notice.<done>`.
fn notice(tr: &Tr, path: &str, prefix: &str, known: &[&str]) -> Option<String> {
    let done = path.split("done=").nth(1)?.split(['&', '#']).next()?;
    known
        .contains(&done)
        .then(|| tr.t(&format!("{prefix}.notice.{done}")).to_owned())
}

//! IT's pages (the `access` power): roles and visibility rules with the effect of a change
//! before it is saved, "view as", the people picker they share, and LDAP (settings, test,
//! sync runs with approval). Each page calls the
//! services the JSON API calls (`Access`, `Contacts`); no rule is evaluated here.
//!
//! The portal router merges `router()` (one line in `admin::router`), so these routes get the
//! portal's CSRF check like every other.

mod ldap;
mod ldap_form;
mod ldap_runs;
mod people_pick;
pub(super) mod posted;
mod roles;
mod rule_form;
mod rule_text;
mod rules;
mod view_as;

pub(in crate::admin) use rule_text::find_person;

use axum::{
    Router,
    extract::FromRequestParts,
    http::request::Parts,
    routing::{get, post},
};

use super::{
    error::PortalError,
    session::{ItAdmin, Visitor},
};
use crate::state::AppState;

/// A signed-in administrator with the `access` power (IT): the extractor of every page here
/// that changes something.
pub struct It(pub Visitor);

impl FromRequestParts<AppState> for It {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PortalError> {
        Ok(Self(ItAdmin::from_request_parts(parts, state).await?.0))
    }
}

/// IT's routes under `/admin`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/roles", get(roles::list).post(roles::create))
        .route("/admin/roles/new", get(roles::new_form))
        .route("/admin/roles/{id}", get(roles::show).post(roles::update))
        .route("/admin/roles/{id}/delete", post(roles::delete))
        .route("/admin/roles/{id}/assign", post(roles::assign))
        .route("/admin/roles/{id}/unassign", post(roles::unassign))
        .route("/admin/rules", get(rules::list).post(rules::create))
        .route("/admin/rules/new", get(rules::new_form))
        .route("/admin/rules/effect", post(rules::effect))
        .route("/admin/rules/{id}", get(rules::show).post(rules::replace))
        .route("/admin/rules/{id}/delete", post(rules::delete))
        .route("/admin/rules/{id}/delete-effect", get(rules::delete_effect))
        .route("/admin/view-as", get(view_as::show))
        .route("/admin/people/pick", get(people_pick::pick))
        .route("/admin/ldap", get(ldap::show).post(ldap::save))
        .route("/admin/ldap/test", post(ldap::test))
        .route("/admin/ldap/sync", post(ldap_runs::sync))
        .route("/admin/ldap/runs", get(ldap_runs::list))
        .route("/admin/ldap/runs/{id}", get(ldap_runs::show))
        .route("/admin/ldap/runs/{id}/status", get(ldap_runs::status))
        .route("/admin/ldap/runs/{id}/row", get(ldap_runs::row))
        .route("/admin/ldap/runs/{id}/approve", post(ldap_runs::approve))
        .route("/admin/ldap/runs/{id}/reject", post(ldap_runs::reject))
}

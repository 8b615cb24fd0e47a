//! The admin portal for HR and IT, served under `/admin`, plus the landing page (`/`), the
//! language switch (`/lang`) and the embedded assets (`/assets/`). Server-rendered with askama
//! (auto-escaped), htmx for partial updates. Handlers are thin: they call the same services
//! as the JSON API (`state.directory.write(&visitor.actor(), …)` audits with source `portal`)
//! and never hold a rule of their own.
//!
//! # Adding a page
//!
//! 1. **Handler**: a module per page family (`src/admin/staff.rs`, …). Take the extractor that
//!    names the power the page needs: `Staffer` (any administrator: reading), `HrAdmin`
//!    (`directory` power) or `ItAdmin` (`access` power) from `session`. Writes use
//!    `visitor.actor()` (source `portal`) and the module's service, exactly as `src/api/`
//!    does; map module errors with `PortalError::Api(lang, e.into())`, or re-render the form
//!    with the error next to its field (`ApiError::Invalid { field, .. }` names it).
//! 2. **Route**: add it in `router()` below. State-changing methods are CSRF-checked by
//!    `form::require_csrf` for every route here; forms carry `<input type="hidden"
//!    name="csrf" value="{{ c.csrf }}">`, htmx requests send the header by themselves.
//! 3. **Template**: `templates/admin/<page>.html`, `{% extends "admin/base.html" %}`, with a
//!    `c: Chrome` field (`Chrome::new(&state, &visitor, "<nav id>", "<title key>")`). Never
//!    `|safe` on data; fragments for htmx are templates of their own.
//! 4. **Strings**: every text in `web-admin/i18n/en.toml` and `zh.toml` under the same key
//!    (`tr.t("key")`, `tr.f("key", &[("name", &value)])`); the tests fail on a key missing from
//!    either table or used but not defined.
//! 5. **Navigation**: an entry in `nav::SECTIONS`, in the section of the power the page needs
//!    (HR: `nav.section.directory`, IT: `nav.section.access`), with an icon from
//!    `icons.rs`. Link only pages that exist.
//! 6. **Tests**: a browser test in `tests/portal*.rs` (see `tests/common/browser.rs`).

mod api_docs;
pub mod assets;
mod audit;
mod chart;
pub(crate) mod dashboard;
mod error;
pub mod form;
mod headers;
pub mod i18n;
mod icons;
mod it;
mod landing;
mod login;
mod mail;
mod messaging;
mod nav;
mod org;
mod page;
mod posted;
pub mod session;
mod staff;

pub use error::PortalError;
pub use headers::{CONTENT_SECURITY_POLICY, security_headers};

use axum::{
    Router, middleware,
    routing::{get, post},
};

use crate::state::AppState;

/// Every portal route (and `/`, `/lang`, `/assets/`).
pub fn router(state: AppState) -> Router<AppState> {
    let portal = Router::new()
        .route("/admin", get(dashboard::show))
        .route("/admin/", get(dashboard::show))
        .route("/admin/audit", get(audit::show))
        .route("/admin/login", get(login::form_page).post(login::submit))
        .route("/admin/logout", post(login::logout))
        .route("/admin/org", get(org::show))
        .route("/admin/org/tree/{id}", get(org::children))
        .route("/admin/org/search", get(org::search))
        .route("/admin/org/chart", get(org::chart))
        .route("/admin/org/new", post(org::create))
        .route("/admin/org/drop", post(org::drop_on))
        .route("/admin/org/{id}/edit", post(org::edit))
        .route("/admin/org/{id}/reorder", post(org::reorder))
        .route("/admin/org/{id}/move", post(org::move_to))
        .route("/admin/org/{id}/delete", post(org::delete))
        .merge(it::router())
        .merge(messaging::router())
        .route("/admin/mail", get(mail::show).post(mail::save))
        .route("/admin/mail/test", post(mail::send_test))
        .route("/admin/mail/test/{id}", get(mail::test_result))
        .route("/admin/mail/outbox/{id}/retry", post(mail::retry))
        .route("/admin/staff", get(staff::list))
        .route(
            "/admin/staff/import",
            get(staff::import_form).post(staff::import_submit),
        )
        .route("/admin/staff/export", get(staff::export))
        .route("/admin/staff/{id}", get(staff::edit_page).post(staff::save))
        .route("/admin/staff/{id}/status", post(staff::set_status))
        .route("/admin/staff/{id}/password", post(staff::password))
        .route("/admin/{*rest}", get(not_found).post(not_found))
        .route_layer(middleware::from_fn_with_state(state, form::require_csrf));
    Router::new()
        .merge(portal)
        .route("/", get(landing::show))
        .route("/lang", get(login::switch_language))
        .route("/api/docs", get(api_docs::show))
        .route("/assets/{name}", get(assets::serve))
}

/// An unknown page under `/admin` (after signing in: the portal's map is not public).
async fn not_found(visitor: session::Visitor) -> PortalError {
    PortalError::NotFound(visitor.lang)
}

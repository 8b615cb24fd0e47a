//! Why a portal request did not get its page, as a page: sign in again (a redirect that comes
//! back), no access, a missing power, a refused form (CSRF), not found, or a module's error
//! (mapped through the JSON API's one mapping, `api::ApiError`, then shown in the person's
//! language). Internal details are logged, never shown.

use askama::Template;
use axum::{
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
};

use super::{
    assets,
    i18n::{Lang, Tr},
    page,
    session::{Visitor, power_key},
};
use crate::{api::ApiError, auth::AdminPower};

/// A portal request that ends on a message page (or on the login page).
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// No valid session: to the login page, and back to `next` after.
    #[error("sign in first")]
    SignIn { next: String },
    /// Signed in, but without any admin power.
    #[error("no admin power")]
    NoAccess(Box<Visitor>),
    /// Signed in, but this page needs another power.
    #[error("needs the {power:?} power")]
    NeedsPower {
        visitor: Box<Visitor>,
        power: AdminPower,
    },
    /// A form or htmx request without its session's CSRF token.
    #[error("missing or wrong CSRF token")]
    Csrf(Lang),
    #[error("not found")]
    NotFound(Lang),
    /// A module refused or failed; shown with its status and (unless internal) its message.
    #[error("{1}")]
    Api(Lang, ApiError),
}

impl std::fmt::Debug for Visitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Visitor")
            .field("name", &self.principal.name)
            .finish_non_exhaustive()
    }
}

/// A standalone message page (no navigation): errors, "no access".
#[derive(Template)]
#[template(path = "admin/message.html")]
pub struct MessagePage {
    pub tr: Tr,
    pub lang: Lang,
    pub css: String,
    pub title: String,
    pub text: String,
    /// A link onwards: (href, label).
    pub link: Option<(String, String)>,
    /// The session's CSRF token when a "sign out" button should be offered.
    pub sign_out_csrf: Option<String>,
}

impl MessagePage {
    pub fn new(lang: Lang, title: &str, text: String) -> Self {
        Self {
            tr: lang.tr(),
            lang,
            css: assets::url("admin.css"),
            title: title.to_owned(),
            text,
            link: None,
            sign_out_csrf: None,
        }
    }
}

/// The login page's address with `next`.
pub fn login_url(next: &str) -> String {
    let mut url = String::from("/admin/login");
    if next != "/admin" && !next.is_empty() {
        url.push_str("?next=");
        url.push_str(&super::form::url_encode(next));
    }
    url
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn { next } => {
                let url = login_url(&super::session::safe_next(Some(&next)));
                // An htmx request would swap the login page into a fragment: have htmx
                // navigate instead.
                let mut response = Redirect::to(&url).into_response();
                if let Ok(value) = HeaderValue::from_str(&url) {
                    response.headers_mut().insert("hx-redirect", value);
                }
                response
            }
            Self::NoAccess(visitor) => {
                let tr = visitor.tr();
                let mut page = MessagePage::new(
                    visitor.lang,
                    tr.t("error.no_access.title"),
                    tr.t("error.no_access.text").to_owned(),
                );
                page.sign_out_csrf = Some(visitor.csrf.clone());
                page::render_status(StatusCode::FORBIDDEN, &page)
            }
            Self::NeedsPower { visitor, power } => {
                let tr = visitor.tr();
                let mut page = MessagePage::new(
                    visitor.lang,
                    tr.t("error.needs_power.title"),
                    tr.f(
                        "error.needs_power.text",
                        &[("power", &tr.t(power_key(power)))],
                    ),
                );
                page.link = Some(("/admin".into(), tr.t("error.back_to_dashboard").into()));
                page::render_status(StatusCode::FORBIDDEN, &page)
            }
            Self::Csrf(lang) => {
                let tr = lang.tr();
                let mut page = MessagePage::new(
                    lang,
                    tr.t("error.csrf.title"),
                    tr.t("error.csrf.text").to_owned(),
                );
                page.link = Some(("/admin".into(), tr.t("error.back_to_dashboard").into()));
                page::render_status(StatusCode::FORBIDDEN, &page)
            }
            Self::NotFound(lang) => {
                let tr = lang.tr();
                let mut page = MessagePage::new(
                    lang,
                    tr.t("error.not_found.title"),
                    tr.t("error.not_found.text").to_owned(),
                );
                page.link = Some(("/admin".into(), tr.t("error.back_to_dashboard").into()));
                page::render_status(StatusCode::NOT_FOUND, &page)
            }
            Self::Api(lang, error) => {
                let message = error.to_string();
                // The API's mapping gives the status (and logs internal details).
                let status = error.into_response().status();
                let tr = lang.tr();
                let text = if status.is_server_error() {
                    tr.t("error.internal.text").to_owned()
                } else {
                    // Module messages are in English (the API's); the heading is translated.
                    message
                };
                let mut page = MessagePage::new(lang, tr.t("error.failed.title"), text);
                page.link = Some(("/admin".into(), tr.t("error.back_to_dashboard").into()));
                page::render_status(status, &page)
            }
        }
    }
}

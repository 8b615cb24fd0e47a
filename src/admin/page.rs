//! What every portal page shares: the layout's data (`Chrome`: language, the person, the
//! navigation they may see, the CSRF token, asset URLs) and rendering a template to an answer.

use askama::Template;
use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};

use super::{
    assets,
    form::url_encode,
    i18n::{Lang, Tr},
    nav::{self, VisibleSection},
    session::{Visitor, power_key},
};
use crate::state::AppState;

/// The layout's data (`templates/admin/base.html` reads it as `c`).
pub struct Chrome {
    pub tr: Tr,
    pub lang: Lang,
    /// The page's title, already translated.
    pub title: String,
    /// The signed-in person's display name.
    pub user: String,
    /// Their powers, translated ("HR · IT").
    pub powers: String,
    pub nav: Vec<VisibleSection>,
    pub csrf: String,
    /// `hx-headers` of `<body>`: the CSRF token as JSON.
    pub hx_headers: String,
    /// Links that switch the language and come back here.
    pub languages: Vec<LangLink>,
    /// The first letter of the person's name, for the avatar.
    pub initial: String,
    pub css: String,
    pub htmx: String,
    pub js: String,
    pub favicon: String,
}

impl Chrome {
    /// The chrome of a page; `active` is its navigation id, `title_key` its title's i18n key.
    pub fn new(state: &AppState, visitor: &Visitor, active: &str, title_key: &str) -> Self {
        let tr = visitor.tr();
        let principal = &visitor.principal;
        let user = principal
            .staff_id
            .and_then(|id| {
                state
                    .directory
                    .read()
                    .staff(id)
                    .map(|s| s.display_name.clone())
            })
            .unwrap_or_else(|| principal.name.clone());
        let powers = principal
            .powers
            .list()
            .into_iter()
            .map(|p| tr.t(power_key(p)))
            .collect::<Vec<_>>()
            .join(" · ");
        Self {
            tr,
            lang: visitor.lang,
            title: tr.t(title_key).to_owned(),
            user: user.clone(),
            powers,
            nav: nav::visible(principal.powers, active),
            csrf: visitor.csrf.clone(),
            hx_headers: serde_json::json!({ "X-CSRF-Token": visitor.csrf }).to_string(),
            languages: languages(visitor.lang, &visitor.path),
            initial: user.chars().next().map(String::from).unwrap_or_default(),
            css: assets::url("admin.css"),
            htmx: assets::url("htmx.min.js"),
            js: assets::url("admin.js"),
            favicon: assets::url("favicon.svg"),
        }
    }
}

/// A link of the language switch.
pub struct LangLink {
    pub code: &'static str,
    /// The language's own name ("中文", "English").
    pub name: &'static str,
    pub href: String,
    pub current: bool,
}

impl Chrome {
    /// An icon's SVG (constant markup; print with `|safe`).
    pub fn icon(&self, name: &str) -> &'static str {
        super::icons::svg(name)
    }
}

/// The language switch's links for a page at `path`.
pub fn languages(current: Lang, path: &str) -> Vec<LangLink> {
    Lang::ALL
        .iter()
        .map(|lang| LangLink {
            code: lang.code(),
            name: lang.own_name(),
            href: format!("/lang?to={}&next={}", lang.code(), url_encode(path)),
            current: *lang == current,
        })
        .collect()
}

/// Renders a template as a `200` page.
pub fn render(template: &impl Template) -> Response {
    render_status(StatusCode::OK, template)
}

/// Renders a template with a status (error pages).
pub fn render_status(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "portal template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

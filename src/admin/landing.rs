//! The landing page (`/`): what this server offers and where to go — the employee web client,
//! the admin portal and the API reference.

use askama::Template;
use axum::{http::HeaderMap, response::Response};

use super::{
    assets,
    i18n::{Lang, Tr},
    page,
};

#[derive(Template)]
#[template(path = "landing.html")]
struct LandingPage {
    tr: Tr,
    lang: Lang,
    css: String,
    favicon: String,
    version: &'static str,
    languages: Vec<page::LangLink>,
}

/// `GET /`.
pub async fn show(headers: HeaderMap) -> Response {
    let lang = Lang::from_headers(&headers);
    page::render(&LandingPage {
        tr: lang.tr(),
        lang,
        css: assets::url("admin.css"),
        favicon: assets::url("favicon.svg"),
        version: env!("CARGO_PKG_VERSION"),
        languages: page::languages(lang, "/"),
    })
}

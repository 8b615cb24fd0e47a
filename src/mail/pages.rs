//! The two pages mail links open, without a login: unsubscribing from digests
//! (`/mail/unsubscribe`) and choosing a password (`/password-reset`). Tiny server-rendered
//! askama pages in Chinese and English: no script at all (a strict Content-Security-Policy),
//! no third-party anything, and no referrer (the URL holds the token). They need no CSRF token:
//! the link's token in the form *is* the secret a forged request would not have, and the
//! reset-request form only does what anyone may do through the API.
//!
//! Unsubscribing takes a button press (a POST): mail scanners open links; they do not submit
//! forms. The same POST serves RFC 8058 one-click unsubscribe from mail clients.

use std::sync::Arc;

use askama::Template;
use axum::{
    Form, Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;

use super::{Mail, MailError, reset::ResetBy, settings::Language};
use crate::auth::MIN_PASSWORD_CHARS;

/// The pages' routes, for any router state.
pub fn router<S: Clone + Send + Sync + 'static>(mail: Arc<Mail>) -> Router<S> {
    Router::new()
        .route("/mail/unsubscribe", get(unsubscribe_page).post(unsubscribe))
        .route("/password-reset", get(password_page).post(password_submit))
        .with_state(mail)
}

#[derive(Debug, PartialEq, Eq)]
enum UnsubscribeState {
    Confirm,
    Done,
    Invalid,
}

#[derive(Template)]
#[template(path = "mail/page_unsubscribe.html")]
struct UnsubscribePage {
    lang: Language,
    state: UnsubscribeState,
    token: String,
    other_lang_query: String,
}

#[derive(Debug, PartialEq, Eq)]
enum PasswordState {
    Request,
    Requested,
    Choose,
    Done,
    Invalid,
}

#[derive(Template)]
#[template(path = "mail/page_password.html")]
struct PasswordPage {
    lang: Language,
    state: PasswordState,
    token: String,
    login: String,
    error: Option<String>,
    min_chars: usize,
    other_lang_query: String,
}

/// What a page's URL or form may carry.
#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    t: Option<String>,
    token: Option<String>,
    login: Option<String>,
    lang: Option<String>,
    password: Option<String>,
    password2: Option<String>,
}

fn language(mail: &Mail, params: &PageParams, headers: &HeaderMap) -> Language {
    if let Some(lang) = params.lang.as_deref().and_then(Language::parse) {
        return lang;
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match (accept.find("zh"), accept.find("en")) {
        (Some(zh), Some(en)) if en < zh => Language::En,
        (Some(_), _) => Language::Zh,
        (None, Some(_)) => Language::En,
        (None, None) => mail.current().language,
    }
}

fn other_lang_query(lang: Language, pairs: &[(&str, &str)]) -> String {
    let other = if lang.zh() { "en" } else { "zh" };
    let mut query = reqwest::Url::parse("http://x/").map_or_else(
        |_| String::new(),
        |mut url| {
            {
                let mut q = url.query_pairs_mut();
                for (key, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
                    q.append_pair(key, value);
                }
                q.append_pair("lang", other);
            }
            url.query().unwrap_or_default().to_owned()
        },
    );
    if query.is_empty() {
        query = format!("lang={other}");
    }
    query
}

fn render(status: StatusCode, page: Result<String, askama::Error>) -> Response {
    let body = match page {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "page template failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut response = (status, axum::response::Html(body)).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn unsubscribe_view(lang: Language, state: UnsubscribeState, token: &str) -> UnsubscribePage {
    let keep = if state == UnsubscribeState::Confirm {
        token
    } else {
        ""
    };
    UnsubscribePage {
        lang,
        other_lang_query: other_lang_query(lang, &[("t", keep)]),
        state,
        token: token.to_owned(),
    }
}

async fn unsubscribe_page(
    State(mail): State<Arc<Mail>>,
    headers: HeaderMap,
    Query(params): Query<PageParams>,
) -> Response {
    let lang = language(&mail, &params, &headers);
    let token = params.t.unwrap_or_default();
    let (status, state) = match mail.unsubscribe_target(&token) {
        Some(_) => (StatusCode::OK, UnsubscribeState::Confirm),
        None => (StatusCode::BAD_REQUEST, UnsubscribeState::Invalid),
    };
    render(status, unsubscribe_view(lang, state, &token).render())
}

async fn unsubscribe(
    State(mail): State<Arc<Mail>>,
    headers: HeaderMap,
    Query(query): Query<PageParams>,
    form: Result<Form<PageParams>, axum::extract::rejection::FormRejection>,
) -> Response {
    // A one-click POST may come as multipart: then everything needed is in the URL.
    let form = form.map(|Form(f)| f).unwrap_or_default();
    // One-click unsubscribe posts to the link itself: the token is in the URL.
    let token = form.t.clone().or(query.t.clone()).unwrap_or_default();
    let asked = language(
        &mail,
        &PageParams {
            lang: form.lang.clone().or(query.lang.clone()),
            ..Default::default()
        },
        &headers,
    );
    match mail.unsubscribe(&token).await {
        Ok(Some(_)) => render(
            StatusCode::OK,
            unsubscribe_view(asked, UnsubscribeState::Done, &token).render(),
        ),
        Ok(None) => render(
            StatusCode::BAD_REQUEST,
            unsubscribe_view(asked, UnsubscribeState::Invalid, &token).render(),
        ),
        Err(error) => failure(error),
    }
}

fn password_view(
    lang: Language,
    state: PasswordState,
    token: &str,
    login: &str,
    error: Option<String>,
) -> PasswordPage {
    let token_kept = if state == PasswordState::Choose {
        token
    } else {
        ""
    };
    let login_kept = if state == PasswordState::Request {
        login
    } else {
        ""
    };
    PasswordPage {
        lang,
        other_lang_query: other_lang_query(lang, &[("token", token_kept), ("login", login_kept)]),
        state,
        token: token.to_owned(),
        login: login.to_owned(),
        error,
        min_chars: MIN_PASSWORD_CHARS,
    }
}

async fn password_page(
    State(mail): State<Arc<Mail>>,
    headers: HeaderMap,
    Query(params): Query<PageParams>,
) -> Response {
    let lang = language(&mail, &params, &headers);
    let state = if params.token.as_deref().is_some_and(|t| !t.is_empty()) {
        PasswordState::Choose
    } else {
        PasswordState::Request
    };
    let page = password_view(
        lang,
        state,
        params.token.as_deref().unwrap_or_default(),
        params.login.as_deref().unwrap_or_default(),
        None,
    );
    render(StatusCode::OK, page.render())
}

async fn password_submit(
    State(mail): State<Arc<Mail>>,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Form(form): Form<PageParams>,
) -> Response {
    let lang = language(&mail, &form, &headers);
    let token = form.token.clone().unwrap_or_default();
    if token.is_empty() {
        let login = form.login.clone().unwrap_or_default();
        let login = login.trim();
        if login.is_empty() || login.len() > 256 {
            let error = pick(
                lang,
                "请输入登录名或邮箱。",
                "Enter a login or a mail address.",
            );
            let page = password_view(lang, PasswordState::Request, "", login, Some(error));
            return render(StatusCode::BAD_REQUEST, page.render());
        }
        let by = if login.contains('@') {
            ResetBy::Email(login.to_owned())
        } else {
            ResetBy::Login(login.to_owned())
        };
        return match mail.request_password_reset(by, client.as_deref()) {
            Ok(()) => render(
                StatusCode::OK,
                password_view(lang, PasswordState::Requested, "", "", None).render(),
            ),
            Err(MailError::Throttled(_)) => {
                let error = pick(
                    lang,
                    "请求过于频繁，请稍后再试。",
                    "Too many requests: please try again later.",
                );
                let page = password_view(lang, PasswordState::Request, "", login, Some(error));
                render(StatusCode::TOO_MANY_REQUESTS, page.render())
            }
            Err(error) => failure(error),
        };
    }
    let password = form.password.clone().unwrap_or_default();
    if form.password2.as_deref() != Some(password.as_str()) {
        let error = pick(lang, "两次输入的密码不一致。", "The two passwords differ.");
        let page = password_view(lang, PasswordState::Choose, &token, "", Some(error));
        return render(StatusCode::UNPROCESSABLE_ENTITY, page.render());
    }
    match mail.confirm_password_reset(&token, &password).await {
        Ok(_) => render(
            StatusCode::OK,
            password_view(lang, PasswordState::Done, "", "", None).render(),
        ),
        Err(MailError::Invalid { field, .. }) if field == "password" => {
            let error = pick(
                lang,
                &format!("密码至少需要 {MIN_PASSWORD_CHARS} 个字符。"),
                &format!("The password needs at least {MIN_PASSWORD_CHARS} characters."),
            );
            let page = password_view(lang, PasswordState::Choose, &token, "", Some(error));
            render(StatusCode::UNPROCESSABLE_ENTITY, page.render())
        }
        Err(MailError::Invalid { .. }) => render(
            StatusCode::BAD_REQUEST,
            password_view(lang, PasswordState::Invalid, "", "", None).render(),
        ),
        Err(error) => failure(error),
    }
}

/// The client's address as the socket saw it (for throttling).
struct ClientAddr(Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip().to_string()),
        ))
    }
}

fn pick(lang: Language, zh: &str, en: &str) -> String {
    if lang.zh() { zh } else { en }.to_owned()
}

fn failure(error: MailError) -> Response {
    tracing::error!(%error, "mail page failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

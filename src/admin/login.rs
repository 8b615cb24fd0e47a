//! Signing in and out of the portal, and the language switch. Passwords are checked by the
//! auth service exactly as for the JSON API (local or LDAP, with the same login throttling);
//! the session cookie holds the token it issues.

use askama::Template;
use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngExt;

use super::{
    assets,
    error::PortalError,
    form,
    i18n::{LANG_COOKIE, Lang, Tr},
    page,
    session::{self, LOGIN_COOKIE, SESSION_COOKIE, Visitor},
};
use crate::{auth::AuthError, state::AppState};

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    tr: Tr,
    lang: Lang,
    css: String,
    favicon: String,
    csrf: String,
    next: String,
    login: String,
    error: Option<String>,
    languages: Vec<page::LangLink>,
}

#[derive(serde::Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

fn login_page(
    lang: Lang,
    csrf: String,
    next: String,
    login: String,
    error: Option<String>,
) -> LoginPage {
    let here = super::error::login_url(&next);
    LoginPage {
        tr: lang.tr(),
        lang,
        css: assets::url("admin.css"),
        favicon: assets::url("favicon.svg"),
        csrf,
        next,
        login,
        error,
        languages: page::languages(lang, &here),
    }
}

fn fresh_nonce() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Renders the form with a new double-submit cookie.
fn form_response(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: String,
    login: String,
    error: Option<String>,
) -> Response {
    let lang = Lang::from_headers(headers);
    let nonce = fresh_nonce();
    let mut response =
        page::render_status(status, &login_page(lang, nonce.clone(), next, login, error));
    let cookie = session::set_cookie(
        LOGIN_COOKIE,
        &nonce,
        "/admin/login",
        3600,
        session::is_secure(state, headers),
    );
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// `GET /admin/login?next=…`: the form, or straight on when already signed in.
pub async fn form_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<NextParam>,
) -> Response {
    let next = session::safe_next(params.next.as_deref());
    let signed_in = session::cookie(&headers, SESSION_COOKIE)
        .is_some_and(|token| state.auth.authenticate(token).is_ok());
    if signed_in {
        return Redirect::to(&next).into_response();
    }
    form_response(&state, &headers, StatusCode::OK, next, String::new(), None)
}

/// `POST /admin/login`: checks the double-submit token, then the password.
pub async fn submit(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let lang = Lang::from_headers(&headers);
    let tr = lang.tr();
    let fields = form::form_pairs(&body).unwrap_or_default();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let next = session::safe_next(Some(&field("next")));
    let expected = session::cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !session::same_secret(&field(session::CSRF_FIELD), expected) {
        return PortalError::Csrf(lang).into_response();
    }
    let (login, password) = (field("login"), field("password"));
    let retry = |status: StatusCode, message: String| {
        form_response(
            &state,
            &headers,
            status,
            next.clone(),
            login.clone(),
            Some(message),
        )
    };
    if login.trim().is_empty() || password.is_empty() {
        return retry(
            StatusCode::UNPROCESSABLE_ENTITY,
            tr.t("login.error.empty").into(),
        );
    }
    if login.len() > 256 || password.len() > 1024 {
        return retry(StatusCode::UNAUTHORIZED, tr.t("login.error.invalid").into());
    }
    let session = match state.auth.login(&login, &password).await {
        Ok(session) => session,
        Err(AuthError::InvalidCredentials) => {
            return retry(StatusCode::UNAUTHORIZED, tr.t("login.error.invalid").into());
        }
        Err(AuthError::Disabled) => {
            return retry(
                StatusCode::UNAUTHORIZED,
                tr.t("login.error.disabled").into(),
            );
        }
        Err(AuthError::TooManyAttempts(seconds)) => {
            let minutes = seconds.div_ceil(60);
            return retry(
                StatusCode::TOO_MANY_REQUESTS,
                tr.f("login.error.throttled", &[("minutes", &minutes)]),
            );
        }
        Err(AuthError::Unavailable(reason)) => {
            tracing::warn!(%reason, "portal login: the directory server cannot check passwords");
            return retry(
                StatusCode::SERVICE_UNAVAILABLE,
                tr.t("login.error.unavailable").into(),
            );
        }
        Err(other) => return PortalError::Api(lang, other.into()).into_response(),
    };
    let secure = session::is_secure(&state, &headers);
    let mut response = Redirect::to(&next).into_response();
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        session::set_cookie(
            SESSION_COOKIE,
            &session.token,
            "/admin",
            state.auth.token_ttl().as_secs(),
            secure,
        ),
    );
    cookies.append(
        header::SET_COOKIE,
        session::set_cookie(LOGIN_COOKIE, "", "/admin/login", 0, secure),
    );
    response
}

/// `POST /admin/logout`: revokes the account's tokens (as the API's logout does) and clears
/// the cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    visitor: Visitor,
) -> Result<Response, PortalError> {
    state
        .auth
        .revoke_all(&visitor.actor(), visitor.principal.account_id)
        .await
        .map_err(|e| PortalError::Api(visitor.lang, e.into()))?;
    let mut response = Redirect::to("/admin/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(
            SESSION_COOKIE,
            "",
            "/admin",
            0,
            session::is_secure(&state, &headers),
        ),
    );
    Ok(response)
}

#[derive(serde::Deserialize)]
pub struct LangParams {
    to: Option<String>,
    next: Option<String>,
}

/// `GET /lang?to=zh&next=/admin`: remembers the language and goes back.
pub async fn switch_language(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<LangParams>,
) -> Response {
    let next = match params.next.as_deref() {
        Some(path)
            if path.starts_with('/')
                && !path.contains("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    };
    let mut response = Redirect::to(&next).into_response();
    if let Some(lang) = params.to.as_deref().and_then(Lang::parse) {
        response.headers_mut().append(
            header::SET_COOKIE,
            session::set_cookie(
                LANG_COOKIE,
                lang.code(),
                "/",
                365 * 24 * 3600,
                session::is_secure(&state, &headers),
            ),
        );
    }
    response
}

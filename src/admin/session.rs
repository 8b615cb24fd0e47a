//! Browser sessions. The session cookie carries the same signed bearer token the JSON API
//! issues (`auth::Auth::login`), so a portal session ends exactly when the API's revocation
//! rules say (logout, a new password, disabled or deleted, admin powers taken away, expiry):
//! every request checks it with `Auth::authenticate`. The cookie is `HttpOnly`,
//! `SameSite=Strict`, scoped to `/admin`, and `Secure` behind TLS. The CSRF token of a session
//! is derived from its token under the installation's key (`Auth::csrf_token`).

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, request::Parts},
};

use super::{
    error::PortalError,
    i18n::{Lang, Tr},
};
use crate::{
    api::PowerMarker,
    auth::{AdminPower, Principal},
    state::AppState,
    store::{Actor, Source},
};

/// The session cookie.
pub const SESSION_COOKIE: &str = "sb_session";
/// The login form's double-submit cookie (there is no session to bind its CSRF token to yet).
pub const LOGIN_COOKIE: &str = "sb_login";
/// The form field and header that carry the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then_some(value)
        })
}

/// Whether cookies must be `Secure`: configured so, or the request came through a TLS proxy.
pub fn is_secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').next().unwrap_or("").trim() == "https")
}

/// A `Set-Cookie` value with the portal's flags. `max_age` 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    // Names and values are ours (base64url tokens, language codes): always valid header text.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `next` when it is a path inside the portal (never another site: `//host`, `/\host`,
/// schemes, control characters); the dashboard otherwise.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if (path == "/admin" || path.starts_with("/admin/") || path.starts_with("/admin?"))
                && !path.contains("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/admin".to_owned(),
    }
}

/// Where the request wanted to go, for `?next=` (htmx requests name their page).
pub fn requested_path(parts: &Parts) -> String {
    if let Some(current) = parts
        .headers
        .get("hx-current-url")
        .and_then(|v| v.to_str().ok())
        .and_then(|url| url.parse::<axum::http::Uri>().ok())
        && let Some(path) = current.path_and_query()
    {
        return path.as_str().to_owned();
    }
    parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/admin".into())
}

/// A signed-in person, whatever their powers (the "no access" page needs no more).
pub struct Visitor {
    pub principal: Principal,
    /// This session's CSRF token, for forms and `hx-headers`.
    pub csrf: String,
    pub lang: Lang,
    /// The path of this request (for the language switch and `next`).
    pub path: String,
    /// The client's address as the socket saw it (for the audit log).
    pub remote_addr: Option<String>,
}

impl Visitor {
    pub fn tr(&self) -> Tr {
        self.lang.tr()
    }

    /// The audit log's name for this person, with source `portal`.
    pub fn actor(&self) -> Actor {
        Actor {
            name: self.principal.name.clone(),
            source: Source::Portal,
            remote_addr: self.remote_addr.clone(),
        }
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PortalError> {
        let lang = Lang::from_headers(&parts.headers);
        let sign_in = || PortalError::SignIn {
            next: requested_path(parts),
        };
        let token = cookie(&parts.headers, SESSION_COOKIE)
            .ok_or_else(sign_in)?
            .to_owned();
        let principal = state.auth.authenticate(&token).map_err(|_| sign_in())?;
        let remote_addr = crate::api::RemoteAddr::from_request_parts(parts, state)
            .await
            .map(|r| r.0)
            .unwrap_or(None);
        Ok(Self {
            principal,
            csrf: state.auth.csrf_token(&token),
            lang,
            path: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            remote_addr,
        })
    }
}

/// A signed-in person with some admin power: may open the portal and read every page.
pub struct Staffer(pub Visitor);

impl FromRequestParts<AppState> for Staffer {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PortalError> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        if !visitor.principal.is_admin() {
            return Err(PortalError::NoAccess(Box::new(visitor)));
        }
        Ok(Self(visitor))
    }
}

/// A signed-in administrator holding power `P` (`api::DirectoryPower` for HR pages,
/// `api::AccessPower` for IT pages): the same powers the JSON API checks.
pub struct Holding<P>(pub Visitor, std::marker::PhantomData<P>);

impl<P: PowerMarker> FromRequestParts<AppState> for Holding<P> {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PortalError> {
        let Staffer(visitor) = Staffer::from_request_parts(parts, state).await?;
        if !visitor.principal.powers.has(P::POWER) {
            return Err(PortalError::NeedsPower {
                visitor: Box::new(visitor),
                power: P::POWER,
            });
        }
        Ok(Self(visitor, std::marker::PhantomData))
    }
}

/// HR's pages: departments, staff, custom fields.
pub type HrAdmin = Holding<crate::api::DirectoryPower>;
/// IT's pages: roles, rules, LDAP, messaging.
pub type ItAdmin = Holding<crate::api::AccessPower>;

/// The i18n key of a power's name.
pub fn power_key(power: AdminPower) -> &'static str {
    match power {
        AdminPower::Directory => "power.directory",
        AdminPower::Access => "power.access",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_inside_the_portal() {
        assert_eq!(
            safe_next(Some("/admin/audit?page=2")),
            "/admin/audit?page=2"
        );
        assert_eq!(safe_next(Some("/admin")), "/admin");
        for bad in [
            "https://evil.example/admin",
            "//evil.example/admin",
            "/admin//evil.example",
            "/\\evil.example",
            "/admin/\\evil",
            "/adminx",
            "/api/v1/auth/me",
            "/admin/\nSet-Cookie:x",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/admin", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/admin");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            HeaderValue::from_static("a=1; sb_session=v1.x.y; sb_lang=zh"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("v1.x.y"));
        assert_eq!(cookie(&headers, "sb_lang"), Some("zh"));
        assert_eq!(cookie(&headers, "b"), None);
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}

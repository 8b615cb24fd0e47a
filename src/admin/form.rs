//! CSRF protection for every state-changing portal request, and small form helpers.
//!
//! A POST, PUT, PATCH or DELETE under `/admin` must carry its session's CSRF token: htmx sends
//! it as the `X-CSRF-Token` header (`hx-headers` on `<body>`), plain forms as the hidden field
//! `csrf` (`application/x-www-form-urlencoded`). Without it the request never reaches its
//! handler and gets a 403 page. The login form, which has no session yet, is checked by its
//! handler against a double-submit cookie. Multipart forms (uploads) must go through htmx.

use axum::{
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{
    error::PortalError,
    i18n::Lang,
    session::{self, CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE},
};
use crate::state::AppState;

/// Form bodies are small; the server-wide limit (1 MiB) applies too.
const FORM_LIMIT: usize = 1024 * 1024;

/// The middleware on the portal's routes.
pub async fn require_csrf(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) || request.uri().path() == "/admin/login"
    {
        return next.run(request).await;
    }
    let headers = request.headers();
    let lang = Lang::from_headers(headers);
    let Some(expected) = session::cookie(headers, SESSION_COOKIE)
        .filter(|token| state.auth.authenticate(token).is_ok())
        .map(|token| state.auth.csrf_token(token))
    else {
        // The session ended: nothing is changed; sign in and return to the page.
        return PortalError::SignIn {
            next: page_of(headers),
        }
        .into_response();
    };
    if let Some(sent) = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if session::same_secret(sent, &expected) {
            next.run(request).await
        } else {
            PortalError::Csrf(lang).into_response()
        };
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return PortalError::Csrf(lang).into_response();
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, FORM_LIMIT).await else {
        return PortalError::Csrf(lang).into_response();
    };
    let sent = form_value(&bytes, CSRF_FIELD);
    if !sent.is_some_and(|sent| session::same_secret(&sent, &expected)) {
        return PortalError::Csrf(lang).into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The page a state-changing request was sent from (htmx names it; forms have a referrer).
fn page_of(headers: &axum::http::HeaderMap) -> String {
    ["hx-current-url", header::REFERER.as_str()]
        .iter()
        .filter_map(|name| headers.get(*name)?.to_str().ok())
        .filter_map(|url| url.parse::<axum::http::Uri>().ok())
        .find_map(|uri| uri.path_and_query().map(|p| p.as_str().to_owned()))
        .unwrap_or_else(|| "/admin".into())
}

/// The first value of `name` in a urlencoded body.
pub fn form_value(body: &[u8], name: &str) -> Option<String> {
    form_pairs(body)?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Every `(name, value)` of a urlencoded body, in order; `None` when it is not UTF-8.
pub fn form_pairs(body: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(body).ok()?;
    Some(
        text.split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (url_decode(k), url_decode(v))
            })
            .collect(),
    )
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space); bad escapes stay as is.
pub fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

/// Encodes a query-string value (everything but unreserved characters and `/`).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoding_round_trips() {
        for text in ["/admin/audit?page=2&actor=张伟", "a+b c%", "<script>"] {
            assert_eq!(url_decode(&url_encode(text)), text);
        }
        assert_eq!(url_decode("a+b%2Fc%zz%4"), "a b/c%zz%4");
        assert_eq!(
            form_value(b"login=x&csrf=abc%3D&next=%2Fadmin", "csrf").as_deref(),
            Some("abc=")
        );
    }
}

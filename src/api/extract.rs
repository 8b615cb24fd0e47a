//! Extractors: request parts become typed, authorised values before a handler runs, so a
//! handler that forgets authorisation does not compile, and every rejection has our JSON shape.

use axum::{
    extract::{FromRequest, FromRequestParts},
    http::{HeaderMap, request::Parts},
};

use super::ApiError;
use crate::{
    auth::{AdminPower, Principal},
    state::AppState,
    store::{Actor, Source},
};

/// A JSON body whose rejections are `ApiError`s.
///
/// A number with a zero fraction (`3.0`) counts as the integer it equals, as in JSON Schema
/// (and so in the OpenAPI document): a client whose JSON library writes every number as a
/// float is not refused for it.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(mut value) =
            axum::Json::<serde_json::Value>::from_request(request, state).await?;
        integral_floats_as_integers(&mut value);
        serde_json::from_value(value)
            .map(Self)
            .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))
    }
}

fn integral_floats_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(number) => {
            if let Some(float) = number.as_f64().filter(|_| number.is_f64())
                && float.fract() == 0.0
                && float.abs() < 9.0e15
            {
                // Exact: |float| < 2^53, so the cast loses nothing.
                *value = Value::from(float as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// Path parameters whose rejections are `ApiError`s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Query parameters whose rejections are `ApiError`s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// A numeric query parameter within its documented range (the default when absent): out of
/// range is a `400`, not a silent clamp.
pub fn in_range<T>(name: &str, value: Option<T>, default: T, min: T, max: T) -> Result<T, ApiError>
where
    T: PartialOrd + Copy + std::fmt::Display,
{
    let value = value.unwrap_or(default);
    if value < min || value > max {
        return Err(ApiError::BadRequest(format!(
            "{name}: {value} is not within {min}..={max}"
        )));
    }
    Ok(value)
}

/// Any authenticated caller.
pub struct Caller(pub Principal);

/// An authenticated caller with some admin power: may read the admin API.
pub struct Admin(pub Principal);

/// An administrator holding the admin power `P`: may change what that power covers.
pub struct AdminWith<P>(pub Principal, std::marker::PhantomData<P>);

/// Marks an admin power for `AdminWith`.
pub trait PowerMarker: Send + Sync {
    const POWER: AdminPower;
}

/// HR's power: departments, staff, memberships, custom fields, local passwords.
pub struct DirectoryPower;
impl PowerMarker for DirectoryPower {
    const POWER: AdminPower = AdminPower::Directory;
}

/// IT's power: roles, rules, assignments, LDAP, API keys, webhooks, messaging settings.
pub struct AccessPower;
impl PowerMarker for AccessPower {
    const POWER: AdminPower = AdminPower::Access;
}

/// May change the directory.
pub type DirectoryAdmin = AdminWith<DirectoryPower>;
/// May change access and integrations.
pub type AccessAdmin = AdminWith<AccessPower>;

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers)
            .ok_or_else(|| ApiError::Unauthorized("missing bearer token".into()))?;
        Ok(Self(state.auth.authenticate(token)?))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Caller(principal) = Caller::from_request_parts(parts, state).await?;
        if !principal.is_admin() {
            return Err(ApiError::Forbidden("this needs admin rights".into()));
        }
        Ok(Self(principal))
    }
}

impl<P: PowerMarker> FromRequestParts<AppState> for AdminWith<P> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Admin(principal) = Admin::from_request_parts(parts, state).await?;
        if !principal.powers.has(P::POWER) {
            return Err(ApiError::Forbidden(format!(
                "this needs the '{}' admin power",
                P::POWER.as_str()
            )));
        }
        Ok(Self(principal, std::marker::PhantomData))
    }
}

impl Caller {
    /// The caller as the audit log names them.
    pub fn actor(&self, parts: &RemoteAddr) -> Actor {
        actor_of(&self.0, parts)
    }
}

impl Admin {
    pub fn actor(&self, remote: &RemoteAddr) -> Actor {
        actor_of(&self.0, remote)
    }
}

impl<P> AdminWith<P> {
    pub fn actor(&self, remote: &RemoteAddr) -> Actor {
        actor_of(&self.0, remote)
    }
}

fn actor_of(principal: &Principal, remote: &RemoteAddr) -> Actor {
    Actor {
        name: principal.name.clone(),
        source: Source::Api,
        remote_addr: remote.0.clone(),
    }
}

/// The client's address as the socket saw it (for the audit log).
pub struct RemoteAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RemoteAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip().to_string()),
        ))
    }
}

/// The version named by an `If-Match` header (`"<version>"`, as the `ETag` of a staff or
/// department answer); `None` when absent or `*`. Weak or malformed tags can never match, so
/// they are refused with `412` before anything is changed.
pub struct IfMatch(pub Option<crate::store::Version>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(axum::http::header::IF_MATCH) else {
            return Ok(Self(None));
        };
        let text = value.to_str().unwrap_or("").trim();
        if text == "*" {
            return Ok(Self(None));
        }
        text.strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.parse::<i64>().ok())
            .map(|v| Self(Some(crate::store::Version(v))))
            .ok_or_else(|| {
                ApiError::PreconditionFailed(format!(
                    "If-Match: {text:?} is not an entity tag of this record (expected one like \"42\", from its ETag)"
                ))
            })
    }
}

/// The `ETag` header of a record at `version` (what `If-Match` sends back).
pub fn etag(version: crate::store::Version) -> [(axum::http::HeaderName, String); 1] {
    [(axum::http::header::ETAG, format!("\"{}\"", version.0))]
}

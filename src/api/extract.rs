//! Extractors: request parts become typed, authorised values before a handler runs, so a
//! handler that forgets authorisation does not compile, and every rejection has our JSON shape.

use axum::{
    extract::{FromRequest, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use serde::de::{Deserializer, IntoDeserializer, Visitor};

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
        T::deserialize(Strict(&value))
            .map(Self)
            .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))
    }
}

/// A JSON value read as serde's derive asks, except that a struct is read from a JSON object
/// only: serde also fills a struct from an array, by position, so `[null, null]` would pass
/// as a patch (the OpenAPI document says `object`, and so does this).
struct Strict<'de>(&'de serde_json::Value);

impl<'de> IntoDeserializer<'de, serde_json::Error> for Strict<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for Strict<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        use serde::de::value::{MapDeserializer, SeqDeserializer};
        match self.0 {
            serde_json::Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.iter().map(Strict));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            serde_json::Value::Object(map) => {
                let mut entries =
                    MapDeserializer::new(map.iter().map(|(k, v)| (k.as_str(), Strict(v))));
                let value = visitor.visit_map(&mut entries)?;
                entries.end()?;
                Ok(value)
            }
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            serde_json::Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        if self.0.is_object() {
            self.deserialize_any(visitor)
        } else {
            Err(serde::de::Error::invalid_type(
                unexpected(self.0),
                &"a JSON object",
            ))
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

fn unexpected(value: &serde_json::Value) -> serde::de::Unexpected<'_> {
    use serde::de::Unexpected;
    match value {
        serde_json::Value::Null => Unexpected::Unit,
        serde_json::Value::Bool(b) => Unexpected::Bool(*b),
        serde_json::Value::Number(_) => Unexpected::Other("a number"),
        serde_json::Value::String(s) => Unexpected::Str(s),
        serde_json::Value::Array(_) => Unexpected::Seq,
        serde_json::Value::Object(_) => Unexpected::Map,
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
/// department answer); `None` when absent, empty or `*`. A weak tag (`W/"42"`) never matches (`412`);
/// anything else (a list, a tag that is not a version) is not what the OpenAPI document
/// allows, and is refused with `400`. Both before anything is changed.
pub struct IfMatch(pub Option<crate::store::Version>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(axum::http::header::IF_MATCH) else {
            return Ok(Self(None));
        };
        let Ok(text) = value.to_str() else {
            return Err(malformed("(not visible ASCII)"));
        };
        let text = text.trim();
        if text == "*" || text.is_empty() {
            return Ok(Self(None));
        }
        // `IF_MATCH` in the OpenAPI document: 1 to 18 digits in double quotes, maybe weak.
        let version = |tag: &str| {
            tag.strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .filter(|t| (1..=18).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|t| t.parse::<i64>().ok())
        };
        match text.strip_prefix("W/").map(version) {
            Some(Some(_)) => Err(ApiError::PreconditionFailed(format!(
                "If-Match: {text:?} is a weak tag, which never matches: send the ETag as it came"
            ))),
            Some(None) => Err(malformed(text)),
            None => version(text)
                .map(|v| Self(Some(crate::store::Version(v))))
                .ok_or_else(|| malformed(text)),
        }
    }
}

fn malformed(text: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "If-Match: {text:?} is not an entity tag of this API (expected one like \"42\", from an ETag)"
    ))
}

/// The `ETag` header of a record at `version` (what `If-Match` sends back).
pub fn etag(version: crate::store::Version) -> [(axum::http::HeaderName, String); 1] {
    [(axum::http::header::ETAG, format!("\"{}\"", version.0))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    async fn if_match(value: &str) -> Result<Option<i64>, u16> {
        let (mut parts, ()) = axum::http::Request::builder()
            .header(axum::http::header::IF_MATCH, value)
            .body(())
            .expect("request")
            .into_parts();
        IfMatch::from_request_parts(&mut parts, &())
            .await
            .map(|tag| tag.0.map(|version| version.0))
            .map_err(|e| e.into_response().status().as_u16())
    }

    /// What the document's `If-Match` pattern allows is read; a weak tag is 412; the rest 400.
    #[tokio::test]
    async fn if_match_is_read_as_documented() {
        assert_eq!(if_match("\"42\"").await, Ok(Some(42)));
        assert_eq!(if_match(" \"7\" ").await, Ok(Some(7)));
        assert_eq!(if_match("*").await, Ok(None));
        assert_eq!(if_match("").await, Ok(None));
        assert_eq!(if_match("W/\"42\"").await, Err(412));
        for malformed in [
            "null",
            "42",
            "\u{84}",
            "\"-1\"",
            "\"+1\"",
            "\"1\", \"2\"",
            "W/null",
            "\"\"",
        ] {
            assert_eq!(if_match(malformed).await, Err(400), "{malformed}");
        }
    }
}

#[cfg(test)]
mod strict_tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Patch {
        name: Option<String>,
        tags: Option<Vec<Item>>,
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Item {
        id: u32,
    }

    fn read<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
        T::deserialize(Strict(&value)).map_err(|e| e.to_string())
    }

    /// Objects are read as serde reads them; an array is never a struct, at any depth.
    #[test]
    fn a_struct_is_read_from_an_object_only() {
        let patch: Patch = read(serde_json::json!({"name": "x", "tags": [{"id": 1}]})).unwrap();
        assert_eq!(patch.tags, Some(vec![Item { id: 1 }]));
        assert!(read::<Patch>(serde_json::json!([null, null])).is_err());
        assert!(read::<Patch>(serde_json::json!({"tags": [[1]]})).is_err());
        assert!(read::<Patch>(serde_json::json!({"other": 1})).is_err());
        assert_eq!(
            read::<Vec<u8>>(serde_json::json!([1, 2])).unwrap(),
            vec![1, 2]
        );
        assert!(read::<(u8,)>(serde_json::json!([1, 2])).is_err());
    }
}

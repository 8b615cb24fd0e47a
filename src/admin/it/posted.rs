//! A submitted form as its (name, value) pairs, for forms with repeated names (checkboxes) and
//! for re-rendering a form with exactly what was typed. (The CSRF middleware has already read
//! and checked the body.)

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
};

use crate::admin::form::form_pairs;

/// The fields of an `application/x-www-form-urlencoded` body, in order.
#[derive(Debug, Default, Clone)]
pub struct Posted(pub Vec<(String, String)>);

impl Posted {
    /// The first value of `name`, trimmed; `""` when absent.
    pub fn get(&self, name: &str) -> &str {
        self.raw(name).trim()
    }

    /// The first value of `name` as sent (passwords: spaces count).
    pub fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name` (checkboxes), trimmed, empty ones left out.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Posted {
    type Rejection = axum::http::StatusCode;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| axum::http::StatusCode::PAYLOAD_TOO_LARGE)?;
        // A body that is not UTF-8 is no form of ours: treat it as empty (every field is then
        // reported missing next to itself).
        Ok(Self(form_pairs(&bytes).unwrap_or_default()))
    }
}

/// Errors of a form, next to their fields: field name → message (translated).
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push((field.to_owned(), message.into()));
        }
    }

    /// The message for `field`, if any (templates: `{% if let Some(e) = errors.get("name") %}`).
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The class of a field's wrapper: `field invalid` when it has an error.
    pub fn class(&self, field: &str) -> &'static str {
        if self.get(field).is_some() {
            "field invalid"
        } else {
            "field"
        }
    }
}

//! A posted urlencoded form as named values (the CSRF middleware has already checked it).

use axum::body::Bytes;

/// The fields of a posted form, in order.
#[derive(Debug, Default)]
pub struct Posted(Vec<(String, String)>);

impl Posted {
    pub fn parse(body: &Bytes) -> Self {
        Self(super::form::form_pairs(body).unwrap_or_default())
    }

    /// The first value of `name`, or `""`.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed; `None` when empty.
    pub fn opt(&self, name: &str) -> Option<&str> {
        Some(self.get(name).trim()).filter(|v| !v.is_empty())
    }

    /// Every value of `name` (checkboxes, repeated fields).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The hidden `version` field of an edit form (the record's version when the page loaded).
    pub fn version(&self) -> Option<crate::store::Version> {
        self.get("version")
            .trim()
            .parse()
            .ok()
            .map(crate::store::Version)
    }
}

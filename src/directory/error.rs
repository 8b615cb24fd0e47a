//! The directory's one error type; `api::error` maps it to HTTP.

use crate::store::{StoreError, Version};

/// Why a directory read or write was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{0}")]
    Conflict(String),
    /// The record changed since the version the edit was based on (`If-Match`, a form's
    /// hidden version): the edit is refused rather than overwriting what someone else did.
    #[error(
        "{kind} {id} changed since version {expected} (now at {current}): reload and edit again"
    )]
    Stale {
        kind: &'static str,
        id: String,
        expected: Version,
        current: Version,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DirectoryError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
    pub fn not_found(kind: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}

impl DirectoryError {
    /// Refuses an edit based on `expected` when the record is at `current`.
    pub fn check_version(
        kind: &'static str,
        id: impl ToString,
        expected: Option<Version>,
        current: Version,
    ) -> Result<(), Self> {
        match expected {
            Some(expected) if expected != current => Err(Self::Stale {
                kind,
                id: id.to_string(),
                expected,
                current,
            }),
            _ => Ok(()),
        }
    }
}

impl From<sea_orm::DbErr> for DirectoryError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Store(StoreError::Db(err))
    }
}

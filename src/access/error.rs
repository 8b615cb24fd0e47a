//! The access module's one error type; `api::error` maps it to HTTP.

use crate::store::StoreError;

/// Why an access-control read or write was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{0}")]
    Conflict(String),
    #[error("policy engine: {0}")]
    Casbin(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccessError {
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

impl From<sea_orm::DbErr> for AccessError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Store(StoreError::Db(err))
    }
}

impl From<casbin::Error> for AccessError {
    fn from(err: casbin::Error) -> Self {
        Self::Casbin(err.to_string())
    }
}

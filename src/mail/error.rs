//! The one error type of the mail module (mapped to HTTP in `api/error.rs`).

use crate::auth::AuthError;

/// Why a mail operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail is not configured: set an SMTP host and a sender first")]
    NotConfigured,
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("this needs a person's account (service accounts have no mail preferences)")]
    NotAPerson,
    #[error("too many requests; try again in {0} seconds")]
    Throttled(u64),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("messaging: {0}")]
    Im(#[from] crate::im::ImError),
    #[error("journal: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl MailError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

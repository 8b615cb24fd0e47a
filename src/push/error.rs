//! The one error type of the push module (mapped to HTTP in `api/error.rs`).

/// Why a push operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("messaging: {0}")]
    Im(#[from] crate::im::ImError),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
}

impl PushError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

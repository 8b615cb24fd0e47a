//! The messaging module's one error type. The REST edge maps it to HTTP (`api/error.rs`); the
//! WebSocket gateway sends it as an `error` frame with `code()`.

/// Why a messaging operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ImError {
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("you are not a member of this conversation")]
    NotMember,
    #[error("{0}")]
    Forbidden(String),
    #[error("you are muted in this conversation")]
    Muted,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    /// An action on a card that no longer takes any (decided, closed by its app, or its app
    /// revoked).
    #[error("{0}")]
    CardClosed(String),
    /// A second action by the same person on a card that takes one per person.
    #[error("you have already answered this card")]
    AlreadyAnswered,
    #[error("the server is busy; retry shortly")]
    Overloaded,
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("{0}")]
    Unauthorized(String),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("file storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl ImError {
    /// The code of the WebSocket `error` frame (see docs/protocol.md).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid",
            Self::NotFound(_) => "not_found",
            Self::NotMember => "not_member",
            Self::Forbidden(_) => "forbidden",
            Self::Muted => "muted",
            Self::Conflict(_) => "conflict",
            Self::TooLarge(_) => "too_large",
            Self::CardClosed(_) => "card_closed",
            Self::AlreadyAnswered => "already_answered",
            Self::Overloaded => "overloaded",
            Self::ShuttingDown => "shutting_down",
            Self::Unauthorized(_) => "unauthorized",
            Self::Db(_) | Self::Io(_) | Self::Internal(_) => "internal",
        }
    }

    /// The text a client may see: internal details stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            Self::Db(_) | Self::Io(_) | Self::Internal(_) => "internal error".into(),
            other => other.to_string(),
        }
    }

    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

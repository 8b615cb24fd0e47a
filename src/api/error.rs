//! The one place where module errors become HTTP responses: `{"error":{"code","message"}}`.
//! Internal details are logged with the request's span, never sent to the client.

use axum::{
    Json,
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::{ToResponse, ToSchema};

use crate::{
    access::AccessError, auth::AuthError, contacts::ViewError, directory::DirectoryError,
    store::StoreError,
};

/// An error answer of the JSON API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` (or a form's version) names an older version of the record.
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, for programs (`code`) and people (`message`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// The offending field, for `invalid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The kind of an error; each goes with one HTTP status (docs/api.md, "Errors").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    PreconditionFailed,
    Invalid,
    TooManyRequests,
    PayloadTooLarge,
    Unavailable,
    Internal,
}

// The error answers as reusable OpenAPI responses: each operation lists the ones it can give.

/// `bad_request`: malformed JSON, wrong content type, unknown fields, or a bad path or query
/// parameter.
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub struct BadRequest(#[allow(dead_code)] ErrorBody);

/// `unauthorized`: no token, a bad, expired or revoked token, or wrong credentials.
#[derive(ToResponse)]
#[response(content_type = "application/json", headers(("WWW-Authenticate" = String, description = "`Bearer`")))]
pub struct Unauthorized(#[allow(dead_code)] ErrorBody);

/// `forbidden`: the admin API without admin rights, a person's API from an account that is
/// not a person, or an action the caller's role does not allow.
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub struct Forbidden(#[allow(dead_code)] ErrorBody);

/// `not_found`: an unknown id, or something outside the caller's view.
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub struct NotFound(#[allow(dead_code)] ErrorBody);

/// `conflict`: the request contradicts the current state.
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub struct Conflict(#[allow(dead_code)] ErrorBody);

/// `precondition_failed`: `If-Match` names a version the record is no longer at (someone else
/// changed it since it was read): read it again, then edit.
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub struct PreconditionFailed(#[allow(dead_code)] ErrorBody);

/// `payload_too_large`: the body is over the limit (1 MiB; files: the messaging setting).
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub struct PayloadTooLarge(#[allow(dead_code)] ErrorBody);

/// `invalid`: a value that parses but is not acceptable; `field` names it.
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub struct Invalid(#[allow(dead_code)] ErrorBody);

/// `too_many_requests`: login throttling, or messaging is overloaded or shutting down.
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub struct TooManyRequests(#[allow(dead_code)] ErrorBody);

/// `unavailable`: the directory server (LDAP) cannot be reached or refused the bind.
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub struct Unavailable(#[allow(dead_code)] ErrorBody);

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            Self::PreconditionFailed(_) => (
                StatusCode::PRECONDITION_FAILED,
                ErrorCode::PreconditionFailed,
            ),
            Self::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Invalid),
            Self::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(detail) = &self {
            tracing::error!(error = %detail, "internal error");
        }
        let field = match &self {
            Self::Invalid { field, .. } => Some(field.clone()),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.to_string(),
                field,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                Self::BadRequest("expected Content-Type: application/json".into())
            }
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::PayloadTooLarge("request body is too large".into())
            }
            other => Self::BadRequest(format!("malformed JSON body: {}", other.body_text())),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::BadRequest(format!("bad path parameter: {}", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::BadRequest(format!("bad query parameter: {}", rejection.body_text()))
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        Self::Internal(err.to_string())
    }
}

impl From<DirectoryError> for ApiError {
    fn from(err: DirectoryError) -> Self {
        match err {
            DirectoryError::NotFound { .. } => Self::NotFound(err.to_string()),
            DirectoryError::Invalid { field, reason } => Self::Invalid { field, reason },
            DirectoryError::Conflict(message) => Self::Conflict(message),
            DirectoryError::Stale { .. } => Self::PreconditionFailed(err.to_string()),
            DirectoryError::Store(e) => Self::Internal(e.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::InvalidCredentials
            | AuthError::Disabled
            | AuthError::MissingToken
            | AuthError::InvalidToken
            | AuthError::Expired
            | AuthError::Revoked => Self::Unauthorized(err.to_string()),
            AuthError::TooManyAttempts(_) => Self::TooManyRequests(err.to_string()),
            AuthError::Unavailable(_) => Self::Unavailable(err.to_string()),
            AuthError::Invalid(message) => match message.split_once(": ") {
                Some((field, reason)) => Self::Invalid {
                    field: field.to_owned(),
                    reason: reason.to_owned(),
                },
                None => Self::BadRequest(message),
            },
            AuthError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            AuthError::Internal(detail) => Self::Internal(detail),
            AuthError::Store(e) => Self::Internal(e.to_string()),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(err: AccessError) -> Self {
        match err {
            AccessError::NotFound { .. } => Self::NotFound(err.to_string()),
            AccessError::Invalid { field, reason } => Self::Invalid { field, reason },
            AccessError::Conflict(message) => Self::Conflict(message),
            AccessError::Casbin(detail) => Self::Internal(detail),
            AccessError::Store(e) => Self::Internal(e.to_string()),
        }
    }
}

impl From<ViewError> for ApiError {
    fn from(err: ViewError) -> Self {
        match err {
            ViewError::FromTheFuture { .. } => Self::Conflict(format!("since: {err}")),
            ViewError::NoView => Self::Forbidden(err.to_string()),
            ViewError::Serialise(_) => Self::Internal(err.to_string()),
        }
    }
}

impl From<crate::ldap::LdapError> for ApiError {
    fn from(err: crate::ldap::LdapError) -> Self {
        use crate::ldap::LdapError as E;
        match err {
            E::NotConfigured => Self::NotFound(err.to_string()),
            E::Busy(message) | E::ReadOnly(message) => Self::Conflict(message),
            E::Refused(_) => Self::Conflict(err.to_string()),
            E::NotFound(_) => Self::NotFound(err.to_string()),
            E::Unreachable(_) | E::Tls(_) | E::Bind(_) | E::Search(_) => {
                Self::Unavailable(err.to_string())
            }
            E::Diverged(_) => Self::Unavailable(err.to_string()),
            E::Config(_) => Self::Invalid {
                field: "ldap".into(),
                reason: err.to_string(),
            },
            E::Invalid { field, reason } => Self::Invalid { field, reason },
            E::Directory(e) => e.into(),
            E::Access(e) => e.into(),
            E::Store(e) => Self::Internal(e.to_string()),
        }
    }
}

impl From<crate::mail::MailError> for ApiError {
    fn from(err: crate::mail::MailError) -> Self {
        use crate::mail::MailError as E;
        match err {
            E::NotConfigured | E::Conflict(_) => Self::Conflict(err.to_string()),
            E::Invalid { field, reason } => Self::Invalid { field, reason },
            E::NotFound(_) => Self::NotFound(err.to_string()),
            E::NotAPerson => Self::Forbidden(err.to_string()),
            E::Throttled(_) => Self::TooManyRequests(err.to_string()),
            E::Auth(e) => e.into(),
            E::Im(e) => e.into(),
            E::Db(_) | E::Store(_) | E::Template(_) | E::Internal(_) => {
                Self::Internal(err.to_string())
            }
        }
    }
}

impl From<crate::push::PushError> for ApiError {
    fn from(err: crate::push::PushError) -> Self {
        use crate::push::PushError as E;
        match err {
            E::Invalid { field, reason } => Self::Invalid { field, reason },
            E::NotFound(_) => Self::NotFound(err.to_string()),
            E::Im(e) => e.into(),
            E::Db(_) => Self::Internal(err.to_string()),
        }
    }
}

impl From<crate::im::ImError> for ApiError {
    fn from(err: crate::im::ImError) -> Self {
        use crate::im::ImError as E;
        match err {
            E::Invalid { field, reason } => Self::Invalid { field, reason },
            E::NotFound(_) => Self::NotFound(err.to_string()),
            E::NotMember | E::Forbidden(_) | E::Muted => Self::Forbidden(err.to_string()),
            E::Conflict(message) | E::CardClosed(message) => Self::Conflict(message),
            E::AlreadyAnswered => Self::Conflict(err.to_string()),
            E::TooLarge(message) => Self::PayloadTooLarge(message),
            E::Overloaded | E::ShuttingDown => Self::TooManyRequests(err.to_string()),
            E::Unauthorized(message) => Self::Unauthorized(message),
            E::Db(_) | E::Io(_) | E::Internal(_) => Self::Internal(err.to_string()),
        }
    }
}

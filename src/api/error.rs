//! The one place where module errors become HTTP responses: `{"error":{"code","message"}}`.
//! Internal details are logged with the request's span, never sent to the client.

use axum::{
    Json,
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

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
    /// One of: bad_request, unauthorized, forbidden, not_found, conflict, invalid,
    /// too_many_requests, payload_too_large, unavailable, internal.
    pub code: &'static str,
    pub message: String,
    /// The offending field, for `invalid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            Self::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
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
            ViewError::FromTheFuture { .. } => Self::BadRequest(format!("since: {err}")),
            ViewError::NoView => Self::Forbidden(err.to_string()),
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
            E::Directory(e) => e.into(),
            E::Access(e) => e.into(),
            E::Store(e) => Self::Internal(e.to_string()),
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
            E::Conflict(message) => Self::Conflict(message),
            E::TooLarge(message) => Self::PayloadTooLarge(message),
            E::Overloaded | E::ShuttingDown => Self::TooManyRequests(err.to_string()),
            E::Unauthorized(message) => Self::Unauthorized(message),
            E::Db(_) | E::Io(_) | E::Internal(_) => Self::Internal(err.to_string()),
        }
    }
}

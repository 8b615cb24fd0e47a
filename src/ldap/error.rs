//! The LDAP module's one error type; `api::error` maps it to HTTP.

use crate::{access::AccessError, directory::DirectoryError, store::StoreError};

/// Why an LDAP operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    #[error(
        "LDAP is not configured: save settings on the portal's LDAP page (or PUT /api/v1/admin/ldap/settings), or add an [ldap] table to the configuration file"
    )]
    NotConfigured,
    #[error("configuration: {0}")]
    Config(String),
    /// Settings that cannot be used: which field (as in the `[ldap]` table: `url`,
    /// `staff.base_dn`…), and why.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("LDAP server unreachable: {0}")]
    Unreachable(String),
    /// StartTLS refused or the TLS handshake failed: the server answered, but not securely.
    #[error("LDAP TLS failed: {0}")]
    Tls(String),
    #[error("LDAP bind failed: {0}")]
    Bind(String),
    #[error("LDAP search failed: {0}")]
    Search(String),
    #[error("LDAP refused the change: {0}")]
    Refused(String),
    /// LDAP accepted a write-back but storing it here failed; what became of LDAP is said.
    #[error("{0}")]
    Diverged(String),
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    ReadOnly(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LdapError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

impl From<sea_orm::DbErr> for LdapError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Store(StoreError::Db(err))
    }
}

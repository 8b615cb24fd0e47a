//! The LDAP connector: binds to the corporate directory (OpenLDAP, Active Directory, 389-DS),
//! keeps departments, staff and group members in step through the directory's write path,
//! checks passwords at login, and writes edits back in `writable` mode. It owns the `ldap_*`
//! tables and never writes the directory's or the policy's tables itself.

mod connection;
mod dn;
mod error;
mod groups;
mod job;
mod login;
mod mapping;
mod remote;
mod report;
mod runs;
mod service;
mod settings;
mod sync;
mod writeback;

pub use crate::config::ldap::{LdapConfig, Mode, RawLdapConfig};
pub use error::LdapError;
pub use mapping::RecordFailure;
pub use report::TestReport;
pub use runs::{Counts, Run};
pub use service::{LdapService, RunListener, SyncKind};
pub use settings::LdapSettings;

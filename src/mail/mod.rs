//! Mail: how Switchboard reaches people who are not online — a digest of unread messages,
//! welcome and password-reset mails, alerts to IT — and the SMTP settings behind it.
//!
//! It owns the `mail_*` tables. Every mail is first a row of the outbox, sent in the
//! background by one worker with retries; no request and no other module ever waits on SMTP.
//! It hears other modules through their listener traits (directory commits, LDAP runs) and
//! reads them through their public interfaces only (presence and unread counts from `im`),
//! never through their tables.

mod alerts;
mod compose;
mod digest;
mod entities;
mod error;
mod outbox;
pub mod pages;
mod prefs;
mod reset;
mod service;
mod settings;
mod tokens;
mod welcome;
mod worker;

pub use error::MailError;
pub use outbox::{MailKind, OutboxEntry, OutboxStatus};
pub use prefs::MailPreferences;
pub use reset::ResetBy;
pub use service::Mail;
pub use settings::{Language, MailSettings, MailSettingsInput, Security};

/// `base` + `path` with the query `pairs`, each value URL-encoded.
pub(crate) fn link(base: &str, path: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = format!("{base}{path}");
    let Ok(mut url) = reqwest::Url::parse(&out) else {
        return out;
    };
    if !pairs.is_empty() {
        url.query_pairs_mut().extend_pairs(pairs);
    }
    out = url.to_string();
    out
}

//! Password reset for local accounts (people whose password Switchboard checks itself, not
//! LDAP). A request names a login or a mail address and always gets the same answer, whether or
//! not such a person exists; the lookup and the mail happen after the answer, so its timing
//! tells nothing either. Requests are throttled per login/address and per client address, like
//! logins. The link's token is stored hashed, works once, and expires; using it sets the
//! password through the auth service, which ends every session of the account.

use std::sync::Arc;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait, sea_query::Expr,
};
use uuid::Uuid;

use super::{
    Mail, MailError,
    compose::ResetMail,
    entities::token,
    outbox::{MailKind, now_ms},
    service::first_address,
    tokens,
};
use crate::{
    auth::MIN_PASSWORD_CHARS,
    directory::{RecordSource, Staff, StaffId},
    store::{Actor, Source},
};

const PURPOSE: &str = "password_reset";

/// Whose password to reset.
#[derive(Debug, Clone)]
pub enum ResetBy {
    Login(String),
    Email(String),
}

impl Mail {
    /// Accepts a reset request: throttles it, then finds the account and queues the mail in the
    /// background. Refused only when throttled.
    pub fn request_password_reset(
        self: &Arc<Self>,
        by: ResetBy,
        client: Option<&str>,
    ) -> Result<(), MailError> {
        let key = match &by {
            ResetBy::Login(login) => format!("login:{}", login.trim().to_lowercase()),
            ResetBy::Email(email) => format!("email:{}", email.trim().to_lowercase()),
        };
        let blocked = self
            .reset_throttle
            .blocked_for(&key)
            .or_else(|| client.and_then(|c| self.client_throttle.blocked_for(c)));
        if let Some(wait) = blocked {
            return Err(MailError::Throttled(wait.as_secs().max(1)));
        }
        // Counted as "failures": every request uses up the allowance, found or not.
        self.reset_throttle.failed(&key);
        if let Some(client) = client {
            self.client_throttle.failed(client);
        }
        let mail = self.clone();
        tokio::spawn(async move {
            if let Err(error) = mail.queue_reset(by).await {
                tracing::warn!(%error, "password-reset mail not queued");
            }
        });
        Ok(())
    }

    /// The people a request names who may reset a password here: active, local, with an address.
    fn reset_targets(&self, by: &ResetBy) -> Vec<Arc<Staff>> {
        let replica = self.directory.read();
        let eligible = |s: &Staff| {
            s.is_active() && s.source == RecordSource::Local && first_address(s).is_some()
        };
        match by {
            ResetBy::Login(login) => replica
                .staff_by_login(&login.trim().to_lowercase())
                .filter(|s| eligible(s))
                .cloned()
                .into_iter()
                .collect(),
            ResetBy::Email(email) => {
                let email = email.trim().to_lowercase();
                replica
                    .all_staff()
                    .filter(|s| {
                        eligible(s) && s.emails.iter().any(|e| e.trim().to_lowercase() == email)
                    })
                    .take(5)
                    .cloned()
                    .collect()
            }
        }
    }

    async fn queue_reset(&self, by: ResetBy) -> Result<(), MailError> {
        let targets = self.reset_targets(&by);
        if targets.is_empty() {
            tracing::info!("password reset asked for no local account");
            return Ok(());
        }
        if !self.current().configured() {
            tracing::warn!("password reset asked while mail is off");
            return Ok(());
        }
        for person in targets {
            let Some(address) = first_address(&person) else {
                continue;
            };
            let lang = self.language_of(person.id).await?;
            let (secret, hash) = tokens::new_secret();
            let id = Uuid::now_v7();
            let now = now_ms();
            let ttl = self.config.reset_ttl;
            let rendered = ResetMail {
                lang,
                name: person.display_name.clone(),
                login: person.login.clone(),
                link: super::link(
                    &self.base_url(),
                    "/password-reset",
                    &[("token", &secret), ("lang", lang.as_str())],
                ),
                minutes: ttl.as_secs() / 60,
            }
            .render()?;
            // The token and its mail commit together: no mail without a working token, and no
            // token nobody was told of.
            let txn = self.db.begin().await?;
            token::Entity::insert(token::ActiveModel {
                id: Set(id),
                token_hash: Set(hash),
                purpose: Set(PURPOSE.to_owned()),
                staff_id: Set(person.id.0),
                expires_at: Set(now + ttl.as_millis() as i64),
                used_at: Set(None),
                created_at: Set(now),
            })
            .exec_without_returning(&txn)
            .await?;
            self.queue(
                &txn,
                format!("reset:{id}"),
                MailKind::PasswordReset,
                (&address, Some(person.id)),
                rendered,
                Vec::new(),
            )
            .await?;
            txn.commit().await?;
            tracing::info!(staff = %person.id, "password-reset mail queued");
        }
        self.poke();
        Ok(())
    }

    /// Sets a new password with a reset link's token: once, before it expires. A password too
    /// short is refused before the token is used up.
    pub async fn confirm_password_reset(
        &self,
        token_text: &str,
        password: &str,
    ) -> Result<StaffId, MailError> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(MailError::invalid(
                "password",
                format!("must be at least {MIN_PASSWORD_CHARS} characters"),
            ));
        }
        if password.chars().count() > 1024 {
            return Err(MailError::invalid("password", "at most 1024 characters"));
        }
        let invalid =
            || MailError::invalid("token", "this link is not valid, was used, or has expired");
        if token_text.len() > 100 {
            return Err(invalid());
        }
        let hash = tokens::hash(token_text);
        let now = now_ms();
        let found = token::Entity::find()
            .filter(token::Column::TokenHash.eq(&hash))
            .filter(token::Column::Purpose.eq(PURPOSE))
            .one(&self.db)
            .await?
            .ok_or_else(invalid)?;
        // Used up atomically: of two requests with the same link, one wins.
        let taken = token::Entity::update_many()
            .col_expr(token::Column::UsedAt, Expr::value(now))
            .filter(token::Column::Id.eq(found.id))
            .filter(token::Column::UsedAt.is_null())
            .filter(token::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await?;
        if taken.rows_affected != 1 {
            return Err(invalid());
        }
        let staff = StaffId(found.staff_id);
        let login = {
            let replica = self.directory.read();
            replica
                .staff(staff)
                .filter(|s| s.is_active() && s.source == RecordSource::Local)
                .map(|s| s.login.clone())
        }
        .ok_or_else(invalid)?;
        self.auth
            .set_staff_password(&Actor::new(login, Source::Api), staff, password)
            .await?;
        // Any other link sent to this person is void now.
        let txn = self.db.begin().await?;
        token::Entity::update_many()
            .col_expr(token::Column::UsedAt, Expr::value(now))
            .filter(token::Column::StaffId.eq(staff.0))
            .filter(token::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        token::Entity::delete_many()
            .filter(token::Column::ExpiresAt.lt(now - 7 * 86_400_000))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        tracing::info!(%staff, "password set with a reset link");
        Ok(staff)
    }
}

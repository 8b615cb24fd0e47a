//! The outbox: every mail is a row (`mail_outbox`) before anything talks to SMTP, written in
//! the transaction of what caused it where that is ours (a reset token and its mail, a digest
//! and the person's digest mark). The worker (`worker.rs`) claims a row (`queued` →
//! `sending`, with a lease), sends it, and marks it `sent`, or `queued` again with a later
//! `next_attempt_at`, or `failed` when it gives up. The idempotency key makes a cause queued
//! twice one mail; the Message-ID, fixed at queueing, is the same on every attempt.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr, sea_query::ExprTrait, sea_query::OnConflict,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{MailError, entities::outbox};
use crate::directory::StaffId;

pub(crate) const QUEUED: &str = "queued";
pub(crate) const SENDING: &str = "sending";
pub(crate) const SENT: &str = "sent";
pub(crate) const FAILED: &str = "failed";

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// What a mail is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    Test,
    Welcome,
    PasswordReset,
    Digest,
    LdapAlert,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Test => "test",
            Self::Welcome => "welcome",
            Self::PasswordReset => "password_reset",
            Self::Digest => "digest",
            Self::LdapAlert => "ldap_alert",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "welcome" => Self::Welcome,
            "password_reset" => Self::PasswordReset,
            "digest" => Self::Digest,
            "ldap_alert" => Self::LdapAlert,
            _ => Self::Test,
        }
    }

    /// Mails whose body is a secret (a working link): emptied once sent.
    fn secret(self) -> bool {
        self == Self::PasswordReset
    }
}

/// Where a mail is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting for its (next) attempt.
    Queued,
    /// Being handed to the SMTP server.
    Sending,
    /// The SMTP server accepted it.
    Sent,
    /// Given up: a permanent refusal, or too many attempts.
    Failed,
}

impl OutboxStatus {
    fn parse(text: &str) -> Self {
        match text {
            SENDING => Self::Sending,
            SENT => Self::Sent,
            FAILED => Self::Failed,
            _ => Self::Queued,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => QUEUED,
            Self::Sending => SENDING,
            Self::Sent => SENT,
            Self::Failed => FAILED,
        }
    }
}

/// A mail in the outbox, as administrators see it (never its body: it may hold a link).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutboxEntry {
    pub id: Uuid,
    pub kind: MailKind,
    pub recipient: String,
    pub subject: String,
    pub status: OutboxStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// When the next attempt is due (milliseconds since the Unix epoch), while queued.
    pub next_attempt_at: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The Message-ID header, the same on every attempt.
    pub message_id: String,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

fn entry(row: outbox::Model) -> OutboxEntry {
    OutboxEntry {
        id: row.id,
        kind: MailKind::parse(&row.kind),
        recipient: row.recipient,
        subject: row.subject,
        status: OutboxStatus::parse(&row.status),
        attempts: row.attempts,
        next_attempt_at: row.next_attempt_at,
        last_error: row.last_error,
        message_id: row.message_id,
        created_at: row.created_at,
        sent_at: row.sent_at,
    }
}

/// A mail to queue.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    /// What caused it: one mail per key, ever (while the row is kept).
    pub key: String,
    pub kind: MailKind,
    pub recipient: String,
    pub staff: Option<StaffId>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Extra header lines (name, value), e.g. `List-Unsubscribe`.
    pub headers: Vec<(String, String)>,
}

/// Queues a mail in `db` (a transaction, to commit it with its cause). `None` when its key
/// was queued before: nothing new is stored.
pub(crate) async fn enqueue<C: ConnectionTrait>(
    db: &C,
    draft: Draft,
    domain: &str,
) -> Result<Option<Uuid>, MailError> {
    let id = Uuid::now_v7();
    let now = now_ms();
    let headers =
        serde_json::to_string(&draft.headers).map_err(|e| MailError::Internal(e.to_string()))?;
    let inserted = outbox::Entity::insert(outbox::ActiveModel {
        id: Set(id),
        idempotency_key: Set(draft.key),
        kind: Set(draft.kind.as_str().to_owned()),
        recipient: Set(draft.recipient),
        staff_id: Set(draft.staff.map(|s| s.0)),
        subject: Set(draft.subject),
        body_text: Set(draft.text),
        body_html: Set(draft.html),
        headers: Set(headers),
        message_id: Set(format!("<{}@{domain}>", id.simple())),
        status: Set(QUEUED.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
    })
    .on_conflict(
        OnConflict::column(outbox::Column::IdempotencyKey)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok((inserted == 1).then_some(id))
}

/// Queued mails due by `now`, oldest due first.
pub(crate) async fn due<C: ConnectionTrait>(
    db: &C,
    now: i64,
    limit: u64,
) -> Result<Vec<outbox::Model>, MailError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::Status.eq(QUEUED))
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .order_by_asc(outbox::Column::NextAttemptAt)
        .limit(limit)
        .all(db)
        .await?)
}

/// When the next queued mail is due, if any.
pub(crate) async fn next_due<C: ConnectionTrait>(db: &C) -> Result<Option<i64>, MailError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::Status.eq(QUEUED))
        .order_by_asc(outbox::Column::NextAttemptAt)
        .one(db)
        .await?
        .map(|row| row.next_attempt_at))
}

/// Takes a queued mail for sending: one attempt more, leased until `lease_until`. False when
/// someone else took it first.
pub(crate) async fn claim<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    lease_until: i64,
) -> Result<bool, MailError> {
    let result = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(SENDING))
        .col_expr(
            outbox::Column::Attempts,
            Expr::col(outbox::Column::Attempts).add(1),
        )
        .col_expr(outbox::Column::LeaseUntil, Expr::value(lease_until))
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.eq(QUEUED))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Mails left `sending` past their lease (the process stopped between claiming and marking):
/// queued again. This is the one way a mail can go out twice — when the server had accepted
/// it before the stop — and it then carries the same Message-ID.
pub(crate) async fn requeue_expired<C: ConnectionTrait>(
    db: &C,
    now: i64,
) -> Result<u64, MailError> {
    let result = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(QUEUED))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(now))
        .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .filter(outbox::Column::Status.eq(SENDING))
        .filter(outbox::Column::LeaseUntil.lt(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// A mail whose attempt was cut off (the worker stopped mid-way): queued again at once.
pub(crate) async fn requeue<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<(), MailError> {
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(QUEUED))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(now_ms()))
        .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.eq(SENDING))
        .exec(db)
        .await?;
    Ok(())
}

/// The server accepted the mail.
pub(crate) async fn mark_sent<C: ConnectionTrait>(
    db: &C,
    row: &outbox::Model,
) -> Result<(), MailError> {
    let mut update = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(SENT))
        .col_expr(outbox::Column::SentAt, Expr::value(now_ms()))
        .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(
            outbox::Column::LastError,
            Expr::value(Option::<String>::None),
        );
    if MailKind::parse(&row.kind).secret() {
        // The link in it works until used or expired; the database need not keep it.
        update = update
            .col_expr(outbox::Column::BodyText, Expr::value(""))
            .col_expr(outbox::Column::BodyHtml, Expr::value(""));
    }
    update
        .filter(outbox::Column::Id.eq(row.id))
        .exec(db)
        .await?;
    Ok(())
}

/// The attempt failed: try again at `next_attempt_at`, or give up (`None`).
pub(crate) async fn mark_failed_attempt<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    error: &str,
    next_attempt_at: Option<i64>,
) -> Result<(), MailError> {
    let error: String = error.chars().take(1000).collect();
    let mut update = outbox::Entity::update_many()
        .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(outbox::Column::LastError, Expr::value(error));
    update = match next_attempt_at {
        Some(at) => update
            .col_expr(outbox::Column::Status, Expr::value(QUEUED))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(at)),
        None => update.col_expr(outbox::Column::Status, Expr::value(FAILED)),
    };
    update.filter(outbox::Column::Id.eq(id)).exec(db).await?;
    Ok(())
}

/// Mails not yet sent or given up.
pub(crate) async fn pending<C: ConnectionTrait>(db: &C) -> Result<u64, MailError> {
    use sea_orm::PaginatorTrait;
    Ok(outbox::Entity::find()
        .filter(outbox::Column::Status.is_in([QUEUED, SENDING]))
        .count(db)
        .await?)
}

pub(crate) async fn list<C: ConnectionTrait>(
    db: &C,
    status: Option<OutboxStatus>,
    limit: u64,
) -> Result<Vec<OutboxEntry>, MailError> {
    let mut query = outbox::Entity::find();
    if let Some(status) = status {
        query = query.filter(outbox::Column::Status.eq(status.as_str()));
    }
    Ok(query
        .order_by_desc(outbox::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(entry)
        .collect())
}

pub(crate) async fn get<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<OutboxEntry, MailError> {
    outbox::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(entry)
        .ok_or_else(|| MailError::NotFound(format!("mail {id}")))
}

/// A failed mail queued again, its attempts counted from zero.
pub(crate) async fn retry<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<OutboxEntry, MailError> {
    let current = get(db, id).await?;
    if current.status != OutboxStatus::Failed {
        return Err(MailError::Conflict(format!(
            "mail {id} is {}, not failed",
            current.status.as_str()
        )));
    }
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(QUEUED))
        .col_expr(outbox::Column::Attempts, Expr::value(0))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(now_ms()))
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.eq(FAILED))
        .exec(db)
        .await?;
    get(db, id).await
}

/// Forgets sent and failed mails created before `before` (their keys with them).
pub(crate) async fn prune<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, MailError> {
    Ok(outbox::Entity::delete_many()
        .filter(outbox::Column::Status.is_in([SENT, FAILED]))
        .filter(outbox::Column::CreatedAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

//! The push outbox: a notification is a row (`push_outbox`) before anything talks to the
//! gateway. One row per person and conversation collects messages while it waits (its
//! `collapse_key` is set while queued): a later message replaces the latest one, adds to the
//! count and raises the priority, so a burst is one notification. The worker (`worker.rs`)
//! claims a row (`queued` → `sending`, with a lease, the key cleared so new messages start the
//! next notification), posts it, and marks it `sent`, `skipped`, `queued` again with a later
//! `next_attempt_at` (collecting again, unless a newer row took the key meanwhile), or
//! `failed`.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr, sea_query::ExprTrait, sea_query::OnConflict,
};
use uuid::Uuid;

use super::{PushError, entities::outbox};
use crate::{
    directory::StaffId,
    im::{ConversationId, ConversationKind, MessageKind, Seq},
};

pub(crate) const QUEUED: &str = "queued";
pub(crate) const SENDING: &str = "sending";
pub(crate) const SENT: &str = "sent";
pub(crate) const FAILED: &str = "failed";
/// Not sent, on purpose: the person came online, muted the conversation, has no device left,
/// or was disabled.
pub(crate) const SKIPPED: &str = "skipped";

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// One message for one offline person.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub staff: StaffId,
    pub conversation: ConversationId,
    pub conversation_kind: ConversationKind,
    pub msg_id: Uuid,
    pub seq: Seq,
    pub sender: Option<StaffId>,
    pub kind: MessageKind,
    pub preview: String,
    /// A direct message, or one that mentions the person.
    pub high: bool,
}

fn collapse_key(staff: StaffId, conversation: ConversationId) -> String {
    format!("{}:{}", staff.0.simple(), conversation.0.simple())
}

/// Adds a message to the person's queued notification of its conversation, or queues one due
/// at `due`. True when a new row was queued.
pub(crate) async fn add<C: ConnectionTrait>(
    db: &C,
    message: &Pending,
    due: i64,
) -> Result<bool, PushError> {
    let key = collapse_key(message.staff, message.conversation);
    // Two tries: another node may queue the same key between our update and our insert.
    for _ in 0..2 {
        let mut update = outbox::Entity::update_many()
            .col_expr(outbox::Column::MsgId, Expr::value(message.msg_id))
            .col_expr(outbox::Column::Seq, Expr::value(message.seq))
            .col_expr(
                outbox::Column::SenderId,
                Expr::value(message.sender.map(|s| s.0)),
            )
            .col_expr(
                outbox::Column::MessageKind,
                Expr::value(message.kind.as_str()),
            )
            .col_expr(
                outbox::Column::Preview,
                Expr::value(message.preview.clone()),
            )
            .col_expr(
                outbox::Column::Messages,
                Expr::col(outbox::Column::Messages).add(1),
            );
        if message.high {
            update = update.col_expr(outbox::Column::High, Expr::value(true));
        }
        let updated = update
            .filter(outbox::Column::CollapseKey.eq(key.as_str()))
            .filter(outbox::Column::Status.eq(QUEUED))
            .exec(db)
            .await?;
        if updated.rows_affected > 0 {
            return Ok(false);
        }
        let inserted = outbox::Entity::insert(outbox::ActiveModel {
            id: Set(Uuid::now_v7()),
            staff_id: Set(message.staff.0),
            conversation_id: Set(message.conversation.0),
            collapse_key: Set(Some(key.clone())),
            conversation_kind: Set(message.conversation_kind.as_str().to_owned()),
            msg_id: Set(message.msg_id),
            seq: Set(message.seq),
            sender_id: Set(message.sender.map(|s| s.0)),
            message_kind: Set(message.kind.as_str().to_owned()),
            preview: Set(message.preview.clone()),
            messages: Set(1),
            high: Set(message.high),
            status: Set(QUEUED.to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(due),
            lease_until: Set(None),
            last_error: Set(None),
            created_at: Set(now_ms()),
            sent_at: Set(None),
        })
        .on_conflict(
            OnConflict::column(outbox::Column::CollapseKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        if inserted == 1 {
            return Ok(true);
        }
    }
    Err(PushError::Db(sea_orm::DbErr::Custom(format!(
        "push outbox: {key} neither updated nor inserted"
    ))))
}

/// Queued notifications due by `now`: mentions and direct messages first, then oldest due.
pub(crate) async fn due<C: ConnectionTrait>(
    db: &C,
    now: i64,
    limit: u64,
) -> Result<Vec<outbox::Model>, PushError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::Status.eq(QUEUED))
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .order_by_desc(outbox::Column::High)
        .order_by_asc(outbox::Column::NextAttemptAt)
        .limit(limit)
        .all(db)
        .await?)
}

/// When the next queued notification is due, if any.
pub(crate) async fn next_due<C: ConnectionTrait>(db: &C) -> Result<Option<i64>, PushError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::Status.eq(QUEUED))
        .order_by_asc(outbox::Column::NextAttemptAt)
        .one(db)
        .await?
        .map(|row| row.next_attempt_at))
}

/// Takes a queued notification for sending: one attempt more, leased until `lease_until`, no
/// longer collecting messages. False when someone else took it first.
pub(crate) async fn claim<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    lease_until: i64,
) -> Result<bool, PushError> {
    let result = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(SENDING))
        .col_expr(
            outbox::Column::Attempts,
            Expr::col(outbox::Column::Attempts).add(1),
        )
        .col_expr(outbox::Column::LeaseUntil, Expr::value(lease_until))
        .col_expr(
            outbox::Column::CollapseKey,
            Expr::value(Option::<String>::None),
        )
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.eq(QUEUED))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Notifications left `sending` past their lease (the process stopped mid-attempt): queued
/// again. The one way a notification can go out twice, with the same `event_id`.
pub(crate) async fn requeue_expired<C: ConnectionTrait>(
    db: &C,
    now: i64,
) -> Result<u64, PushError> {
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

/// The attempt ended: `status` is `sent` or `skipped` (final), or the attempt failed and is
/// tried again at `retry_at`, or given up (`failed`) when that is `None`.
pub(crate) async fn finish<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    status: &str,
    error: Option<&str>,
    retry_at: Option<i64>,
) -> Result<(), PushError> {
    let error: Option<String> = error.map(|e| e.chars().take(1000).collect());
    let mut update = outbox::Entity::update_many()
        .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(outbox::Column::LastError, Expr::value(error));
    update = match (status, retry_at) {
        (FAILED, Some(at)) => update
            .col_expr(outbox::Column::Status, Expr::value(QUEUED))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(at)),
        (SENT, _) => update
            .col_expr(outbox::Column::Status, Expr::value(SENT))
            .col_expr(outbox::Column::SentAt, Expr::value(now_ms())),
        (other, _) => update.col_expr(outbox::Column::Status, Expr::value(other)),
    };
    update.filter(outbox::Column::Id.eq(id)).exec(db).await?;
    Ok(())
}

/// A notification waiting for its retry collects the conversation's later messages again,
/// unless a newer one already does (the unique key refuses it then: both go, in turn).
pub(crate) async fn collect_again<C: ConnectionTrait>(
    db: &C,
    row: &outbox::Model,
) -> Result<bool, PushError> {
    let key = collapse_key(StaffId(row.staff_id), ConversationId(row.conversation_id));
    let result = outbox::Entity::update_many()
        .col_expr(outbox::Column::CollapseKey, Expr::value(key))
        .filter(outbox::Column::Id.eq(row.id))
        .filter(outbox::Column::Status.eq(QUEUED))
        .exec(db)
        .await;
    Ok(result.is_ok_and(|r| r.rows_affected == 1))
}

/// Notifications not yet sent, skipped or given up.
pub(crate) async fn pending<C: ConnectionTrait>(db: &C) -> Result<u64, PushError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::Status.is_in([QUEUED, SENDING]))
        .count(db)
        .await?)
}

/// Forgets finished notifications created before `before`.
pub(crate) async fn prune<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, PushError> {
    Ok(outbox::Entity::delete_many()
        .filter(outbox::Column::Status.is_in([SENT, FAILED, SKIPPED]))
        .filter(outbox::Column::CreatedAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

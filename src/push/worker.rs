//! The one push worker. It takes due notifications from the outbox (mentions and direct
//! messages first), builds each as the Matrix push gateway's `notify` request (docs/protocol.md,
//! "Offline push") with every device of the person, POSTs it under a timeout, and records the
//! outcome. Refusals that may pass (network errors, 5xx, 408, 429) are retried with exponential
//! backoff until `max_attempts`; other 4xx give up at once. Pushkeys the gateway answers as
//! `rejected` lose their device. Nothing else waits for it: a dead gateway only makes
//! notifications wait.
//!
//! Guarantee: one request per notification, except when the process stops after the gateway
//! took a request and before `sent` was recorded; the lease then brings it back, and it goes
//! again with the same `event_id`.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    Push, PushError,
    devices::{self, Device},
    entities::outbox as row,
    outbox::{self, FAILED, SENT, SKIPPED, now_ms},
};
use crate::{
    directory::StaffId,
    im::{ConversationId, ConversationKind},
};

/// The longest the worker sleeps: leases that ran out are noticed within this.
const POLL: Duration = Duration::from_secs(15);
/// Notifications taken from the outbox per query.
const BATCH: u64 = 50;

/// The gateway's answer (`rejected`: pushkeys it will never deliver to).
#[derive(Debug, Default, Deserialize)]
struct NotifyResponse {
    #[serde(default)]
    rejected: Vec<String>,
}

/// How one attempt ended.
enum Outcome {
    Sent { rejected: Vec<String> },
    Skipped(&'static str),
    Failed { message: String, permanent: bool },
}

pub(crate) async fn run(push: Arc<Push>) {
    let mut last_prune = 0;
    loop {
        if push.stopping() {
            return;
        }
        let wait = match pass(&push).await {
            Ok(wait) => wait,
            Err(error) => {
                tracing::warn!(%error, "push outbox pass failed; trying again shortly");
                Duration::from_secs(5)
            }
        };
        if now_ms() - last_prune > 3_600_000 {
            last_prune = now_ms();
            if let Err(error) = outbox::prune(&push.db, now_ms() - 86_400_000).await {
                tracing::warn!(%error, "pruning the push outbox failed");
            }
        }
        tokio::select! {
            () = push.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Sends everything due; returns how long to sleep until something may be due.
async fn pass(push: &Push) -> Result<Duration, PushError> {
    let db = &push.db;
    let requeued = outbox::requeue_expired(db, now_ms()).await?;
    if requeued > 0 {
        tracing::warn!(
            requeued,
            "push notifications left 'sending' by a stopped process are queued again"
        );
    }
    'batches: loop {
        let due = outbox::due(db, now_ms(), BATCH).await?;
        if due.is_empty() {
            break;
        }
        for row in due {
            if push.stopping() {
                break 'batches;
            }
            send_one(push, row).await?;
        }
    }
    push.metrics
        .pending
        .store(outbox::pending(db).await?, Ordering::Relaxed);
    Ok(match outbox::next_due(db).await? {
        Some(at) => Duration::from_millis((at - now_ms()).clamp(0, POLL.as_millis() as i64) as u64),
        None => POLL,
    })
}

async fn send_one(push: &Push, row: row::Model) -> Result<(), PushError> {
    let lease = now_ms() + 2 * push.config.timeout.as_millis() as i64 + 10_000;
    if !outbox::claim(&push.db, row.id, lease).await? {
        return Ok(());
    }
    let staff = StaffId(row.staff_id);
    let outcome = attempt(push, &row, staff).await?;
    let attempts = row.attempts + 1;
    let metrics = &push.metrics;
    match outcome {
        Outcome::Sent { rejected } => {
            outbox::finish(&push.db, row.id, SENT, None, None).await?;
            metrics.sent.fetch_add(1, Ordering::Relaxed);
            let removed = devices::reject(&push.db, staff, &rejected).await?;
            if removed > 0 {
                metrics.rejected.fetch_add(removed, Ordering::Relaxed);
                tracing::info!(staff = %staff.0, removed, "push devices the gateway rejected are removed");
            }
        }
        Outcome::Skipped(why) => {
            outbox::finish(&push.db, row.id, SKIPPED, Some(why), None).await?;
            metrics.skipped.fetch_add(1, Ordering::Relaxed);
        }
        Outcome::Failed { message, permanent } => {
            let config = &push.config;
            let give_up = permanent || attempts as u32 >= config.max_attempts;
            let retry_at = (!give_up).then(|| {
                now_ms()
                    + crate::retry::backoff(config.retry_base, config.retry_cap, attempts)
                        .as_millis() as i64
            });
            outbox::finish(&push.db, row.id, FAILED, Some(&message), retry_at).await?;
            if retry_at.is_some() {
                outbox::collect_again(&push.db, &row).await?;
            }
            if give_up {
                metrics.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(id = %row.id, attempts, error = %message, "push notification given up");
            } else {
                metrics.retried.fetch_add(1, Ordering::Relaxed);
                tracing::info!(id = %row.id, attempts, error = %message, "push notification not sent; will retry");
            }
        }
    }
    Ok(())
}

async fn attempt(push: &Push, row: &row::Model, staff: StaffId) -> Result<Outcome, PushError> {
    let Some(url) = push.config.gateway_url.as_deref() else {
        return Ok(Outcome::Skipped("push is off"));
    };
    let active = push
        .directory
        .read()
        .staff(staff)
        .is_some_and(|p| p.is_active());
    if !active {
        devices::forget(&push.db, staff).await?;
        return Ok(Outcome::Skipped("the person is disabled or gone"));
    }
    if push.im.offline_since(staff).is_none() {
        return Ok(Outcome::Skipped("the person came online"));
    }
    let conversation = ConversationId(row.conversation_id);
    if !devices::muted(&push.db, conversation, &[staff])
        .await?
        .is_empty()
    {
        return Ok(Outcome::Skipped("the conversation is muted"));
    }
    let devices = devices::list(&push.db, staff).await?;
    if devices.is_empty() {
        return Ok(Outcome::Skipped("no device"));
    }
    let body = notification(push, row, staff, &devices).await;
    let result = push.client.post(url).json(&body).send().await;
    Ok(match result {
        Ok(response) if response.status().is_success() => {
            let bytes = response.bytes().await.unwrap_or_default();
            let answer: NotifyResponse = serde_json::from_slice(&bytes).unwrap_or_default();
            Outcome::Sent {
                rejected: answer.rejected,
            }
        }
        Ok(response) => {
            let status = response.status();
            Outcome::Failed {
                message: format!("the gateway answered {status}"),
                permanent: status.is_client_error() && !matches!(status.as_u16(), 408 | 425 | 429),
            }
        }
        Err(error) => Outcome::Failed {
            message: format!("the gateway is unreachable: {error}"),
            permanent: false,
        },
    })
}

/// The wait after the `attempts`-th failed attempt: base, 2×base, 4×base … up to `cap`.
/// The `notify` request body (docs/protocol.md, "Offline push").
async fn notification(push: &Push, row: &row::Model, staff: StaffId, devices: &[Device]) -> Value {
    let conversation = ConversationId(row.conversation_id);
    let summaries = push.im.summaries(staff).await.unwrap_or_default();
    let unread: u64 = summaries.iter().map(|s| s.unread).sum();
    let summary = summaries.iter().find(|s| s.id == conversation);
    let kind = ConversationKind::parse(&row.conversation_kind).unwrap_or(ConversationKind::Group);
    let sender = row.sender_id.map(StaffId);
    let sender_name = sender.and_then(|s| {
        push.directory
            .read()
            .staff(s)
            .map(|p| p.display_name.clone())
    });
    // A direct chat is named after the other person: the sender already says it.
    let room_name = match (kind, summary) {
        (ConversationKind::Direct, _) | (_, None) => None,
        (_, Some(s)) => Some(s.name.clone()),
    };
    let prio = if row.high { "high" } else { "low" };
    let unread = unread.max(row.messages.max(1) as u64);
    let mut notification = json!({
        "event_id": row.msg_id,
        "room_id": conversation,
        "type": "m.room.message",
        "sender": sender,
        "sender_display_name": sender_name,
        "room_name": room_name,
        "prio": prio,
        "counts": { "unread": unread },
        "devices": devices.iter().map(|d| json!({
            "app_id": d.app_id,
            "pushkey": d.token,
            "pushkey_ts": d.created_at / 1000,
            "data": { "platform": d.platform, "language": d.language },
        })).collect::<Vec<_>>(),
        "conversation_kind": kind,
        "seq": row.seq,
        "messages": row.messages,
    });
    if push.include_text() {
        notification["content"] = json!({ "msgtype": row.message_kind, "body": row.preview });
    }
    json!({ "notification": notification })
}

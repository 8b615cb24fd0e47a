//! The recent deliveries of each webhook: one row per batch POSTed (after its retries), with
//! the outcome, the last HTTP status, the error and the time. Bounded: every new row prunes the
//! endpoint's rows beyond the newest `KEEP`, so a busy endpoint never grows the table.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ImError, entities::delivery};

/// Deliveries kept per webhook.
pub const KEEP: u64 = 100;

/// How a batch went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The endpoint answered 2xx.
    Ok,
    /// Every attempt failed; the batch was dropped.
    Failed,
}

/// One delivery (a batch of events) to a webhook.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    /// Also the `X-Switchboard-Delivery` header the endpoint saw.
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub status: DeliveryStatus,
    /// Attempts made (1 when the first one succeeded).
    pub attempts: u32,
    /// Events in the batch.
    pub events: u32,
    /// The last answer's HTTP status; `null` when the endpoint could not be reached.
    pub response_code: Option<u16>,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// When the batch was finished with (milliseconds since the Unix epoch).
    pub at: i64,
    /// From the first attempt to the last answer.
    pub duration_ms: u64,
}

/// Stores a delivery and prunes the webhook's older ones.
pub async fn record<C: ConnectionTrait>(db: &C, d: &Delivery) -> Result<(), ImError> {
    delivery::Entity::insert(delivery::ActiveModel {
        id: Set(d.id),
        webhook_id: Set(d.webhook_id),
        status: Set(match d.status {
            DeliveryStatus::Ok => "ok",
            DeliveryStatus::Failed => "failed",
        }
        .to_owned()),
        attempts: Set(d.attempts as i32),
        events: Set(d.events as i32),
        response_code: Set(d.response_code.map(i32::from)),
        error: Set(d.error.clone()),
        at: Set(d.at),
        duration_ms: Set(d.duration_ms as i64),
    })
    .exec_without_returning(db)
    .await?;
    let old: Vec<Uuid> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .filter(delivery::Column::WebhookId.eq(d.webhook_id))
        .order_by_desc(delivery::Column::At)
        .order_by_desc(delivery::Column::Id)
        .offset(KEEP)
        .limit(1000)
        .into_tuple()
        .all(db)
        .await?;
    if !old.is_empty() {
        delivery::Entity::delete_many()
            .filter(delivery::Column::Id.is_in(old))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// A webhook's deliveries, newest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    webhook: Uuid,
    limit: u64,
) -> Result<Vec<Delivery>, ImError> {
    Ok(delivery::Entity::find()
        .filter(delivery::Column::WebhookId.eq(webhook))
        .order_by_desc(delivery::Column::At)
        .order_by_desc(delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|row| Delivery {
            id: row.id,
            webhook_id: row.webhook_id,
            status: if row.status == "ok" {
                DeliveryStatus::Ok
            } else {
                DeliveryStatus::Failed
            },
            attempts: row.attempts.max(0) as u32,
            events: row.events.max(0) as u32,
            response_code: row.response_code.and_then(|c| u16::try_from(c).ok()),
            error: row.error,
            at: row.at,
            duration_ms: row.duration_ms.max(0) as u64,
        })
        .collect())
}

/// Removes a webhook's deliveries (with the webhook).
pub async fn remove_all<C: ConnectionTrait>(db: &C, webhook: Uuid) -> Result<(), ImError> {
    delivery::Entity::delete_many()
        .filter(delivery::Column::WebhookId.eq(webhook))
        .exec(db)
        .await?;
    Ok(())
}

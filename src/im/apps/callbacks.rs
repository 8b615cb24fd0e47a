//! The callbacks to apps: each recorded action queues one row in `im_app_callbacks` (in the
//! action's transaction), and this worker POSTs it, signed like webhooks
//! (`webhooks::sign`), retrying with exponential backoff. The queue is the table, so a
//! restart loses nothing; a row is claimed by moving its `next_at` forward (a lease), so two
//! workers never post it at once. The `X-Switchboard-Delivery` header is the row's id, the
//! same on every attempt: an app that saw it answered already may ignore it.
//!
//! The app may answer with `{"card": {...}, "close": true}` to change the card at once.

use std::{sync::Arc, time::Duration};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::{sync::Notify, task::JoinHandle};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{card::CardContent, entities::callback};
use crate::im::{Im, ImError, model::now_millis, webhooks::sign};

/// Attempts per callback (the first and the retries).
const ATTEMPTS: i32 = 8;
/// How long a claimed callback is left to its worker before another may take it.
const LEASE_MS: i64 = 60_000;
/// Callbacks kept per app once finished.
const KEEP: u64 = 100;
/// Callbacks posted at once.
const PARALLEL: usize = 8;
/// The most of an app's answer that is read.
const MAX_ANSWER: usize = 64 * 1024;

/// The worker's wake-up and HTTP client.
pub struct Callbacks {
    notify: Notify,
    client: reqwest::Client,
    slots: Arc<tokio::sync::Semaphore>,
}

impl Default for Callbacks {
    fn default() -> Self {
        Self {
            notify: Notify::new(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            slots: Arc::new(tokio::sync::Semaphore::new(PARALLEL)),
        }
    }
}

impl Callbacks {
    /// Tells the worker a callback was queued.
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// How a callback went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallbackStatus {
    /// Waiting for its first or next attempt.
    Pending,
    /// The app answered 2xx.
    Ok,
    /// Every attempt failed.
    Failed,
}

/// One callback to an app, as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Callback {
    /// Also the `X-Switchboard-Delivery` header the app saw.
    pub id: Uuid,
    pub card: Uuid,
    pub status: CallbackStatus,
    pub attempts: u32,
    /// The action's id and the person who took it.
    pub action: String,
    pub staff_name: String,
    /// The last answer's HTTP status; `null` when the app could not be reached.
    pub response_code: Option<u16>,
    pub error: Option<String>,
    pub created_at: i64,
    pub done_at: Option<i64>,
}

/// What an app may answer a callback with.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    #[serde(default)]
    card: Option<CardContent>,
    #[serde(default)]
    close: bool,
}

fn listed(row: callback::Model) -> Callback {
    let body: Value = serde_json::from_str(&row.body).unwrap_or(Value::Null);
    Callback {
        id: row.id,
        card: row.card_id,
        status: match row.status.as_str() {
            "ok" => CallbackStatus::Ok,
            "failed" => CallbackStatus::Failed,
            _ => CallbackStatus::Pending,
        },
        attempts: row.attempts.max(0) as u32,
        action: body["action"]["id"].as_str().unwrap_or_default().to_owned(),
        staff_name: body["staff"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        response_code: row.response_code.and_then(|c| u16::try_from(c).ok()),
        error: row.error,
        created_at: row.created_at,
        done_at: row.done_at,
    }
}

/// The delay before attempt `attempts + 1`: 1 s, 2 s, 4 s… up to 256 s.
fn backoff_ms(attempts: i32) -> i64 {
    crate::retry::backoff(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(256),
        attempts,
    )
    .as_millis() as i64
}

impl Im {
    /// An app's recent callbacks, newest first.
    pub async fn app_callbacks(&self, app: Uuid, limit: u64) -> Result<Vec<Callback>, ImError> {
        self.app(app).await?;
        Ok(callback::Entity::find()
            .filter(callback::Column::AppId.eq(app))
            .order_by_desc(callback::Column::CreatedAt)
            .order_by_desc(callback::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(listed)
            .collect())
    }

    /// Claims the callbacks that are due (each by moving its `next_at` past the lease).
    async fn claim_due(&self) -> Result<Vec<callback::Model>, ImError> {
        let now = now_millis();
        let due = callback::Entity::find()
            .filter(callback::Column::Status.eq("pending"))
            .filter(callback::Column::NextAt.lte(now))
            .order_by_asc(callback::Column::NextAt)
            .limit(PARALLEL as u64 * 2)
            .all(&self.db)
            .await?;
        let mut claimed = Vec::with_capacity(due.len());
        for row in due {
            let taken = callback::Entity::update_many()
                .col_expr(callback::Column::NextAt, Expr::value(now + LEASE_MS))
                .filter(callback::Column::Id.eq(row.id))
                .filter(callback::Column::Status.eq("pending"))
                .filter(callback::Column::NextAt.eq(row.next_at))
                .exec(&self.db)
                .await?;
            if taken.rows_affected == 1 {
                claimed.push(row);
            }
        }
        Ok(claimed)
    }

    /// Posts one callback once, and records the outcome.
    async fn deliver(self: &Arc<Self>, row: callback::Model) -> Result<(), ImError> {
        let app = self.app_row(row.app_id).await?;
        let attempts = row.attempts + 1;
        let result = if app.revoked {
            Err((None, "the app was revoked".to_owned()))
        } else {
            let timestamp = chrono::Utc::now().timestamp();
            let sent = self
                .callbacks
                .client
                .post(&app.callback_url)
                .header("content-type", "application/json")
                .header("x-switchboard-event", "card.action")
                .header("x-switchboard-timestamp", timestamp.to_string())
                .header(
                    "x-switchboard-signature",
                    sign(&app.secret, timestamp, row.body.as_bytes()),
                )
                .header("x-switchboard-delivery", row.id.to_string())
                .body(row.body.clone())
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => {
                    let code = response.status().as_u16();
                    let answer = response.bytes().await.unwrap_or_default();
                    Ok((code, answer))
                }
                Ok(response) => Err((
                    Some(response.status().as_u16()),
                    format!("answered {}", response.status()),
                )),
                Err(error) => Err((None, error.to_string())),
            }
        };
        let now = now_millis();
        let update = callback::Entity::update_many()
            .col_expr(callback::Column::Attempts, Expr::value(attempts))
            .filter(callback::Column::Id.eq(row.id));
        match result {
            Ok((code, answer)) => {
                // Delivered first: the app's answer may take a while to apply, and the callback
                // is done either way.
                update
                    .col_expr(callback::Column::Status, Expr::value("ok"))
                    .col_expr(callback::Column::ResponseCode, Expr::value(i32::from(code)))
                    .col_expr(callback::Column::Error, Expr::value(Option::<String>::None))
                    .col_expr(callback::Column::DoneAt, Expr::value(now))
                    .exec(&self.db)
                    .await?;
                if let Err(note) = self.apply_answer(&row, &answer).await {
                    callback::Entity::update_many()
                        .col_expr(callback::Column::Error, Expr::value(note))
                        .filter(callback::Column::Id.eq(row.id))
                        .exec(&self.db)
                        .await?;
                }
                self.prune_callbacks(row.app_id).await
            }
            Err((code, error)) => {
                tracing::warn!(app = %app.name, url = %app.callback_url, attempt = attempts, %error, "app callback failed");
                let update = update
                    .col_expr(
                        callback::Column::ResponseCode,
                        Expr::value(code.map(i32::from)),
                    )
                    .col_expr(callback::Column::Error, Expr::value(error));
                if attempts >= ATTEMPTS || app.revoked {
                    update
                        .col_expr(callback::Column::Status, Expr::value("failed"))
                        .col_expr(callback::Column::DoneAt, Expr::value(now))
                        .exec(&self.db)
                        .await?;
                    self.prune_callbacks(row.app_id).await
                } else {
                    update
                        .col_expr(
                            callback::Column::NextAt,
                            Expr::value(now + backoff_ms(attempts)),
                        )
                        .exec(&self.db)
                        .await?;
                    Ok(())
                }
            }
        }
    }

    /// Applies an app's answer (`{"card": …, "close": …}`); an empty answer changes nothing.
    /// Returns why an answer was ignored.
    async fn apply_answer(&self, row: &callback::Model, answer: &[u8]) -> Result<(), String> {
        if answer.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        if answer.len() > MAX_ANSWER {
            return Err(format!("answer ignored: larger than {MAX_ANSWER} bytes"));
        }
        let answer: Answer = match serde_json::from_slice(answer) {
            Ok(answer) => answer,
            // Plain "ok" texts and other bodies are not card changes.
            Err(_) if !answer.starts_with(b"{") => return Ok(()),
            Err(error) => return Err(format!("answer ignored: {error}")),
        };
        if answer.card.is_none() && !answer.close {
            return Ok(());
        }
        self.update_card(row.app_id, row.card_id, answer.card.as_ref(), answer.close)
            .await
            .map(|_| ())
            .map_err(|error| format!("answer ignored: {error}"))
    }

    async fn prune_callbacks(&self, app: Uuid) -> Result<(), ImError> {
        let old: Vec<Uuid> = callback::Entity::find()
            .select_only()
            .column(callback::Column::Id)
            .filter(callback::Column::AppId.eq(app))
            .filter(callback::Column::Status.ne("pending"))
            .order_by_desc(callback::Column::CreatedAt)
            .order_by_desc(callback::Column::Id)
            .offset(KEEP)
            .limit(1000)
            .into_tuple()
            .all(&self.db)
            .await?;
        if !old.is_empty() {
            callback::Entity::delete_many()
                .filter(callback::Column::Id.is_in(old))
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }
}

/// Starts the worker: it posts what is due, then sleeps until woken or a second passes.
pub fn spawn(im: &Arc<Im>) -> JoinHandle<()> {
    let im = im.clone();
    tokio::spawn(async move {
        loop {
            let due = match im.claim_due().await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "app callbacks unreadable");
                    Vec::new()
                }
            };
            let idle = due.is_empty();
            for row in due {
                let Ok(slot) = im.callbacks.slots.clone().acquire_owned().await else {
                    return;
                };
                let im = im.clone();
                tokio::spawn(async move {
                    if let Err(error) = im.deliver(row).await {
                        tracing::warn!(%error, "app callback not recorded");
                    }
                    drop(slot);
                });
            }
            if idle {
                tokio::select! {
                    () = im.callbacks.notify.notified() => {}
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff_ms(1), 1000);
        assert_eq!(backoff_ms(2), 2000);
        assert_eq!(backoff_ms(4), 8000);
        assert_eq!(backoff_ms(30), 256_000);
    }
}

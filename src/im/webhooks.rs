//! Webhooks for existing back-ends: message, offline-message (to drive mobile push) and
//! presence events, POSTed in batches as `{"events":[...]}`, signed with HMAC-SHA256 over
//! `"<timestamp>.<body>"` (headers `X-Switchboard-Timestamp`, `X-Switchboard-Signature:
//! sha256=<hex>`, and `X-Switchboard-Delivery`, stable across retries), retried with
//! exponential backoff. Each endpoint has its own bounded queue and task, so a dead endpoint
//! delays nobody else; when its queue is full, new events for it are dropped and counted.
//! Every batch's outcome is recorded (`deliveries.rs`: the last 100 per endpoint).

use crate::locks::RwLockExt;
use std::{
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    deliveries::{self, Delivery, DeliveryStatus},
    model::{ConversationKind, MessageKind},
    offline::{OfflineListener, OfflineMessage},
    ops::NewMessage,
    protocol::MessageView,
};
use crate::directory::StaffId;

/// Event names a webhook may subscribe to.
pub const EVENTS: &[&str] = &["message", "message.offline", "presence"];
/// Events per POST at most.
const BATCH: usize = 100;
/// How long an event may wait for companions before its batch is sent.
const LINGER: Duration = Duration::from_millis(500);
/// Events queued per endpoint.
const QUEUE: usize = 20_000;
/// Attempts per batch (the first and the retries).
const ATTEMPTS: u32 = 6;

/// A registered endpoint (the secret is never shown again after creation).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    #[serde(skip_serializing)]
    pub secret: String,
}

struct Endpoint {
    hook: Webhook,
    tx: mpsc::Sender<Value>,
}

/// The webhook deliveries of this node.
pub struct Webhooks {
    endpoints: RwLock<Vec<Endpoint>>,
    active: AtomicBool,
    client: reqwest::Client,
    dropped: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    /// Who else hears offline messages (offline push).
    listeners: RwLock<Vec<Arc<dyn OfflineListener>>>,
    listening: AtomicBool,
}

impl Default for Webhooks {
    fn default() -> Self {
        Self {
            endpoints: RwLock::new(Vec::new()),
            active: AtomicBool::new(false),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            dropped: Arc::new(AtomicU64::new(0)),
            failed: Arc::new(AtomicU64::new(0)),
            listeners: RwLock::new(Vec::new()),
            listening: AtomicBool::new(false),
        }
    }
}

/// The signature header value of a body sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Webhooks {
    /// Whether any endpoint is registered (if not, no event is even built).
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Whether anyone hears offline messages (if not, the dispatcher does not look for them).
    pub fn wants_offline(&self) -> bool {
        self.active() || self.listening.load(Ordering::Relaxed)
    }

    /// Adds a listener for offline messages.
    pub fn listen_offline(&self, listener: Arc<dyn OfflineListener>) {
        self.listeners.write_or_recover().push(listener);
        self.listening.store(true, Ordering::Relaxed);
    }

    /// Events dropped because an endpoint's queue was full, and batches given up on.
    pub fn counters(&self) -> (u64, u64) {
        (
            self.dropped.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    /// Replaces the endpoints (their old tasks finish what they hold, then stop); deliveries
    /// are recorded in `db`.
    pub fn reload(&self, hooks: Vec<Webhook>, db: &sea_orm::DatabaseConnection) {
        let mut endpoints = Vec::with_capacity(hooks.len());
        for hook in hooks {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(deliver_loop(
                self.client.clone(),
                hook.clone(),
                rx,
                self.failed.clone(),
                db.clone(),
            ));
            endpoints.push(Endpoint { hook, tx });
        }
        self.active.store(!endpoints.is_empty(), Ordering::Relaxed);
        *self.endpoints.write_or_recover() = endpoints;
    }

    fn publish(&self, event: &str, payload: Value) {
        let endpoints = self.endpoints.read_or_recover();
        for endpoint in endpoints.iter() {
            if endpoint.hook.events.iter().any(|e| e == event)
                && endpoint.tx.try_send(payload.clone()).is_err()
            {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn message(&self, kind: ConversationKind, view: &MessageView) {
        self.publish(
            "message",
            json!({"event": "message", "conversation_kind": kind, "message": view}),
        );
    }

    pub fn offline(&self, kind: ConversationKind, row: &NewMessage, to: &[StaffId]) {
        let preview: String = match row.kind {
            MessageKind::Text => serde_json::from_str::<Value>(&row.body)
                .ok()
                .and_then(|b| b.get("text").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default()
                .chars()
                .take(100)
                .collect(),
            other => format!("[{}]", other.as_str()),
        };
        if self.active() {
            self.publish(
                "message.offline",
                json!({
                    "event": "message.offline", "to": to, "conversation": row.conversation,
                    "conversation_kind": kind, "seq": row.seq, "msg_id": row.msg_id,
                    "sender": row.sender, "kind": row.kind, "preview": preview, "ts": row.ts,
                }),
            );
        }
        let listeners = self.listeners.read_or_recover();
        for listener in listeners.iter() {
            listener.offline(OfflineMessage {
                conversation: row.conversation,
                conversation_kind: kind,
                seq: row.seq,
                msg_id: row.msg_id,
                sender: row.sender,
                kind: row.kind,
                preview: preview.clone(),
                mentions: row.mentions.clone(),
                ts: row.ts,
                to: to.to_vec(),
            });
        }
    }

    pub fn presence(&self, staff: StaffId, online: bool) {
        if self.active() {
            self.publish(
                "presence",
                json!({"event": "presence", "staff": staff, "online": online,
                       "ts": super::model::now_millis()}),
            );
        }
    }
}

async fn deliver_loop(
    client: reqwest::Client,
    hook: Webhook,
    mut rx: mpsc::Receiver<Value>,
    failed: Arc<AtomicU64>,
    db: sea_orm::DatabaseConnection,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let Some(first) = rx.recv().await else {
            return;
        };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(event)) => batch.push(event),
                Ok(None) | Err(_) => break,
            }
        }
        let events = batch.len() as u32;
        let body =
            serde_json::to_vec(&json!({"events": std::mem::take(&mut batch)})).unwrap_or_default();
        let delivery = post_with_retries(&client, &hook, body, events).await;
        if delivery.status == DeliveryStatus::Failed {
            failed.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(error) = deliveries::record(&db, &delivery).await {
            tracing::warn!(%error, url = %hook.url, "webhook delivery not recorded");
        }
    }
}

async fn post_with_retries(
    client: &reqwest::Client,
    hook: &Webhook,
    body: Vec<u8>,
    events: u32,
) -> Delivery {
    let id = Uuid::now_v7();
    let delivery = id.to_string();
    let started = std::time::Instant::now();
    let mut outcome = Delivery {
        id,
        webhook_id: hook.id,
        status: DeliveryStatus::Failed,
        attempts: 0,
        events,
        response_code: None,
        error: None,
        at: 0,
        duration_ms: 0,
    };
    let finish = |mut outcome: Delivery| {
        outcome.at = super::model::now_millis();
        outcome.duration_ms = started.elapsed().as_millis() as u64;
        outcome
    };
    let mut backoff = Duration::from_millis(250);
    for attempt in 1..=ATTEMPTS {
        outcome.attempts = attempt;
        let timestamp = chrono::Utc::now().timestamp();
        let result = client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("x-switchboard-timestamp", timestamp.to_string())
            .header(
                "x-switchboard-signature",
                sign(&hook.secret, timestamp, &body),
            )
            .header("x-switchboard-delivery", &delivery)
            .body(body.clone())
            .send()
            .await;
        match result {
            Ok(response) if response.status().is_success() => {
                outcome.status = DeliveryStatus::Ok;
                outcome.response_code = Some(response.status().as_u16());
                outcome.error = None;
                return finish(outcome);
            }
            Ok(response) => {
                tracing::warn!(url = %hook.url, status = %response.status(), attempt, "webhook refused");
                outcome.response_code = Some(response.status().as_u16());
                outcome.error = Some(format!("answered {}", response.status()));
            }
            Err(error) => {
                tracing::warn!(url = %hook.url, %error, attempt, "webhook unreachable");
                outcome.response_code = None;
                outcome.error = Some(error.to_string());
            }
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }
    tracing::error!(url = %hook.url, %delivery, "webhook batch dropped after retries");
    finish(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_timestamp_and_body() {
        let a = sign("s3cret", 1_700_000_000, b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, sign("s3cret", 1_700_000_001, b"{}"));
        assert_ne!(a, sign("other", 1_700_000_000, b"{}"));
    }
}

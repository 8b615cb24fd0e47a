//! What administrators manage: run-time settings, webhook endpoints (with their recent
//! deliveries) and the API keys of the server API (stored as SHA-256 hashes and their first
//! characters; the key itself is shown once). Every change is written with its audit line in
//! one journal transaction.

use crate::locks::RwLockExt;
use rand::RngExt;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, OnConflict},
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    Im, ImError,
    config::Settings,
    deliveries::{self, Delivery},
    entities::{api_key, setting, webhook},
    webhooks::{EVENTS, Webhook},
};
use crate::store::{Actor, AuditEntry, EntityKind, StoreError};

const SETTINGS_KEY: &str = "settings";
/// API keys start with this, so they are recognisable (and distinguishable from tokens).
pub const API_KEY_PREFIX: &str = "sbk_";

/// An API key as listed (never the key itself).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyInfo {
    pub id: Uuid,
    pub name: String,
    /// The key's first characters (`sbk_1a2b3c4d`), to recognise it; `null` for keys made
    /// before they were kept.
    pub prefix: Option<String>,
    pub created_at: i64,
    pub revoked: bool,
}

/// Characters of a key kept to recognise it: the `sbk_` prefix and 8 of its 48 hex digits.
const SHOWN_PREFIX: usize = API_KEY_PREFIX.len() + 8;

pub(super) fn journal_error(error: StoreError) -> ImError {
    ImError::Internal(error.to_string())
}

/// What is stored of a key: its SHA-256 (the key is shown once, never kept).
pub(super) fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// 24 random bytes as hex: the secret part of a key, or a callback secret.
pub(super) fn random_secret() -> String {
    let secret: [u8; 24] = rand::rng().random();
    hex::encode(secret)
}

/// A new key (API keys and apps' keys alike): the key, shown once; its first characters, kept
/// to recognise it; and its hash, kept to check it.
pub(super) struct NewKey {
    pub key: String,
    pub prefix: String,
    pub hash: String,
}

impl NewKey {
    pub(super) fn generate() -> Self {
        let key = format!("{API_KEY_PREFIX}{}", random_secret());
        Self {
            prefix: key[..SHOWN_PREFIX].to_owned(),
            hash: hash_key(&key),
            key,
        }
    }
}

impl Im {
    /// Loads settings and webhooks at start.
    pub(crate) async fn load_admin_state(&self) -> Result<(), ImError> {
        if let Some(row) = setting::Entity::find_by_id(SETTINGS_KEY.to_owned())
            .one(&self.db)
            .await?
        {
            match serde_json::from_str::<Settings>(&row.value) {
                Ok(settings) => *self.settings_mut() = settings,
                Err(error) => {
                    tracing::warn!(%error, "stored messaging settings unreadable; using defaults")
                }
            }
        }
        self.reload_webhooks().await
    }

    fn settings_mut(&self) -> std::sync::RwLockWriteGuard<'_, Settings> {
        self.settings.write_or_recover()
    }

    /// The settings in force.
    pub fn settings(&self) -> Settings {
        self.settings.read_or_recover().clone()
    }

    /// Replaces the settings.
    pub async fn set_settings(
        &self,
        actor: &Actor,
        settings: Settings,
    ) -> Result<Settings, ImError> {
        settings.check()?;
        let value =
            serde_json::to_string(&settings).map_err(|e| ImError::Internal(e.to_string()))?;
        let mut txn = self
            .directory
            .journal()
            .begin(actor)
            .await
            .map_err(journal_error)?;
        txn.audit(AuditEntry {
            action: "im.settings",
            entity_kind: EntityKind::Setting,
            entity_id: None,
            before: AuditEntry::json(&self.settings()),
            after: AuditEntry::json(&settings),
        });
        setting::Entity::insert(setting::ActiveModel {
            key: Set(SETTINGS_KEY.to_owned()),
            value: Set(value),
        })
        .on_conflict(
            OnConflict::column(setting::Column::Key)
                .update_column(setting::Column::Value)
                .to_owned(),
        )
        .exec_without_returning(txn.txn())
        .await?;
        txn.commit(|_| *self.settings_mut() = settings.clone())
            .await
            .map_err(journal_error)?;
        Ok(settings)
    }

    async fn reload_webhooks(&self) -> Result<(), ImError> {
        let hooks = self.webhooks().await?;
        self.webhooks.reload(hooks, &self.db);
        Ok(())
    }

    /// The registered webhooks.
    pub async fn webhooks(&self) -> Result<Vec<Webhook>, ImError> {
        Ok(webhook::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| Webhook {
                id: row.id,
                url: row.url,
                events: row
                    .events
                    .split(',')
                    .filter(|e| !e.is_empty())
                    .map(str::to_owned)
                    .collect(),
                secret: row.secret,
            })
            .collect())
    }

    /// One webhook.
    pub async fn webhook(&self, id: Uuid) -> Result<Webhook, ImError> {
        self.webhooks()
            .await?
            .into_iter()
            .find(|h| h.id == id)
            .ok_or_else(|| ImError::NotFound("webhook".into()))
    }

    /// Registers a webhook endpoint.
    pub async fn add_webhook(
        &self,
        actor: &Actor,
        url: &str,
        secret: &str,
        events: &[String],
    ) -> Result<Webhook, ImError> {
        let hook = Webhook {
            id: Uuid::now_v7(),
            url: url.trim().to_owned(),
            events: events.to_vec(),
            secret: secret.to_owned(),
        };
        check_webhook(&hook)?;
        let mut txn = self
            .directory
            .journal()
            .begin(actor)
            .await
            .map_err(journal_error)?;
        webhook::Entity::insert(webhook::ActiveModel {
            id: Set(hook.id),
            url: Set(hook.url.clone()),
            secret: Set(hook.secret.clone()),
            events: Set(hook.events.join(",")),
            created_at: Set(super::model::now_millis()),
        })
        .exec_without_returning(txn.txn())
        .await?;
        txn.audit(AuditEntry {
            action: "webhook.create",
            entity_kind: EntityKind::Webhook,
            entity_id: Some(hook.id),
            before: None,
            after: AuditEntry::json(&hook),
        });
        txn.commit(|_| ()).await.map_err(journal_error)?;
        self.reload_webhooks().await?;
        Ok(hook)
    }

    /// Changes a webhook's URL and events, and its secret when `secret` is given.
    pub async fn update_webhook(
        &self,
        actor: &Actor,
        id: Uuid,
        url: &str,
        secret: Option<&str>,
        events: &[String],
    ) -> Result<Webhook, ImError> {
        let before = self.webhook(id).await?;
        let hook = Webhook {
            id,
            url: url.trim().to_owned(),
            events: events.to_vec(),
            secret: secret.map_or_else(|| before.secret.clone(), str::to_owned),
        };
        check_webhook(&hook)?;
        let mut txn = self
            .directory
            .journal()
            .begin(actor)
            .await
            .map_err(journal_error)?;
        webhook::Entity::update_many()
            .col_expr(webhook::Column::Url, Expr::value(hook.url.clone()))
            .col_expr(webhook::Column::Secret, Expr::value(hook.secret.clone()))
            .col_expr(webhook::Column::Events, Expr::value(hook.events.join(",")))
            .filter(webhook::Column::Id.eq(id))
            .exec(txn.txn())
            .await?;
        txn.audit(AuditEntry {
            action: "webhook.update",
            entity_kind: EntityKind::Webhook,
            entity_id: Some(id),
            before: AuditEntry::json(&before),
            after: AuditEntry::json(&serde_json::json!({
                "url": hook.url, "events": hook.events, "secret_changed": secret.is_some(),
            })),
        });
        txn.commit(|_| ()).await.map_err(journal_error)?;
        self.reload_webhooks().await?;
        Ok(hook)
    }

    pub async fn remove_webhook(&self, actor: &Actor, id: Uuid) -> Result<(), ImError> {
        let before = self.webhook(id).await?;
        let mut txn = self
            .directory
            .journal()
            .begin(actor)
            .await
            .map_err(journal_error)?;
        webhook::Entity::delete_by_id(id).exec(txn.txn()).await?;
        deliveries::remove_all(txn.txn(), id).await?;
        txn.audit(AuditEntry {
            action: "webhook.delete",
            entity_kind: EntityKind::Webhook,
            entity_id: Some(id),
            before: AuditEntry::json(&before),
            after: None,
        });
        txn.commit(|_| ()).await.map_err(journal_error)?;
        self.reload_webhooks().await
    }

    /// A webhook's recent deliveries, newest first (at most `deliveries::KEEP` are kept).
    pub async fn webhook_deliveries(&self, id: Uuid, limit: u64) -> Result<Vec<Delivery>, ImError> {
        self.webhook(id).await?;
        deliveries::list(&self.db, id, limit).await
    }

    /// Creates an API key; the returned key is shown once.
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<(ApiKeyInfo, String), ImError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ImError::invalid("name", "1 to 100 characters"));
        }
        let NewKey { key, prefix, hash } = NewKey::generate();
        let info = ApiKeyInfo {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            prefix: Some(prefix),
            created_at: super::model::now_millis(),
            revoked: false,
        };
        let mut txn = self
            .directory
            .journal()
            .begin(actor)
            .await
            .map_err(journal_error)?;
        api_key::Entity::insert(api_key::ActiveModel {
            id: Set(info.id),
            name: Set(info.name.clone()),
            key_hash: Set(hash),
            key_prefix: Set(info.prefix.clone()),
            created_at: Set(info.created_at),
            revoked: Set(false),
        })
        .exec_without_returning(txn.txn())
        .await?;
        txn.audit(AuditEntry {
            action: "api_key.create",
            entity_kind: EntityKind::ApiKey,
            entity_id: Some(info.id),
            before: None,
            after: AuditEntry::json(&info),
        });
        txn.commit(|_| ()).await.map_err(journal_error)?;
        Ok((info, key))
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKeyInfo>, ImError> {
        Ok(api_key::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| ApiKeyInfo {
                id: row.id,
                name: row.name,
                prefix: row.key_prefix,
                created_at: row.created_at,
                revoked: row.revoked,
            })
            .collect())
    }

    pub async fn revoke_api_key(&self, actor: &Actor, id: Uuid) -> Result<(), ImError> {
        let mut txn = self
            .directory
            .journal()
            .begin(actor)
            .await
            .map_err(journal_error)?;
        let result = api_key::Entity::update_many()
            .col_expr(
                api_key::Column::Revoked,
                sea_orm::sea_query::Expr::value(true),
            )
            .filter(api_key::Column::Id.eq(id))
            .exec(txn.txn())
            .await?;
        if result.rows_affected == 0 {
            return Err(ImError::NotFound("API key".into()));
        }
        txn.audit(AuditEntry {
            action: "api_key.revoke",
            entity_kind: EntityKind::ApiKey,
            entity_id: Some(id),
            before: None,
            after: AuditEntry::json(&serde_json::json!({ "revoked": true })),
        });
        txn.commit(|_| ()).await.map_err(journal_error)?;
        Ok(())
    }

    /// Checks an API key; returns its name (for logs).
    pub async fn check_api_key(&self, key: &str) -> Result<String, ImError> {
        if !key.starts_with(API_KEY_PREFIX) {
            return Err(ImError::Unauthorized("not an API key".into()));
        }
        let row = api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(hash_key(key)))
            .one(&self.db)
            .await?;
        match row {
            Some(row) if !row.revoked => Ok(row.name),
            _ => Err(ImError::Unauthorized("unknown or revoked API key".into())),
        }
    }
}

/// The rules of a webhook: an http(s) URL, a secret of 16 characters or more, known events.
fn check_webhook(hook: &Webhook) -> Result<(), ImError> {
    // The URLs the OpenAPI document allows (a host name or IPv4 address, a port, a path).
    if !crate::config::address::is_plain_http_url(&hook.url)
        || reqwest::Url::parse(&hook.url).is_err()
    {
        return Err(ImError::invalid(
            "url",
            "must be an http(s) URL: a host name or IPv4 address, a port, a path",
        ));
    }
    if hook.secret.chars().count() < 16 {
        return Err(ImError::invalid("secret", "at least 16 characters"));
    }
    if hook.events.is_empty() {
        return Err(ImError::invalid(
            "events",
            format!("one or more of {}", EVENTS.join(", ")),
        ));
    }
    if let Some(bad) = hook.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(ImError::invalid("events", format!("unknown event '{bad}'")));
    }
    Ok(())
}

//! What administrators manage: run-time settings, webhook endpoints and the API keys of the
//! server API (stored as SHA-256 hashes; the key itself is shown once).

use crate::locks::RwLockExt;
use rand::RngExt;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::OnConflict};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    Im, ImError,
    config::Settings,
    entities::{api_key, setting, webhook},
    webhooks::{EVENTS, Webhook},
};

const SETTINGS_KEY: &str = "settings";
/// API keys start with this, so they are recognisable (and distinguishable from tokens).
pub const API_KEY_PREFIX: &str = "sbk_";

/// An API key as listed (never the key itself).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyInfo {
    pub id: Uuid,
    pub name: String,
    pub created_at: i64,
    pub revoked: bool,
}

fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
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
    pub async fn set_settings(&self, settings: Settings) -> Result<Settings, ImError> {
        settings.check()?;
        let value =
            serde_json::to_string(&settings).map_err(|e| ImError::Internal(e.to_string()))?;
        setting::Entity::insert(setting::ActiveModel {
            key: Set(SETTINGS_KEY.to_owned()),
            value: Set(value),
        })
        .on_conflict(
            OnConflict::column(setting::Column::Key)
                .update_column(setting::Column::Value)
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        *self.settings_mut() = settings.clone();
        Ok(settings)
    }

    async fn reload_webhooks(&self) -> Result<(), ImError> {
        let hooks = self.webhooks().await?;
        self.webhooks.reload(hooks);
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

    /// Registers a webhook endpoint.
    pub async fn add_webhook(
        &self,
        url: &str,
        secret: &str,
        events: &[String],
    ) -> Result<Webhook, ImError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| ImError::invalid("url", "not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ImError::invalid("url", "must be http or https"));
        }
        if secret.len() < 16 {
            return Err(ImError::invalid("secret", "at least 16 characters"));
        }
        if events.is_empty() {
            return Err(ImError::invalid(
                "events",
                format!("one or more of {}", EVENTS.join(", ")),
            ));
        }
        if let Some(bad) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
            return Err(ImError::invalid("events", format!("unknown event '{bad}'")));
        }
        let hook = Webhook {
            id: Uuid::now_v7(),
            url: url.to_owned(),
            events: events.to_vec(),
            secret: secret.to_owned(),
        };
        webhook::Entity::insert(webhook::ActiveModel {
            id: Set(hook.id),
            url: Set(hook.url.clone()),
            secret: Set(hook.secret.clone()),
            events: Set(hook.events.join(",")),
            created_at: Set(super::model::now_millis()),
        })
        .exec_without_returning(&self.db)
        .await?;
        self.reload_webhooks().await?;
        Ok(hook)
    }

    pub async fn remove_webhook(&self, id: Uuid) -> Result<(), ImError> {
        let result = webhook::Entity::delete_by_id(id).exec(&self.db).await?;
        if result.rows_affected == 0 {
            return Err(ImError::NotFound("webhook".into()));
        }
        self.reload_webhooks().await
    }

    /// Creates an API key; the returned key is shown once.
    pub async fn create_api_key(&self, name: &str) -> Result<(ApiKeyInfo, String), ImError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ImError::invalid("name", "1 to 100 characters"));
        }
        let secret: [u8; 24] = rand::rng().random();
        let key = format!("{API_KEY_PREFIX}{}", hex::encode(secret));
        let info = ApiKeyInfo {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            created_at: super::model::now_millis(),
            revoked: false,
        };
        api_key::Entity::insert(api_key::ActiveModel {
            id: Set(info.id),
            name: Set(info.name.clone()),
            key_hash: Set(hash_key(&key)),
            created_at: Set(info.created_at),
            revoked: Set(false),
        })
        .exec_without_returning(&self.db)
        .await?;
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
                created_at: row.created_at,
                revoked: row.revoked,
            })
            .collect())
    }

    pub async fn revoke_api_key(&self, id: Uuid) -> Result<(), ImError> {
        let result = api_key::Entity::update_many()
            .col_expr(
                api_key::Column::Revoked,
                sea_orm::sea_query::Expr::value(true),
            )
            .filter(api_key::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(ImError::NotFound("API key".into()));
        }
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

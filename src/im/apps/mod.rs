//! Apps: back-end programs IT registers (a name, an avatar, a callback URL, what they may
//! reach) that send **cards** — messages with actions — and hear, through signed callbacks,
//! what people chose. An app is a sender of its own kind: its cards have no `sender`, and
//! name the app in their body. It owns the `im_apps`, `im_cards`, `im_card_actions` and
//! `im_app_callbacks` tables; cards are stored and delivered as messages by the writer.

mod callbacks;
mod card;
mod cards;
mod entities;
mod reach;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use callbacks::{Callback, CallbackStatus, Callbacks, spawn as spawn_callbacks};
pub use card::{CardAction, CardContent, CardField, Decision, MAX_COMMENT};
pub use cards::{CardTargets, SentCard};
pub use reach::{AppDepartment, AppPerson};

use super::{
    Im, ImError,
    admin::{API_KEY_PREFIX, NewKey, hash_key, journal_error, random_secret},
};
use crate::store::{Actor, AuditEntry, EntityKind};
use entities::app;

/// Whom an app may send cards to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReachKind {
    /// Anyone, any group, any department.
    Everyone,
    /// The people of these departments (and of the departments below them), and their chats.
    Departments,
    /// These groups and their members.
    Groups,
}

impl ReachKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Everyone => "everyone",
            Self::Departments => "departments",
            Self::Groups => "groups",
        }
    }
    fn parse(text: &str) -> Self {
        match text {
            "departments" => Self::Departments,
            "groups" => Self::Groups,
            _ => Self::Everyone,
        }
    }
}

/// What an app may reach: `ids` are department ids or group conversation ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reach {
    pub kind: ReachKind,
    /// Empty for `everyone`.
    #[serde(default)]
    #[schema(max_items = 200)]
    pub ids: Vec<Uuid>,
}

/// A registered app (never its key or secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct App {
    pub id: Uuid,
    pub name: String,
    /// An http(s) URL of its picture.
    pub avatar: Option<String>,
    /// Where the signed `card.action` callbacks go.
    pub callback_url: String,
    pub reach: Reach,
    /// The key's first characters (`sbk_1a2b3c4d`), to recognise it.
    pub key_prefix: String,
    pub created_at: i64,
    /// A revoked app's key is refused; its cards stay, without further actions.
    pub revoked: bool,
}

/// An app's name, picture, callback and reach (to register or change it).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppInput {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 1000, pattern = r"^https?://\S+$")]
    pub avatar: Option<String>,
    pub callback_url: String,
    pub reach: Reach,
}

fn app_of(row: app::Model) -> App {
    App {
        id: row.id,
        name: row.name,
        avatar: row.avatar,
        callback_url: row.callback_url,
        reach: Reach {
            kind: ReachKind::parse(&row.reach),
            ids: serde_json::from_str(&row.reach_ids).unwrap_or_default(),
        },
        key_prefix: row.key_prefix,
        created_at: row.created_at,
        revoked: row.revoked,
    }
}

impl AppInput {
    fn check(&self) -> Result<(), ImError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ImError::invalid("name", "1 to 100 characters"));
        }
        if let Some(avatar) = &self.avatar
            && !card::plain_http_url(avatar)
        {
            return Err(ImError::invalid(
                "avatar",
                "an http(s) URL of at most 1000 characters",
            ));
        }
        if !crate::config::address::is_plain_http_url(&self.callback_url)
            || reqwest::Url::parse(&self.callback_url).is_err()
        {
            return Err(ImError::invalid(
                "callback_url",
                "must be an http(s) URL: a host name or IPv4 address, a port, a path",
            ));
        }
        match self.reach.kind {
            ReachKind::Everyone if !self.reach.ids.is_empty() => Err(ImError::invalid(
                "reach.ids",
                "must be empty when the reach is everyone",
            )),
            ReachKind::Departments | ReachKind::Groups if self.reach.ids.is_empty() => Err(
                ImError::invalid("reach.ids", "name one department or group or more"),
            ),
            _ if self.reach.ids.len() > 200 => Err(ImError::invalid("reach.ids", "at most 200")),
            _ => Ok(()),
        }
    }
}

impl Im {
    /// Registers an app; the answer's key and callback secret are shown this once.
    pub async fn create_app(
        &self,
        actor: &Actor,
        input: &AppInput,
    ) -> Result<(App, String, String), ImError> {
        input.check()?;
        self.check_reach_ids(&input.reach)?;
        let NewKey { key, prefix, hash } = NewKey::generate();
        let secret = random_secret();
        let row = app::Model {
            id: Uuid::now_v7(),
            name: input.name.trim().to_owned(),
            avatar: input.avatar.clone(),
            callback_url: input.callback_url.trim().to_owned(),
            secret: secret.clone(),
            reach: input.reach.kind.as_str().to_owned(),
            reach_ids: serde_json::to_string(&input.reach.ids)
                .map_err(|e| ImError::Internal(e.to_string()))?,
            key_hash: hash,
            key_prefix: prefix,
            created_at: super::model::now_millis(),
            revoked: false,
        };
        let app = app_of(row.clone());
        let mut txn = self
            .directory
            .journal()
            .begin(actor)
            .await
            .map_err(journal_error)?;
        app::Entity::insert(app::ActiveModel::from(row))
            .exec_without_returning(txn.txn())
            .await?;
        txn.audit(AuditEntry {
            action: "app.create",
            entity_kind: EntityKind::App,
            entity_id: Some(app.id),
            before: None,
            after: AuditEntry::json(&app),
        });
        txn.commit(|_| ()).await.map_err(journal_error)?;
        Ok((app, key, secret))
    }

    /// Every app, newest first.
    pub async fn apps(&self) -> Result<Vec<App>, ImError> {
        let mut apps: Vec<App> = app::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(app_of)
            .collect();
        apps.sort_by_key(|a| std::cmp::Reverse(a.created_at));
        Ok(apps)
    }

    pub async fn app(&self, id: Uuid) -> Result<App, ImError> {
        app::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(app_of)
            .ok_or_else(|| ImError::NotFound("app".into()))
    }

    /// Changes an app's name, picture, callback URL and reach (its key stays).
    pub async fn update_app(
        &self,
        actor: &Actor,
        id: Uuid,
        input: &AppInput,
    ) -> Result<App, ImError> {
        input.check()?;
        self.check_reach_ids(&input.reach)?;
        let before = self.app(id).await?;
        let mut txn = self
            .directory
            .journal()
            .begin(actor)
            .await
            .map_err(journal_error)?;
        app::Entity::update_many()
            .col_expr(app::Column::Name, Expr::value(input.name.trim()))
            .col_expr(app::Column::Avatar, Expr::value(input.avatar.clone()))
            .col_expr(
                app::Column::CallbackUrl,
                Expr::value(input.callback_url.trim()),
            )
            .col_expr(app::Column::Reach, Expr::value(input.reach.kind.as_str()))
            .col_expr(
                app::Column::ReachIds,
                Expr::value(serde_json::to_string(&input.reach.ids).unwrap_or_default()),
            )
            .filter(app::Column::Id.eq(id))
            .exec(txn.txn())
            .await?;
        let after = App {
            name: input.name.trim().to_owned(),
            avatar: input.avatar.clone(),
            callback_url: input.callback_url.trim().to_owned(),
            reach: input.reach.clone(),
            ..before.clone()
        };
        txn.audit(AuditEntry {
            action: "app.update",
            entity_kind: EntityKind::App,
            entity_id: Some(id),
            before: AuditEntry::json(&before),
            after: AuditEntry::json(&after),
        });
        txn.commit(|_| ()).await.map_err(journal_error)?;
        Ok(after)
    }

    /// Revokes an app's key at once; its cards stay readable and refuse further actions.
    pub async fn revoke_app(&self, actor: &Actor, id: Uuid) -> Result<(), ImError> {
        let before = self.app(id).await?;
        let mut txn = self
            .directory
            .journal()
            .begin(actor)
            .await
            .map_err(journal_error)?;
        app::Entity::update_many()
            .col_expr(app::Column::Revoked, Expr::value(true))
            .filter(app::Column::Id.eq(id))
            .exec(txn.txn())
            .await?;
        txn.audit(AuditEntry {
            action: "app.revoke",
            entity_kind: EntityKind::App,
            entity_id: Some(id),
            before: AuditEntry::json(&before),
            after: AuditEntry::json(&serde_json::json!({ "revoked": true })),
        });
        txn.commit(|_| ()).await.map_err(journal_error)
    }

    /// The app holding `key` (not revoked).
    pub async fn check_app_key(&self, key: &str) -> Result<App, ImError> {
        if !key.starts_with(API_KEY_PREFIX) {
            return Err(ImError::Unauthorized("not an API key".into()));
        }
        match app::Entity::find()
            .filter(app::Column::KeyHash.eq(hash_key(key)))
            .one(&self.db)
            .await?
        {
            Some(row) if !row.revoked => Ok(app_of(row)),
            _ => Err(ImError::Unauthorized("unknown or revoked app key".into())),
        }
    }

    /// An app with its callback secret (for signing).
    async fn app_row(&self, id: Uuid) -> Result<app::Model, ImError> {
        app::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| ImError::NotFound("app".into()))
    }
}

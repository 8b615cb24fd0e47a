//! Per-person mail preferences (`mail_preferences`): whether they want digests of unread
//! messages (opt-in), and the language of their mails. Unsubscribing from a link sets
//! `digest` off without a login.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::OnConflict,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Mail, MailError, entities::preference, outbox::now_ms, settings::Language};
use crate::directory::StaffId;

/// A person's mail preferences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailPreferences {
    /// Mail me my unread messages when I have been away (see the digest settings).
    pub digest: bool,
    /// The language of my mails; `null`: the installation's default.
    pub language: Option<Language>,
}

pub(crate) async fn load<C: ConnectionTrait>(
    db: &C,
    staff: StaffId,
) -> Result<Option<preference::Model>, MailError> {
    Ok(preference::Entity::find_by_id(staff.0).one(db).await?)
}

/// Everyone who asked for digests.
pub(crate) async fn digest_subscribers<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<preference::Model>, MailError> {
    Ok(preference::Entity::find()
        .filter(preference::Column::Digest.eq(true))
        .all(db)
        .await?)
}

async fn save<C: ConnectionTrait>(
    db: &C,
    staff: StaffId,
    digest: bool,
    language: Option<Language>,
) -> Result<(), MailError> {
    preference::Entity::insert(preference::ActiveModel {
        staff_id: Set(staff.0),
        digest: Set(digest),
        language: Set(language.map(|l| l.as_str().to_owned())),
        last_digest_at: Set(0),
        updated_at: Set(now_ms()),
    })
    .on_conflict(
        OnConflict::column(preference::Column::StaffId)
            .update_columns([
                preference::Column::Digest,
                preference::Column::Language,
                preference::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Records that a digest went out at `at`, if nobody recorded a newer one since `seen` was
/// read: false when another pass got there first (its mail stands, this one is dropped).
pub(crate) async fn mark_digest<C: ConnectionTrait>(
    db: &C,
    staff: StaffId,
    seen: i64,
    at: i64,
) -> Result<bool, MailError> {
    use sea_orm::sea_query::Expr;
    let result = preference::Entity::update_many()
        .col_expr(preference::Column::LastDigestAt, Expr::value(at))
        .filter(preference::Column::StaffId.eq(staff.0))
        .filter(preference::Column::LastDigestAt.eq(seen))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

impl Mail {
    /// A person's preferences (defaults when they never chose).
    pub async fn preferences(&self, staff: StaffId) -> Result<MailPreferences, MailError> {
        Ok(match load(&self.db, staff).await? {
            Some(row) => MailPreferences {
                digest: row.digest,
                language: row.language.as_deref().and_then(Language::parse),
            },
            None => MailPreferences {
                digest: false,
                language: None,
            },
        })
    }

    pub async fn set_preferences(
        &self,
        staff: StaffId,
        preferences: MailPreferences,
    ) -> Result<MailPreferences, MailError> {
        if self.directory.read().staff(staff).is_none() {
            return Err(MailError::NotFound(format!("staff {staff}")));
        }
        save(&self.db, staff, preferences.digest, preferences.language).await?;
        self.preferences(staff).await
    }

    /// Stops the digest of the person an unsubscribe token names; their language for the page
    /// that says so. `None` when the token is not genuine.
    pub async fn unsubscribe(&self, token: &str) -> Result<Option<Language>, MailError> {
        let Some(staff) = self.links.verify_unsubscribe(token) else {
            return Ok(None);
        };
        let current = self.preferences(staff).await?;
        save(&self.db, staff, false, current.language).await?;
        tracing::info!(%staff, "unsubscribed from digests by link");
        Ok(Some(current.language.unwrap_or(self.current().language)))
    }

    /// Whose unsubscribe token this is (for the page before the button is pressed).
    pub fn unsubscribe_target(&self, token: &str) -> Option<StaffId> {
        self.links.verify_unsubscribe(token)
    }
}

//! The devices people register for push, and the conversations they silenced for push. Input
//! is parsed here into values that are valid by construction; the API only forwards it.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait, sea_query::OnConflict,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    PushError,
    entities::{device, mute},
    outbox::now_ms,
};
use crate::{directory::StaffId, im::ConversationId};

/// Devices one person may have; registering another forgets their oldest.
pub const MAX_DEVICES: usize = 20;
/// The longest push token (FCM tokens are ~160 bytes, web push endpoints a few hundred).
pub const MAX_TOKEN: usize = 4096;

/// What kind of device a token belongs to (the gateway picks APNs, FCM or Web Push by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Ios,
    Android,
    Web,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ios => "ios",
            Self::Android => "android",
            Self::Web => "web",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "ios" => Self::Ios,
            "android" => Self::Android,
            _ => Self::Web,
        }
    }
}

/// A device to register.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceInput {
    pub platform: Platform,
    /// The push token of the device (the gateway's `pushkey`).
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub token: String,
    /// The language notifications should be in (passed on to the gateway), e.g. `zh-CN`.
    #[schema(pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$")]
    pub language: Option<String>,
    /// The app as the gateway knows it; `switchboard.<platform>` when absent.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    pub app_id: Option<String>,
}

/// A registered device.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Device {
    pub id: Uuid,
    pub platform: Platform,
    pub app_id: String,
    pub token: String,
    pub language: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

fn view(row: device::Model) -> Device {
    Device {
        id: row.id,
        platform: Platform::parse(&row.platform),
        app_id: row.app_id,
        token: row.token,
        language: (!row.language.is_empty()).then_some(row.language),
        created_at: row.created_at,
    }
}

/// The stored key of a token.
fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A BCP 47 tag such as `zh-CN` or `en` (`DeviceInput.language`'s pattern, by hand).
fn is_language(text: &str) -> bool {
    let mut parts = text.split('-');
    let primary = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_alphabetic())
        && rest.len() <= 4
        && rest
            .iter()
            .all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// 1–128 of letters, digits, `.`, `_` and `-` (`DeviceInput.app_id`'s pattern, by hand).
fn is_app_id(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl DeviceInput {
    /// Checks the values against the documented patterns.
    fn check(&self) -> Result<(), PushError> {
        if self.token.is_empty() || self.token.chars().count() > MAX_TOKEN {
            return Err(PushError::invalid(
                "token",
                format!("must be 1 to {MAX_TOKEN} characters"),
            ));
        }
        if self.token.chars().any(char::is_control) {
            return Err(PushError::invalid(
                "token",
                "must not contain control characters",
            ));
        }
        if let Some(language) = &self.language
            && !is_language(language)
        {
            return Err(PushError::invalid(
                "language",
                "must be a language tag such as zh-CN or en",
            ));
        }
        if let Some(app_id) = &self.app_id
            && !is_app_id(app_id)
        {
            return Err(PushError::invalid(
                "app_id",
                "must be 1 to 128 letters, digits, '.', '_' or '-'",
            ));
        }
        Ok(())
    }
}

/// Registers a device for `staff`. A token registered before (by anyone) is moved to `staff`
/// and keeps its id when it was theirs already.
pub(crate) async fn register(
    db: &DatabaseConnection,
    staff: StaffId,
    input: DeviceInput,
) -> Result<Device, PushError> {
    input.check()?;
    let hash = token_hash(&input.token);
    // Writes first, then reads: a transaction that reads before it writes can lose SQLite's
    // write lock to another writer (a 500), and two registrations of one token at once must
    // both succeed. Another person's device with this token goes (the token moved); one of
    // this person's is updated in place and keeps its id.
    let txn = db.begin().await?;
    device::Entity::delete_many()
        .filter(device::Column::TokenHash.eq(hash.clone()))
        .filter(device::Column::StaffId.ne(staff.0))
        .exec(&txn)
        .await?;
    device::Entity::insert(device::ActiveModel {
        id: Set(Uuid::now_v7()),
        staff_id: Set(staff.0),
        platform: Set(input.platform.as_str().to_owned()),
        app_id: Set(input
            .app_id
            .unwrap_or_else(|| format!("switchboard.{}", input.platform.as_str()))),
        token_hash: Set(hash.clone()),
        token: Set(input.token),
        language: Set(input.language.unwrap_or_default()),
        created_at: Set(now_ms()),
    })
    .on_conflict(
        OnConflict::column(device::Column::TokenHash)
            .update_columns([
                device::Column::StaffId,
                device::Column::Platform,
                device::Column::AppId,
                device::Column::Token,
                device::Column::Language,
                device::Column::CreatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let row = device::Entity::find()
        .filter(device::Column::TokenHash.eq(hash))
        .one(&txn)
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("the device just registered".into()))?;
    let mine = device::Entity::find()
        .filter(device::Column::StaffId.eq(staff.0))
        .order_by_desc(device::Column::CreatedAt)
        .order_by_desc(device::Column::Id)
        .all(&txn)
        .await?;
    let surplus: Vec<Uuid> = mine.iter().skip(MAX_DEVICES).map(|d| d.id).collect();
    if !surplus.is_empty() {
        device::Entity::delete_many()
            .filter(device::Column::Id.is_in(surplus))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(view(row))
}

/// A person's devices, newest first.
pub(crate) async fn list<C: ConnectionTrait>(
    db: &C,
    staff: StaffId,
) -> Result<Vec<Device>, PushError> {
    Ok(device::Entity::find()
        .filter(device::Column::StaffId.eq(staff.0))
        .order_by_desc(device::Column::CreatedAt)
        .order_by_desc(device::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(view)
        .collect())
}

/// Removes one of a person's devices.
pub(crate) async fn remove<C: ConnectionTrait>(
    db: &C,
    staff: StaffId,
    id: Uuid,
) -> Result<(), PushError> {
    let removed = device::Entity::delete_many()
        .filter(device::Column::Id.eq(id))
        .filter(device::Column::StaffId.eq(staff.0))
        .exec(db)
        .await?;
    if removed.rows_affected == 0 {
        return Err(PushError::NotFound(format!("device {id}")));
    }
    Ok(())
}

/// Removes every device of a person; how many there were.
pub(crate) async fn forget<C: ConnectionTrait>(db: &C, staff: StaffId) -> Result<u64, PushError> {
    Ok(device::Entity::delete_many()
        .filter(device::Column::StaffId.eq(staff.0))
        .exec(db)
        .await?
        .rows_affected)
}

/// Removes the devices of a person with these tokens (the gateway rejected them).
pub(crate) async fn reject<C: ConnectionTrait>(
    db: &C,
    staff: StaffId,
    tokens: &[String],
) -> Result<u64, PushError> {
    if tokens.is_empty() {
        return Ok(0);
    }
    Ok(device::Entity::delete_many()
        .filter(device::Column::StaffId.eq(staff.0))
        .filter(device::Column::TokenHash.is_in(tokens.iter().map(|t| token_hash(t))))
        .exec(db)
        .await?
        .rows_affected)
}

/// Of `staff`, those with at least one device.
pub(crate) async fn with_devices<C: ConnectionTrait>(
    db: &C,
    staff: &[StaffId],
) -> Result<std::collections::HashSet<StaffId>, PushError> {
    let mut found = std::collections::HashSet::new();
    for chunk in staff.chunks(500) {
        let rows = device::Entity::find()
            .filter(device::Column::StaffId.is_in(chunk.iter().map(|s| s.0)))
            .all(db)
            .await?;
        found.extend(rows.into_iter().map(|r| StaffId(r.staff_id)));
    }
    Ok(found)
}

/// A conversation a person silenced for push.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Mute {
    pub conversation_id: ConversationId,
    /// Milliseconds since the Unix epoch; `null`: until unmuted.
    pub until: Option<i64>,
}

/// How long to silence a conversation.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MuteInput {
    /// Milliseconds since the Unix epoch; absent or `null`: until unmuted.
    pub until: Option<i64>,
}

/// Silences a conversation for a person's push (until a time, or until unmuted).
pub(crate) async fn mute<C: ConnectionTrait>(
    db: &C,
    staff: StaffId,
    conversation: ConversationId,
    input: MuteInput,
) -> Result<Mute, PushError> {
    if let Some(until) = input.until
        && !(1..=9_007_199_254_740_991).contains(&until)
    {
        return Err(PushError::invalid(
            "until",
            "must be milliseconds since the Unix epoch",
        ));
    }
    mute::Entity::insert(mute::ActiveModel {
        staff_id: Set(staff.0),
        conversation_id: Set(conversation.0),
        muted_until: Set(input.until.unwrap_or(0)),
    })
    .on_conflict(
        OnConflict::columns([mute::Column::StaffId, mute::Column::ConversationId])
            .update_column(mute::Column::MutedUntil)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(Mute {
        conversation_id: conversation,
        until: input.until,
    })
}

/// Lets a conversation's push through again.
pub(crate) async fn unmute<C: ConnectionTrait>(
    db: &C,
    staff: StaffId,
    conversation: ConversationId,
) -> Result<(), PushError> {
    mute::Entity::delete_many()
        .filter(mute::Column::StaffId.eq(staff.0))
        .filter(mute::Column::ConversationId.eq(conversation.0))
        .exec(db)
        .await?;
    Ok(())
}

/// A person's muted conversations (those whose time has not run out).
pub(crate) async fn mutes<C: ConnectionTrait>(
    db: &C,
    staff: StaffId,
) -> Result<Vec<Mute>, PushError> {
    let now = now_ms();
    Ok(mute::Entity::find()
        .filter(mute::Column::StaffId.eq(staff.0))
        .order_by_asc(mute::Column::ConversationId)
        .all(db)
        .await?
        .into_iter()
        .filter(|m| m.muted_until == 0 || m.muted_until > now)
        .map(|m| Mute {
            conversation_id: ConversationId(m.conversation_id),
            until: (m.muted_until != 0).then_some(m.muted_until),
        })
        .collect())
}

/// Of `staff`, those who silenced `conversation` now.
pub(crate) async fn muted<C: ConnectionTrait>(
    db: &C,
    conversation: ConversationId,
    staff: &[StaffId],
) -> Result<std::collections::HashSet<StaffId>, PushError> {
    let now = now_ms();
    let mut found = std::collections::HashSet::new();
    for chunk in staff.chunks(500) {
        let rows = mute::Entity::find()
            .filter(mute::Column::ConversationId.eq(conversation.0))
            .filter(mute::Column::StaffId.is_in(chunk.iter().map(|s| s.0)))
            .all(db)
            .await?;
        found.extend(
            rows.into_iter()
                .filter(|m| m.muted_until == 0 || m.muted_until > now)
                .map(|m| StaffId(m.staff_id)),
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(token: &str, language: Option<&str>, app_id: Option<&str>) -> DeviceInput {
        DeviceInput {
            platform: Platform::Ios,
            token: token.into(),
            language: language.map(str::to_owned),
            app_id: app_id.map(str::to_owned),
        }
    }

    #[test]
    fn inputs_are_checked_as_documented() {
        assert!(
            input("abc", Some("zh-CN"), Some("com.example.app"))
                .check()
                .is_ok()
        );
        assert!(input("abc", None, None).check().is_ok());
        for (bad, field) in [
            (input("", None, None), "token"),
            (input(&"x".repeat(MAX_TOKEN + 1), None, None), "token"),
            (input("a\nb", None, None), "token"),
            (input("abc", Some("chinese!"), None), "language"),
            (input("abc", None, Some("a b")), "app_id"),
        ] {
            match bad.check() {
                Err(PushError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}

//! Storage of local accounts (the `accounts` table), cached in memory for token checks.

use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, sea_query::OnConflict};
use uuid::Uuid;

use super::AuthError;
use crate::directory::StaffId;

pub mod account_row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub login: Option<String>,
        pub password_hash: Option<String>,
        pub staff_id: Option<Uuid>,
        pub is_admin: bool,
        pub token_epoch: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A way to log in: a service account with its own login, or a staff member's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: Uuid,
    /// Set for service accounts only; staff log in with their directory login.
    pub login: Option<String>,
    pub password_hash: Option<String>,
    pub staff_id: Option<StaffId>,
    pub is_admin: bool,
    pub token_epoch: i64,
}

impl Account {
    fn from_row(row: account_row::Model) -> Self {
        Self {
            id: row.id,
            login: row.login,
            password_hash: row.password_hash,
            staff_id: row.staff_id.map(StaffId),
            is_admin: row.is_admin,
            token_epoch: row.token_epoch,
        }
    }

    fn to_row(&self, now: i64) -> account_row::ActiveModel {
        account_row::ActiveModel {
            id: Set(self.id),
            login: Set(self.login.clone()),
            password_hash: Set(self.password_hash.clone()),
            staff_id: Set(self.staff_id.map(|s| s.0)),
            is_admin: Set(self.is_admin),
            token_epoch: Set(self.token_epoch),
            created_at: Set(now),
            updated_at: Set(now),
        }
    }
}

pub async fn load_all(db: &impl ConnectionTrait) -> Result<Vec<Account>, AuthError> {
    Ok(account_row::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(Account::from_row)
        .collect())
}

/// Inserts or replaces accounts.
pub async fn save(db: &impl ConnectionTrait, accounts: &[Account]) -> Result<(), AuthError> {
    use account_row::Column as C;
    let now = chrono::Utc::now().timestamp_millis();
    for chunk in accounts.chunks(2_000) {
        account_row::Entity::insert_many(chunk.iter().map(|a| a.to_row(now)))
            .on_conflict(
                OnConflict::column(C::Id)
                    .update_columns([
                        C::Login,
                        C::PasswordHash,
                        C::StaffId,
                        C::IsAdmin,
                        C::TokenEpoch,
                        C::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Deletes an account.
pub async fn delete(db: &impl ConnectionTrait, id: Uuid) -> Result<(), AuthError> {
    account_row::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

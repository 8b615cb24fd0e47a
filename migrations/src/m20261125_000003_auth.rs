//! Local accounts: service accounts (such as the bootstrap `admin`) have a login of their
//! own; staff accounts have none and are found through the staff member's login.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("accounts")
                    .col(pk_uuid("id"))
                    .col(string_null("login").unique_key())
                    .col(string_null("password_hash"))
                    .col(uuid_null("staff_id"))
                    .col(boolean("is_admin"))
                    .col(big_integer("token_epoch"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("accounts_staff_id")
                    .table("accounts")
                    .col("staff_id")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("accounts").to_owned())
            .await
    }
}

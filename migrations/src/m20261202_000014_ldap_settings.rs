//! LDAP settings edited in the admin portal: one row that, once saved, replaces the
//! configuration file's `[ldap]` table. The bind password is sealed under a key derived from
//! the installation's token key (never stored in the clear, never shown back).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("ldap_settings")
                    .col(integer("id").primary_key())
                    .col(text("settings"))
                    .col(text_null("bind_password"))
                    .col(big_integer("updated_at"))
                    .col(string("updated_by"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("ldap_settings").to_owned())
            .await
    }
}

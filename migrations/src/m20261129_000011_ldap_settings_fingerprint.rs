//! The settings an incremental mark was reached with (a digest of the LDAP search and mapping
//! settings): a mark from other settings is not used, and the next run reads everything.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("ldap_state")
                    .add_column(text_null("settings_fingerprint"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("ldap_state")
                    .drop_column("settings_fingerprint")
                    .to_owned(),
            )
            .await
    }
}

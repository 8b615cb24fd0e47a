//! The RFC 4533 content-sync cookie next to the incremental high-water mark: with it, an
//! incremental run asks the server for what changed and who was deleted since, instead of
//! listing everyone's id to find deletions.

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
                    .add_column(text_null("sync_cookie"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("ldap_state")
                    .drop_column("sync_cookie")
                    .to_owned(),
            )
            .await
    }
}

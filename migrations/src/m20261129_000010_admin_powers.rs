//! Admin powers split: a role may carry some admin powers (`directory`, `access`) rather than
//! all of them. `is_admin` keeps meaning "all powers", so existing admin roles keep everything.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("roles")
                    .add_column(text_null("admin_powers"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("roles")
                    .drop_column("admin_powers")
                    .to_owned(),
            )
            .await
    }
}

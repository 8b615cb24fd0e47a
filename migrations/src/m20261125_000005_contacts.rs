//! Contact views: the per-class logs, people's classes and class transitions, so that deltas
//! survive a restart.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("view_log")
                    .col(string("class_key"))
                    .col(big_integer("version"))
                    .col(blob("entries"))
                    .primary_key(Index::create().col("class_key").col("version"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("view_classes")
                    .col(string("class_key").primary_key())
                    .col(big_integer("reproject_at"))
                    .col(big_integer("floor"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("view_users")
                    .col(uuid("staff_id").primary_key())
                    .col(string("class_key"))
                    .col(big_integer("since"))
                    .col(big_integer("floor"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("view_transitions")
                    .col(uuid("staff_id"))
                    .col(big_integer("version"))
                    .col(string("from_key"))
                    .col(string("to_key"))
                    .col(boolean("all_entries"))
                    .col(blob("entries"))
                    .primary_key(Index::create().col("staff_id").col("version"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("contacts_meta")
                    .col(integer("id").primary_key())
                    .col(big_integer("applied"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "contacts_meta",
            "view_transitions",
            "view_users",
            "view_classes",
            "view_log",
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}

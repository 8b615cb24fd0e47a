//! The commit-ordered journal: one global version counter, the changelog and the audit log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("journal_head")
                    .col(integer("id").primary_key())
                    .col(big_integer("version"))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table("journal_head")
                    .columns(["id", "version"])
                    .values_panic([1.into(), 0i64.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("changes")
                    .col(big_integer("version"))
                    .col(string("entity_kind"))
                    .col(uuid("entity_id"))
                    .col(string("op"))
                    .primary_key(Index::create().col("version").col("entity_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .col(big_pk_auto("id"))
                    .col(big_integer("at"))
                    .col(big_integer("version"))
                    .col(string("actor"))
                    .col(string("source"))
                    .col(string("action"))
                    .col(string("entity_kind"))
                    .col(uuid_null("entity_id"))
                    .col(text_null("before"))
                    .col(text_null("after"))
                    .col(string_null("remote_addr"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_log_entity")
                    .table("audit_log")
                    .col("entity_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_log_version")
                    .table("audit_log")
                    .col("version")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["audit_log", "changes", "journal_head"] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}

//! Contact views: a class-to-class diff is stored once per commit and shared by everyone who
//! made that move, instead of once per person (granting a role to 10,000 people wrote 10,000
//! copies of a whole view). The old per-person rows cannot be split without the views they
//! were computed from, so they are dropped and `contacts_meta` is cleared: the views are
//! rebuilt at the next start, and clients older than that fetch a fresh snapshot (`reset`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("view_transitions").to_owned())
            .await?;
        manager.create_table(transitions_table(false)).await?;
        manager
            .create_table(
                Table::create()
                    .table("view_transition_diffs")
                    .col(big_integer("version"))
                    .col(string("from_key"))
                    .col(string("to_key"))
                    .col(boolean("all_entries"))
                    .col(blob("entries"))
                    .primary_key(Index::create().col("version").col("from_key").col("to_key"))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(Query::delete().from_table("contacts_meta").to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("view_transition_diffs").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("view_transitions").to_owned())
            .await?;
        manager.create_table(transitions_table(true)).await?;
        manager
            .exec_stmt(Query::delete().from_table("contacts_meta").to_owned())
            .await
    }
}

/// `view_transitions`: one row per person's move; before this migration it also held the
/// move's entries.
fn transitions_table(with_entries: bool) -> TableCreateStatement {
    let mut table = Table::create();
    table
        .table("view_transitions")
        .col(uuid("staff_id"))
        .col(big_integer("version"))
        .col(string("from_key"))
        .col(string("to_key"));
    if with_entries {
        table.col(boolean("all_entries")).col(blob("entries"));
    }
    table
        .primary_key(Index::create().col("staff_id").col("version"))
        .to_owned()
}

//! Storage that grows with what changed (issue 12 items 14 and 14b).
//!
//! Contact views: a class-to-class diff is stored as its change from the previous diff of the
//! same pair (`base_version`), so people moved one by one cost what changed, not a whole view
//! each; and `contacts_meta.floor` remembers up to where history was compacted. The old diffs
//! (a whole view per move: 1.2 GB for 10,000 people created and assigned one at a time) are
//! dropped with the moves that used them; readers from before a person's newest move reset.
//!
//! The journal: an index on `audit_log.at`, so finding the last version before the retention
//! (to compact the changelog) reads a few rows instead of the whole audit log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("view_transition_diffs")
                    .add_column(big_integer_null("base_version"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("contacts_meta")
                    .add_column(big_integer("floor").default(0))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE view_users SET floor = (SELECT MAX(t.version) FROM view_transitions t \
             WHERE t.staff_id = view_users.staff_id) \
             WHERE EXISTS (SELECT 1 FROM view_transitions t \
             WHERE t.staff_id = view_users.staff_id AND t.version > view_users.floor)",
        )
        .await?;
        db.execute_unprepared("DELETE FROM view_transitions")
            .await?;
        db.execute_unprepared("DELETE FROM view_transition_diffs")
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_log_at")
                    .table("audit_log")
                    .col("at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("audit_log_at")
                    .table("audit_log")
                    .to_owned(),
            )
            .await?;
        // Chained diffs cannot be read as whole ones: drop them with their moves.
        let db = manager.get_connection();
        db.execute_unprepared("DELETE FROM view_transitions")
            .await?;
        db.execute_unprepared("DELETE FROM view_transition_diffs")
            .await?;
        db.execute_unprepared("DELETE FROM contacts_meta").await?;
        manager
            .alter_table(
                Table::alter()
                    .table("contacts_meta")
                    .drop_column("floor")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("view_transition_diffs")
                    .drop_column("base_version")
                    .to_owned(),
            )
            .await
    }
}

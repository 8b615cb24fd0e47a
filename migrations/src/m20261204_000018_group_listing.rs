//! The portal's group listing (`/admin/groups`, `GET /api/v1/admin/im/groups`) pages through
//! live groups newest first: an index on what it filters and sorts by, so a page does not scan
//! every direct conversation of the company.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "im_conversations_by_kind_created";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table("im_conversations")
                    .col("kind")
                    .col("dissolved")
                    .col("created_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table("im_conversations")
                    .to_owned(),
            )
            .await
    }
}

//! Messaging administration: the recent deliveries of each webhook (the last 100 per endpoint
//! are kept, older ones pruned as new ones arrive), and the first characters of each API key so
//! a key can be recognised in the list after its secret was shown once.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("im_webhook_deliveries")
                    .col(pk_uuid("id"))
                    .col(uuid("webhook_id"))
                    // `ok` or `failed` (after every attempt).
                    .col(string("status"))
                    .col(integer("attempts"))
                    .col(integer("events"))
                    // The last answer's HTTP status; none when the endpoint was unreachable.
                    .col(integer_null("response_code"))
                    .col(text_null("error"))
                    .col(big_integer("at"))
                    .col(big_integer("duration_ms"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("im_webhook_deliveries_recent")
                    .table("im_webhook_deliveries")
                    .col("webhook_id")
                    .col("at")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("im_api_keys")
                    .add_column(string_null("key_prefix"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("im_api_keys")
                    .drop_column("key_prefix")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("im_webhook_deliveries").to_owned())
            .await
    }
}

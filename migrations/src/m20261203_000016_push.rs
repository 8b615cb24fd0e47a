//! Offline push: the devices people registered, the conversations they silenced for push, and
//! the outbox of notifications waiting for the push gateway.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("push_devices")
                    .col(pk_uuid("id"))
                    .col(uuid("staff_id"))
                    .col(string("platform"))
                    .col(string("app_id"))
                    // SHA-256 of the push token (the gateway's `pushkey`): one device per token,
                    // whoever registered it last (a phone that changes hands is not pushed
                    // twice). A hash, because an index holds only short values.
                    .col(string("token_hash").unique_key())
                    .col(text("token"))
                    .col(string("language"))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("push_devices_staff")
                    .table("push_devices")
                    .col("staff_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("push_mutes")
                    .col(uuid("staff_id"))
                    .col(uuid("conversation_id"))
                    // Milliseconds since the epoch; 0 = until unmuted.
                    .col(big_integer("muted_until"))
                    .primary_key(Index::create().col("staff_id").col("conversation_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("push_outbox")
                    .col(pk_uuid("id"))
                    .col(uuid("staff_id"))
                    .col(uuid("conversation_id"))
                    // `<staff>:<conversation>` while queued, NULL once claimed: later messages
                    // of the conversation fold into the queued row (one notification, the
                    // latest message and the count) instead of queuing another.
                    .col(string_null("collapse_key").unique_key())
                    .col(string("conversation_kind"))
                    .col(uuid("msg_id"))
                    .col(big_integer("seq"))
                    .col(uuid_null("sender_id"))
                    .col(string("message_kind"))
                    .col(text("preview"))
                    .col(integer("messages"))
                    .col(boolean("high"))
                    // queued → sending → sent, or back to queued (retry), or failed (gave up).
                    .col(string("status"))
                    .col(integer("attempts"))
                    .col(big_integer("next_attempt_at"))
                    .col(big_integer_null("lease_until"))
                    .col(text_null("last_error"))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("sent_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("push_outbox_due")
                    .table("push_outbox")
                    .col("status")
                    .col("next_attempt_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["push_outbox", "push_mutes", "push_devices"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

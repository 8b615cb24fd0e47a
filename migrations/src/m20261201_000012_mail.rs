//! Mail: the outbox (every mail is a row before it is sent), per-person preferences, the
//! single-use tokens of password-reset links, run-time SMTP settings, and the people the
//! welcome mail has considered.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("mail_outbox")
                    .col(pk_uuid("id"))
                    // What caused the mail (`welcome:<staff>`, `reset:<token>`...): one row each,
                    // so a cause queued twice (a retry, a catch-up after a restart) is one mail.
                    .col(string("idempotency_key").unique_key())
                    .col(string("kind"))
                    .col(string("recipient"))
                    .col(uuid_null("staff_id"))
                    .col(text("subject"))
                    .col(text("body_text"))
                    .col(text("body_html"))
                    .col(text("headers"))
                    .col(string("message_id"))
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
                    .name("mail_outbox_due")
                    .table("mail_outbox")
                    .col("status")
                    .col("next_attempt_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("mail_preferences")
                    .col(pk_uuid("staff_id"))
                    .col(boolean("digest"))
                    .col(string_null("language"))
                    .col(big_integer("last_digest_at"))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("mail_tokens")
                    .col(pk_uuid("id"))
                    // SHA-256 of the token: the database never holds a usable link.
                    .col(string("token_hash").unique_key())
                    .col(string("purpose"))
                    .col(uuid("staff_id"))
                    .col(big_integer("expires_at"))
                    .col(big_integer_null("used_at"))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("mail_settings")
                    .col(string("key").primary_key())
                    .col(text("value"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("mail_welcomed")
                    .col(pk_uuid("staff_id"))
                    .col(big_integer("at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "mail_welcomed",
            "mail_settings",
            "mail_tokens",
            "mail_preferences",
            "mail_outbox",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

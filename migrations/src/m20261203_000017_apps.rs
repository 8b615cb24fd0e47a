//! Apps and their cards: the apps IT registers (key hash, callback URL and secret, reach), the
//! cards they send, the actions people take on them (one row per decision, made unique by the
//! index on `(card_id, slot)` so a race cannot record two), and the durable queue of signed
//! callbacks to the apps (kept as their recent history).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("im_apps")
                    .col(pk_uuid("id"))
                    .col(string("name"))
                    .col(string_null("avatar"))
                    .col(string("callback_url"))
                    .col(string("secret"))
                    // `everyone`, `departments` or `groups`, with the ids as a JSON array.
                    .col(string("reach"))
                    .col(text("reach_ids"))
                    .col(string_uniq("key_hash"))
                    .col(string("key_prefix"))
                    .col(big_integer("created_at"))
                    .col(boolean("revoked"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("im_cards")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(uuid("conversation_id"))
                    // Set once the message is stored.
                    .col(big_integer_null("seq"))
                    // `per_person` or `single`.
                    .col(string("decision"))
                    // The app's part: title, text, fields, image, actions (JSON).
                    .col(text("content"))
                    .col(big_integer_null("closed_at"))
                    .col(uuid_null("closed_by"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("im_cards_app")
                    .table("im_cards")
                    .col("app_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("im_card_actions")
                    .col(pk_uuid("id"))
                    .col(uuid("card_id"))
                    // The decision this row takes: `single` (the card's one), or the person's
                    // id (one per person).
                    .col(string("slot"))
                    .col(uuid("staff_id"))
                    .col(string("action_id"))
                    .col(text_null("comment"))
                    .col(big_integer("at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("im_card_actions_once")
                    .table("im_card_actions")
                    .col("card_id")
                    .col("slot")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("im_app_callbacks")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(uuid("card_id"))
                    .col(text("body"))
                    // `pending`, `ok` or `failed` (after every attempt).
                    .col(string("status"))
                    .col(integer("attempts"))
                    .col(big_integer("next_at"))
                    .col(integer_null("response_code"))
                    .col(text_null("error"))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("done_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("im_app_callbacks_due")
                    .table("im_app_callbacks")
                    .col("status")
                    .col("next_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("im_app_callbacks_recent")
                    .table("im_app_callbacks")
                    .col("app_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["im_app_callbacks", "im_card_actions", "im_cards", "im_apps"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

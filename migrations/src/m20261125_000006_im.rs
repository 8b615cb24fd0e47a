//! Messaging: conversations, members, messages (read diffusion: stored once per
//! conversation), the search index, files, API keys, webhooks and settings.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("im_conversations")
                    .col(pk_uuid("id"))
                    .col(string("kind"))
                    .col(string("name"))
                    .col(text("announcement"))
                    .col(uuid_null("department_id").unique_key())
                    // "<staff>:<staff>" for direct chats, "system:<staff>" for notices: one each.
                    .col(string_null("pair_key").unique_key())
                    .col(boolean("mute_all"))
                    .col(boolean("dissolved"))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("im_members")
                    .col(uuid("conversation_id"))
                    .col(uuid("staff_id"))
                    .col(string("role"))
                    .col(big_integer("joined_seq"))
                    .col(big_integer("read_seq"))
                    .col(big_integer("muted_until"))
                    .col(boolean("has_sent"))
                    .primary_key(Index::create().col("conversation_id").col("staff_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("im_members_staff")
                    .table("im_members")
                    .col("staff_id")
                    .to_owned(),
            )
            .await?;
        // `gid` is assigned by the single writer; on SQLite it is the rowid (appends are cheap),
        // and the search index refers to it.
        manager
            .create_table(
                Table::create()
                    .table("im_messages")
                    .col(big_integer("gid").primary_key())
                    .col(uuid("conversation_id"))
                    .col(big_integer("seq"))
                    .col(uuid("msg_id"))
                    .col(uuid_null("sender_id"))
                    .col(string_null("client_msg_id"))
                    .col(string_null("dedup_key"))
                    .col(string("kind"))
                    .col(text_null("body"))
                    .col(text_null("mentions"))
                    .col(big_integer("ts"))
                    .col(big_integer_null("ref_seq"))
                    .col(big_integer_null("edited_at"))
                    .col(boolean("recalled"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("im_messages_position")
                    .table("im_messages")
                    .col("conversation_id")
                    .col("seq")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("im_messages_dedup")
                    .table("im_messages")
                    .col("dedup_key")
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Search terms are made by our tokenizer (words, and CJK unigrams and bigrams), so the
        // engines only match whole terms: FTS5 on SQLite, a GIN-indexed array on PostgreSQL.
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                let db = manager.get_connection();
                db.execute_unprepared(
                    "CREATE TABLE im_search (gid bigint PRIMARY KEY, terms text[] NOT NULL)",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE INDEX im_search_terms ON im_search USING gin (terms)",
                )
                .await?;
            }
            _ => {
                manager
                    .get_connection()
                    .execute_unprepared(
                        "CREATE VIRTUAL TABLE im_search USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0')",
                    )
                    .await?;
            }
        }
        manager
            .create_table(
                Table::create()
                    .table("im_files")
                    .col(pk_uuid("id"))
                    .col(uuid("conversation_id"))
                    .col(uuid_null("uploader_id"))
                    .col(string("name"))
                    .col(string("content_type"))
                    .col(big_integer("size"))
                    .col(big_integer("created_at"))
                    .col(boolean("deleted"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("im_api_keys")
                    .col(pk_uuid("id"))
                    .col(string("name"))
                    .col(string_uniq("key_hash"))
                    .col(big_integer("created_at"))
                    .col(boolean("revoked"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("im_webhooks")
                    .col(pk_uuid("id"))
                    .col(string("url"))
                    .col(string("secret"))
                    .col(string("events"))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("im_settings")
                    .col(string("key").primary_key())
                    .col(text("value"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "im_settings",
            "im_webhooks",
            "im_api_keys",
            "im_files",
            "im_search",
            "im_messages",
            "im_members",
            "im_conversations",
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}

//! Roles, visibility rules, role assignments and LDAP group members (the casbin policy lives
//! in these tables).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("roles")
                    .col(pk_uuid("id"))
                    .col(string_uniq("name"))
                    .col(string("description"))
                    .col(boolean("is_admin"))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("access_rules")
                    .col(pk_uuid("id"))
                    .col(uuid_null("role_id"))
                    .col(string("effect"))
                    .col(string("object"))
                    .col(json_binary("exempt_roles"))
                    .col(string("description"))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("role_assignments")
                    .col(uuid("role_id"))
                    .col(string("subject_kind"))
                    .col(string("subject"))
                    .col(big_integer("created_at"))
                    .primary_key(
                        Index::create()
                            .col("role_id")
                            .col("subject_kind")
                            .col("subject"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("group_members")
                    .col(string("group_dn"))
                    .col(uuid("staff_id"))
                    .primary_key(Index::create().col("group_dn").col("staff_id"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["group_members", "role_assignments", "access_rules", "roles"] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}

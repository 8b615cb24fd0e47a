//! Departments, staff, memberships and custom field definitions.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("departments")
                    .col(pk_uuid("id"))
                    .col(uuid_null("parent_id"))
                    .col(string("name"))
                    .col(string("dept_type"))
                    .col(big_integer("order_key"))
                    .col(json_binary("custom"))
                    .col(string("source"))
                    .col(string_null("ldap_dn"))
                    .col(string_null("ldap_id"))
                    .col(big_integer("version"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("departments_parent")
                            .from("departments", "parent_id")
                            .to("departments", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("departments_parent_id")
                    .table("departments")
                    .col("parent_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("departments_ldap_id")
                    .table("departments")
                    .col("ldap_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("staff")
                    .col(pk_uuid("id"))
                    .col(string_uniq("login"))
                    .col(string("display_name"))
                    .col(string("pinyin_full"))
                    .col(string("pinyin_initials"))
                    .col(string("title"))
                    .col(json_binary("emails"))
                    .col(json_binary("phones"))
                    .col(string("staff_type"))
                    .col(string("status"))
                    .col(string_null("disabled_by"))
                    .col(json_binary("custom"))
                    .col(string("source"))
                    .col(string_null("ldap_dn"))
                    .col(string_null("ldap_id"))
                    .col(big_integer("version"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("staff_ldap_id")
                    .table("staff")
                    .col("ldap_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("memberships")
                    .col(uuid("staff_id"))
                    .col(uuid("department_id"))
                    .col(big_integer("order_key"))
                    .col(boolean("is_primary"))
                    .primary_key(Index::create().col("staff_id").col("department_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("memberships_staff")
                            .from("memberships", "staff_id")
                            .to("staff", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("memberships_department")
                            .from("memberships", "department_id")
                            .to("departments", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("memberships_department_id")
                    .table("memberships")
                    .col("department_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("field_definitions")
                    .col(string("entity"))
                    .col(string("key"))
                    .col(string("label"))
                    .col(string("field_type"))
                    .col(boolean("required"))
                    .col(json_binary("choices"))
                    .col(big_integer("created_at"))
                    .primary_key(Index::create().col("entity").col("key"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["field_definitions", "memberships", "staff", "departments"] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}

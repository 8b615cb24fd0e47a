//! LDAP sync bookkeeping: the history of sync runs, the lease that keeps runs one at a time
//! (also across nodes), and the incremental high-water mark.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("ldap_runs")
                    .col(pk_uuid("id"))
                    .col(string("trigger"))
                    .col(string("kind"))
                    .col(string("status"))
                    .col(big_integer("started_at"))
                    .col(big_integer_null("finished_at"))
                    .col(text("counts"))
                    .col(text("failures"))
                    .col(text("message"))
                    .col(boolean("approved"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("ldap_lease")
                    .col(integer("id").primary_key())
                    .col(string("holder"))
                    .col(big_integer("expires_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table("ldap_lease")
                    .columns(["id", "holder", "expires_at"])
                    .values_panic([1.into(), "".into(), 0i64.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("ldap_state")
                    .col(integer("id").primary_key())
                    .col(string("high_water"))
                    .col(big_integer("last_full_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["ldap_state", "ldap_lease", "ldap_runs"] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}

//! Schema migrations for Switchboard. Run at start-up and by `switchboard migrate`.
//! Each migration owns the tables of one module; no data migrations live here (derived tables
//! may be cleared, to be rebuilt at start).

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_journal;
mod m20261125_000002_directory;
mod m20261125_000003_auth;
mod m20261125_000004_access;
mod m20261125_000005_contacts;
mod m20261125_000006_im;
mod m20261125_000007_ldap;
mod m20261125_000008_shared_transitions;
mod m20261125_000009_ldap_sync_cookie;
mod m20261129_000010_admin_powers;
mod m20261129_000011_ldap_settings_fingerprint;
mod m20261130_000015_webhook_deliveries;
mod m20261201_000012_mail;
mod m20261201_000013_storage_history;
mod m20261202_000014_ldap_settings;
mod m20261203_000016_push;
mod m20261203_000017_apps;
mod m20261204_000018_group_listing;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_journal::Migration),
            Box::new(m20261125_000002_directory::Migration),
            Box::new(m20261125_000003_auth::Migration),
            Box::new(m20261125_000004_access::Migration),
            Box::new(m20261125_000005_contacts::Migration),
            Box::new(m20261125_000006_im::Migration),
            Box::new(m20261125_000007_ldap::Migration),
            Box::new(m20261125_000008_shared_transitions::Migration),
            Box::new(m20261125_000009_ldap_sync_cookie::Migration),
            Box::new(m20261129_000010_admin_powers::Migration),
            Box::new(m20261129_000011_ldap_settings_fingerprint::Migration),
            Box::new(m20261201_000012_mail::Migration),
            Box::new(m20261201_000013_storage_history::Migration),
            Box::new(m20261202_000014_ldap_settings::Migration),
            Box::new(m20261130_000015_webhook_deliveries::Migration),
            Box::new(m20261203_000016_push::Migration),
            Box::new(m20261203_000017_apps::Migration),
            Box::new(m20261204_000018_group_listing::Migration),
        ]
    }
}

//! The integration suite as one test binary: every file beside this one is a module, so the
//! crate and its dependencies are linked once (one binary instead of one per file keeps the
//! build small and fast). Run one file's tests with `cargo test --test suite <file>::`.

#[macro_use]
mod common;
mod im_support;

mod admin_powers;
mod contacts_api;
mod contacts_props;
mod contacts_snapshots;
mod contacts_storage;
mod contacts_views;
mod directory_api;
mod http_edges;
mod im_apps;
mod im_apps_bot;
mod im_departments;
mod im_durability;
mod im_faults;
mod im_groups;
mod im_python;
mod im_revocation;
mod im_ws;
mod ldap;
mod ldap_ad;
mod ldap_cli;
mod ldap_edges;
mod ldap_jobs;
mod ldap_settings_api;
mod mail;
mod mail_delivery;
mod openapi_schemathesis;
mod portal;
mod portal_groups;
mod portal_hr;
mod portal_hr_import;
mod portal_hr_staff;
mod portal_it;
mod portal_ldap;
mod portal_messaging;
mod portal_screenshots;
mod push;
mod sqlite_wal;
mod webapp;

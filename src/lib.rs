//! Switchboard: an enterprise directory with role-limited contact views, LDAP sync and messaging.
//!
//! This file is the table of contents; each module's own docs say what it owns.

pub mod access;
pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod contacts;
pub mod demo;
pub mod directory;
pub mod im;
pub mod ldap;
pub mod locks;
pub mod mail;
pub mod observability;
pub mod push;
pub mod retry;
pub mod state;
pub mod store;
pub mod webapp;

//! The shared state every handler and middleware reads: the modules, built once by
//! `app::open_services`. It sits below `api` and `app` so neither imports the other for it.

use std::sync::Arc;

use crate::{
    access::Access, auth::Auth, config::Config, contacts::Contacts, directory::Directory, im::Im,
    ldap::LdapService, mail::Mail, observability::Metrics, push::Push,
};

/// Everything a handler may use.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub directory: Arc<Directory>,
    pub auth: Arc<Auth>,
    pub access: Arc<Access>,
    pub contacts: Arc<Contacts>,
    /// Messaging: conversations, the WebSocket gateway's sessions, files.
    pub im: Arc<Im>,
    /// The LDAP connector; configured from the file's `[ldap]` table or IT's saved settings,
    /// else waiting for IT's first save (see [`AppState::ldap_connected`]).
    pub ldap: Arc<LdapService>,
    /// Mail: the outbox and its worker, digests, welcome and reset mails, alerts.
    pub mail: Arc<Mail>,
    /// Offline push: registered devices, the outbox to the push gateway and its worker.
    pub push: Arc<Push>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// The LDAP connector if LDAP is configured: where LDAP's rules (owned fields, write-back,
    /// login) apply.
    pub fn ldap_connected(&self) -> Option<&Arc<LdapService>> {
        self.ldap.configured().then_some(&self.ldap)
    }
}

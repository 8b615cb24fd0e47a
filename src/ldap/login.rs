//! Password checks for people from LDAP: find the entry of the person Switchboard synced (by
//! login, then by the stable id stored for them — so a second entry with the same login, which
//! the sync skipped, does not lock the first person out), bind as it on a separate short-lived
//! connection, and say in the log why a login was refused (never with the password).

use super::{LdapError, connection, mapping, service::LdapService};
use crate::directory::{RecordSource, StaffId};

impl LdapService {
    /// Checks a password against LDAP and returns who the person is here, or `None` (refused;
    /// the reason is logged).
    pub async fn verify_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<Option<StaffId>, LdapError> {
        let refuse = |reason: &str| {
            tracing::info!(%login, reason, "LDAP login refused");
            Ok(None)
        };
        if password.is_empty() {
            return refuse("empty password (LDAP would take it for an anonymous bind)");
        }
        let synced = self
            .directory
            .read()
            .staff_by_login(&login.trim().to_lowercase())
            .filter(|s| s.source == RecordSource::Ldap)
            .and_then(|s| s.ldap.clone().map(|l| (s.id, l)));
        let Some((staff_id, stored)) = synced else {
            return refuse("no person synced from LDAP has this login");
        };
        let config = self.config()?;
        let filter = format!(
            "(&{}({}={}))",
            config.staff.filter,
            config.staff_attributes.login,
            ldap3::ldap_escape(login)
        );
        let mut ldap = connection::service_connection(&config).await?;
        let found = connection::search_all(
            &mut ldap,
            &config,
            &config.staff.base_dn,
            config.staff.scope,
            &filter,
            vec![config.stable_id.clone()],
            false,
        )
        .await;
        let _ = ldap.unbind().await;
        let (entries, _) = found?;
        // Several entries may carry the login (the sync reports and skips all but one): the
        // one to bind as is the one whose stable id is the synced person's.
        let Some(entry) = entries.iter().find(|e| {
            mapping::stable_id(e, &config.stable_id).as_deref() == Some(stored.stable_id.as_str())
        }) else {
            return refuse(&format!(
                "LDAP has {} entr{} with this login and none is the synced person's ({}={}); the person may have been deleted or replaced in LDAP (the next sync settles it)",
                entries.len(),
                if entries.len() == 1 { "y" } else { "ies" },
                config.stable_id,
                stored.stable_id
            ));
        };
        if entries.len() > 1 {
            tracing::info!(%login, entries = entries.len(), dn = %entry.dn, "several LDAP entries have this login; binding as the synced person's");
        }
        match connection::check_password(&config, &entry.dn, password).await? {
            Ok(()) => Ok(Some(staff_id)),
            Err(refusal) => refuse(&format!("the bind as {} was refused: {refusal}", entry.dn)),
        }
    }
}

#[async_trait::async_trait]
impl crate::auth::ExternalLogin for LdapService {
    async fn verify(&self, login: &str, password: &str) -> Result<Option<StaffId>, String> {
        self.verify_password(login, password)
            .await
            .map_err(|error| {
                tracing::warn!(%login, %error, "LDAP login could not be checked");
                error.to_string()
            })
    }

    fn active(&self) -> bool {
        self.configured()
    }
}

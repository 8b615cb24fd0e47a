//! Reading LDAP for a sync run: departments, people and groups, in full or what changed since
//! the last run (by RFC 4533 content sync where the server offers it, else by comparing a
//! change attribute), into a [`Remote`] that the run then decides on. Nothing here writes.

use std::collections::{HashMap, HashSet};

use super::{
    LdapError,
    connection::{self, Entry},
    dn::normalize_dn,
    mapping::{self, RecordFailure, RemoteDepartment, RemoteGroup, RemoteStaff},
};
use crate::config::ldap::LdapConfig;

/// What LDAP holds, as read by one run.
#[derive(Debug, Default)]
pub struct Remote {
    pub departments: Vec<RemoteDepartment>,
    /// Everyone (full run) or who changed since the high-water mark (incremental run).
    pub staff: Vec<RemoteStaff>,
    /// The stable ids LDAP has: everyone (a full run, or an incremental one that listed every
    /// id), or only who changed (content sync, whose departures are named instead).
    pub present: HashSet<String>,
    pub groups: Vec<RemoteGroup>,
    /// DN → stable id of every person read in full (for group members).
    pub staff_by_dn: HashMap<String, String>,
    pub failures: Vec<RecordFailure>,
    pub newest_modified: Option<String>,
    pub read: usize,
    /// Whether departments were read in full (else only the changed ones).
    pub full: bool,
    /// Whether groups were read (an incremental run skips them when none changed).
    pub groups_read: bool,
    /// How this run knows who left LDAP.
    pub departures: Departures,
    /// People came by RFC 4533 content sync (only who changed, and who left).
    pub content_sync: bool,
    /// The content-sync cookie the next incremental run starts from.
    pub cookie: Option<Vec<u8>>,
    /// The staff search matches nobody at all (a wrong or empty base, a filter that matches
    /// nothing, missing rights): checked by full and incremental runs alike.
    pub nobody: bool,
}

/// How a run knows who left LDAP.
#[derive(Debug, Default)]
pub enum Departures {
    /// Everyone LDAP has is in `present`; whoever is not, left.
    #[default]
    NotPresent,
    /// The server named who left since the last run (RFC 4533's delete phase); everyone
    /// else is still there.
    Named(HashSet<String>),
}

impl Remote {
    /// Whether the person with this stable id is gone from LDAP, as far as this run knows.
    pub fn has_left(&self, stable_id: &str) -> bool {
        match &self.departures {
            Departures::NotPresent => !self.present.contains(stable_id),
            Departures::Named(left) => left.contains(stable_id),
        }
    }
}

/// Reads LDAP. `since` selects an incremental run (people changed at or after it); with a
/// content-sync `cookie` and a server that offers RFC 4533, people are read by content sync.
pub async fn read(
    config: &LdapConfig,
    since: Option<&str>,
    cookie: Option<Vec<u8>>,
) -> Result<Remote, LdapError> {
    let mut ldap = connection::service_connection(config).await?;
    let features = connection::server_features(&mut ldap, config.operation_timeout).await?;
    let paged = features.paging;
    // syncUUIDs are entryUUIDs: content sync can name people only when that is their id.
    let content_sync = config.content_sync
        && features.content_sync
        && config.stable_id.eq_ignore_ascii_case("entryUUID");
    let mut remote = Remote::default();
    let search = |base: &str, scope, filter: String, attrs: Vec<String>| {
        let mut ldap = ldap.clone();
        let base = base.to_owned();
        async move {
            connection::search_all(&mut ldap, config, &base, scope, &filter, attrs, paged).await
        }
    };

    // An incremental run reads only departments that changed; the others are known by DN.
    let (entries, unreadable) = search(
        &config.departments.base_dn,
        config.departments.scope,
        changed_since(&config.departments.filter, config, since),
        mapping::department_attributes(config),
    )
    .await?;
    remote.full = since.is_none();
    remote.read += entries.len() + unreadable;
    for entry in &entries {
        match mapping::department(entry, config) {
            Ok(d) => remote.departments.push(d),
            Err(f) => remote.failures.push(f),
        }
    }

    let synced = match (since, cookie, content_sync) {
        (Some(_), Some(cookie), true) => {
            match connection::content_sync(
                &mut ldap.clone(),
                config.operation_timeout,
                &config.staff.base_dn,
                config.staff.scope,
                &config.staff.filter,
                mapping::staff_attributes(config),
                Some(cookie),
            )
            .await
            {
                Ok(synced) => Some(synced),
                Err(error) => {
                    // E.g. a size limit, or a cookie the server no longer accepts.
                    tracing::warn!(%error, "content sync refused; comparing the change attribute instead");
                    None
                }
            }
        }
        _ => None,
    };
    match synced {
        Some(synced) => {
            remote.content_sync = true;
            remote.read += synced.changed.len() + synced.unreadable;
            note_unreadable(&mut remote, synced.unreadable);
            collect_staff(&mut remote, &synced.changed, config);
            remote.departures = if synced.refresh_deletes {
                Departures::Named(synced.deleted)
            } else {
                // The present phase: the server listed everyone who is still there.
                remote.present.extend(synced.present);
                Departures::NotPresent
            };
            remote.cookie = synced.cookie;
            // The server names only changes: ask whether the search still finds anyone.
            remote.nobody = !connection::matches_anyone(
                &mut ldap.clone(),
                config.operation_timeout,
                &config.staff.base_dn,
                config.staff.scope,
                &config.staff.filter,
            )
            .await?;
        }
        None => {
            if content_sync {
                // Taken before the reads, so whatever changes meanwhile is replayed next time.
                remote.cookie = fresh_cookie(&mut ldap.clone(), config).await;
            }
            let (entries, unreadable) = search(
                &config.staff.base_dn,
                config.staff.scope,
                changed_since(&config.staff.filter, config, since),
                mapping::staff_attributes(config),
            )
            .await?;
            remote.read += entries.len() + unreadable;
            note_unreadable(&mut remote, unreadable);
            collect_staff(&mut remote, &entries, config);
            // Deletions need everyone's id, also in an incremental run (ids only: cheap).
            if since.is_some() {
                let (ids, _) = search(
                    &config.staff.base_dn,
                    config.staff.scope,
                    config.staff.filter.clone(),
                    vec![config.stable_id.clone()],
                )
                .await?;
                for entry in &ids {
                    if let Some(id) = mapping::stable_id(entry, &config.stable_id) {
                        remote
                            .staff_by_dn
                            .insert(normalize_dn(&entry.dn), id.clone());
                        remote.present.insert(id);
                    }
                }
            }
            remote.nobody = remote.present.is_empty();
        }
    }

    if let Some(groups) = &config.groups {
        // Members are re-resolved only when some group changed (nesting needs them all then).
        let changed = match since {
            None => true,
            Some(_) => {
                let (changed, _) = search(
                    &groups.base_dn,
                    groups.scope,
                    changed_since(&groups.filter, config, since),
                    vec!["1.1".to_owned()],
                )
                .await?;
                !changed.is_empty()
            }
        };
        remote.groups_read = changed;
    }
    if let Some(groups) = config.groups.as_ref().filter(|_| remote.groups_read) {
        let (entries, _) = search(
            &groups.base_dn,
            groups.scope,
            groups.filter.clone(),
            vec![config.group_member_attribute.clone()],
        )
        .await?;
        remote.groups = entries.iter().map(|e| mapping::group(e, config)).collect();
    }
    let _ = ldap.unbind().await;
    Ok(remote)
}

/// `filter`, narrowed to entries whose change attribute is at or after `since` (if given).
fn changed_since(filter: &str, config: &LdapConfig, since: Option<&str>) -> String {
    match since {
        Some(mark) => format!(
            "(&{filter}({}>={}))",
            config.change_attribute,
            ldap3::ldap_escape(mark)
        ),
        None => filter.to_owned(),
    }
}

fn note_unreadable(remote: &mut Remote, unreadable: usize) {
    for _ in 0..unreadable {
        remote.failures.push(RecordFailure {
            dn: "?".into(),
            reason: "an entry could not be parsed".into(),
        });
    }
}

/// A content-sync cookie for "now", from a search that matches nobody: the server answers
/// with its current state and no entries. `None` when the server will not give one (the next
/// incremental run then compares the change attribute).
async fn fresh_cookie(ldap: &mut ldap3::Ldap, config: &LdapConfig) -> Option<Vec<u8>> {
    let nobody = format!("(&{}(!(objectClass=*)))", config.staff.filter);
    match connection::content_sync(
        ldap,
        config.operation_timeout,
        &config.staff.base_dn,
        config.staff.scope,
        &nobody,
        vec!["1.1".to_owned()],
        None,
    )
    .await
    {
        Ok(synced) => synced.cookie,
        Err(error) => {
            tracing::warn!(%error, "no content-sync cookie; incremental runs compare the change attribute");
            None
        }
    }
}

fn collect_staff(remote: &mut Remote, entries: &[Entry], config: &LdapConfig) {
    for entry in entries {
        match mapping::staff(entry, config) {
            Ok(s) => {
                remote.present.insert(s.stable_id.clone());
                remote
                    .staff_by_dn
                    .insert(s.ndn.clone(), s.stable_id.clone());
                if let Some(modified) = &s.modified
                    && remote
                        .newest_modified
                        .as_ref()
                        .is_none_or(|m| newer(modified, m))
                {
                    remote.newest_modified = Some(modified.clone());
                }
                remote.staff.push(s);
            }
            Err(f) => remote.failures.push(f),
        }
    }
}

/// Whether change mark `a` is after `b`: numerically for counters such as AD's `uSNChanged`,
/// as text for timestamps and CSNs (which sort as text).
fn newer(a: &str, b: &str) -> bool {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

//! The LDAP service: sync runs (manual, scheduled, approved), the connection test, password
//! checks for login, and write-back of edits in `writable` mode.

use std::sync::Arc;

use tracing::Instrument;

use ldap3::Mod;
use sea_orm::DatabaseConnection;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    LdapError, connection,
    dn::{normalize_dn, parent_dn},
    mapping::{self, RecordFailure},
    remote::{self, Remote},
    runs::{self, Counts, Run},
    sync,
};
use crate::config::ldap::{LdapConfig, Mode};
use crate::{
    access::{Access, Assignment, PolicyChange, Subject},
    directory::{
        Directory, FieldDefinition, FieldEntity, FieldType, RecordSource, Staff, StaffId,
        StaffPatch,
    },
    store::{Actor, Source},
};

/// Which kind of run to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    Full,
    Incremental,
    /// Incremental, or full when the last full run is a day old.
    Auto,
}

/// What `POST /api/v1/admin/ldap/test` reports.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestReport {
    pub connected: bool,
    pub bound: bool,
    /// The server offers paged results (RFC 2696).
    pub paging: bool,
    pub departments: usize,
    pub staff: usize,
    pub groups: usize,
    /// One person as Switchboard would store them.
    #[schema(value_type = Option<Object>)]
    pub sample: Option<serde_json::Value>,
    /// What a full sync would change now (nothing is applied).
    pub dry_run: Counts,
    /// Why a sync now would wait for approval, if it would.
    pub blocked: Option<String>,
    /// Entries a sync would skip (first 50).
    pub failures: Vec<RecordFailure>,
}

/// The LDAP connector.
pub struct LdapService {
    config: LdapConfig,
    directory: Arc<Directory>,
    access: Arc<Access>,
    db: DatabaseConnection,
    holder: String,
}

fn ldap_actor() -> Actor {
    Actor::new("ldap-sync", Source::Ldap)
}

impl LdapService {
    pub async fn new(
        config: LdapConfig,
        directory: Arc<Directory>,
        access: Arc<Access>,
    ) -> Result<Arc<Self>, LdapError> {
        let db = directory.db().clone();
        runs::fail_interrupted(&db).await?;
        Ok(Arc::new(Self {
            config,
            directory,
            access,
            db,
            holder: Uuid::now_v7().to_string(),
        }))
    }

    pub fn mode(&self) -> Mode {
        self.config.mode
    }

    pub fn config(&self) -> &LdapConfig {
        &self.config
    }

    /// Runs the scheduled syncs (not in `unsynced` mode).
    pub fn spawn_scheduler(self: &Arc<Self>) {
        if self.config.mode == Mode::Unsynced {
            return;
        }
        let service = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(service.config.sync_interval);
            every.tick().await;
            loop {
                every.tick().await;
                match service.sync("schedule", SyncKind::Auto, false).await {
                    Ok(run) => tracing::info!(status = %run.status, "scheduled LDAP sync"),
                    Err(error) => tracing::warn!(%error, "scheduled LDAP sync did not run"),
                }
            }
        });
    }

    pub async fn runs(&self, limit: u64) -> Result<Vec<Run>, LdapError> {
        runs::list(&self.db, limit).await
    }

    /// Runs a sync now. Another run in progress (on any node) is `Busy`. A run that fails or is
    /// blocked is recorded and returned, not an error.
    pub async fn sync(
        &self,
        trigger: &str,
        kind: SyncKind,
        approved: bool,
    ) -> Result<Run, LdapError> {
        if !runs::acquire_lease(&self.db, &self.holder, 3600).await? {
            return Err(LdapError::Busy("another LDAP sync is running".into()));
        }
        let outcome = self.locked_sync(trigger, kind, approved).await;
        let released = runs::release_lease(&self.db, &self.holder).await;
        let run = outcome?;
        released?;
        Ok(run)
    }

    async fn locked_sync(
        &self,
        trigger: &str,
        kind: SyncKind,
        approved: bool,
    ) -> Result<Run, LdapError> {
        let mark = runs::mark(&self.db).await?;
        let full = match kind {
            SyncKind::Full => true,
            SyncKind::Incremental => mark.high_water.is_none(),
            SyncKind::Auto => mark.high_water.is_none() || self.full_is_due().await?,
        };
        let id = runs::start(&self.db, trigger, if full { "full" } else { "incremental" }).await?;
        let span = tracing::info_span!("ldap_sync", run = %id, full);
        self.run(id, full, mark, approved).instrument(span).await
    }

    async fn run(
        &self,
        id: Uuid,
        full: bool,
        mark: runs::Mark,
        approved: bool,
    ) -> Result<Run, LdapError> {
        let started = std::time::Instant::now();
        let (since, cookie) = if full {
            (None, None)
        } else {
            (mark.high_water.as_deref(), mark.cookie.clone())
        };
        let remote = match remote::read(&self.config, since, cookie).await {
            Ok(remote) => remote,
            Err(error) => {
                runs::finish(
                    &self.db,
                    id,
                    "failed",
                    &Counts::default(),
                    &[],
                    &error.to_string(),
                )
                .await?;
                tracing::warn!(%error, "LDAP sync failed while reading; nothing applied");
                return runs::get(&self.db, id).await;
            }
        };
        let read_at = started.elapsed();
        let mut counts = Counts {
            read: remote.read,
            content_sync: remote.content_sync,
            ..Default::default()
        };
        let blocked = {
            let replica = self.directory.read();
            sync::safety_block(&self.config, &replica, &remote, full)
        };
        if let Some(reason) = blocked.filter(|_| !approved) {
            {
                let replica = self.directory.read();
                counts.disabled = sync::to_disable(&replica, &remote).len();
            }
            runs::finish(&self.db, id, "blocked", &counts, &remote.failures, &reason).await?;
            tracing::warn!(%reason, "LDAP sync blocked");
            return runs::get(&self.db, id).await;
        }
        self.define_mapped_fields().await?;
        let config = &self.config;
        let (failures, _) = self
            .directory
            .write(&ldap_actor(), |stage| {
                Ok(sync::apply(stage, config, &remote, &mut counts))
            })
            .await?;
        let applied_at = started.elapsed();
        let mut all_failures = remote.failures.clone();
        all_failures.extend(failures);
        counts.groups = self.sync_groups(&remote).await?;
        tracing::info!(
            read_ms = read_at.as_millis() as u64,
            apply_ms = (applied_at - read_at).as_millis() as u64,
            groups_ms = (started.elapsed() - applied_at).as_millis() as u64,
            "LDAP sync phases"
        );
        // Change marks only grow: a run that read no person keeps the old one.
        let high_water = remote
            .newest_modified
            .as_deref()
            .or(mark.high_water.as_deref())
            .unwrap_or("");
        let cookie = remote.cookie.as_deref().or(mark.cookie.as_deref());
        runs::set_mark(&self.db, high_water, cookie, full).await?;
        let message = format!(
            "{} added, {} updated, {} moved, {} disabled, {} re-enabled, {} skipped",
            counts.added,
            counts.updated,
            counts.moved,
            counts.disabled,
            counts.re_enabled,
            counts.failed
        );
        runs::finish(&self.db, id, "succeeded", &counts, &all_failures, &message).await?;
        tracing::info!(%message, "LDAP sync done");
        runs::get(&self.db, id).await
    }

    /// Custom fields the attribute mapping fills are defined (as text) if HR has not yet.
    async fn define_mapped_fields(&self) -> Result<(), LdapError> {
        let defined = self.directory.field_definitions();
        for key in self.config.staff_attributes.custom.keys() {
            if !defined
                .iter()
                .any(|d| d.entity == FieldEntity::Staff && &d.key == key)
            {
                let def = FieldDefinition {
                    entity: FieldEntity::Staff,
                    key: key.clone(),
                    label: key.clone(),
                    field_type: FieldType::Text,
                    required: false,
                    choices: Vec::new(),
                };
                self.directory.define_field(&ldap_actor(), def).await?;
            }
        }
        Ok(())
    }

    async fn full_is_due(&self) -> Result<bool, LdapError> {
        let last_full = runs::list(&self.db, 50)
            .await?
            .into_iter()
            .find(|r| r.kind == "full" && r.status == "succeeded")
            .map(|r| r.started_at);
        Ok(
            last_full
                .is_none_or(|at| chrono::Utc::now().timestamp_millis() - at > 24 * 3600 * 1000),
        )
    }

    /// Updates group members (nested groups resolved) and the configured group → role links.
    async fn sync_groups(&self, remote: &Remote) -> Result<usize, LdapError> {
        if self.config.groups.is_none() || !remote.groups_read {
            return Ok(0);
        }
        let members = {
            let replica = self.directory.read();
            sync::group_members(remote, &replica)
        };
        let snapshot = self.access.snapshot();
        let mut changes: Vec<PolicyChange> = members
            .iter()
            .filter(|(group, set)| {
                snapshot
                    .policy
                    .group_members
                    .get(group)
                    .cloned()
                    .unwrap_or_default()
                    != *set
            })
            .map(|(group, set)| PolicyChange::SetGroupMembers(group.clone(), set.clone()))
            .collect();
        for (group, role_name) in &self.config.group_roles {
            match snapshot
                .policy
                .roles
                .values()
                .find(|r| &r.name == role_name)
            {
                Some(role) => {
                    let assignment = Assignment {
                        role_id: role.id,
                        subject: Subject::Group(normalize_dn(group)),
                    };
                    if !snapshot.policy.assignments.contains(&assignment) {
                        changes.push(PolicyChange::Assign(assignment));
                    }
                }
                None => {
                    tracing::warn!(%role_name, "ldap.group_roles names a role that does not exist")
                }
            }
        }
        if !changes.is_empty() {
            self.access.apply(&ldap_actor(), changes).await?;
        }
        Ok(members.len())
    }

    /// Approves a blocked run and applies a full sync that may exceed the threshold.
    pub async fn approve(&self, run_id: Uuid) -> Result<Run, LdapError> {
        let run = runs::get(&self.db, run_id).await?;
        if run.status != "blocked" {
            return Err(LdapError::ReadOnly(format!(
                "run {run_id} is {}, not blocked",
                run.status
            )));
        }
        runs::approve(&self.db, run_id).await?;
        self.sync("approval", SyncKind::Full, true).await
    }

    /// Connects, binds, counts, maps one sample and works out what a sync would do.
    pub async fn test(&self) -> Result<TestReport, LdapError> {
        let mut ldap = connection::service_connection(&self.config).await?;
        let paging = connection::server_features(&mut ldap).await?.paging;
        let _ = ldap.unbind().await;
        let remote = remote::read(&self.config, None, None).await?;
        let sample = remote.staff.first().map(|s| {
            serde_json::json!({
                "dn": s.dn, "stable_id": s.stable_id, "login": s.login, "display_name": s.display_name,
                "title": s.title, "emails": s.emails, "phones": s.phones, "staff_type": s.staff_type,
                "custom": s.custom,
            })
        });
        let mut dry_run = Counts {
            read: remote.read,
            ..Default::default()
        };
        let config = &self.config;
        let (blocked, mut failures) = {
            let replica = self.directory.read();
            let blocked = sync::safety_block(config, &replica, &remote, true);
            let failures = self
                .directory
                .preview(|stage| sync::apply(stage, config, &remote, &mut dry_run));
            (blocked, failures)
        };
        failures.extend(remote.failures.iter().cloned());
        failures.truncate(50);
        Ok(TestReport {
            connected: true,
            bound: true,
            paging,
            departments: remote.departments.len(),
            staff: remote.staff.len(),
            groups: remote.groups.len(),
            sample,
            dry_run,
            blocked,
            failures,
        })
    }

    /// Checks a password against LDAP: finds the person by login (the value escaped per
    /// RFC 4515), binds as their DN on a separate connection, and returns who they are here.
    pub async fn verify_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<Option<StaffId>, LdapError> {
        let filter = format!(
            "(&{}({}={}))",
            self.config.staff.filter,
            self.config.staff_attributes.login,
            ldap3::ldap_escape(login)
        );
        let mut ldap = connection::service_connection(&self.config).await?;
        let (entries, _) = connection::search_all(
            &mut ldap,
            &self.config,
            &self.config.staff.base_dn,
            self.config.staff.scope,
            &filter,
            vec![self.config.stable_id.clone()],
            false,
        )
        .await?;
        let _ = ldap.unbind().await;
        let [entry] = entries.as_slice() else {
            return Ok(None);
        };
        if !connection::check_password(&self.config, &entry.dn, password).await? {
            return Ok(None);
        }
        let Some(stable) = mapping::stable_id(entry, &self.config.stable_id) else {
            return Ok(None);
        };
        Ok(self
            .directory
            .read()
            .staff_by_ldap_id(&stable)
            .map(|s| s.id))
    }

    /// Fields of a person that LDAP owns, among those a patch sets.
    pub fn ldap_owned<'a>(&self, person: &Staff, patch: &'a StaffPatch) -> Vec<&'a str> {
        if person.source != RecordSource::Ldap || self.config.mode == Mode::Unsynced {
            return Vec::new();
        }
        patch
            .fields_set()
            .into_iter()
            .filter(|field| match *field {
                "custom" => patch.custom.as_ref().is_some_and(|c| {
                    c.keys()
                        .any(|k| self.config.staff_attributes.custom.contains_key(k))
                }),
                _ => true,
            })
            .collect()
    }

    /// Refuses edits of LDAP-owned fields in `read_only` mode; in `writable` mode writes them
    /// to LDAP first and returns the DN the person has afterwards (it changes on a move).
    pub async fn write_back(
        &self,
        person: &Staff,
        patch: &StaffPatch,
    ) -> Result<Option<String>, LdapError> {
        let owned = self.ldap_owned(person, patch);
        if owned.is_empty() {
            return Ok(None);
        }
        if self.config.mode == Mode::ReadOnly {
            return Err(LdapError::ReadOnly(format!(
                "{} is managed by LDAP (read-only mode); change it in the directory server",
                owned.join(", ")
            )));
        }
        if patch.login.is_some() {
            return Err(LdapError::ReadOnly(
                "login is managed by LDAP and cannot be changed here".into(),
            ));
        }
        let Some(ldap_ref) = &person.ldap else {
            return Ok(None);
        };
        let a = &self.config.staff_attributes;
        let mut mods: Vec<Mod<String>> = Vec::new();
        let replace = |attr: &str, values: Vec<String>| {
            Mod::Replace(
                attr.to_owned(),
                values.into_iter().filter(|v| !v.is_empty()).collect(),
            )
        };
        if let Some(name) = &patch.display_name {
            mods.push(replace(&a.display_name, vec![name.clone()]));
        }
        if let Some(title) = &patch.title {
            mods.push(replace(&a.title, vec![title.clone()]));
        }
        // Lists map to several attributes: all values go to the first, the others are
        // cleared, so that reading back gives exactly the list that was written.
        for (values, attrs) in [(&patch.emails, &a.emails), (&patch.phones, &a.phones)] {
            if let Some(values) = values {
                for (i, attr) in attrs.iter().enumerate() {
                    mods.push(replace(
                        attr,
                        if i == 0 { values.clone() } else { Vec::new() },
                    ));
                }
            }
        }
        if let Some(staff_type) = &patch.staff_type {
            mods.push(replace(&a.staff_type, vec![staff_type.clone()]));
        }
        if let Some(custom) = &patch.custom {
            for (key, value) in custom {
                if let Some(attr) = a.custom.get(key) {
                    let text = value.as_str().map(str::to_owned).unwrap_or_else(|| {
                        if value.is_null() {
                            String::new()
                        } else {
                            value.to_string()
                        }
                    });
                    mods.push(replace(attr, vec![text]));
                }
            }
        }
        let mut ldap = connection::service_connection(&self.config).await?;
        if !mods.is_empty() {
            let result = ldap
                .modify(&ldap_ref.dn, mods)
                .await
                .map_err(|e| LdapError::Unreachable(format!("modify: {e}")))?;
            if result.rc != 0 {
                return Err(LdapError::Refused(format!(
                    "modify {}: {} {}",
                    ldap_ref.dn, result.rc, result.text
                )));
            }
        }
        let mut new_dn = None;
        if let Some(departments) = &patch.departments
            && let Some(primary) = departments
                .iter()
                .find(|m| m.primary)
                .or(departments.first())
        {
            let target = self
                .directory
                .read()
                .department(primary.department_id)
                .and_then(|d| d.ldap.clone());
            let current_parent = parent_dn(&ldap_ref.dn).map(normalize_dn);
            if let Some(target) = target
                && current_parent.as_deref() != Some(normalize_dn(&target.dn).as_str())
            {
                let rdn = ldap_ref.dn
                    [..ldap_ref.dn.len() - parent_dn(&ldap_ref.dn).map_or(0, |p| p.len())]
                    .trim_end_matches([',', ' '])
                    .to_owned();
                let result = ldap
                    .modifydn(&ldap_ref.dn, &rdn, true, Some(&target.dn))
                    .await
                    .map_err(|e| LdapError::Unreachable(format!("modrdn: {e}")))?;
                if result.rc != 0 {
                    return Err(LdapError::Refused(format!(
                        "move {}: {} {}",
                        ldap_ref.dn, result.rc, result.text
                    )));
                }
                new_dn = Some(format!("{rdn},{}", target.dn));
            }
        }
        let _ = ldap.unbind().await;
        Ok(new_dn)
    }
}

impl std::fmt::Debug for LdapService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapService")
            .field("url", &self.config.url)
            .finish()
    }
}

#[async_trait::async_trait]
impl crate::auth::ExternalLogin for LdapService {
    async fn verify(&self, login: &str, password: &str) -> Result<Option<StaffId>, String> {
        self.verify_password(login, password)
            .await
            .map_err(|e| e.to_string())
    }
}

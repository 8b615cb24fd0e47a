//! One sync run as a background job: read, decide, apply, record — and the lease that keeps
//! runs one at a time across nodes, renewed while the job runs and released however it ends.
//! No HTTP request waits on a job, so a timeout or a client that hangs up cannot cut one off.

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::{
    LdapError, groups, remote,
    runs::{self, Counts},
    service::{LEASE_TTL, LdapService, ldap_actor},
    sync,
};
use crate::{
    config::ldap::LdapConfig,
    directory::{FieldDefinition, FieldEntity, FieldType},
};

/// The run lease while a job holds it.
pub struct Lease {
    db: DatabaseConnection,
    run: Uuid,
    renewer: tokio::task::JoinHandle<()>,
    released: bool,
}

impl Lease {
    /// A lease `run` has just acquired; renewed every third of `ttl` until released.
    pub fn held(db: DatabaseConnection, run: Uuid, ttl: Duration) -> Self {
        let renewer = {
            let db = db.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(ttl / 3).await;
                    match runs::renew_lease(&db, run, ttl).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::error!(%run, "the LDAP sync lease was lost (expired and taken by another run)");
                            return;
                        }
                        Err(error) => {
                            tracing::warn!(%error, %run, "renewing the LDAP sync lease failed; retrying")
                        }
                    }
                }
            })
        };
        Self {
            db,
            run,
            renewer,
            released: false,
        }
    }

    pub async fn release(mut self) {
        self.renewer.abort();
        if let Err(error) = runs::release_lease(&self.db, self.run).await {
            tracing::warn!(%error, "releasing the LDAP sync lease failed; it expires on its own");
        }
        self.released = true;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
        if !self.released
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (db, run) = (self.db.clone(), self.run);
            runtime.spawn(async move {
                let _ = runs::release_lease(&db, run).await;
            });
        }
    }
}

/// A run to do.
pub struct Job {
    pub service: Arc<LdapService>,
    /// The settings the run started with (a save mid-run applies to the next one).
    pub config: Arc<LdapConfig>,
    pub id: Uuid,
    pub full: bool,
    pub mark: runs::Mark,
    pub approved: bool,
}

/// Runs the job, records a failure or a panic as the run's end, and releases the lease.
pub async fn supervise(job: Job, lease: Lease) {
    let service = job.service.clone();
    let db = job.service.db.clone();
    let id = job.id;
    let failure = match tokio::spawn(job.execute()).await {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(join) if join.is_panic() => {
            Some("stopped by an internal error (a bug: see the server log)".to_owned())
        }
        Err(_) => Some("cancelled".to_owned()),
    };
    if let Some(message) = failure {
        tracing::warn!(%message, "LDAP sync failed");
        if let Err(error) = runs::abort(&db, id, &message).await {
            tracing::error!(%error, "could not record the end of an LDAP sync run");
        }
    }
    lease.release().await;
    match runs::get(&db, id).await {
        Ok(run) => service.announce(&run),
        Err(error) => tracing::warn!(%error, "the end of an LDAP sync run could not be read back"),
    }
}

impl Job {
    async fn progress(&self, message: &str, counts: &Counts) {
        if let Err(error) = runs::progress(&self.service.db, self.id, message, counts).await {
            tracing::debug!(%error, "LDAP sync progress not recorded");
        }
    }

    async fn execute(self) -> Result<(), LdapError> {
        let service = &self.service;
        let (db, config) = (&service.db, &*self.config);
        let started = std::time::Instant::now();
        let (since, cookie) = if self.full {
            (None, None)
        } else {
            (self.mark.high_water.as_deref(), self.mark.cookie.clone())
        };
        let mut counts = Counts::default();
        self.progress("reading LDAP", &counts).await;
        let remote = match remote::read(config, since, cookie).await {
            Ok(remote) => remote,
            Err(error) => {
                runs::finish(db, self.id, "failed", &counts, &[], &error.to_string()).await?;
                tracing::warn!(%error, "LDAP sync failed while reading; nothing applied");
                return Ok(());
            }
        };
        let read_at = started.elapsed();
        counts.read = remote.read;
        counts.content_sync = remote.content_sync;
        self.progress(&format!("read {} entries; applying", remote.read), &counts)
            .await;
        // A node that stalled past its lease may have been taken for dead and its run failed:
        // it must not apply on top of whoever holds the lease now.
        if !runs::renew_lease(db, self.id, LEASE_TTL).await? {
            return Err(LdapError::Busy(
                "the run lost its lease (its node was taken for stopped); nothing applied".into(),
            ));
        }
        let blocked = {
            let replica = service.directory.read();
            sync::safety_block(config, &replica, &remote, self.full)
        };
        if let Some(reason) = blocked.filter(|_| !self.approved) {
            {
                let replica = service.directory.read();
                counts.disabled = sync::to_disable(&replica, &remote).len();
            }
            runs::finish(db, self.id, "blocked", &counts, &remote.failures, &reason).await?;
            tracing::warn!(%reason, "LDAP sync blocked");
            return Ok(());
        }
        for def in missing_fields(service, config) {
            service.directory.define_field(&ldap_actor(), def).await?;
        }
        let (failures, _) = service
            .directory
            .write(&ldap_actor(), |stage| {
                Ok(sync::apply(stage, config, &remote, &mut counts))
            })
            .await?;
        let applied_at = started.elapsed();
        let mut all_failures = remote.failures.clone();
        all_failures.extend(failures);
        self.progress("updating group members and roles", &counts)
            .await;
        let plan = {
            let replica = service.directory.read();
            groups::plan(config, &remote, &replica, &service.access.snapshot().policy)
        };
        if !plan.changes.is_empty() {
            service.access.apply(&ldap_actor(), plan.changes).await?;
        }
        counts.groups = plan.groups;
        all_failures.extend(plan.failures);
        counts.failed = all_failures.len();
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
            .or(self.mark.high_water.as_deref())
            .unwrap_or("");
        let cookie = remote.cookie.as_deref().or(self.mark.cookie.as_deref());
        runs::set_mark(
            db,
            high_water,
            cookie,
            &config.search_fingerprint(),
            self.full,
        )
        .await?;
        let message = summary(&counts);
        runs::finish(db, self.id, "succeeded", &counts, &all_failures, &message).await?;
        tracing::info!(%message, "LDAP sync done");
        Ok(())
    }
}

pub fn summary(counts: &Counts) -> String {
    format!(
        "{} added, {} updated, {} moved, {} disabled, {} re-enabled, {} skipped",
        counts.added,
        counts.updated,
        counts.moved,
        counts.disabled,
        counts.re_enabled,
        counts.failed
    )
}

/// Custom fields the attribute mapping fills that HR has not defined yet: a run defines them
/// (as text) before applying, and a dry run applies as if it had.
pub fn missing_fields(service: &LdapService, config: &LdapConfig) -> Vec<FieldDefinition> {
    let defined = service.directory.field_definitions();
    config
        .staff_attributes
        .custom
        .keys()
        .filter(|key| {
            !defined
                .iter()
                .any(|d| d.entity == FieldEntity::Staff && &d.key == *key)
        })
        .map(|key| FieldDefinition {
            entity: FieldEntity::Staff,
            key: key.clone(),
            label: key.clone(),
            field_type: FieldType::Text,
            required: false,
            choices: Vec::new(),
        })
        .collect()
}

//! The LDAP service: sync runs as background jobs (manual, scheduled, approved) under a
//! renewed lease, the connection test, password checks for login (`login.rs`), and
//! write-back of edits in `writable` mode (`writeback.rs`).

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use sea_orm::DatabaseConnection;
use tracing::Instrument;
use uuid::Uuid;

use super::{
    LdapError,
    job::{self, Job},
    runs::{self, Run},
    settings::{self, LdapSettings},
};
use crate::config::ldap::{LdapConfig, Mode, RawLdapConfig};
use crate::locks::RwLockExt;
use crate::{
    access::Access,
    auth::Sealer,
    directory::Directory,
    store::{Actor, AuditEntry, EntityKind, Source},
};

/// Which kind of run to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    Full,
    Incremental,
    /// Incremental, or full when the last full run is a day old.
    Auto,
}

/// Told when a sync run has ended, however it ended (`succeeded`, `failed`, `blocked`): the
/// way other modules (mail's alert to IT) hear of runs without reading the `ldap_*` tables.
/// Called on the job's task; do not block in it.
pub trait RunListener: Send + Sync {
    fn run_ended(&self, run: &Run);
}

/// How long a run's lease lasts unless renewed: a node that dies mid-run blocks others for at
/// most this long. The running node renews it every third of that.
pub(super) const LEASE_TTL: Duration = Duration::from_secs(60);

/// The LDAP connector.
pub struct LdapService {
    /// The settings in force: IT's saved settings over the file's, reloaded before every run
    /// and test (so a save on any node applies to the next run) and swapped on a save here.
    /// `None` until LDAP is configured (no `[ldap]` table, nothing saved yet); once it is, it
    /// stays so.
    config: RwLock<Option<Arc<LdapConfig>>>,
    /// The configuration file's (and environment's) settings, if any: the first values.
    file: Option<LdapConfig>,
    pub(super) directory: Arc<Directory>,
    pub(super) access: Arc<Access>,
    pub(super) db: DatabaseConnection,
    /// Seals the bind password IT enters (kept in `ldap_settings`).
    sealer: Sealer,
    listeners: RwLock<Vec<Arc<dyn RunListener>>>,
}

pub(super) fn ldap_actor() -> Actor {
    Actor::new("ldap-sync", Source::Ldap)
}

impl LdapService {
    /// Builds the connector, configured by `config` (the file's `[ldap]` table) or by settings
    /// saved before, else waiting for IT's first save. Runs left "running" by a node that is
    /// gone (no live lease) are marked failed; a run another node is still renewing the lease
    /// for is left alone.
    pub async fn new(
        config: Option<LdapConfig>,
        directory: Arc<Directory>,
        access: Arc<Access>,
        sealer: Sealer,
    ) -> Result<Arc<Self>, LdapError> {
        let db = directory.db().clone();
        settings::seal_stored_password(&db, &sealer).await?;
        let stored = settings::load(&db, &sealer).await?;
        let effective = settings::effective(stored.as_ref(), config.as_ref()).map(Arc::new);
        let failed = runs::fail_orphans(&db).await?;
        if failed > 0 {
            tracing::warn!(
                failed,
                "LDAP sync runs interrupted by a stopped node marked failed"
            );
        }
        Ok(Arc::new(Self {
            config: RwLock::new(effective),
            file: config,
            directory,
            access,
            db,
            sealer,
            listeners: RwLock::new(Vec::new()),
        }))
    }

    /// Registers a listener for the end of every later run.
    pub fn on_run_ended(&self, listener: Arc<dyn RunListener>) {
        self.listeners.write_or_recover().push(listener);
    }

    /// Tells the listeners how a run ended.
    pub(super) fn announce(&self, run: &Run) {
        for listener in self.listeners.read_or_recover().iter() {
            listener.run_ended(run);
        }
    }

    /// Whether LDAP is configured (from the file or saved settings). Once true, it stays so.
    pub fn configured(&self) -> bool {
        self.config.read_or_recover().is_some()
    }

    /// The mode in force; `unsynced` (nothing LDAP-owned) while LDAP is not configured.
    pub fn mode(&self) -> Mode {
        self.config().map_or(Mode::Unsynced, |c| c.mode)
    }

    /// The settings in force (as of the last run, test or save on this node).
    pub fn config(&self) -> Result<Arc<LdapConfig>, LdapError> {
        self.config
            .read_or_recover()
            .clone()
            .ok_or(LdapError::NotConfigured)
    }

    /// Reads the saved settings again (another node may have saved new ones, or the first).
    pub(super) async fn reload(&self) -> Result<Arc<LdapConfig>, LdapError> {
        let stored = settings::load(&self.db, &self.sealer).await?;
        match settings::effective(stored.as_ref(), self.file.as_ref()) {
            Some(config) => {
                let config = Arc::new(config);
                *self.config.write_or_recover() = Some(config.clone());
                Ok(config)
            }
            // Saved settings that stopped validating, and no file: the last good ones hold.
            None => self.config(),
        }
    }

    /// The settings in force as administrators see them (no password); source `none` and
    /// the blank form while LDAP is not configured.
    pub async fn settings(&self) -> Result<LdapSettings, LdapError> {
        let stored = settings::load(&self.db, &self.sealer).await?;
        let config = settings::effective(stored.as_ref(), self.file.as_ref());
        Ok(settings::view(stored.as_ref(), config.as_ref()))
    }

    /// Checks `raw` (its `bind_password`: absent keeps the stored one, `""` goes back to the
    /// file's) and gives the settings it makes, without saving them.
    pub async fn candidate(&self, mut raw: RawLdapConfig) -> Result<LdapConfig, LdapError> {
        let stored = settings::load(&self.db, &self.sealer).await?;
        let entered = raw.bind_password.take();
        let password = settings::password_after(entered.as_deref(), stored.as_ref())?;
        settings::candidate(raw, password, self.file.as_ref())
    }

    /// Saves new settings (checked as [`Self::candidate`]), audited as `actor`; the next run
    /// (and login, and write-back) uses them, no restart.
    pub async fn save_settings(
        &self,
        actor: &Actor,
        mut raw: RawLdapConfig,
    ) -> Result<LdapSettings, LdapError> {
        let stored = settings::load(&self.db, &self.sealer).await?;
        let before = settings::view(
            stored.as_ref(),
            settings::effective(stored.as_ref(), self.file.as_ref()).as_ref(),
        );
        let entered = raw.bind_password.take();
        let password = settings::password_after(entered.as_deref(), stored.as_ref())?;
        let config = settings::candidate(raw, password.clone(), self.file.as_ref())?;
        let mut clean = config.to_raw();
        clean.bind_password = None;
        settings::save(
            self.directory.journal(),
            &self.sealer,
            actor,
            &clean,
            password.as_ref(),
            &before,
        )
        .await?;
        *self.config.write_or_recover() = Some(Arc::new(config));
        tracing::info!(url = %clean.url, mode = clean.mode.as_str(), "LDAP settings changed");
        self.settings().await
    }

    /// Runs the scheduled syncs, at the interval in force, skipping them in `unsynced` mode
    /// (both may change with the settings) and while LDAP is not configured (looking every
    /// minute for settings another node saved).
    pub fn spawn_scheduler(self: &Arc<Self>) {
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                let interval = service
                    .config()
                    .map_or(Duration::from_secs(60), |c| c.sync_interval);
                tokio::time::sleep(interval).await;
                match service.reload().await {
                    Ok(config) if config.mode == Mode::Unsynced => continue,
                    Ok(_) => {}
                    Err(LdapError::NotConfigured) => continue,
                    Err(error) => {
                        tracing::warn!(%error, "LDAP settings could not be read");
                        continue;
                    }
                }
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

    /// One run, with its progress while it is running.
    pub async fn run(&self, id: Uuid) -> Result<Run, LdapError> {
        runs::get(&self.db, id).await
    }

    /// Starts a sync in the background and returns its record (status `running`). Another run
    /// in progress (on any node) is `Busy`.
    pub async fn start_sync(
        self: &Arc<Self>,
        trigger: &str,
        kind: SyncKind,
        approved: bool,
    ) -> Result<Run, LdapError> {
        Ok(self.launch(trigger, kind, approved).await?.0)
    }

    /// Runs a sync and waits for it to end. A run that fails or is blocked is recorded and
    /// returned, not an error.
    pub async fn sync(
        self: &Arc<Self>,
        trigger: &str,
        kind: SyncKind,
        approved: bool,
    ) -> Result<Run, LdapError> {
        let (run, done) = self.launch(trigger, kind, approved).await?;
        // The job records its own end (also a panic); the record is the answer.
        let _ = done.await;
        runs::get(&self.db, run.id).await
    }

    /// Takes the lease, records the run and spawns it. The lease is released whatever way the
    /// job ends (success, failure, panic); until then a task renews it.
    async fn launch(
        self: &Arc<Self>,
        trigger: &str,
        kind: SyncKind,
        approved: bool,
    ) -> Result<(Run, tokio::task::JoinHandle<()>), LdapError> {
        let config = self.reload().await?;
        let id = Uuid::now_v7();
        if !runs::acquire_lease(&self.db, id, LEASE_TTL).await? {
            return Err(LdapError::Busy("another LDAP sync is running".into()));
        }
        let lease = job::Lease::held(self.db.clone(), id, LEASE_TTL);
        // Holding the lease, we know no other run is alive: whatever still shows as running
        // was cut off.
        runs::fail_orphans(&self.db).await?;
        let mark = runs::mark(&self.db, &config.search_fingerprint()).await?;
        let full = match kind {
            SyncKind::Full => true,
            SyncKind::Incremental => mark.high_water.is_none(),
            SyncKind::Auto => mark.high_water.is_none() || self.full_is_due().await?,
        };
        runs::start(
            &self.db,
            id,
            trigger,
            if full { "full" } else { "incremental" },
        )
        .await?;
        let run = runs::get(&self.db, id).await?;
        let job = Job {
            service: self.clone(),
            config,
            id,
            full,
            mark,
            approved,
        };
        let span = tracing::info_span!("ldap_sync", run = %id, full);
        let done = tokio::spawn(job::supervise(job, lease).instrument(span));
        Ok((run, done))
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

    /// Approves a blocked run and starts a full sync that may exceed the threshold; audited as
    /// `actor`. A run that is not blocked, or already decided, is a conflict.
    pub async fn approve(self: &Arc<Self>, actor: &Actor, run_id: Uuid) -> Result<Run, LdapError> {
        undecided(&runs::get(&self.db, run_id).await?)?;
        let started = self.start_sync("approval", SyncKind::Full, true).await?;
        self.record_decision(actor, run_id, true).await?;
        Ok(started)
    }

    /// Rejects a blocked run: nothing is applied, and it no longer waits; audited as `actor`.
    pub async fn reject(&self, actor: &Actor, run_id: Uuid) -> Result<Run, LdapError> {
        undecided(&runs::get(&self.db, run_id).await?)?;
        self.record_decision(actor, run_id, false).await?;
        runs::get(&self.db, run_id).await
    }

    async fn record_decision(
        &self,
        actor: &Actor,
        run_id: Uuid,
        approve: bool,
    ) -> Result<(), LdapError> {
        let mut txn = self.directory.journal().begin(actor).await?;
        if !runs::decide(txn.txn(), run_id, approve).await? {
            return Err(LdapError::ReadOnly(format!(
                "run {run_id} was decided meanwhile"
            )));
        }
        txn.audit(AuditEntry {
            action: if approve {
                "ldap.run.approve"
            } else {
                "ldap.run.reject"
            },
            entity_kind: EntityKind::LdapRun,
            entity_id: Some(run_id),
            before: AuditEntry::json(&serde_json::json!({"status": "blocked"})),
            after: AuditEntry::json(&if approve {
                serde_json::json!({"status": "blocked", "approved": true})
            } else {
                serde_json::json!({"status": "rejected"})
            }),
        });
        txn.commit(|_| ()).await?;
        Ok(())
    }
}

/// A run an admin may still approve or reject.
fn undecided(run: &Run) -> Result<(), LdapError> {
    if run.status != "blocked" || run.approved {
        let state = if run.approved {
            "approved"
        } else {
            run.status.as_str()
        };
        return Err(LdapError::ReadOnly(format!(
            "run {} is {state}, not waiting for approval",
            run.id
        )));
    }
    Ok(())
}

impl std::fmt::Debug for LdapService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapService")
            .field("url", &self.config().map(|c| c.url.clone()).ok())
            .finish()
    }
}

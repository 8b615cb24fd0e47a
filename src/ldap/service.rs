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
};
use crate::config::ldap::{LdapConfig, Mode};
use crate::locks::RwLockExt;
use crate::{
    access::Access,
    directory::Directory,
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
    pub(super) config: LdapConfig,
    pub(super) directory: Arc<Directory>,
    pub(super) access: Arc<Access>,
    pub(super) db: DatabaseConnection,
    listeners: RwLock<Vec<Arc<dyn RunListener>>>,
}

pub(super) fn ldap_actor() -> Actor {
    Actor::new("ldap-sync", Source::Ldap)
}

impl LdapService {
    /// Builds the connector. Runs left "running" by a node that is gone (no live lease) are
    /// marked failed; a run another node is still renewing the lease for is left alone.
    pub async fn new(
        config: LdapConfig,
        directory: Arc<Directory>,
        access: Arc<Access>,
    ) -> Result<Arc<Self>, LdapError> {
        let db = directory.db().clone();
        let failed = runs::fail_orphans(&db).await?;
        if failed > 0 {
            tracing::warn!(
                failed,
                "LDAP sync runs interrupted by a stopped node marked failed"
            );
        }
        Ok(Arc::new(Self {
            config,
            directory,
            access,
            db,
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
        let id = Uuid::now_v7();
        if !runs::acquire_lease(&self.db, id, LEASE_TTL).await? {
            return Err(LdapError::Busy("another LDAP sync is running".into()));
        }
        let lease = job::Lease::held(self.db.clone(), id, LEASE_TTL);
        // Holding the lease, we know no other run is alive: whatever still shows as running
        // was cut off.
        runs::fail_orphans(&self.db).await?;
        let mark = runs::mark(&self.db, &self.config.search_fingerprint()).await?;
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

    /// Approves a blocked run and starts a full sync that may exceed the threshold.
    pub async fn approve(self: &Arc<Self>, run_id: Uuid) -> Result<Run, LdapError> {
        let run = runs::get(&self.db, run_id).await?;
        if run.status != "blocked" {
            return Err(LdapError::ReadOnly(format!(
                "run {run_id} is {}, not blocked",
                run.status
            )));
        }
        let started = self.start_sync("approval", SyncKind::Full, true).await?;
        runs::approve(&self.db, run_id).await?;
        Ok(started)
    }
}

impl std::fmt::Debug for LdapService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapService")
            .field("url", &self.config.url)
            .finish()
    }
}

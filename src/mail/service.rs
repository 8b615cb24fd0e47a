//! The mail service: what the API, the pages and the other modules' listeners call. It queues
//! mails in the outbox and owns the background tasks (the one sending worker, the digest, the
//! welcome follower); nothing here waits on an SMTP server.

use std::{
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use tokio::{sync::Notify, task::JoinHandle};
use uuid::Uuid;

use super::{
    MailError,
    compose::{Rendered, TestMail},
    outbox::{self, Draft, MailKind, OutboxEntry, OutboxStatus},
    settings::{self, Language, MailSettings, MailSettingsInput, Settings},
    tokens::LinkKey,
    welcome,
};
use crate::{
    access::Access,
    auth::{Auth, Sealer, limiter::FailedLogins},
    config::mail::MailConfig,
    directory::{Directory, Staff, StaffId},
    im::Im,
    locks::{MutexExt, RwLockExt},
    observability::render_value,
    store::{Actor, AuditEntry, EntityKind},
};

/// Counters behind `/metrics`.
#[derive(Default)]
pub(crate) struct MailMetrics {
    pub queued: AtomicU64,
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    /// Mails waiting (queued or being sent), as the worker last counted.
    pub pending: AtomicU64,
}

/// The mail service.
pub struct Mail {
    pub(crate) db: DatabaseConnection,
    pub(crate) directory: Arc<Directory>,
    pub(crate) auth: Arc<Auth>,
    pub(crate) access: Arc<Access>,
    pub(crate) im: Arc<Im>,
    /// Mechanics (timeouts, retries, intervals) and the first settings.
    pub(crate) config: MailConfig,
    settings: RwLock<Arc<Settings>>,
    /// Bumped with every settings change, so the worker rebuilds its SMTP transport.
    pub(crate) generation: AtomicU64,
    /// Where links point when no public URL is set: the address the service listens on.
    listen_url: RwLock<String>,
    pub(crate) links: LinkKey,
    /// Seals the SMTP password the settings keep in the database.
    sealer: Sealer,
    /// Wakes the worker: a mail was queued, or settings changed.
    pub(crate) wake: Notify,
    pub(crate) metrics: MailMetrics,
    pub(crate) welcome: Arc<welcome::Inbox>,
    pub(crate) reset_throttle: FailedLogins,
    /// Per client address: one office behind one address asks for more than one person does.
    pub(crate) client_throttle: FailedLogins,
    pub(crate) stopping: AtomicBool,
    /// The mail the worker is handing to the server right now.
    pub(crate) in_flight: Mutex<Option<Uuid>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    loops: Mutex<Vec<JoinHandle<()>>>,
}

impl Mail {
    /// Loads the settings, follows the directory for welcome mails and, with `background`,
    /// starts the worker and the digest. Without it (one-off commands), mails caused meanwhile
    /// are caught up at the next start.
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        db: DatabaseConnection,
        directory: Arc<Directory>,
        auth: Arc<Auth>,
        access: Arc<Access>,
        im: Arc<Im>,
        config: MailConfig,
        token_key: &[u8],
        background: bool,
    ) -> Result<Arc<Self>, MailError> {
        let sealer = Sealer::derive(token_key);
        let loaded = settings::load(&db, &config, &sealer).await?;
        if loaded.password_in_clear {
            settings::save(&db, &loaded.settings, &sealer).await?;
            tracing::info!("the stored SMTP password is sealed now");
        }
        let settings = loaded.settings;
        let welcome = welcome::Inbox::load(&db, &directory).await?;
        let mail = Arc::new(Self {
            db,
            directory: directory.clone(),
            auth,
            access,
            im,
            config,
            settings: RwLock::new(Arc::new(settings)),
            generation: AtomicU64::new(0),
            listen_url: RwLock::new("http://127.0.0.1:8080".into()),
            links: LinkKey::derive(token_key),
            sealer,
            wake: Notify::new(),
            metrics: MailMetrics::default(),
            welcome: welcome.clone(),
            // Like logins: five requests per account (or address) in 15 minutes.
            reset_throttle: FailedLogins::new(5, Duration::from_secs(15 * 60)),
            client_throttle: FailedLogins::new(30, Duration::from_secs(15 * 60)),
            stopping: AtomicBool::new(false),
            in_flight: Mutex::new(None),
            worker: Mutex::new(None),
            loops: Mutex::new(Vec::new()),
        });
        directory.subscribe(welcome::Listener::new(&welcome));
        welcome.catch_up(&directory);
        if background {
            *mail.worker.lock_or_recover() = Some(tokio::spawn(super::worker::run(mail.clone())));
            let loops = vec![
                tokio::spawn(welcome::follow(mail.clone())),
                tokio::spawn(super::digest::run(mail.clone())),
            ];
            mail.loops.lock_or_recover().extend(loops);
        }
        Ok(mail)
    }

    /// The address the service listens on, for links when no public URL is set.
    pub fn set_listen_address(&self, addr: std::net::SocketAddr) {
        *self.listen_url.write_or_recover() = format!("http://{addr}");
        let settings = self.current();
        if settings.configured() && settings.public_url.is_none() {
            tracing::warn!(
                %addr,
                "links in mails point to the listen address: set mail.public_url (SWITCHBOARD_PUBLIC_URL) to the address people open"
            );
        }
    }

    /// The settings in force (with the password).
    pub(crate) fn current(&self) -> Arc<Settings> {
        self.settings.read_or_recover().clone()
    }

    /// Where links in mails point, without a trailing slash.
    pub(crate) fn base_url(&self) -> String {
        self.current()
            .public_url
            .clone()
            .unwrap_or_else(|| self.listen_url.read_or_recover().clone())
    }

    /// The domain of Message-IDs: the sender's.
    fn domain(&self) -> String {
        self.current()
            .from_address
            .as_deref()
            .and_then(|a| a.rsplit_once('@'))
            .map_or_else(|| "switchboard.invalid".to_owned(), |(_, d)| d.to_owned())
    }

    /// The mail settings as administrators see them.
    pub fn settings(&self) -> MailSettings {
        self.current().view()
    }

    /// Replaces the settings (audited: before and after, never the password); the worker uses
    /// them from its next mail on.
    pub async fn update_settings(
        &self,
        actor: &Actor,
        input: MailSettingsInput,
    ) -> Result<MailSettings, MailError> {
        let current = self.current();
        let password_change = input.smtp_password.is_some();
        let next = current.replaced_by(input)?;
        let view = next.view();
        let mut txn = self.directory.journal().begin(actor).await?;
        settings::save(txn.txn(), &next, &self.sealer).await?;
        txn.audit(AuditEntry {
            action: "mail.settings",
            entity_kind: EntityKind::Setting,
            entity_id: None,
            before: AuditEntry::json(&current.view()),
            after: AuditEntry::json(&serde_json::json!({
                "settings": view,
                "password_changed": password_change,
            })),
        });
        txn.commit(|_| {
            *self.settings.write_or_recover() = Arc::new(next);
        })
        .await?;
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.wake.notify_one();
        tracing::info!(host = ?view.smtp_host, port = view.smtp_port, "mail settings changed");
        Ok(view)
    }

    /// Queues a mail in `db` (a transaction of the caller's, or the connection) unless mail is
    /// off. `Some(id)` when queued now; `None` when off or queued before (same key).
    pub(crate) async fn queue<C: ConnectionTrait>(
        &self,
        db: &C,
        key: String,
        kind: MailKind,
        to: (&str, Option<StaffId>),
        mail: Rendered,
        headers: Vec<(String, String)>,
    ) -> Result<Option<Uuid>, MailError> {
        if !self.current().configured() {
            tracing::debug!(kind = kind.as_str(), "mail is off; not queued");
            return Ok(None);
        }
        let draft = Draft {
            key,
            kind,
            recipient: to.0.to_owned(),
            staff: to.1,
            subject: mail.subject,
            text: mail.text,
            html: mail.html,
            headers,
        };
        let id = outbox::enqueue(db, draft, &self.domain()).await?;
        if id.is_some() {
            self.metrics.queued.fetch_add(1, Ordering::Relaxed);
            self.metrics.pending.fetch_add(1, Ordering::Relaxed);
        }
        Ok(id)
    }

    /// Tells the worker to look at the outbox now (after a transaction with mails committed).
    pub(crate) fn poke(&self) {
        self.wake.notify_one();
    }

    /// Queues a test mail to `to` (or the caller's own address) and returns it; its status
    /// shows whether the server took it.
    pub async fn send_test(
        &self,
        actor: &Actor,
        to: Option<String>,
        caller: Option<StaffId>,
    ) -> Result<OutboxEntry, MailError> {
        let requested_by = actor.name.as_str();
        let settings = self.current();
        if !settings.configured() {
            return Err(MailError::NotConfigured);
        }
        let to = match to.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) {
            Some(address) => address,
            None => caller.and_then(|s| self.address_of(s)).ok_or_else(|| {
                MailError::invalid("to", "give an address (you have none on file)")
            })?,
        };
        if !crate::config::address::valid_address(&to) {
            return Err(MailError::invalid("to", "not a mail address"));
        }
        let lang = match caller {
            Some(staff) => self.language_of(staff).await?,
            None => settings.language,
        };
        let rendered = TestMail {
            lang,
            base_url: self.base_url(),
            requested_by: requested_by.to_owned(),
        }
        .render()?;
        // Queued and read back in one transaction: the answer is the mail as queued, not
        // whatever the worker (which may be awake for other mail) has made of it since.
        let txn = self.db.begin().await?;
        let id = self
            .queue(
                &txn,
                format!("test:{}", Uuid::now_v7()),
                MailKind::Test,
                (&to, caller),
                rendered,
                Vec::new(),
            )
            .await?
            .ok_or_else(|| MailError::Internal("the test mail was not queued".into()))?;
        let queued = outbox::get(&txn, id).await?;
        txn.commit().await?;
        self.poke();
        self.audit(actor, "mail.test", id, serde_json::json!({ "to": to }))
            .await?;
        Ok(queued)
    }

    /// Recent mails, newest first.
    pub async fn outbox(
        &self,
        status: Option<OutboxStatus>,
        limit: u64,
    ) -> Result<Vec<OutboxEntry>, MailError> {
        outbox::list(&self.db, status, limit).await
    }

    pub async fn outbox_entry(&self, id: Uuid) -> Result<OutboxEntry, MailError> {
        outbox::get(&self.db, id).await
    }

    /// Queues a failed mail again.
    pub async fn retry(&self, actor: &Actor, id: Uuid) -> Result<OutboxEntry, MailError> {
        let entry = outbox::retry(&self.db, id).await?;
        self.poke();
        let what = serde_json::json!({ "kind": entry.kind, "to": entry.recipient });
        self.audit(actor, "mail.retry", id, what).await?;
        Ok(entry)
    }

    /// An audit line about a mail of the outbox.
    async fn audit(
        &self,
        actor: &Actor,
        action: &'static str,
        id: Uuid,
        after: serde_json::Value,
    ) -> Result<(), MailError> {
        let entry = AuditEntry {
            action,
            entity_kind: EntityKind::Mail,
            entity_id: Some(id),
            before: None,
            after: AuditEntry::json(&after),
        };
        self.directory
            .journal()
            .audit_only(actor, vec![entry])
            .await?;
        Ok(())
    }

    /// A person's first mail address, if they are active and have one.
    pub(crate) fn address_of(&self, staff: StaffId) -> Option<String> {
        let replica = self.directory.read();
        replica
            .staff(staff)
            .filter(|s| s.is_active())
            .and_then(|s| first_address(s))
    }

    /// The language a person's mails are in: their choice, else the default.
    pub(crate) async fn language_of(&self, staff: StaffId) -> Result<Language, MailError> {
        let chosen = super::prefs::load(&self.db, staff)
            .await?
            .and_then(|p| p.language.as_deref().and_then(Language::parse));
        Ok(chosen.unwrap_or(self.current().language))
    }

    /// Appends the mail metrics in Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        let m = &self.metrics;
        render_value(
            out,
            "switchboard_mail_pending",
            "gauge",
            "Mails in the outbox not yet sent or given up.",
            m.pending.load(Ordering::Relaxed),
        );
        for (name, help, counter) in [
            ("queued", "Mails queued since start.", &m.queued),
            (
                "sent",
                "Mails the SMTP server accepted since start.",
                &m.sent,
            ),
            ("failed", "Mails given up since start.", &m.failed),
            (
                "retries",
                "Attempts that failed and were scheduled again since start.",
                &m.retried,
            ),
        ] {
            render_value(
                out,
                &format!("switchboard_mail_{name}_total"),
                "counter",
                help,
                counter.load(Ordering::Relaxed),
            );
        }
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Stops the background tasks. The worker may finish the mail it is sending for a few
    /// seconds; a server that takes longer does not hold up the stop: the mail is queued again
    /// (the server may have it already: see the guarantee in `worker.rs`), and what is left
    /// waits in the outbox for the next start.
    pub async fn shutdown(&self) {
        self.stopping.store(true, Ordering::Release);
        self.wake.notify_one();
        for task in std::mem::take(&mut *self.loops.lock_or_recover()) {
            task.abort();
        }
        let worker = self.worker.lock_or_recover().take();
        if let Some(mut worker) = worker {
            let grace = self.config.smtp_timeout.min(Duration::from_secs(5));
            if tokio::time::timeout(grace, &mut worker).await.is_err() {
                worker.abort();
                let _ = worker.await;
                let cut = self.in_flight.lock_or_recover().take();
                if let Some(id) = cut {
                    match outbox::requeue(&self.db, id).await {
                        Ok(()) => {
                            tracing::warn!(%id, "the SMTP server was still busy with a mail at shutdown; it is queued again")
                        }
                        Err(error) => {
                            tracing::warn!(%error, %id, "a mail cut off at shutdown stays 'sending' until its lease runs out")
                        }
                    }
                }
            }
        }
    }
}

/// The address mails to a person go to.
pub(crate) fn first_address(staff: &Staff) -> Option<String> {
    staff
        .emails
        .iter()
        .map(|e| e.trim())
        .find(|e| crate::config::address::valid_address(e))
        .map(str::to_owned)
}

//! The welcome mail to new staff. The directory tells us of every commit (HR edits and LDAP
//! syncs alike); the listener notes people who appear — active, with a mail address, not seen
//! before — and the follower queues their mail together with the row that marks them welcomed
//! (`mail_welcomed`), in one transaction. The listener runs under the directory's writer lock,
//! so it only notes; and since the directory's transaction is not ours, a stop between its
//! commit and ours would lose the mail: at every start, everyone in the directory not yet
//! welcomed is caught up. At the very first start everyone already there counts as welcomed
//! (an upgrade does not mail the whole company).

use std::{
    collections::{BTreeSet, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use sea_orm::{
    ActiveValue::Set, DatabaseConnection, EntityTrait, TransactionTrait, sea_query::OnConflict,
};
use tokio::sync::Notify;

use super::{
    Mail, MailError,
    compose::WelcomeMail,
    entities::welcomed,
    outbox::{MailKind, now_ms},
    service::first_address,
    settings,
};
use crate::{
    directory::{Change, Directory, DirectoryListener, RecordSource, Replica, Staff, StaffId},
    locks::MutexExt,
    store::Version,
};

const BASELINE_KEY: &str = "welcome_baseline";

/// Who has been considered, and who waits for the follower.
pub(crate) struct Inbox {
    seen: Mutex<HashSet<StaffId>>,
    pending: Mutex<BTreeSet<StaffId>>,
    wake: Notify,
}

fn wants_welcome(staff: &Staff) -> bool {
    staff.is_active() && first_address(staff).is_some()
}

impl Inbox {
    /// Reads who was welcomed; at the first start, records everyone present as welcomed.
    pub(crate) async fn load(
        db: &DatabaseConnection,
        directory: &Directory,
    ) -> Result<Arc<Self>, MailError> {
        let mut seen: HashSet<StaffId> = welcomed::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|row| StaffId(row.staff_id))
            .collect();
        if settings::get_value(db, BASELINE_KEY).await?.is_none() {
            let present: Vec<StaffId> = directory.read().all_staff().map(|s| s.id).collect();
            let txn = db.begin().await?;
            for chunk in present.chunks(500) {
                insert_welcomed(&txn, chunk).await?;
            }
            settings::set_value(&txn, BASELINE_KEY, &now_ms().to_string()).await?;
            txn.commit().await?;
            tracing::info!(
                people = present.len(),
                "welcome mails: everyone in the directory counts as welcomed"
            );
            seen.extend(present);
        }
        Ok(Arc::new(Self {
            seen: Mutex::new(seen),
            pending: Mutex::new(BTreeSet::new()),
            wake: Notify::new(),
        }))
    }

    /// Notes everyone in the directory who wants a welcome and never had one. Called once the
    /// listener hears commits, so nobody falls between the two (a person noted twice is
    /// welcomed once).
    pub(crate) fn catch_up(&self, directory: &Directory) {
        let missed: Vec<StaffId> = {
            let seen = self.seen.lock_or_recover();
            directory
                .read()
                .all_staff()
                .filter(|s| !seen.contains(&s.id) && wants_welcome(s))
                .map(|s| s.id)
                .collect()
        };
        if !missed.is_empty() {
            tracing::info!(people = missed.len(), "welcome mails to catch up");
            self.pending.lock_or_recover().extend(missed);
            self.wake.notify_one();
        }
    }

    async fn take(&self) -> BTreeSet<StaffId> {
        loop {
            {
                let mut pending = self.pending.lock_or_recover();
                if !pending.is_empty() {
                    return std::mem::take(&mut *pending);
                }
            }
            self.wake.notified().await;
        }
    }

    fn put_back(&self, staff: StaffId) {
        self.pending.lock_or_recover().insert(staff);
    }
}

async fn insert_welcomed<C: sea_orm::ConnectionTrait>(
    db: &C,
    staff: &[StaffId],
) -> Result<u64, MailError> {
    if staff.is_empty() {
        return Ok(0);
    }
    let at = now_ms();
    Ok(
        welcomed::Entity::insert_many(staff.iter().map(|s| welcomed::ActiveModel {
            staff_id: Set(s.0),
            at: Set(at),
        }))
        .on_conflict(
            OnConflict::column(welcomed::Column::StaffId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?,
    )
}

/// Hears directory commits; notes, never waits.
pub(crate) struct Listener {
    inbox: Arc<Inbox>,
}

impl Listener {
    pub(crate) fn new(inbox: &Arc<Inbox>) -> Arc<Self> {
        Arc::new(Self {
            inbox: inbox.clone(),
        })
    }
}

impl DirectoryListener for Listener {
    fn committed(&self, _version: Version, changes: &[Change], _replica: &Replica) {
        let fresh: Vec<StaffId> = {
            let seen = self.inbox.seen.lock_or_recover();
            changes
                .iter()
                .filter_map(|change| match change {
                    Change::Staff {
                        after: Some(staff), ..
                    } if !seen.contains(&staff.id) && wants_welcome(staff) => Some(staff.id),
                    _ => None,
                })
                .collect()
        };
        if !fresh.is_empty() {
            self.inbox.pending.lock_or_recover().extend(fresh);
            self.inbox.wake.notify_one();
        }
    }
}

/// Queues the welcome mails of people the listener (or the start) noted.
pub(crate) async fn follow(mail: Arc<Mail>) {
    loop {
        let batch = mail.welcome.take().await;
        for staff in batch {
            if let Err(error) = mail.welcome_one(staff).await {
                tracing::warn!(%error, %staff, "welcome mail not queued; trying again later");
                mail.welcome.put_back(staff);
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
        mail.poke();
    }
}

impl Mail {
    /// Marks one person welcomed, with their mail queued in the same transaction (when mail is
    /// on and welcomes are wanted; otherwise they are only marked).
    async fn welcome_one(&self, staff: StaffId) -> Result<(), MailError> {
        let person = self.directory.read().staff(staff).cloned();
        let Some(person) = person.filter(|p| wants_welcome(p)) else {
            return Ok(());
        };
        let Some(address) = first_address(&person) else {
            return Ok(());
        };
        let settings = self.current();
        let lang = self.language_of(staff).await?;
        let base = self.base_url();
        let rendered = WelcomeMail {
            lang,
            name: person.display_name.clone(),
            login: person.login.clone(),
            app_url: format!("{base}/app"),
            password_url: (person.source == RecordSource::Local).then(|| {
                super::link(
                    &base,
                    "/password-reset",
                    &[("login", &person.login), ("lang", lang.as_str())],
                )
            }),
        }
        .render()?;
        let txn = self.db.begin().await?;
        if insert_welcomed(&txn, &[staff]).await? == 1 && settings.welcome {
            self.queue(
                &txn,
                format!("welcome:{staff}"),
                MailKind::Welcome,
                (&address, Some(staff)),
                rendered,
                Vec::new(),
            )
            .await?;
        }
        txn.commit().await?;
        self.welcome.seen.lock_or_recover().insert(staff);
        Ok(())
    }
}

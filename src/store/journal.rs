//! The journal serialises writes: one writer at a time (an in-process lock, plus the
//! `journal_head` row lock so several nodes on one PostgreSQL also commit in version order),
//! one new global version per transaction, the changelog rows and the audit rows of that
//! transaction, and a hook that runs after the commit while the lock is still held, so
//! in-memory state moves forward in exactly the committed order.

use crate::locks::RwLockExt;
use std::sync::atomic::{AtomicI64, Ordering};

use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
    entity::prelude::*,
};
use tokio::sync::{Mutex, MutexGuard};

use super::{
    StoreError,
    records::{Actor, AuditEntry, AuditQuery, AuditRecord, ChangeOp, EntityKind, Version},
};

mod change_row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "changes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        pub entity_kind: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub entity_id: Uuid,
        pub op: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod audit_row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at: i64,
        pub version: i64,
        pub actor: String,
        pub source: String,
        pub action: String,
        pub entity_kind: String,
        pub entity_id: Option<Uuid>,
        pub before: Option<String>,
        pub after: Option<String>,
        pub remote_addr: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Something every write waits for before it takes the writer lock: a consumer of commits
/// whose backlog must shrink first (the contact views' background writer).
pub trait WriteGate: Send + Sync {
    fn wait(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>;
}

/// Changelog rows deleted per statement when compacting.
const CHANGES_PER_CHUNK: u64 = 10_000;

/// The single writer of the installation.
pub struct Journal {
    db: DatabaseConnection,
    lock: Mutex<()>,
    head: AtomicI64,
    gates: std::sync::RwLock<Vec<std::sync::Arc<dyn WriteGate>>>,
}

impl Journal {
    /// Opens the journal at the head version stored in the database.
    pub async fn open(db: DatabaseConnection) -> Result<Self, StoreError> {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT version FROM journal_head WHERE id = 1",
            ))
            .await?
            .ok_or(StoreError::MissingHead)?;
        let head: i64 = row.try_get("", "version")?;
        Ok(Self {
            db,
            lock: Mutex::new(()),
            head: AtomicI64::new(head),
            gates: std::sync::RwLock::new(Vec::new()),
        })
    }

    /// The newest committed version.
    pub fn head(&self) -> Version {
        Version(self.head.load(Ordering::Acquire))
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Makes every later write wait for `gate` first.
    pub fn add_gate(&self, gate: std::sync::Arc<dyn WriteGate>) {
        self.gates.write_or_recover().push(gate);
    }

    /// Starts the next write: waits for the gates and the writer lock, opens a transaction and
    /// allocates the version this transaction will commit under.
    pub async fn begin(&self, actor: &Actor) -> Result<WriteTxn<'_>, StoreError> {
        let gates = self.gates.read_or_recover().clone();
        for gate in gates {
            gate.wait().await;
        }
        let guard = self.lock.lock().await;
        let txn = self.db.begin().await?;
        let backend = txn.get_database_backend();
        // The UPDATE takes the row lock first, so concurrent nodes queue here and commit in
        // version order.
        txn.execute_raw(Statement::from_string(
            backend,
            "UPDATE journal_head SET version = version + 1 WHERE id = 1",
        ))
        .await?;
        let row = txn
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT version FROM journal_head WHERE id = 1",
            ))
            .await?
            .ok_or(StoreError::MissingHead)?;
        let version: i64 = row.try_get("", "version")?;
        Ok(WriteTxn {
            journal: self,
            _guard: guard,
            txn,
            version: Version(version),
            actor: actor.clone(),
            changes: Vec::new(),
            audit: Vec::new(),
        })
    }

    /// Writes audit lines of a change made outside the journal's own rows (a module's settings,
    /// a mail queued, a group dissolved by the messaging writer) under a version of their own.
    pub async fn audit_only(
        &self,
        actor: &Actor,
        entries: Vec<AuditEntry>,
    ) -> Result<Version, StoreError> {
        let mut txn = self.begin(actor).await?;
        for entry in entries {
            txn.audit(entry);
        }
        txn.commit(|version| version).await
    }

    /// The newest version that changed a directory entity or the policy (not accounts).
    pub async fn last_change_version(&self) -> Result<Version, StoreError> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                "SELECT COALESCE(MAX(version), 0) AS version FROM changes",
            ))
            .await?;
        Ok(Version(match row {
            Some(row) => row.try_get::<i64>("", "version")?,
            None => 0,
        }))
    }

    /// The newest version committed before `at_millis` (Unix milliseconds), by the audit log:
    /// the last line before that time (an index lookup; commit times rise with versions, and a
    /// clock set back only makes this answer older, so less is forgotten).
    pub async fn version_before(&self, at_millis: i64) -> Result<Version, StoreError> {
        let row = audit_row::Entity::find()
            .select_only()
            .column(audit_row::Column::Version)
            .filter(audit_row::Column::At.lt(at_millis))
            .order_by_desc(audit_row::Column::At)
            .order_by_desc(audit_row::Column::Version)
            .limit(1)
            .into_tuple::<i64>()
            .one(&self.db)
            .await?;
        Ok(Version(row.unwrap_or(0)))
    }

    /// Deletes changelog rows older than `before` — a chunk of about 10,000 rows per statement,
    /// so no transaction grows large and writers never wait long — but always keeps the newest
    /// row (a restart compares it with how far the derived data got). Returns the rows deleted.
    pub async fn compact_changes(&self, before: Version) -> Result<u64, StoreError> {
        let before = before.min(self.last_change_version().await?);
        let mut deleted = 0;
        loop {
            let first = change_row::Entity::find()
                .select_only()
                .column_as(change_row::Column::Version.min(), "version")
                .filter(change_row::Column::Version.lt(before.0))
                .into_tuple::<Option<i64>>()
                .one(&self.db)
                .await?
                .flatten();
            let Some(first) = first else {
                return Ok(deleted);
            };
            let bound = change_row::Entity::find()
                .select_only()
                .column(change_row::Column::Version)
                .filter(change_row::Column::Version.lt(before.0))
                .order_by_asc(change_row::Column::Version)
                .offset(CHANGES_PER_CHUNK)
                .limit(1)
                .into_tuple::<i64>()
                .one(&self.db)
                .await?;
            // A version with more rows than a chunk goes in one statement.
            let upto = bound.map_or(before.0, |bound| bound.max(first + 1).min(before.0));
            deleted += change_row::Entity::delete_many()
                .filter(change_row::Column::Version.lt(upto))
                .exec(&self.db)
                .await?
                .rows_affected;
            tokio::task::yield_now().await;
        }
    }

    /// Reads the audit log, newest first.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let mut select = audit_row::Entity::find().order_by_desc(audit_row::Column::Id);
        if let Some(id) = query.entity_id {
            select = select.filter(audit_row::Column::EntityId.eq(id));
        }
        if let Some(before) = query.before_id {
            select = select.filter(audit_row::Column::Id.lt(before));
        }
        if let Some(actor) = &query.actor {
            select = select.filter(audit_row::Column::Actor.eq(actor.as_str()));
        }
        if let Some(kind) = query.entity_kind {
            select = select.filter(audit_row::Column::EntityKind.eq(kind.as_str()));
        }
        if let Some(source) = query.source {
            select = select.filter(audit_row::Column::Source.eq(source.as_str()));
        }
        if let Some(since) = query.since {
            select = select.filter(audit_row::Column::At.gte(since));
        }
        if let Some(until) = query.until {
            select = select.filter(audit_row::Column::At.lt(until));
        }
        let rows = select
            .limit(query.limit.clamp(1, 1000))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditRecord {
                id: r.id,
                at: r.at,
                version: r.version,
                actor: r.actor,
                source: r.source,
                action: r.action,
                entity_kind: r.entity_kind,
                entity_id: r.entity_id,
                before: r.before.and_then(|text| serde_json::from_str(&text).ok()),
                after: r.after.and_then(|text| serde_json::from_str(&text).ok()),
                remote_addr: r.remote_addr,
            })
            .collect())
    }
}

/// An open write: holds the writer lock until it is committed or dropped (dropping rolls back).
pub struct WriteTxn<'a> {
    journal: &'a Journal,
    _guard: MutexGuard<'a, ()>,
    txn: DatabaseTransaction,
    version: Version,
    actor: Actor,
    changes: Vec<(EntityKind, Uuid, ChangeOp)>,
    audit: Vec<AuditEntry>,
}

impl<'a> WriteTxn<'a> {
    /// The version this write commits under.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The transaction to write the module's own rows through.
    pub fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    pub fn backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    /// Records that an entity changed in this version (the changelog).
    pub fn record_change(&mut self, kind: EntityKind, id: Uuid, op: ChangeOp) {
        self.changes.push((kind, id, op));
    }

    /// Adds an audit line to this write.
    pub fn audit(&mut self, entry: AuditEntry) {
        self.audit.push(entry);
    }

    /// Writes the changelog and audit rows, commits, then runs `after_commit` while the writer
    /// lock is still held, so in-memory state is updated in commit order.
    pub async fn commit<T>(
        mut self,
        after_commit: impl FnOnce(Version) -> T,
    ) -> Result<T, StoreError> {
        let version = self.version;
        self.flush_changes().await?;
        self.flush_audit().await?;
        self.txn.commit().await?;
        self.journal.head.store(version.0, Ordering::Release);
        let result = after_commit(version);
        drop(self._guard);
        Ok(result)
    }

    async fn flush_changes(&mut self) -> Result<(), StoreError> {
        // One row per entity and version: the last op of this transaction wins.
        let mut last: std::collections::HashMap<Uuid, usize> = Default::default();
        for (index, (_, id, _)) in self.changes.iter().enumerate() {
            last.insert(*id, index);
        }
        let version = self.version.0;
        let rows: Vec<change_row::ActiveModel> = self
            .changes
            .iter()
            .enumerate()
            .filter(|(index, (_, id, _))| last.get(id) == Some(index))
            .map(|(_, (kind, id, op))| change_row::ActiveModel {
                version: Set(version),
                entity_kind: Set(kind.as_str().to_owned()),
                entity_id: Set(*id),
                op: Set(match op {
                    ChangeOp::Upsert => "upsert",
                    ChangeOp::Remove => "remove",
                }
                .to_owned()),
            })
            .collect();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            change_row::Entity::insert_many(rows.by_ref().take(4000))
                .exec_without_returning(&self.txn)
                .await?;
        }
        Ok(())
    }

    async fn flush_audit(&mut self) -> Result<(), StoreError> {
        let at = chrono::Utc::now().timestamp_millis();
        let actor = &self.actor;
        let rows: Vec<audit_row::ActiveModel> = self
            .audit
            .drain(..)
            .map(|entry| audit_row::ActiveModel {
                id: sea_orm::ActiveValue::NotSet,
                at: Set(at),
                version: Set(self.version.0),
                actor: Set(actor.name.clone()),
                source: Set(actor.source.as_str().to_owned()),
                action: Set(entry.action.to_owned()),
                entity_kind: Set(entry.entity_kind.as_str().to_owned()),
                entity_id: Set(entry.entity_id),
                before: Set(entry.before),
                after: Set(entry.after),
                remote_addr: Set(actor.remote_addr.clone()),
            })
            .collect();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            audit_row::Entity::insert_many(rows.by_ref().take(2500))
                .exec_without_returning(&self.txn)
                .await?;
        }
        Ok(())
    }
}

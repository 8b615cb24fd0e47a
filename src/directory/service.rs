//! The directory's single write path and its read access.
//!
//! A write builds a [`Stage`] under the journal's writer lock, persists what the stage
//! touched in one transaction with its changelog and audit rows, commits, and only then moves
//! the in-memory replica forward and tells the listeners, still under the lock, so everyone
//! sees commits in version order.

use crate::locks::RwLockExt;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use sea_orm::DatabaseConnection;

use super::{
    DirectoryError,
    fields::FieldSchema,
    model::{FieldDefinition, FieldEntity},
    replica::{Change, Replica},
    stage::{Stage, StagedCommit},
    store,
};
use crate::store::{Actor, AuditEntry, ChangeOp, EntityKind, Journal, Version};

/// Told of every directory commit, in version order, right after the replica has moved.
pub trait DirectoryListener: Send + Sync {
    fn committed(&self, version: Version, changes: &[Change], replica: &Replica);
}

/// The directory: in-memory reads, journaled writes.
pub struct Directory {
    journal: Arc<Journal>,
    replica: RwLock<Replica>,
    fields: RwLock<FieldSchema>,
    listeners: RwLock<Vec<Arc<dyn DirectoryListener>>>,
}

impl Directory {
    /// Loads the whole directory into memory.
    pub async fn load(journal: Arc<Journal>) -> Result<Self, DirectoryError> {
        let db = journal.db();
        let (departments, staff) = store::load_all(db).await?;
        let fields = FieldSchema::new(store::load_fields(db).await?);
        let replica = Replica::load(journal.head(), departments, staff);
        Ok(Self {
            journal,
            replica: RwLock::new(replica),
            fields: RwLock::new(fields),
            listeners: RwLock::new(Vec::new()),
        })
    }

    /// Registers a listener for all later commits.
    pub fn subscribe(&self, listener: Arc<dyn DirectoryListener>) {
        self.listeners.write_or_recover().push(listener);
    }

    /// Read access to the replica. Do not hold it across an `.await`.
    pub fn read(&self) -> RwLockReadGuard<'_, Replica> {
        self.replica.read_or_recover()
    }

    pub fn db(&self) -> &DatabaseConnection {
        self.journal.db()
    }

    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    /// The custom field definitions in force.
    pub fn field_definitions(&self) -> Vec<FieldDefinition> {
        let mut defs: Vec<_> = self.fields.read_or_recover().all().cloned().collect();
        defs.sort_by(|a, b| (a.entity.as_str(), &a.key).cmp(&(b.entity.as_str(), &b.key)));
        defs
    }

    /// Runs `build` against a stage and commits everything it did as one version.
    /// Returns `build`'s value and the version (the current head if nothing changed).
    pub async fn write<T>(
        &self,
        actor: &Actor,
        build: impl FnOnce(&mut Stage<'_>) -> Result<T, DirectoryError>,
    ) -> Result<(T, Version), DirectoryError> {
        let mut txn = self.journal.begin(actor).await?;
        let (value, staged) = {
            let replica = self.read();
            let fields = self.fields.read_or_recover();
            let mut stage = Stage::new(&replica, &fields, txn.version());
            let value = build(&mut stage)?;
            (value, stage.finish())
        };
        let StagedCommit {
            changes,
            audit,
            depths,
        } = staged;
        if changes.is_empty() {
            // Nothing to store: the transaction rolls back and the version is not used.
            return Ok((value, self.journal.head()));
        }
        store::persist(txn.txn(), &changes, |id| {
            depths.get(&id).copied().unwrap_or(0)
        })
        .await?;
        for change in &changes {
            let (kind, id, op) = match change {
                Change::Department { before, after } => (
                    EntityKind::Department,
                    after.as_ref().or(before.as_ref()).map(|d| d.id.0),
                    after.is_some(),
                ),
                Change::Staff { before, after } => (
                    EntityKind::Staff,
                    after.as_ref().or(before.as_ref()).map(|s| s.id.0),
                    after.is_some(),
                ),
            };
            if let Some(id) = id {
                let op = if op {
                    ChangeOp::Upsert
                } else {
                    ChangeOp::Remove
                };
                txn.record_change(kind, id, op);
            }
        }
        for entry in audit {
            txn.audit(entry);
        }
        let version = txn
            .commit(|version| {
                // Listeners run under the write guard: readers see the replica and everything
                // derived from it move forward together.
                let mut replica = self.replica.write_or_recover();
                replica.apply(version, &changes);
                for listener in self.listeners.read_or_recover().iter() {
                    listener.committed(version, &changes, &replica);
                }
                version
            })
            .await?;
        tracing::debug!(%version, changes = changes.len(), "directory commit");
        Ok((value, version))
    }

    /// Runs `build` against a stage over the current replica and throws the stage away:
    /// what a write would do, without doing it (dry runs).
    pub fn preview<T>(&self, build: impl FnOnce(&mut Stage<'_>) -> T) -> T {
        self.preview_with_fields(Vec::new(), build)
    }

    /// [`Self::preview`] as if `extra` field definitions were in force too: a dry run of a
    /// job that defines fields before it writes.
    pub fn preview_with_fields<T>(
        &self,
        extra: Vec<FieldDefinition>,
        build: impl FnOnce(&mut Stage<'_>) -> T,
    ) -> T {
        let replica = self.read();
        let mut fields = self.fields.read_or_recover().clone();
        for def in extra {
            fields.insert(def);
        }
        let mut stage = Stage::new(&replica, &fields, Version(self.journal.head().0 + 1));
        build(&mut stage)
    }

    /// Adds or replaces a custom field definition.
    pub async fn define_field(
        &self,
        actor: &Actor,
        def: FieldDefinition,
    ) -> Result<(), DirectoryError> {
        def.check()?;
        let mut txn = self.journal.begin(actor).await?;
        let before = self
            .fields
            .read_or_recover()
            .get(def.entity, &def.key)
            .cloned();
        store::save_field(txn.txn(), &def).await?;
        txn.audit(AuditEntry {
            action: "field.define",
            entity_kind: EntityKind::FieldDefinition,
            entity_id: None,
            before: before.as_ref().and_then(AuditEntry::json),
            after: AuditEntry::json(&def),
        });
        txn.commit(|_| self.fields.write_or_recover().insert(def))
            .await?;
        Ok(())
    }

    /// Removes a custom field definition that no record uses.
    pub async fn remove_field(
        &self,
        actor: &Actor,
        entity: FieldEntity,
        key: &str,
    ) -> Result<(), DirectoryError> {
        let mut txn = self.journal.begin(actor).await?;
        let before = self
            .fields
            .read_or_recover()
            .get(entity, key)
            .cloned()
            .ok_or_else(|| {
                DirectoryError::not_found("field", format!("{}.{key}", entity.as_str()))
            })?;
        let in_use = {
            let replica = self.read();
            match entity {
                FieldEntity::Staff => replica
                    .all_staff()
                    .filter(|s| s.custom.contains_key(key))
                    .count(),
                FieldEntity::Department => replica
                    .departments()
                    .filter(|d| d.custom.contains_key(key))
                    .count(),
            }
        };
        if in_use > 0 {
            return Err(DirectoryError::Conflict(format!(
                "field '{key}' is set on {in_use} records: clear it first"
            )));
        }
        store::delete_field(txn.txn(), entity, key).await?;
        txn.audit(AuditEntry {
            action: "field.remove",
            entity_kind: EntityKind::FieldDefinition,
            entity_id: None,
            before: AuditEntry::json(&before),
            after: None,
        });
        txn.commit(|_| self.fields.write_or_recover().remove(entity, key))
            .await?;
        Ok(())
    }
}

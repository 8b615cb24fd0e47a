//! Storage of the derived contact-view data (`view_*` tables, `contacts_meta`). Only the
//! contacts module uses these tables; everything in them can be recomputed except the history
//! that lets old clients receive deltas instead of resets.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait, sea_query::OnConflict,
};

use super::{
    class::ClassKey,
    index::{EntryKey, pack, unpack},
    moves::MoveDiff,
    state::{Persist, Transition},
};
use crate::{
    directory::StaffId,
    store::{StoreError, Version},
};

pub mod log_row {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "view_log")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub class_key: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        pub entries: Vec<u8>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod class_row {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "view_classes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub class_key: String,
        pub reproject_at: i64,
        pub floor: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod user_row {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "view_users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub staff_id: Uuid,
        pub class_key: String,
        pub since: i64,
        pub floor: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod transition_row {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "view_transitions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub staff_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        pub from_key: String,
        pub to_key: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod diff_row {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "view_transition_diffs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub from_key: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub to_key: String,
        pub all_entries: bool,
        /// The version of the pair's previous diff that `entries` changes; none: the whole diff.
        pub base_version: Option<i64>,
        pub entries: Vec<u8>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod meta_row {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "contacts_meta")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub applied: i64,
        /// Readers older than this reset (history before it was compacted).
        pub floor: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// A person's stored move: whole, or lost (its diff is damaged or missing), in which case
/// readers from before it reset.
#[derive(Debug)]
pub enum StoredMove {
    Move(Transition),
    Lost(Version),
}

/// Everything persisted, as loaded at start.
#[derive(Debug, Default)]
pub struct Stored {
    pub applied: Option<Version>,
    pub floor: Version,
    pub classes: Vec<(ClassKey, Version, Version)>,
    pub logs: Vec<(ClassKey, Vec<(Version, super::index::EntryKey)>)>,
    pub users: Vec<(StaffId, ClassKey, Version, Version)>,
    /// Every readable class-to-class diff, oldest first.
    pub diffs: Vec<Arc<MoveDiff>>,
    pub transitions: Vec<(StaffId, StoredMove)>,
}

/// A diff's row key: version, from, to.
type DiffKey = (i64, String, String);

pub async fn load(db: &DatabaseConnection) -> Result<Stored, StoreError> {
    let meta = meta_row::Entity::find_by_id(1).one(db).await?;
    let mut stored = Stored {
        applied: meta.as_ref().map(|m| Version(m.applied)),
        floor: Version(meta.map_or(0, |m| m.floor)),
        ..Default::default()
    };
    for row in class_row::Entity::find().all(db).await? {
        stored.classes.push((
            ClassKey(row.class_key),
            Version(row.reproject_at),
            Version(row.floor),
        ));
    }
    for row in log_row::Entity::find().all(db).await? {
        // A damaged row only costs its class's old readers a reset (see service::load).
        let entries = unpack(&row.entries).unwrap_or_default();
        stored.logs.push((ClassKey(row.class_key), entries));
    }
    for row in user_row::Entity::find().all(db).await? {
        stored.users.push((
            StaffId(row.staff_id),
            ClassKey(row.class_key),
            Version(row.since),
            Version(row.floor),
        ));
    }
    // Oldest first, so the diff a row is chained to is loaded before it.
    let mut diffs: HashMap<DiffKey, (Arc<MoveDiff>, bool)> = HashMap::new();
    let rows = diff_row::Entity::find()
        .order_by_asc(diff_row::Column::Version)
        .all(db)
        .await?;
    for row in rows {
        let entries: Option<Box<[EntryKey]>> =
            unpack(&row.entries).map(|e| e.into_iter().map(|(_, k)| k).collect());
        let (from, to) = (ClassKey(row.from_key.clone()), ClassKey(row.to_key.clone()));
        let version = Version(row.version);
        // A damaged row, or one chained to a missing diff, is lost with everything after it.
        let diff = match (entries, row.base_version) {
            (Some(entries), None) => MoveDiff::root(version, from, to, entries),
            (Some(entries), Some(base)) => {
                match diffs.get(&(base, row.from_key.clone(), row.to_key.clone())) {
                    Some((base, _)) => MoveDiff::link(version, base.clone(), entries),
                    None => continue,
                }
            }
            (None, _) => continue,
        };
        let diff = Arc::new(diff);
        stored.diffs.push(diff.clone());
        diffs.insert(
            (row.version, row.from_key, row.to_key),
            (diff, row.all_entries),
        );
    }
    for row in transition_row::Entity::find().all(db).await? {
        let version = Version(row.version);
        let stored_move = match diffs.get(&(row.version, row.from_key.clone(), row.to_key.clone()))
        {
            Some((diff, all)) => StoredMove::Move(Transition {
                version,
                from: ClassKey(row.from_key),
                to: ClassKey(row.to_key),
                diff: diff.clone(),
                all: *all,
            }),
            None => StoredMove::Lost(version),
        };
        stored
            .transitions
            .push((StaffId(row.staff_id), stored_move));
    }
    Ok(stored)
}

/// Stores (or replaces) a class's log row at `version`.
async fn put_log(
    txn: &impl ConnectionTrait,
    key: ClassKey,
    version: i64,
    entries: &[(Version, EntryKey)],
) -> Result<(), sea_orm::DbErr> {
    log_row::Entity::insert(log_row::ActiveModel {
        class_key: Set(key.0),
        version: Set(version),
        entries: Set(pack(entries)),
    })
    .on_conflict(
        OnConflict::columns([log_row::Column::ClassKey, log_row::Column::Version])
            .update_column(log_row::Column::Entries)
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Writes a batch of derived rows in one transaction and records how far it got.
pub async fn write(db: &DatabaseConnection, batch: Vec<Persist>) -> Result<(), StoreError> {
    let txn = db.begin().await?;
    let mut applied = None;
    for item in batch {
        match item {
            Persist::ClassLog { key, entries } => {
                let version = entries.iter().map(|(v, _)| v.0).max().unwrap_or(0);
                put_log(&txn, key, version, &entries).await?;
            }
            Persist::ClassMeta {
                key,
                reproject_at,
                floor,
            } => {
                class_row::Entity::insert(class_row::ActiveModel {
                    class_key: Set(key.0),
                    reproject_at: Set(reproject_at.0),
                    floor: Set(floor.0),
                })
                .on_conflict(
                    OnConflict::column(class_row::Column::ClassKey)
                        .update_columns([class_row::Column::ReprojectAt, class_row::Column::Floor])
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
            }
            Persist::User {
                staff,
                class,
                since,
                floor,
            } => {
                user_row::Entity::insert(user_row::ActiveModel {
                    staff_id: Set(staff.0),
                    class_key: Set(class.0),
                    since: Set(since.0),
                    floor: Set(floor.0),
                })
                .on_conflict(
                    OnConflict::column(user_row::Column::StaffId)
                        .update_columns([
                            user_row::Column::ClassKey,
                            user_row::Column::Since,
                            user_row::Column::Floor,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
            }
            Persist::UserGone { staff } => {
                user_row::Entity::delete_by_id(staff.0).exec(&txn).await?;
                transition_row::Entity::delete_many()
                    .filter(transition_row::Column::StaffId.eq(staff.0))
                    .exec(&txn)
                    .await?;
            }
            Persist::Transition { staff, transition } => {
                transition_row::Entity::insert(transition_row::ActiveModel {
                    staff_id: Set(staff.0),
                    version: Set(transition.version.0),
                    from_key: Set(transition.from.0),
                    to_key: Set(transition.to.0),
                })
                .on_conflict_do_nothing()
                .exec_without_returning(&txn)
                .await?;
            }
            Persist::TransitionDiff { diff, all } => {
                let entries: Vec<_> = diff.entries.iter().map(|k| (diff.version, *k)).collect();
                diff_row::Entity::insert(diff_row::ActiveModel {
                    version: Set(diff.version.0),
                    from_key: Set(diff.from.0.clone()),
                    to_key: Set(diff.to.0.clone()),
                    all_entries: Set(all),
                    base_version: Set(diff.base.as_ref().map(|b| b.version.0)),
                    entries: Set(pack(&entries)),
                })
                .on_conflict_do_nothing()
                .exec_without_returning(&txn)
                .await?;
            }
            Persist::Compact {
                cutoff,
                floor,
                keep,
            } => compact(&txn, cutoff, floor, keep).await?,
            Persist::Applied(version) => applied = Some(version),
        }
    }
    if let Some(version) = applied {
        meta_row::Entity::insert(meta_row::ActiveModel {
            id: Set(1),
            applied: Set(version.0),
            floor: sea_orm::ActiveValue::NotSet,
        })
        .on_conflict(
            OnConflict::column(meta_row::Column::Id)
                .update_column(meta_row::Column::Applied)
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Deletes the history below `cutoff` (but the diffs in `keep`) and stores the new floor.
async fn compact(
    txn: &impl ConnectionTrait,
    cutoff: Version,
    floor: Version,
    keep: Vec<(Version, ClassKey, ClassKey)>,
) -> Result<(), sea_orm::DbErr> {
    log_row::Entity::delete_many()
        .filter(log_row::Column::Version.lt(cutoff.0))
        .exec(txn)
        .await?;
    transition_row::Entity::delete_many()
        .filter(transition_row::Column::Version.lt(cutoff.0))
        .exec(txn)
        .await?;
    let keep: HashSet<DiffKey> = keep
        .into_iter()
        .map(|(version, from, to)| (version.0, from.0, to.0))
        .collect();
    let old: Vec<DiffKey> = diff_row::Entity::find()
        .select_only()
        .columns([
            diff_row::Column::Version,
            diff_row::Column::FromKey,
            diff_row::Column::ToKey,
        ])
        .filter(diff_row::Column::Version.lt(cutoff.0))
        .into_tuple()
        .all(txn)
        .await?;
    for key in old.into_iter().filter(|key| !keep.contains(key)) {
        diff_row::Entity::delete_by_id(key).exec(txn).await?;
    }
    meta_row::Entity::insert(meta_row::ActiveModel {
        id: Set(1),
        applied: Set(0),
        floor: Set(floor.0),
    })
    .on_conflict(
        OnConflict::column(meta_row::Column::Id)
            .update_column(meta_row::Column::Floor)
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Bulk-writes the users table (first start, or after the classes were recomputed).
pub async fn write_users(
    db: &impl ConnectionTrait,
    users: &[(StaffId, ClassKey, Version, Version)],
) -> Result<(), StoreError> {
    for chunk in users.chunks(5_000) {
        user_row::Entity::insert_many(chunk.iter().map(|(staff, class, since, floor)| {
            user_row::ActiveModel {
                staff_id: Set(staff.0),
                class_key: Set(class.0.clone()),
                since: Set(since.0),
                floor: Set(floor.0),
            }
        }))
        .on_conflict(
            OnConflict::column(user_row::Column::StaffId)
                .update_columns([
                    user_row::Column::ClassKey,
                    user_row::Column::Since,
                    user_row::Column::Floor,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

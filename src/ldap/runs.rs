//! Storage of sync runs, the run lease and the incremental high-water mark (`ldap_*` tables).

use std::time::Duration;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{LdapError, mapping::RecordFailure};

pub mod run_row {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ldap_runs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub trigger: String,
        pub kind: String,
        pub status: String,
        pub started_at: i64,
        pub finished_at: Option<i64>,
        pub counts: String,
        pub failures: String,
        pub message: String,
        pub approved: bool,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// What a run changed (or would have changed, when blocked).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Counts {
    pub departments_added: usize,
    pub departments_updated: usize,
    pub departments_moved: usize,
    pub departments_removed: usize,
    pub added: usize,
    pub updated: usize,
    pub moved: usize,
    pub disabled: usize,
    pub re_enabled: usize,
    pub failed: usize,
    pub groups: usize,
    /// Entries read from LDAP.
    pub read: usize,
    /// People were read by RFC 4533 content sync: the server sent only who changed and who
    /// left (else: a change-attribute comparison plus a listing of every id).
    #[serde(default)]
    pub content_sync: bool,
}

/// One sync run, as the admin API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Run {
    pub id: Uuid,
    /// `manual`, `schedule`, `cli`, `approval`.
    pub trigger: String,
    /// `full` or `incremental`.
    pub kind: String,
    /// `running`, `succeeded`, `failed`, `blocked` (waits for approval), `rejected` (a blocked
    /// run an admin turned down).
    pub status: String,
    /// Milliseconds since the Unix epoch.
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub counts: Counts,
    /// Entries that were skipped, and why (at most 1,000 are kept).
    pub failures: Vec<RecordFailure>,
    pub message: String,
    /// A blocked run an admin approved (the approval's run may disable beyond the threshold).
    pub approved: bool,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn to_run(row: run_row::Model) -> Run {
    Run {
        id: row.id,
        trigger: row.trigger,
        kind: row.kind,
        status: row.status,
        started_at: row.started_at,
        finished_at: row.finished_at,
        counts: serde_json::from_str(&row.counts).unwrap_or_default(),
        failures: serde_json::from_str(&row.failures).unwrap_or_default(),
        message: row.message,
        approved: row.approved,
    }
}

pub async fn start(
    db: &DatabaseConnection,
    id: Uuid,
    trigger: &str,
    kind: &str,
) -> Result<(), LdapError> {
    run_row::Entity::insert(run_row::ActiveModel {
        id: Set(id),
        trigger: Set(trigger.to_owned()),
        kind: Set(kind.to_owned()),
        status: Set("running".into()),
        started_at: Set(now()),
        finished_at: Set(None),
        counts: Set("{}".into()),
        failures: Set("[]".into()),
        message: Set("starting".into()),
        approved: Set(false),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn finish(
    db: &DatabaseConnection,
    id: Uuid,
    status: &str,
    counts: &Counts,
    failures: &[RecordFailure],
    message: &str,
) -> Result<(), LdapError> {
    let kept: Vec<&RecordFailure> = failures.iter().take(1_000).collect();
    run_row::Entity::update(run_row::ActiveModel {
        id: Set(id),
        status: Set(status.to_owned()),
        finished_at: Set(Some(now())),
        counts: Set(serde_json::to_string(counts).unwrap_or_default()),
        failures: Set(serde_json::to_string(&kept).unwrap_or_default()),
        message: Set(message.to_owned()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Ends a run that stopped on an error, keeping what it had counted.
pub async fn abort(db: &DatabaseConnection, id: Uuid, message: &str) -> Result<(), LdapError> {
    run_row::Entity::update_many()
        .col_expr(run_row::Column::Status, Expr::value("failed"))
        .col_expr(run_row::Column::Message, Expr::value(message))
        .col_expr(run_row::Column::FinishedAt, Expr::value(now()))
        .filter(run_row::Column::Id.eq(id))
        .filter(run_row::Column::Status.eq("running"))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn list(db: &DatabaseConnection, limit: u64) -> Result<Vec<Run>, LdapError> {
    Ok(run_row::Entity::find()
        .order_by_desc(run_row::Column::StartedAt)
        .limit(limit.clamp(1, 500))
        .all(db)
        .await?
        .into_iter()
        .map(to_run)
        .collect())
}

pub async fn get(db: &DatabaseConnection, id: Uuid) -> Result<Run, LdapError> {
    run_row::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(to_run)
        .ok_or_else(|| LdapError::NotFound(format!("sync run {id}")))
}

/// Marks a blocked run approved (`true`) or rejected (`false`: its status becomes
/// `rejected`), unless it was decided since it was read; false then.
pub async fn decide<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    approve: bool,
) -> Result<bool, LdapError> {
    let mut update = run_row::Entity::update_many()
        .filter(run_row::Column::Id.eq(id))
        .filter(run_row::Column::Status.eq("blocked"))
        .filter(run_row::Column::Approved.eq(false));
    update = if approve {
        update.col_expr(run_row::Column::Approved, Expr::value(true))
    } else {
        update.col_expr(run_row::Column::Status, Expr::value("rejected"))
    };
    Ok(update.exec(db).await?.rows_affected == 1)
}

pub mod lease_row {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ldap_lease")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        /// The id of the run holding the lease.
        pub holder: String,
        /// Milliseconds since the Unix epoch.
        pub expires_at: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Shows how far a running run has come (`message`), and what it has counted so far.
pub async fn progress(
    db: &DatabaseConnection,
    id: Uuid,
    message: &str,
    counts: &Counts,
) -> Result<(), LdapError> {
    run_row::Entity::update_many()
        .col_expr(run_row::Column::Message, Expr::value(message))
        .col_expr(
            run_row::Column::Counts,
            Expr::value(serde_json::to_string(counts).unwrap_or_default()),
        )
        .filter(run_row::Column::Id.eq(id))
        .filter(run_row::Column::Status.eq("running"))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks as failed every run shown as running that no live lease covers: its node stopped
/// (crash, kill) or lost the lease. A run whose node still renews its lease is left alone.
pub async fn fail_orphans(db: &DatabaseConnection) -> Result<usize, LdapError> {
    let live = lease_row::Entity::find_by_id(1)
        .one(db)
        .await?
        .filter(|lease| lease.expires_at >= now())
        .and_then(|lease| Uuid::parse_str(&lease.holder).ok());
    let mut orphans = run_row::Entity::update_many()
        .col_expr(run_row::Column::Status, Expr::value("failed"))
        .col_expr(
            run_row::Column::Message,
            Expr::value("interrupted (the node running it stopped or lost its lease)"),
        )
        .col_expr(run_row::Column::FinishedAt, Expr::value(now()))
        .filter(run_row::Column::Status.eq("running"));
    if let Some(live) = live {
        orphans = orphans.filter(run_row::Column::Id.ne(live));
    }
    Ok(orphans.exec(db).await?.rows_affected as usize)
}

/// Takes the run lease for `run` for `ttl` if it is free or expired; false when a live run
/// holds it.
pub async fn acquire_lease(
    db: &DatabaseConnection,
    run: Uuid,
    ttl: Duration,
) -> Result<bool, LdapError> {
    let taken = lease_row::Entity::update_many()
        .col_expr(lease_row::Column::Holder, Expr::value(run.to_string()))
        .col_expr(lease_row::Column::ExpiresAt, Expr::value(expiry(ttl)))
        .filter(lease_row::Column::Id.eq(1))
        .filter(lease_row::Column::ExpiresAt.lt(now()))
        .exec(db)
        .await?;
    if taken.rows_affected == 1 {
        return Ok(true);
    }
    // A run records its end before it lets go of the lease, so a client that saw a run end
    // may ask for the next one before the release lands: a lease whose run has ended is free.
    let Some(lease) = lease_row::Entity::find_by_id(1).one(db).await? else {
        return Ok(false);
    };
    let holder_ended = match Uuid::parse_str(&lease.holder) {
        Ok(holder) => run_row::Entity::find_by_id(holder)
            .one(db)
            .await?
            .is_some_and(|run| run.status != "running"),
        Err(_) => false,
    };
    if !holder_ended {
        return Ok(false);
    }
    let taken = lease_row::Entity::update_many()
        .col_expr(lease_row::Column::Holder, Expr::value(run.to_string()))
        .col_expr(lease_row::Column::ExpiresAt, Expr::value(expiry(ttl)))
        .filter(lease_row::Column::Id.eq(1))
        .filter(lease_row::Column::Holder.eq(lease.holder))
        .exec(db)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// Extends the lease `run` holds; false when it no longer holds it.
pub async fn renew_lease(
    db: &DatabaseConnection,
    run: Uuid,
    ttl: Duration,
) -> Result<bool, LdapError> {
    let renewed = lease_row::Entity::update_many()
        .col_expr(lease_row::Column::ExpiresAt, Expr::value(expiry(ttl)))
        .filter(lease_row::Column::Id.eq(1))
        .filter(lease_row::Column::Holder.eq(run.to_string()))
        .exec(db)
        .await?;
    Ok(renewed.rows_affected == 1)
}

pub async fn release_lease(db: &DatabaseConnection, run: Uuid) -> Result<(), LdapError> {
    lease_row::Entity::update_many()
        .col_expr(lease_row::Column::ExpiresAt, Expr::value(0i64))
        .filter(lease_row::Column::Id.eq(1))
        .filter(lease_row::Column::Holder.eq(run.to_string()))
        .exec(db)
        .await?;
    Ok(())
}

fn expiry(ttl: Duration) -> i64 {
    now() + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2)
}

/// Where the last successful run left off.
#[derive(Debug, Default)]
pub struct Mark {
    /// The newest change mark (`change_attribute`) applied, if any run has finished.
    pub high_water: Option<String>,
    /// The RFC 4533 content-sync cookie, when the server gives one.
    pub cookie: Option<Vec<u8>>,
}

pub mod state_row {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ldap_state")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub high_water: String,
        pub last_full_at: i64,
        /// Hex of the RFC 4533 cookie.
        pub sync_cookie: Option<String>,
        /// `LdapConfig::search_fingerprint` of the settings the mark was reached with.
        pub settings_fingerprint: Option<String>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Where the last successful run left off, if it ran with the settings of `fingerprint`;
/// after a change of search or mapping settings there is no mark, so the next run is full.
pub async fn mark(db: &DatabaseConnection, fingerprint: &str) -> Result<Mark, LdapError> {
    let Some(row) = state_row::Entity::find_by_id(1).one(db).await? else {
        return Ok(Mark::default());
    };
    if row.settings_fingerprint.as_deref() != Some(fingerprint) {
        tracing::info!(
            "LDAP search or mapping settings changed since the last run: reading everything"
        );
        return Ok(Mark::default());
    }
    Ok(Mark {
        high_water: Some(row.high_water).filter(|h| !h.is_empty()),
        cookie: row.sync_cookie.and_then(|c| hex::decode(c).ok()),
    })
}

/// Records where a successful run left off (and, for a full run, when it ran).
pub async fn set_mark(
    db: &DatabaseConnection,
    high_water: &str,
    cookie: Option<&[u8]>,
    fingerprint: &str,
    full: bool,
) -> Result<(), LdapError> {
    let cookie: Option<String> = cookie.map(hex::encode);
    let mut update = state_row::Entity::update_many()
        .col_expr(state_row::Column::HighWater, Expr::value(high_water))
        .col_expr(state_row::Column::SyncCookie, Expr::value(cookie.clone()))
        .col_expr(
            state_row::Column::SettingsFingerprint,
            Expr::value(fingerprint),
        )
        .filter(state_row::Column::Id.eq(1));
    if full {
        update = update.col_expr(state_row::Column::LastFullAt, Expr::value(now()));
    }
    if update.exec(db).await?.rows_affected == 0 {
        state_row::Entity::insert(state_row::ActiveModel {
            id: Set(1),
            high_water: Set(high_water.to_owned()),
            last_full_at: Set(now()),
            sync_cookie: Set(cookie),
            settings_fingerprint: Set(Some(fingerprint.to_owned())),
        })
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

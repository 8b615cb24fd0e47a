//! Storage plumbing shared by every module: the database connection (SQLite or PostgreSQL),
//! migrations, and the journal through which every write commits under a new global version.
//! It knows no module's tables except the journal's own (`journal_head`, `changes`, `audit_log`).

mod journal;

pub use journal::{
    Actor, AuditEntry, AuditQuery, AuditRecord, ChangeOp, EntityKind, Journal, Source, Version,
    WriteGate, WriteTxn,
};

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, Statement};

/// A storage failure; its text is logged, never shown to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("journal head row is missing; was the database migrated?")]
    MissingHead,
}

/// How long the WAL may grow (64 MiB of 4 KiB pages) before a checkpoint must start it over:
/// SQLite's in-commit checkpoint for one-off tools, the background RESTART for the service.
const WAL_PAGES_BEFORE_CHECKPOINT: i64 = 16_384;

/// Who moves the SQLite WAL into the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoints {
    /// SQLite itself, inside the commit that grows the WAL past 16,384 pages: for tools that
    /// run once and have no background task.
    InCommit,
    /// The service's background task ([`spawn_checkpointer`]); no commit ever runs one. At a
    /// few thousand chat messages a second the WAL passes 16,384 pages about once a second,
    /// and the commit that did waited 50–70 ms for the checkpoint, with every message queued
    /// behind it.
    Background,
}

/// Opens the database named by `url`, tuned for how Switchboard uses it.
///
/// SQLite runs in WAL mode with `synchronous=NORMAL`: a commit survives a killed process (the
/// WAL is written before `COMMIT` returns) while still allowing group commits at speed.
pub async fn connect(
    url: &str,
    checkpoints: Checkpoints,
) -> Result<DatabaseConnection, StoreError> {
    let autocheckpoint = match checkpoints {
        Checkpoints::InCommit => WAL_PAGES_BEFORE_CHECKPOINT,
        Checkpoints::Background => 0,
    }
    .to_string();
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        options
            .max_connections(4)
            .min_connections(1)
            .map_sqlx_sqlite_opts(move |opts| {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(30))
                    .pragma("cache_size", "-32768")
                    .pragma("wal_autocheckpoint", autocheckpoint.clone())
                    .pragma("journal_size_limit", "67108864")
                    .pragma("temp_store", "memory")
            });
    } else {
        options.max_connections(16).min_connections(1);
    }
    Ok(Database::connect(options).await?)
}

/// How often the service moves the SQLite WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Runs SQLite checkpoints on a connection of their own, off every writer's path (with
/// [`Checkpoints::Background`] no commit runs one). Left to SQLite, the commit that fills the
/// WAL runs the checkpoint and fsyncs: that commit (and every message acknowledged with it)
/// waited 50–250 ms. A PASSIVE checkpoint runs beside writers without blocking them.
/// `None` on PostgreSQL.
pub fn spawn_checkpointer(db: DatabaseConnection) -> Option<tokio::task::JoinHandle<()>> {
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut mode = "PASSIVE";
        loop {
            every.tick().await;
            let statement = Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                format!("PRAGMA wal_checkpoint({mode})"),
            );
            match db.query_one_raw(statement).await {
                Ok(row) => {
                    // `log`: frames in the WAL, which only shrinks when a writer can start it
                    // over, after a checkpoint that caught up with every frame.
                    let column = |i| {
                        row.as_ref()
                            .and_then(|r| r.try_get_by_index::<i64>(i).ok())
                            .unwrap_or(0)
                    };
                    let (log, checkpointed) = (column(1), column(2));
                    // Under a steady stream of commits a PASSIVE checkpoint never catches up,
                    // the WAL is never started over, and it (and every commit into it) grows:
                    // then one RESTART, which makes writers wait for it once.
                    mode = if log > WAL_PAGES_BEFORE_CHECKPOINT && checkpointed < log {
                        "RESTART"
                    } else {
                        "PASSIVE"
                    };
                }
                Err(error) => tracing::warn!(%error, "WAL checkpoint failed"),
            }
        }
    }))
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// Answers whether the database responds, for `/readyz`.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.execute_unprepared("SELECT 1").await.is_ok()
}

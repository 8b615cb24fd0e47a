//! Storage plumbing shared by every module: the database connection (SQLite or PostgreSQL),
//! migrations, and the journal through which every write commits under a new global version.
//! It knows no module's tables except the journal's own (`journal_head`, `changes`, `audit_log`).

mod journal;

pub use journal::{
    Actor, AuditEntry, AuditQuery, AuditRecord, ChangeOp, EntityKind, Journal, Source, Version,
    WriteTxn,
};

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};

/// A storage failure; its text is logged, never shown to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("journal head row is missing; was the database migrated?")]
    MissingHead,
}

/// Opens the database named by `url`, tuned for how Switchboard uses it.
///
/// SQLite runs in WAL mode with `synchronous=NORMAL`: a commit survives a killed process (the
/// WAL is written before `COMMIT` returns) while still allowing group commits at speed.
pub async fn connect(url: &str) -> Result<DatabaseConnection, StoreError> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        options
            .max_connections(4)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|opts| {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(30))
                    .pragma("cache_size", "-32768")
                    // The service checkpoints in the background (`spawn_checkpointer`); this is
                    // the backstop for the CLI, and keeps a busy WAL from growing without end.
                    .pragma("wal_autocheckpoint", "16384")
                    .pragma("journal_size_limit", "67108864")
                    .pragma("temp_store", "memory")
            });
    } else {
        options.max_connections(16).min_connections(1);
    }
    Ok(Database::connect(options).await?)
}

/// How often the service moves the SQLite WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Runs SQLite checkpoints on a connection of their own, off every writer's path. Left to
/// SQLite, the commit that fills the WAL runs the checkpoint and fsyncs: that commit (and
/// every message acknowledged with it) waited 150–250 ms. A PASSIVE checkpoint runs beside
/// writers without blocking them. `None` on PostgreSQL.
pub fn spawn_checkpointer(db: DatabaseConnection) -> Option<tokio::task::JoinHandle<()>> {
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            if let Err(error) = db
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                tracing::warn!(%error, "WAL checkpoint failed");
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

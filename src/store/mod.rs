//! Storage plumbing shared by every module: the database connection (SQLite or PostgreSQL),
//! migrations, and the journal through which every write commits under a new global version.
//! It knows no module's tables except the journal's own (`journal_head`, `changes`, `audit_log`).

mod checkpoint;
mod journal;
mod records;

pub use checkpoint::{Checkpointer, WAL_PAGES_BEFORE_CHECKPOINT, WalState, spawn_checkpointer};

pub use journal::{Journal, WriteGate, WriteTxn};
pub use records::{
    Actor, AuditEntry, AuditQuery, AuditRecord, ChangeOp, EntityKind, Source, Version,
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

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// Answers whether the database responds, for `/readyz`.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.execute_unprepared("SELECT 1").await.is_ok()
}

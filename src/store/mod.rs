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
                    .pragma("wal_autocheckpoint", "16384")
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

//! SQLite checkpoints for the service: the WAL is moved into the database file in the
//! background, from a connection of its own, and started over before it passes a bound.
//!
//! A PASSIVE checkpoint copies frames without blocking anyone, but the WAL file only starts
//! over when a write transaction *begins* while every frame is already copied. Under a steady
//! stream of commits (the contact-view writer, a bulk of admin edits) some transaction is
//! always running when a PASSIVE pass ends, so the WAL was never started over, even with every
//! pass catching up: 6.7 GB after 10,000 people were created and given a role one by one, and a
//! 50 s start after `kill -9` (SQLite reads the whole WAL to recover). So once the WAL holds more
//! than [`WAL_PAGES_BEFORE_CHECKPOINT`] frames, a TRUNCATE checkpoint runs: it waits for the
//! write in progress (new writers wait for it; they cannot starve it), copies what is left,
//! and empties the file. A reader holding a snapshot longer than [`CHECKPOINT_WAIT`] (a backup)
//! makes it give up; it is tried again after [`BACKOFF`].

use std::time::Duration;

use sea_orm::{
    DatabaseConnection, DbBackend,
    sqlx::{self, ConnectOptions, sqlite::SqliteConnection},
};

/// WAL frames (4 KiB pages: 64 MiB) beyond which a checkpoint must start the WAL over: SQLite's
/// in-commit checkpoint for one-off tools, the background TRUNCATE for the service.
pub const WAL_PAGES_BEFORE_CHECKPOINT: i64 = 16_384;

/// How often the service checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// How long a TRUNCATE checkpoint waits for readers and the write in progress.
const CHECKPOINT_WAIT: Duration = Duration::from_secs(5);

/// The pause after a TRUNCATE checkpoint that a reader kept from finishing.
const BACKOFF: Duration = Duration::from_secs(5);

/// What a checkpoint reported: whether it was kept from finishing, the frames in the WAL, and
/// the frames copied into the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalState {
    pub busy: bool,
    pub frames: i64,
    pub checkpointed: i64,
}

/// The two checkpoints the service runs.
#[derive(Clone, Copy)]
enum Mode {
    Passive,
    Truncate,
}

/// Checkpoints one SQLite database from a connection of its own (not the pool's: a checkpoint
/// never waits for a free connection, and never holds one a request needs).
pub struct Checkpointer {
    conn: SqliteConnection,
    limit: i64,
}

impl Checkpointer {
    /// Opens the connection (with the pool's settings, waiting at most [`CHECKPOINT_WAIT`] for
    /// locks); `None` on PostgreSQL. `limit` is the WAL size, in frames, that forces a restart.
    pub async fn open(db: &DatabaseConnection, limit: i64) -> Result<Option<Self>, sqlx::Error> {
        if db.get_database_backend() != DbBackend::Sqlite {
            return Ok(None);
        }
        let options = db
            .get_sqlite_connection_pool()
            .connect_options()
            .as_ref()
            .clone()
            .busy_timeout(CHECKPOINT_WAIT);
        Ok(Some(Self {
            conn: options.connect().await?,
            limit,
        }))
    }

    /// One round: a PASSIVE checkpoint, then a TRUNCATE one if the WAL is over the limit.
    pub async fn tick(&mut self) -> Result<WalState, sqlx::Error> {
        let passive = self.run(Mode::Passive).await?;
        if passive.frames <= self.limit {
            return Ok(passive);
        }
        self.run(Mode::Truncate).await
    }

    async fn run(&mut self, mode: Mode) -> Result<WalState, sqlx::Error> {
        let sql = match mode {
            Mode::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
            Mode::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
        };
        let (busy, frames, checkpointed): (i64, i64, i64) =
            sqlx::query_as(sql).fetch_one(&mut self.conn).await?;
        Ok(WalState {
            busy: busy != 0,
            frames,
            checkpointed,
        })
    }
}

/// Runs the service's checkpoints in the background (with [`super::Checkpoints::Background`]
/// no commit runs one: left to SQLite, the commit that fills the WAL runs the checkpoint and
/// fsyncs, and that commit — with every message acknowledged with it — waited 50–250 ms).
/// `None` on PostgreSQL.
pub fn spawn_checkpointer(db: DatabaseConnection) -> Option<tokio::task::JoinHandle<()>> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut checkpointer = match Checkpointer::open(&db, WAL_PAGES_BEFORE_CHECKPOINT).await {
            Ok(Some(checkpointer)) => checkpointer,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%error, "cannot open the WAL checkpoint connection");
                return;
            }
        };
        drop(db);
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            match checkpointer.tick().await {
                Ok(state) if state.busy => {
                    tracing::warn!(
                        frames = state.frames,
                        "a reader kept the WAL from being started over; trying again shortly"
                    );
                    tokio::time::sleep(BACKOFF).await;
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "WAL checkpoint failed"),
            }
        }
    }))
}

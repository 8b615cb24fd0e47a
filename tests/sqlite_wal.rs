//! The SQLite WAL stays bounded while commits keep coming. A checkpoint that copies every frame
//! is not enough: the WAL only starts over when a write transaction begins with every frame
//! copied, and under a steady stream of commits one is always running. (SQLite only: the WAL
//! is SQLite's.)

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use switchboard::store::{self, Checkpointer, Checkpoints};

/// Frames (4 KiB pages) the test lets the WAL hold before it must start over: 1 MiB.
const LIMIT: i64 = 256;

async fn insert(db: &impl ConnectionTrait, kib: usize) {
    db.execute_unprepared(&format!(
        "INSERT INTO blobs (data) VALUES (randomblob({}))",
        kib * 1024
    ))
    .await
    .unwrap();
}

fn wal_bytes(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_starts_over_while_some_writer_is_always_busy() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/wal.db?mode=rwc", dir.path().display());
    let db: DatabaseConnection = store::connect(&url, Checkpoints::Background).await.unwrap();
    db.execute_unprepared("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
        .await
        .unwrap();
    let wal = dir.path().join("wal.db-wal");
    let mut checkpointer = Checkpointer::open(&db, LIMIT)
        .await
        .unwrap()
        .expect("SQLite has a checkpointer");

    let mut largest = 0;
    for _ in 0..40 {
        insert(&db, 256).await;
        // A write runs while the checkpoint does (as the contact-view writer always is), and
        // commits after it started.
        let txn = db.begin().await.unwrap();
        insert(&txn, 256).await;
        let tick = tokio::spawn(async move {
            let state = checkpointer.tick().await.unwrap();
            (checkpointer, state)
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        txn.commit().await.unwrap();
        let (back, _) = tick.await.unwrap();
        checkpointer = back;
        largest = largest.max(wal_bytes(&wal));
    }
    // 40 rounds wrote 20 MiB through the WAL.
    assert!(
        largest < 8 << 20,
        "the WAL grew to {largest} bytes with a limit of {LIMIT} pages"
    );
}

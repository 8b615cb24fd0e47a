//! The writer's one transaction per batch: message rows, their search terms and the
//! structural statements planned against the in-memory state, committed together.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, SqlErr, TransactionTrait};

use crate::im::{entities::message, ops::NewMessage, search};

/// Rows per INSERT statement (well under SQLite's and PostgreSQL's parameter limits).
pub(super) const ROWS_PER_INSERT: usize = 500;

/// Whether a commit failed because a message with the same dedup key is already stored.
pub(super) fn is_dedup_conflict(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(detail)) if detail.contains("dedup"))
}

/// Writes rows, their search terms and extra statements in one transaction.
pub(super) async fn persist(
    db: &DatabaseConnection,
    rows: &[NewMessage],
    statements: Vec<sea_orm::Statement>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    for statement in statements {
        txn.execute_raw(statement).await?;
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        message::Entity::insert_many(chunk.iter().map(NewMessage::active_model))
            .exec_without_returning(&txn)
            .await?;
        let terms: Vec<(i64, &str)> = chunk
            .iter()
            .filter_map(|r| r.terms.as_deref().map(|t| (r.gid, t)))
            .collect();
        if let Some(statement) = search::insert_statement(backend, &terms) {
            txn.execute_raw(statement).await?;
        }
    }
    txn.commit().await
}

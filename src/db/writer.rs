//! SQLite's single writer connection, and the rule that keeps it clean: a connection that
//! comes back to the pool still inside a transaction is closed, never reused.
//!
//! When SQLite cannot COMMIT (SQLITE_FULL, SQLITE_IOERR) it may roll the transaction back
//! itself; the ROLLBACK that follows then fails, sqlx keeps counting the transaction as
//! open, and every later write would run as a savepoint inside it and never reach the
//! file, each one acknowledged. A new connection has none of that state.

use sea_orm::sqlx::Connection;
use sea_orm::sqlx::sqlite::{SqliteConnection, SqlitePoolOptions};

/// The writer's pool: one connection, checked each time it is released; each release
/// after a write bumps `committed` (its transaction has committed or rolled back by then).
pub fn sqlite_pool(
    committed: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        // An embedded database has no link to lose: a ping before every acquire would be one
        // more round trip to the connection's worker thread per write.
        .test_before_acquire(false)
        .after_release(move |conn, _| {
            let committed = committed.clone();
            Box::pin(async move {
                let clean = is_clean(conn).await;
                committed.send_modify(|n| *n = n.wrapping_add(1));
                if !clean {
                    tracing::warn!(
                        "the SQLite writer came back inside a transaction: closing it, \
                         a new connection takes its place"
                    );
                }
                Ok(clean)
            })
        })
}

/// Outside any transaction, by SQLite's own state and by sqlx's count.
async fn is_clean(conn: &mut SqliteConnection) -> bool {
    // First a round trip to the connection's worker: a dropped transaction's ROLLBACK is
    // queued there, and sqlx lowers its count only once the worker has run it.
    let autocommit = match conn.lock_handle().await {
        // SAFETY: the handle is locked for us and valid while the guard lives.
        Ok(mut handle) => unsafe {
            rusqlite::ffi::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) != 0
        },
        Err(_) => false,
    };
    autocommit && !conn.is_in_transaction()
}

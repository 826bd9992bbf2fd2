//! Notifications between instances on one PostgreSQL (LISTEN/NOTIFY): a wake-up, never the
//! truth. Whatever listens must be correct without them (each cache keeps its own short
//! lifetime), since a notification sent while a listener reconnects is lost; a reconnect is
//! therefore reported as a notification too.

use std::sync::Weak;
use std::time::Duration;

use sea_orm::DatabaseBackend;
use sea_orm::sqlx::postgres::PgListener;

use super::Db;

const FIRST_RETRY: Duration = Duration::from_millis(250);
const LONGEST_RETRY: Duration = Duration::from_secs(10);
/// How often a quiet listener checks that its target still exists.
const LIVENESS_CHECK: Duration = Duration::from_secs(5);

impl Db {
    /// Calls `notified` on `target` for every notification on `channel`, and after every
    /// reconnect, until `target` is dropped. Nothing on SQLite, where there is no channel.
    pub fn on_notification<T: Send + Sync + 'static>(
        &self,
        channel: &'static str,
        target: Weak<T>,
        notified: fn(&T),
    ) {
        if self.backend() != DatabaseBackend::Postgres {
            return;
        }
        let pool = self.write.get_postgres_connection_pool().clone();
        tokio::spawn(async move {
            let notify = |target: &Weak<T>| target.upgrade().map(|t| notified(&t)).is_some();
            let mut wait = FIRST_RETRY;
            loop {
                match listen(&pool, channel).await {
                    Ok(mut listener) => {
                        wait = FIRST_RETRY;
                        // What changed while nobody listened is unknown.
                        if !notify(&target) {
                            return;
                        }
                        loop {
                            tokio::select! {
                                received = listener.try_recv() => match received {
                                    // None: the connection was lost; try_recv reconnects next.
                                    Ok(_) => {
                                        if !notify(&target) {
                                            return;
                                        }
                                    }
                                    Err(e) => {
                                        tracing::debug!(error = %e, channel, "listener lost");
                                        break;
                                    }
                                },
                                _ = tokio::time::sleep(LIVENESS_CHECK) => {
                                    if target.strong_count() == 0 {
                                        return;
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, channel, "cannot listen"),
                }
                if target.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(LONGEST_RETRY);
            }
        });
    }
}

async fn listen(
    pool: &sea_orm::sqlx::PgPool,
    channel: &str,
) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    Ok(listener)
}

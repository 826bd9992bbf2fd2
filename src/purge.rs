//! Rows that have expired are deleted in the background: access tokens past `expires_at`
//! (every OAuth2 grant adds one) and presence clients past theirs. Reads already ignore
//! expired rows, so this only keeps the tables from growing without end. Change-log events
//! older than the retention (`Config::event_retention`) go too.

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::task::JoinHandle;

use crate::db::{Db, Outage};
use crate::domain::{DomainError, DomainResult};
use crate::entity::{api_token, event, event_organization, user_client};

/// How often the server deletes expired rows (`Config::purge_interval`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

/// How long an event stays in the change log (`Config::event_retention`).
pub const DEFAULT_EVENT_RETENTION: Duration = Duration::from_secs(30 * 86_400);

/// Rows deleted per write transaction, so that a large backlog never holds SQLite's one
/// writer for long.
const BATCH: u64 = 1_000;

/// Runs [`purge_expired`] and [`purge_events`] every `interval` until aborted.
pub fn spawn(db: Db, interval: Duration, event_retention: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let purged = match purge_expired(&db).await {
                Ok(n) => purge_events(&db, event_retention).await.map(|m| n + m),
                e => e,
            };
            match purged {
                Ok(0) => {}
                Ok(n) => tracing::debug!(rows = n, "purged expired rows"),
                // Serving read-only on purpose: nothing may be deleted, nothing to report.
                Err(DomainError::Unavailable(Outage::ReadOnly)) => {}
                Err(e) => tracing::warn!(error = %e, "purging expired rows failed; retrying later"),
            }
        }
    })
}

/// Deletes every row that expired by now; how many.
pub async fn purge_expired(db: &Db) -> DomainResult<u64> {
    let mut deleted = 0;
    loop {
        let now = chrono::Utc::now();
        let txn = db.begin_write().await?;
        let tokens: Vec<i64> = api_token::Entity::find()
            .select_only()
            .column(api_token::Column::Id)
            .filter(api_token::Column::ExpiresAt.lte(now))
            .limit(BATCH)
            .into_tuple()
            .all(&txn)
            .await?;
        let clients: Vec<i64> = user_client::Entity::find()
            .select_only()
            .column(user_client::Column::Id)
            .filter(user_client::Column::ExpiresAt.lte(now))
            .limit(BATCH)
            .into_tuple()
            .all(&txn)
            .await?;
        let full = tokens.len() as u64 == BATCH || clients.len() as u64 == BATCH;
        if !tokens.is_empty() {
            deleted += api_token::Entity::delete_many()
                .filter(api_token::Column::Id.is_in(tokens))
                .exec(&txn)
                .await?
                .rows_affected;
        }
        if !clients.is_empty() {
            deleted += user_client::Entity::delete_many()
                .filter(user_client::Column::Id.is_in(clients))
                .exec(&txn)
                .await?
                .rows_affected;
        }
        txn.commit().await?;
        if !full {
            return Ok(deleted);
        }
    }
}

/// Deletes the events older than `retention`; how many. The log is walked from its oldest
/// position (its key: there is no index on time, so an append writes fewer pages) and
/// stops at the first event still young: positions follow commit order, and times follow
/// it to within a transaction's length, so an event outlives its retention by that much
/// at most. Its organizations' rows go by their own key.
pub async fn purge_events(db: &Db, retention: Duration) -> DomainResult<u64> {
    let Ok(retention) = chrono::Duration::from_std(retention) else {
        return Ok(0);
    };
    let Some(cutoff) = chrono::Utc::now().checked_sub_signed(retention) else {
        return Ok(0);
    };
    let mut deleted = 0;
    loop {
        let txn = db.begin_write().await?;
        let oldest: Vec<(i64, String, chrono::DateTime<chrono::Utc>)> = event::Entity::find()
            .select_only()
            .column(event::Column::Position)
            .column(event::Column::OrganizationIds)
            .column(event::Column::CreatedAt)
            .order_by_asc(event::Column::Position)
            .limit(BATCH)
            .into_tuple()
            .all(&txn)
            .await?;
        let full = oldest.len() as u64 == BATCH;
        let expired: Vec<_> = oldest.iter().take_while(|e| e.2 < cutoff).collect();
        let Some(last) = expired.last().map(|e| e.0) else {
            return Ok(deleted);
        };
        let mut organizations: Vec<i64> = expired
            .iter()
            .flat_map(|e| serde_json::from_str::<Vec<i64>>(&e.1).unwrap_or_default())
            .collect();
        organizations.sort_unstable();
        organizations.dedup();
        let young = expired.len() < oldest.len();
        for chunk in organizations.chunks(BATCH as usize) {
            event_organization::Entity::delete_many()
                .filter(event_organization::Column::OrganizationId.is_in(chunk.iter().copied()))
                .filter(event_organization::Column::Position.lte(last))
                .exec(&txn)
                .await?;
        }
        deleted += event::Entity::delete_many()
            .filter(event::Column::Position.lte(last))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        if !full || young {
            return Ok(deleted);
        }
    }
}

//! WatchEvents (issue 18): the change log as it commits, to every watcher that may see it.
//!
//! One [`Hub`] per server reads the log: woken after each commit (SQLite: the writer
//! connection coming back, `Db::committed`; PostgreSQL: `LISTEN orgd_events` on every
//! instance), it reads `position > last read` from the table in one query and fans the
//! events out in memory, so a hundred watchers cost one read, and none cost none: with no
//! watcher registered the hub reads nothing, and the first to register wakes it. The table
//! is the truth: a lost notification only delays events to the next wake-up or heartbeat,
//! which reads too.
//!
//! Each watcher has a bounded buffer; the hub never waits on one. A watcher whose buffer
//! is full is dropped, and its stream ends with RESOURCE_EXHAUSTED naming the last position
//! it delivered, from which it resumes (`after_position`) with no gap and no duplicate.
//!
//! Access is re-checked at delivery (through `domain::access`): before a batch is sent
//! when the last check is older than [`RECHECK`] or the batch holds a change of members,
//! owners or the tree, so a member removed stops receiving.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::{mpsc, watch};

use super::access::{self, Read, Services};
use super::error::{DomainError, DomainResult};
use super::events::{self, Event, types};
use crate::auth::Principal;
use crate::db::Db;
use crate::entity::event;

/// The bounds of watching, from `Config::watch`.
#[derive(Clone, Debug)]
pub struct WatchConfig {
    /// How often an idle stream sends a heartbeat.
    pub heartbeat: Duration,
    /// Events buffered per watcher; past it the watcher is dropped (resumable).
    pub buffer: usize,
    /// Open streams per principal.
    pub max_per_principal: usize,
    /// Open streams per server.
    pub max_streams: usize,
}

pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
pub const DEFAULT_BUFFER: usize = 1024;
pub const DEFAULT_MAX_PER_PRINCIPAL: usize = 16;
pub const DEFAULT_MAX_STREAMS: usize = 1000;

impl Default for WatchConfig {
    fn default() -> WatchConfig {
        WatchConfig {
            heartbeat: DEFAULT_HEARTBEAT,
            buffer: DEFAULT_BUFFER,
            max_per_principal: DEFAULT_MAX_PER_PRINCIPAL,
            max_streams: DEFAULT_MAX_STREAMS,
        }
    }
}

/// The longest a watcher delivers on one access check.
pub const RECHECK: Duration = Duration::from_secs(1);
/// The hub's progress before it has read the log's end.
const UNREAD: i64 = -1;
/// Events read per query.
const PAGE: u64 = 500;

/// What one watcher asked for.
#[derive(Clone, Debug)]
pub struct Filter {
    pub organization_id: i64,
    pub include_subtree: bool,
    /// Empty: every type.
    pub types: Vec<String>,
    /// Resume after this position; None: from now.
    pub after: Option<i64>,
}

/// What a watch stream yields.
#[derive(Debug)]
pub enum Item {
    Event(Arc<Event>),
    /// Every event at or below `position` the stream would deliver has been sent.
    Heartbeat {
        position: i64,
    },
}

/// Why a stream ended.
#[derive(Debug)]
pub enum End {
    /// Its buffer overflowed: resume after `last_position`.
    Overflow {
        last_position: i64,
    },
    /// The caller lost access to the organization.
    Denied(DomainError),
    Failed(DomainError),
}

struct Slot {
    /// Organizations whose events this watcher may see, kept by its task.
    allowed: Arc<Mutex<Vec<i64>>>,
    types: Vec<String>,
    tx: mpsc::Sender<Arc<Event>>,
    overflowed: Arc<AtomicBool>,
}

#[derive(Default)]
struct Watchers {
    /// The watchers caught up and fed by the hub.
    slots: HashMap<u64, Slot>,
    /// Open streams, caught up or not: in all, and per principal.
    open: usize,
    per_principal: HashMap<String, usize>,
}

pub struct Hub {
    db: Db,
    config: WatchConfig,
    watchers: Mutex<Watchers>,
    next_id: AtomicU64,
    /// Bumped to make the reader look at the table.
    wake: watch::Sender<u64>,
    /// The last position read and fanned out.
    progress: watch::Sender<i64>,
    /// Set (under the watchers' lock) when a wake-up went unread for want of a watcher:
    /// the first to register then pokes, so what committed meanwhile reaches it.
    behind: AtomicBool,
}

impl Hub {
    /// Starts the hub's reader (until the hub is dropped). It begins at the log's end as
    /// soon as the database answers (it may not yet at start-up).
    pub fn start(db: Db, config: WatchConfig) -> Arc<Hub> {
        let hub = Arc::new(Hub {
            db: db.clone(),
            config,
            watchers: Mutex::new(Watchers::default()),
            next_id: AtomicU64::new(1),
            wake: watch::channel(0).0,
            progress: watch::channel(UNREAD).0,
            behind: AtomicBool::new(false),
        });
        db.on_notification(events::CHANNEL, Arc::downgrade(&hub), Hub::poke);
        tokio::spawn(read_loop(Arc::downgrade(&hub), db.committed()));
        hub
    }

    /// The log's end once, before the first read.
    async fn begin(&self) -> DomainResult<()> {
        if *self.progress.borrow() == UNREAD {
            let last = last_position(&self.db).await?;
            self.progress.send_if_modified(|p| {
                let unread = *p == UNREAD;
                if unread {
                    *p = last;
                }
                unread
            });
        }
        Ok(())
    }

    pub fn config(&self) -> &WatchConfig {
        &self.config
    }

    fn poke(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Reads what committed since the last read and hands it to every watcher it concerns.
    async fn read_new(&self) -> DomainResult<()> {
        self.begin().await?;
        if self.idle() {
            return Ok(());
        }
        loop {
            let after = *self.progress.borrow();
            let rows = event::Entity::find()
                .filter(event::Column::Position.gt(after))
                .order_by_asc(event::Column::Position)
                .limit(PAGE)
                .all(self.db.read())
                .await?;
            let Some(last) = rows.last().map(|r| r.position) else {
                return Ok(());
            };
            let full = rows.len() as u64 == PAGE;
            let events: Vec<Arc<Event>> = rows.into_iter().map(|r| Arc::new(r.into())).collect();
            self.fan_out(&events, last);
            if !full {
                return Ok(());
            }
        }
    }

    /// No watcher is fed by the hub, so there is nothing to read for: a write costs the
    /// log its append alone. Marks the hub behind for the next watcher to register.
    fn idle(&self) -> bool {
        let watchers = self.watchers.lock().expect("not poisoned");
        let idle = watchers.slots.is_empty();
        if idle {
            self.behind.store(true, Ordering::SeqCst);
        }
        idle
    }

    /// Hands the batch to every registered watcher, and moves the progress to `last` under
    /// the same lock a watcher registers under: each event reaches a watcher either here
    /// or from its own catch-up, never both, never neither.
    fn fan_out(&self, batch: &[Arc<Event>], last: i64) {
        let mut watchers = self.watchers.lock().expect("not poisoned");
        // Never back: the first watcher to register may have moved it past this batch.
        self.progress.send_if_modified(|p| {
            let ahead = last > *p;
            if ahead {
                *p = last;
            }
            ahead
        });
        let mut dropped = Vec::new();
        for (id, slot) in &watchers.slots {
            let allowed = slot.allowed.lock().expect("not poisoned").clone();
            for e in batch {
                if !concerns(e, &allowed, &slot.types) {
                    continue;
                }
                if slot.tx.try_send(e.clone()).is_err() {
                    // Full (or its stream is gone): it ends, resumable, rather than slow us.
                    slot.overflowed.store(true, Ordering::SeqCst);
                    dropped.push(*id);
                    break;
                }
            }
        }
        for id in dropped {
            // Dropping the sender closes the watcher's channel once it has drained it.
            watchers.slots.remove(&id);
        }
    }

    /// Registers a watcher of `filter` for `principal`, after its access check.
    pub async fn watch(
        self: &Arc<Hub>,
        principal: &Principal,
        filter: Filter,
    ) -> DomainResult<mpsc::Receiver<Result<Item, End>>> {
        for t in &filter.types {
            if !types::ALL.contains(&t.as_str()) {
                return Err(DomainError::invalid(
                    "types",
                    format!("unknown event type {t:?}"),
                ));
            }
        }
        if filter.after.is_some_and(|p| p < 0) {
            return Err(DomainError::invalid(
                "after_position",
                "must not be negative",
            ));
        }
        let allowed = allowed(&self.db, principal, &filter).await?;
        self.begin().await?;
        // From now: the log's end, not the hub's progress, which lags while it is idle.
        // Read before the stream is counted, so that a failed read counts nothing.
        let start = match filter.after {
            Some(after) => after,
            None => last_position(&self.db).await?,
        };
        let key = events::actor(principal);
        {
            let mut w = self.watchers.lock().expect("not poisoned");
            if w.open >= self.config.max_streams {
                return Err(DomainError::RateLimited {
                    message: format!(
                        "the server has its most watch streams open ({})",
                        self.config.max_streams
                    ),
                    retry_after: Duration::from_secs(1),
                });
            }
            let open = w.per_principal.entry(key.clone()).or_default();
            if *open >= self.config.max_per_principal {
                return Err(DomainError::RateLimited {
                    message: format!(
                        "at most {} watch streams may be open per caller",
                        self.config.max_per_principal
                    ),
                    retry_after: Duration::from_secs(1),
                });
            }
            *open += 1;
            w.open += 1;
        }
        let (out_tx, out_rx) = mpsc::channel(1);
        let watcher = Watcher {
            hub: self.clone(),
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            key,
            principal: principal.clone(),
            filter,
            allowed: Arc::new(Mutex::new(allowed)),
            overflowed: Arc::new(AtomicBool::new(false)),
            checked: Instant::now(),
            delivered: start,
        };
        tokio::spawn(watcher.run(out_tx));
        Ok(out_rx)
    }
}

struct Watcher {
    hub: Arc<Hub>,
    id: u64,
    key: String,
    principal: Principal,
    filter: Filter,
    allowed: Arc<Mutex<Vec<i64>>>,
    overflowed: Arc<AtomicBool>,
    checked: Instant,
    /// The last position delivered (or known to hold nothing for this watcher).
    delivered: i64,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let mut w = self.hub.watchers.lock().expect("not poisoned");
        w.slots.remove(&self.id);
        w.open -= 1;
        if let Some(n) = w.per_principal.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                w.per_principal.remove(&self.key);
            }
        }
    }
}

type Out = mpsc::Sender<Result<Item, End>>;

impl Watcher {
    async fn run(mut self, out: Out) {
        // From the table up to the hub's progress, then fed by the hub: registered only
        // once caught up, so its buffer holds live events alone.
        let mut rx = loop {
            let until = *self.hub.progress.borrow();
            if self.catch_up(until, &out).await.is_err() {
                return;
            }
            if let Some(rx) = self.register() {
                break rx;
            }
        };
        let mut heartbeat = tokio::time::interval(self.hub.config.heartbeat);
        heartbeat.tick().await;
        loop {
            tokio::select! {
                received = rx.recv() => match received {
                    Some(e) => {
                        let mut batch = vec![e];
                        while let Ok(e) = rx.try_recv() {
                            batch.push(e);
                        }
                        if self.deliver(batch, &out).await.is_err() {
                            return;
                        }
                    }
                    None => {
                        let end = if self.overflowed.load(Ordering::SeqCst) {
                            End::Overflow { last_position: self.delivered }
                        } else {
                            End::Failed(DomainError::Unavailable(
                                crate::db::Outage::Unreachable,
                            ))
                        };
                        let _ = out.send(Err(end)).await;
                        return;
                    }
                },
                _ = heartbeat.tick() => {
                    if self.recheck(true).await.is_err_and(|e| {
                        let _ = out.try_send(Err(e));
                        true
                    }) {
                        return;
                    }
                    // Read before looking at the buffer: the hub fans out, then moves on.
                    let progress = *self.hub.progress.borrow();
                    // A dropped watcher's buffer is empty too, but nothing reaches it.
                    if rx.is_empty() && !self.overflowed.load(Ordering::SeqCst) {
                        self.delivered = self.delivered.max(progress);
                    }
                    let beat = Item::Heartbeat { position: self.delivered };
                    if out.send(Ok(beat)).await.is_err() {
                        return;
                    }
                    // A notification may have been lost: the table is read anyway.
                    self.hub.poke();
                },
                _ = out.closed() => return,
            }
        }
    }

    /// Registers with the hub if nothing committed since the catch-up; None otherwise.
    fn register(&mut self) -> Option<mpsc::Receiver<Arc<Event>>> {
        let mut w = self.hub.watchers.lock().expect("not poisoned");
        let progress = *self.hub.progress.borrow();
        if progress > self.delivered {
            return None;
        }
        if w.slots.is_empty() && progress < self.delivered {
            // No one else needs what lies below this watcher: the hub reads from here.
            self.hub.progress.send_replace(self.delivered);
        }
        let (tx, rx) = mpsc::channel(self.hub.config.buffer.max(1));
        w.slots.insert(
            self.id,
            Slot {
                allowed: self.allowed.clone(),
                types: self.filter.types.clone(),
                tx,
                overflowed: self.overflowed.clone(),
            },
        );
        if self.hub.behind.swap(false, Ordering::SeqCst) {
            self.hub.poke();
        }
        Some(rx)
    }

    async fn catch_up(&mut self, until: i64, out: &Out) -> Result<(), ()> {
        while self.delivered < until {
            let rows = event::Entity::find()
                .filter(event::Column::Position.gt(self.delivered))
                .filter(event::Column::Position.lte(until))
                .order_by_asc(event::Column::Position)
                .limit(PAGE)
                .all(self.hub.db.read())
                .await;
            let rows = match rows {
                Ok(rows) => rows,
                Err(e) => {
                    let _ = out.send(Err(End::Failed(e.into()))).await;
                    return Err(());
                }
            };
            if rows.is_empty() {
                // Nothing (left) for anyone up to `until`.
                self.delivered = self.delivered.max(until);
                break;
            }
            let batch = rows.into_iter().map(|r| Arc::new(r.into())).collect();
            self.deliver(batch, out).await?;
        }
        Ok(())
    }

    /// Sends the batch's events this watcher may see, in order, after an access check
    /// when one is due.
    async fn deliver(&mut self, batch: Vec<Arc<Event>>, out: &Out) -> Result<(), ()> {
        let changes_access = batch
            .iter()
            .any(|e| ACCESS_CHANGES.contains(&e.kind.as_str()));
        if let Err(e) = self.recheck(changes_access).await {
            let _ = out.send(Err(e)).await;
            return Err(());
        }
        let allowed = self.allowed.lock().expect("not poisoned").clone();
        for e in batch {
            if e.position <= self.delivered {
                continue;
            }
            let position = e.position;
            if concerns(&e, &allowed, &self.filter.types)
                && out.send(Ok(Item::Event(e))).await.is_err()
            {
                return Err(());
            }
            self.delivered = position;
        }
        Ok(())
    }

    async fn recheck(&mut self, due: bool) -> Result<(), End> {
        if !due && self.checked.elapsed() < RECHECK {
            return Ok(());
        }
        match allowed(&self.hub.db, &self.principal, &self.filter).await {
            Ok(ids) => {
                *self.allowed.lock().expect("not poisoned") = ids;
                self.checked = Instant::now();
                Ok(())
            }
            Err(e @ DomainError::PermissionDenied(_)) | Err(e @ DomainError::NotFound(_)) => {
                Err(End::Denied(e))
            }
            Err(e) => Err(End::Failed(e)),
        }
    }
}

/// Changes after which who may see what may differ.
const ACCESS_CHANGES: &[&str] = &[
    types::MEMBER_SET,
    types::MEMBER_REMOVED,
    types::OWNER_ADDED,
    types::OWNER_REMOVED,
    types::ORGANIZATION_UPDATED,
    types::ORGANIZATION_DELETED,
];

/// Whether `e` is for this watcher: it concerns an organization it may see, of a type it
/// asked for.
fn concerns(e: &Event, allowed: &[i64], types: &[String]) -> bool {
    e.organization_ids
        .iter()
        .any(|id| allowed.binary_search(id).is_ok())
        && (types.is_empty() || types.contains(&e.kind))
}

/// The organizations of `filter` the principal may read now, ascending: the organization
/// itself (Read, permission before existence), and with the subtree every descendant the
/// principal may read.
async fn allowed(db: &Db, principal: &Principal, filter: &Filter) -> DomainResult<Vec<i64>> {
    let conn = db.read();
    access::require::<Read>(
        conn,
        principal,
        Some(filter.organization_id),
        Services::Allowed,
    )
    .await?;
    let mut ids = vec![filter.organization_id];
    if filter.include_subtree {
        for id in descendants(db, filter.organization_id).await? {
            if access::can_read(conn, principal, id).await? {
                ids.push(id);
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

async fn descendants(db: &Db, root: i64) -> DomainResult<Vec<i64>> {
    use sea_orm::{ConnectionTrait, Statement};
    let conn = db.read();
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "WITH RECURSIVE sub(id, depth) AS ( \
               SELECT id, 0 FROM organizations WHERE parent_id = $1 \
               UNION SELECT o.id, sub.depth + 1 FROM organizations o \
                 JOIN sub ON o.parent_id = sub.id WHERE sub.depth < 64) \
             SELECT id FROM sub",
            [root.into()],
        ))
        .await?;
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        ids.push(row.try_get_by_index::<i64>(0)?);
    }
    Ok(ids)
}

async fn last_position(db: &Db) -> DomainResult<i64> {
    let last = event::Entity::find()
        .order_by_desc(event::Column::Position)
        .one(db.read())
        .await?;
    Ok(last.map_or(0, |e| e.position))
}

async fn read_loop(hub: Weak<Hub>, mut committed: watch::Receiver<u64>) {
    let Some(mut wake) = hub.upgrade().map(|h| h.wake.subscribe()) else {
        return;
    };
    loop {
        {
            let Some(hub) = hub.upgrade() else { return };
            if let Err(e) = hub.read_new().await {
                tracing::warn!(error = %e, "reading the change log for watchers");
            }
        }
        // Only a wake-up reads: with no watcher there is no one to read for, and a
        // watcher's heartbeat pokes (a lost notification waits at most one heartbeat).
        loop {
            tokio::select! {
                changed = wake.changed() => if changed.is_err() { return } else { break },
                _ = committed.changed() => break,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {
                    if hub.strong_count() == 0 { return }
                }
            }
        }
    }
}

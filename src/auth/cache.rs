//! Recently resolved tokens, so a client's burst of requests costs one token lookup.
//!
//! What a token stands for never changes (there is no way to re-point a token), so the
//! only staleness an entry can carry is a token deleted since it was fetched: with its
//! user, its organization or by an operator. An entry is therefore trusted for [`TTL`] at
//! most, and the expiry stored with the token is checked on every use. Only tokens that
//! resolved are kept: a client sending random tokens cannot grow the map.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use metrics::Counter;

use super::Principal;

/// How long a deleted token may go on working in a running server.
pub const TTL: Duration = Duration::from_secs(5);

/// Entries at most; a full map sheds its stale entries, then everything.
const CAPACITY: usize = 10_000;

#[derive(Clone, Debug)]
struct Entry {
    principal: Principal,
    expires_at: Option<DateTime<Utc>>,
    fetched: Instant,
}

#[derive(Debug)]
pub struct TokenCache {
    /// By token hash: the plain token is never kept.
    entries: Mutex<HashMap<String, Entry>>,
    /// Lookups answered here, and lookups sent on to the database (no-ops by default).
    hits: Counter,
    misses: Counter,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::counted(Counter::noop(), Counter::noop())
    }
}

impl TokenCache {
    /// A cache counting its hits and misses.
    pub fn counted(hits: Counter, misses: Counter) -> TokenCache {
        TokenCache {
            entries: Mutex::default(),
            hits,
            misses,
        }
    }

    /// The principal of a token hash resolved less than [`TTL`] ago and not expired since.
    pub fn get(&self, hash: &str, now: Instant) -> Option<Principal> {
        let found = self.lookup(hash, now);
        match found {
            Some(_) => self.hits.increment(1),
            None => self.misses.increment(1),
        }
        found
    }

    fn lookup(&self, hash: &str, now: Instant) -> Option<Principal> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(hash)?;
        let fresh = now.duration_since(entry.fetched) < TTL;
        let valid = entry.expires_at.is_none_or(|at| at > Utc::now());
        (fresh && valid).then(|| entry.principal.clone())
    }

    /// Forgets every token: some may have been deleted (another instance said so).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    pub fn put(
        &self,
        hash: String,
        principal: Principal,
        expires_at: Option<DateTime<Utc>>,
        now: Instant,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY {
            entries.retain(|_, e| now.duration_since(e.fetched) < TTL);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            hash,
            Entry {
                principal,
                expires_at,
                fetched: now,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: Principal = Principal::User { user_id: 7 };

    #[test]
    fn an_entry_lives_for_the_ttl_and_until_the_token_expires() {
        let cache = TokenCache::default();
        let t0 = Instant::now();
        cache.put("h".into(), USER, None, t0);
        assert_eq!(cache.get("h", t0), Some(USER));
        assert_eq!(
            cache.get("h", t0 + TTL - Duration::from_millis(1)),
            Some(USER)
        );
        assert_eq!(cache.get("h", t0 + TTL), None);
        assert_eq!(cache.get("other", t0), None);

        cache.put(
            "e".into(),
            USER,
            Some(Utc::now() - chrono::Duration::seconds(1)),
            t0,
        );
        assert_eq!(
            cache.get("e", t0),
            None,
            "an expired token is refused at once"
        );
    }

    #[test]
    fn a_full_cache_sheds_stale_entries_first() {
        let cache = TokenCache::default();
        let t0 = Instant::now();
        for i in 0..CAPACITY - 1 {
            cache.put(format!("old{i}"), USER, None, t0);
        }
        let later = t0 + TTL;
        cache.put("fresh".into(), USER, None, later);
        cache.put("newest".into(), USER, None, later);
        let entries = cache.entries.lock().unwrap();
        assert_eq!(
            entries.len(),
            2,
            "the stale entries went, the fresh ones stayed"
        );
    }
}

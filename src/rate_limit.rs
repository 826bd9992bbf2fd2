//! Token buckets kept per key (a principal, a client id, a peer address), in memory: each
//! key may spend `burst` tokens at once and gets `per_minute` back over a minute. They
//! bound how fast one caller may write and how fast anyone may guess OAuth2 secrets.
//! State is per process; behind a load balancer each replica counts on its own.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many tokens a key holds at most, and how fast they come back.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub burst: u32,
    pub per_minute: u32,
}

impl Rate {
    pub const fn new(burst: u32, per_minute: u32) -> Rate {
        Rate { burst, per_minute }
    }

    fn refill_per_sec(self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }
}

/// Keys tracked at most. Past it, keys whose bucket is full again (they have nothing to
/// remember) are dropped first; if every one is still draining, a new key goes untracked
/// rather than evicting one that is being throttled.
const MAX_KEYS: usize = 100_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
pub struct Limiter<K> {
    rate: Rate,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub fn new(rate: Rate) -> Limiter<K> {
        Limiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Spends one token of `key`'s bucket, or says how long until one is back.
    pub fn take(&self, key: &K) -> Result<(), Duration> {
        self.spend(key, true)
    }

    /// Whether `key` has a token to spend, without spending it.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.spend(key, false)
    }

    fn spend(&self, key: &K, take: bool) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let rate = self.rate;
        let full = f64::from(rate.burst);
        let Some(bucket) = buckets.get_mut(key) else {
            if rate.burst == 0 {
                return Err(self.wait(0.0));
            }
            if take {
                if buckets.len() >= MAX_KEYS {
                    buckets.retain(|_, b| refilled(b, rate, now) < full);
                }
                if buckets.len() < MAX_KEYS {
                    buckets.insert(
                        key.clone(),
                        Bucket {
                            tokens: full - 1.0,
                            at: now,
                        },
                    );
                }
            }
            return Ok(());
        };
        bucket.tokens = refilled(bucket, rate, now);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return Err(self.wait(bucket.tokens));
        }
        if take {
            bucket.tokens -= 1.0;
        }
        Ok(())
    }

    /// Until a bucket holding `tokens` holds one.
    fn wait(&self, tokens: f64) -> Duration {
        let per_sec = self.rate.refill_per_sec();
        if per_sec <= 0.0 {
            return Duration::from_secs(3600);
        }
        Duration::from_secs_f64(((1.0 - tokens) / per_sec).max(0.0))
    }
}

fn refilled(bucket: &Bucket, rate: Rate, now: Instant) -> f64 {
    let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
    (bucket.tokens + elapsed * rate.refill_per_sec()).min(f64::from(rate.burst))
}

/// Whole seconds to ask a client to wait: rounded up, at least one.
pub use orgd_transcode::status::retry_after_secs;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_spent_then_refused_with_the_wait_for_one_token() {
        let limiter = Limiter::new(Rate::new(2, 60));
        assert!(limiter.check(&"a").is_ok());
        assert!(limiter.take(&"a").is_ok());
        assert!(limiter.take(&"a").is_ok());
        let wait = limiter.take(&"a").unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(retry_after_secs(wait), 1);
        assert!(limiter.check(&"a").is_err());
        // Other keys have their own bucket.
        assert!(limiter.take(&"b").is_ok());
    }

    #[test]
    fn no_refill_asks_for_an_hour() {
        let limiter = Limiter::new(Rate::new(1, 0));
        assert!(limiter.take(&1).is_ok());
        assert_eq!(limiter.take(&1), Err(Duration::from_secs(3600)));
    }
}

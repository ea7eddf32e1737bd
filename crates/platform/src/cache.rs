//! Figures that are read far more often than what they sum changes: a
//! dashboard open on many screens, a report asked for again. Each value
//! belongs to a realtime topic (`maintenance`). Every write already
//! publishes an event on its topic, and events cross replicas on the bus;
//! any event on a topic drops that topic's values, on every replica, and a
//! `Resync` (the bus was down, or this cache fell behind) drops them all.
//! A TTL bounds the age of any value should an event be missed.
//!
//! Events are read at each look-up, before the value: a replica that
//! published an event never serves what that event made stale, and
//! another serves it only until the event arrives. A value computed while
//! its topic changed is handed to its caller but not kept.
//!
//! Counted in `/metrics`: `faena_cache_hits_total`,
//! `faena_cache_misses_total`, `faena_cache_invalidations_total` (by
//! topic) and `faena_cache_evictions_total`.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::broadcast::{self, error::TryRecvError};

use crate::realtime::Signal;

/// How old a value may be at most (seed 002's Redis cache kept 60 s).
pub const TTL: Duration = Duration::from_secs(60);

/// Values kept at most; past it, the expired go first, then all.
const MAX_ENTRIES: usize = 4_096;

type Value = Arc<dyn Any + Send + Sync>;

struct Entry {
    value: Value,
    at: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<(String, String), Entry>,
    /// Bumped each time a topic's values are dropped: a value computed
    /// across a bump is not kept.
    generations: HashMap<String, u64>,
    /// Bumped each time everything is dropped.
    everything: u64,
}

impl Inner {
    fn stamp(&self, topic: &str) -> (u64, u64) {
        (
            self.generations.get(topic).copied().unwrap_or(0),
            self.everything,
        )
    }

    fn drop_topic(&mut self, topic: &str) {
        *self.generations.entry(topic.to_owned()).or_default() += 1;
        let before = self.entries.len();
        self.entries.retain(|(t, _), _| t != topic);
        if before != self.entries.len() {
            metrics::counter!("faena_cache_invalidations_total", "topic" => topic.to_owned())
                .increment(1);
        }
    }

    fn drop_all(&mut self) {
        self.everything += 1;
        if !self.entries.is_empty() {
            metrics::counter!("faena_cache_invalidations_total", "topic" => "*").increment(1);
        }
        self.entries.clear();
    }
}

/// The platform's cache of computed figures (`AppState::cache`).
pub struct Cache {
    inner: Mutex<Inner>,
    signals: Mutex<broadcast::Receiver<Signal>>,
    ttl: Duration,
}

impl Cache {
    /// A cache that reads the realtime hub's signals from `signals`.
    pub fn new(signals: broadcast::Receiver<Signal>, ttl: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            signals: Mutex::new(signals),
            ttl,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut signals = self
            .signals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            match signals.try_recv() {
                Ok(Signal::Event(e)) => inner.drop_topic(&e.topic),
                Ok(Signal::Resync) | Err(TryRecvError::Lagged(_)) => inner.drop_all(),
                Ok(Signal::Access(_)) => {}
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        drop(signals);
        inner
    }

    /// The value of `key` in `topic`, computed by `compute` when it is not
    /// kept (or no longer valid). Keys name everything the value depends
    /// on besides the topic's data: the reader's zone, the day.
    pub async fn get_or_compute<T, E, Fut>(
        &self,
        topic: &str,
        key: &str,
        compute: impl FnOnce() -> Fut,
    ) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>>,
    {
        let stamp = {
            let inner = self.lock();
            let kept = inner
                .entries
                .get(&(topic.to_owned(), key.to_owned()))
                .filter(|e| e.at.elapsed() < self.ttl)
                .and_then(|e| e.value.clone().downcast::<T>().ok());
            if let Some(v) = kept {
                metrics::counter!("faena_cache_hits_total", "topic" => topic.to_owned())
                    .increment(1);
                return Ok(v);
            }
            inner.stamp(topic)
        };
        metrics::counter!("faena_cache_misses_total", "topic" => topic.to_owned()).increment(1);
        let value = Arc::new(compute().await?);
        let mut inner = self.lock();
        if inner.stamp(topic) == stamp {
            if inner.entries.len() >= MAX_ENTRIES {
                let ttl = self.ttl;
                let before = inner.entries.len();
                inner.entries.retain(|_, e| e.at.elapsed() < ttl);
                if inner.entries.len() >= MAX_ENTRIES {
                    inner.entries.clear();
                }
                metrics::counter!("faena_cache_evictions_total")
                    .increment((before - inner.entries.len()) as u64);
            }
            let kept: Value = value.clone();
            inner.entries.insert(
                (topic.to_owned(), key.to_owned()),
                Entry {
                    value: kept,
                    at: Instant::now(),
                },
            );
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::Event;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn event(topic: &str) -> Signal {
        Signal::Event(Arc::new(Event {
            id: uuid::Uuid::now_v7().to_string(),
            topic: topic.into(),
            kind: "thing.changed".into(),
            data: serde_json::json!({}),
            at: chrono::Utc::now(),
            truncated: false,
            json: Default::default(),
            sse: Default::default(),
        }))
    }

    async fn read(cache: &Cache, topic: &str, calls: &AtomicU32) -> u32 {
        *cache
            .get_or_compute(topic, "k", || async {
                Ok::<_, ()>(calls.fetch_add(1, Ordering::SeqCst) + 1)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_value_is_kept_until_an_event_on_its_topic_or_a_resync() {
        let (tx, rx) = broadcast::channel(16);
        let cache = Cache::new(rx, TTL);
        let calls = AtomicU32::new(0);
        assert_eq!(read(&cache, "maintenance", &calls).await, 1);
        assert_eq!(read(&cache, "maintenance", &calls).await, 1, "kept");
        tx.send(event("orders")).unwrap();
        assert_eq!(
            read(&cache, "maintenance", &calls).await,
            1,
            "another topic's event"
        );
        tx.send(event("maintenance")).unwrap();
        assert_eq!(
            read(&cache, "maintenance", &calls).await,
            2,
            "dropped by its topic's event"
        );
        tx.send(Signal::Resync).unwrap();
        assert_eq!(
            read(&cache, "maintenance", &calls).await,
            3,
            "dropped by a resync"
        );
    }

    #[tokio::test]
    async fn a_value_computed_while_its_topic_changed_is_not_kept() {
        let (tx, rx) = broadcast::channel(16);
        let cache = Cache::new(rx, TTL);
        let calls = AtomicU32::new(0);
        let v = cache
            .get_or_compute("maintenance", "k", || async {
                // The data changes while the figures are being summed.
                tx.send(event("maintenance")).unwrap();
                Ok::<_, ()>(calls.fetch_add(1, Ordering::SeqCst) + 1)
            })
            .await
            .unwrap();
        assert_eq!(*v, 1);
        assert_eq!(read(&cache, "maintenance", &calls).await, 2, "recomputed");
    }

    #[tokio::test]
    async fn a_value_expires_and_a_cache_that_fell_behind_starts_over() {
        let (tx, rx) = broadcast::channel(2);
        let cache = Cache::new(rx, Duration::from_millis(50));
        let calls = AtomicU32::new(0);
        assert_eq!(read(&cache, "maintenance", &calls).await, 1);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(read(&cache, "maintenance", &calls).await, 2, "expired");
        // More events than the channel holds: some were missed.
        for _ in 0..5 {
            tx.send(event("orders")).unwrap();
        }
        assert_eq!(
            read(&cache, "maintenance", &calls).await,
            3,
            "lagged: all dropped"
        );
    }
}

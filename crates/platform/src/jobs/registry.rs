//! The table of job kinds: each kind's handler and retry policy, the
//! schedules and start jobs, where jobs are kept (the database, or Redis
//! with the table as outbox) and the bell that wakes local workers.
//!
//! Generic over `S`, what a handler is given (the application state), so
//! the state can hold the table without this module depending on it; the
//! typed constructors (`JobType::of`, `Schedule::new`, `StartJob::of`) live
//! with the `Job` trait in `jobs`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde_json::Value;
use tokio::sync::Notify;
use uuid::Uuid;

pub use super::entity::JobState;
use super::entity::job;
use super::redis_store;

/// How often and how patiently a job kind is retried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Delay before the first retry; it doubles with each further one.
    pub base: Duration,
    /// Ceiling of the delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts over about 4 minutes: 2 s, 4 s, 8 s … 128 s, jittered.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_secs(2),
            max_delay: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based): exponential,
    /// capped, with "equal jitter" (half fixed, half random) so that jobs
    /// failing together do not retry together.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(
                1u32.checked_shl(attempt.saturating_sub(1))
                    .unwrap_or(u32::MAX),
            )
            .min(self.max_delay);
        let half = exp / 2;
        let mut b = [0u8; 8];
        // A failure of the OS RNG only costs the jitter.
        let _ = getrandom::fill(&mut b);
        let r = u64::from_le_bytes(b) as f64 / u64::MAX as f64;
        half + half.mul_f64(r)
    }
}

/// A running handler's future.
pub type RunFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// The attempt a handler runs: the job's id and kind, and the attempt's
/// number from 1.
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    pub id: Uuid,
    pub kind: &'static str,
    pub attempt: u32,
}

pub(crate) type RunFn<S> = Arc<dyn Fn(S, Attempt, Value) -> RunFuture + Send + Sync>;

/// A job kind with its handler, type-erased for the registry. `S` is what
/// the handler is given (the application state).
pub struct JobType<S> {
    pub name: &'static str,
    pub retry: RetryPolicy,
    /// Fixed waits between attempts, when the kind has them (see
    /// `Job::retry_schedule`); `retry.max_attempts` agrees with it.
    pub schedule: Option<&'static [Duration]>,
    pub timeout: Duration,
    pub(crate) run: RunFn<S>,
}

impl<S> Clone for JobType<S> {
    fn clone(&self) -> Self {
        JobType {
            name: self.name,
            retry: self.retry,
            schedule: self.schedule,
            timeout: self.timeout,
            run: self.run.clone(),
        }
    }
}

impl<S> JobType<S> {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        match self.schedule {
            Some(schedule) => {
                let i = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
                schedule
                    .get(i)
                    .or(schedule.last())
                    .copied()
                    .unwrap_or_default()
            }
            None => self.retry.delay(attempt),
        }
    }
}

/// A cron-like schedule of one job kind (`Schedule::new`, see `schedule`).
#[derive(Clone)]
pub struct Schedule {
    pub name: &'static str,
    pub kind: &'static str,
    pub pattern: &'static str,
    pub(crate) cron: Arc<Cron>,
    pub(crate) payload: Value,
    pub(crate) max_attempts: u32,
}

impl Schedule {
    /// The first due time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&after, false).ok()
    }
}

/// Every job kind and schedule of the enabled modules, where jobs are kept,
/// and the bell that wakes local workers when work is enqueued.
pub struct Registry<S> {
    types: Arc<HashMap<&'static str, JobType<S>>>,
    schedules: Arc<Vec<Schedule>>,
    wake: Arc<Notify>,
    /// Set by `wake`: the outbox has rows for the Redis storage.
    relay_hint: Arc<std::sync::atomic::AtomicBool>,
    redis: Option<Arc<redis_store::RedisStore>>,
    at_start: Arc<Vec<StartJob>>,
}

/// Work a server enqueues each time it starts (catching up on what an
/// upgrade or a crash left undone); one live copy across replicas.
#[derive(Clone, Debug)]
pub struct StartJob {
    pub(crate) kind: &'static str,
    pub(crate) payload: Value,
    pub(crate) max_attempts: u32,
}

impl<S> Clone for Registry<S> {
    fn clone(&self) -> Self {
        Registry {
            types: self.types.clone(),
            schedules: self.schedules.clone(),
            wake: self.wake.clone(),
            relay_hint: self.relay_hint.clone(),
            redis: self.redis.clone(),
            at_start: self.at_start.clone(),
        }
    }
}

impl<S> Registry<S> {
    pub fn new(types: Vec<JobType<S>>, schedules: Vec<Schedule>) -> anyhow::Result<Self> {
        let mut map = HashMap::new();
        for t in types {
            if map.insert(t.name, t).is_some() {
                anyhow::bail!("two job types share a name");
            }
        }
        for s in &schedules {
            if !map.contains_key(s.kind) {
                anyhow::bail!("schedule `{}` runs unknown job type `{}`", s.name, s.kind);
            }
        }
        Ok(Registry {
            types: Arc::new(map),
            schedules: Arc::new(schedules),
            wake: Arc::new(Notify::new()),
            relay_hint: Arc::default(),
            redis: None,
            at_start: Arc::default(),
        })
    }

    /// The jobs `enqueue_start_jobs` enqueues; each must be a known kind.
    pub fn with_start_jobs(mut self, jobs: Vec<StartJob>) -> anyhow::Result<Self> {
        if let Some(j) = jobs.iter().find(|j| !self.types.contains_key(j.kind)) {
            anyhow::bail!("start job of unknown job type `{}`", j.kind);
        }
        self.at_start = Arc::new(jobs);
        Ok(self)
    }

    /// The jobs a server enqueues each time it starts.
    pub fn start_jobs(&self) -> &[StartJob] {
        &self.at_start
    }

    /// Keeps jobs in Redis (`jobs.storage = "redis"`); the database table
    /// becomes the outbox they are relayed from.
    pub fn with_redis(mut self, store: redis_store::RedisStore) -> Self {
        self.redis = Some(Arc::new(store));
        self
    }

    /// The Redis storage, when jobs are kept there.
    pub fn redis(&self) -> Option<&redis_store::RedisStore> {
        self.redis.as_deref()
    }

    /// `database` or `redis`.
    pub fn storage(&self) -> &'static str {
        if self.redis.is_some() {
            "redis"
        } else {
            "database"
        }
    }

    /// The live (queued or running) job of `kind` holding `dedup_key`, if
    /// any: what a second enqueue with that key was deduplicated against.
    pub async fn live(
        &self,
        db: &impl ConnectionTrait,
        kind: &str,
        dedup_key: &str,
    ) -> Result<Option<job::Model>, DbErr> {
        let in_table = job::Entity::find()
            .filter(job::Column::Kind.eq(kind))
            .filter(job::Column::DedupActive.eq(dedup_key))
            .one(db)
            .await?;
        match (&self.redis, in_table) {
            (_, Some(row)) => Ok(Some(row)),
            (Some(redis), None) => redis.live(kind, dedup_key).await,
            (None, None) => Ok(None),
        }
    }

    pub fn get(&self, name: &str) -> Option<&JobType<S>> {
        self.types.get(name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.types.keys().copied().collect();
        v.sort_unstable();
        v
    }

    pub fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }

    /// Tells this process's worker there may be work (call after commit).
    pub fn wake(&self) {
        self.relay_hint
            .store(true, std::sync::atomic::Ordering::Release);
        self.wake.notify_one();
    }

    /// Whether `wake` was called since the last time this was asked.
    pub(crate) fn take_relay_hint(&self) -> bool {
        self.relay_hint
            .swap(false, std::sync::atomic::Ordering::AcqRel)
    }

    pub(crate) fn bell(&self) -> &Notify {
        &self.wake
    }
}

//! Durable background jobs: a queue in the application database, typed job
//! kinds declared by modules, retries with backoff and jitter, a dead-letter
//! state, leases so a lost worker's job runs again, progress reports and
//! cron-like schedules that fire once per period across every worker.
//!
//! A module defines a job by implementing [`Job`] and returning
//! `JobType::of::<MyJob>()` from `Module::jobs`; it enqueues one with
//! [`enqueue`] *inside the transaction of the change that calls for it*, so
//! the job exists exactly when the change does. See
//! docs/decisions/0012-jobs.md.

pub mod api;
pub mod entity;
pub mod pages;
pub mod redis_store;
pub mod registry;
pub mod schedule;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set, TryInsertResult,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::auth::perms;
use crate::state::AppState;
use entity::job;
pub use registry::{Attempt, JobState, RetryPolicy, Schedule, StartJob};

/// A job kind with its handler (see `registry::JobType`).
pub type JobType = registry::JobType<AppState>;
/// The job kinds of the enabled modules (see `registry::Registry`).
pub type Registry = registry::Registry<AppState>;

/// The realtime topic of job progress and outcomes, readable with
/// `platform.jobs.read`. Events: `job.progress` and `job.finished`, with
/// the job's `id` and `kind` (a module's own page listens for its jobs).
pub const TOPIC: (&str, crate::auth::Permission) = ("jobs", perms::JOBS_READ);

/// An error no retry can fix (a payload that does not parse, a record that
/// no longer exists): the job goes straight to the dead-letter state.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Permanent(pub String);

/// The job noticed it was cancelled and stopped.
#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// A kind of background work. Handlers must be idempotent: a job runs at
/// least once, and more than once if its worker is lost mid-run.
#[async_trait::async_trait]
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Unique, stable name (`module.what`), stored with every job.
    const NAME: &'static str;

    fn retry() -> RetryPolicy {
        RetryPolicy::default()
    }

    /// A fixed list of waits, one before each retry (the first retry waits
    /// `schedule[0]`), in place of `retry()`'s exponential backoff: for work
    /// whose retry times are part of a contract, like webhook deliveries.
    /// The job then gets `schedule.len() + 1` attempts in all.
    fn retry_schedule() -> Option<&'static [Duration]> {
        None
    }

    /// Longest one attempt may run before it counts as failed.
    fn timeout() -> Duration {
        Duration::from_secs(600)
    }

    async fn run(self, ctx: &JobContext) -> anyhow::Result<()>;
}

/// The retry policy of `J`, its attempt count following its fixed schedule
/// when it has one.
fn policy_of<J: Job>() -> RetryPolicy {
    let mut policy = J::retry();
    if let Some(schedule) = J::retry_schedule() {
        policy.max_attempts = u32::try_from(schedule.len())
            .unwrap_or(u32::MAX - 1)
            .saturating_add(1);
    }
    policy
}

impl registry::JobType<AppState> {
    /// The kind of `J`, its handler `J::run`.
    pub fn of<J: Job>() -> Self {
        registry::JobType {
            name: J::NAME,
            retry: policy_of::<J>(),
            schedule: J::retry_schedule(),
            timeout: J::timeout(),
            run: Arc::new(|state, at: Attempt, payload| {
                Box::pin(async move {
                    let job: J = serde_json::from_value(payload)
                        .map_err(|e| Permanent(format!("the payload does not parse: {e}")))?;
                    let ctx = JobContext {
                        state,
                        id: at.id,
                        kind: at.kind,
                        attempt: at.attempt,
                    };
                    job.run(&ctx).await
                })
            }),
        }
    }
}

impl StartJob {
    pub fn of<J: Job>(job: &J) -> Self {
        StartJob {
            kind: J::NAME,
            payload: serde_json::to_value(job).unwrap_or(Value::Null),
            max_attempts: policy_of::<J>().max_attempts,
        }
    }
}

impl<S> registry::Registry<S> {
    /// Enqueues the start jobs, each deduplicated by its kind, so several
    /// replicas starting together queue one of each.
    pub async fn enqueue_start_jobs(&self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        for j in self.start_jobs() {
            let options = Enqueue {
                dedup_key: Some(format!("start:{}", j.kind)),
                ..Default::default()
            };
            enqueue_raw(db, j.kind, j.payload.clone(), j.max_attempts, options).await?;
        }
        if !self.start_jobs().is_empty() {
            self.wake();
        }
        Ok(())
    }
}

/// Options of one enqueue.
#[derive(Clone, Debug, Default)]
pub struct Enqueue {
    /// While a job with this key (and kind) is queued or running, another
    /// enqueue with the same key is a no-op.
    pub dedup_key: Option<String>,
    /// Not before this moment (default: now).
    pub run_at: Option<DateTime<Utc>>,
}

/// The number of attempts a job of kind `J` gets.
pub fn max_attempts<J: Job>() -> u32 {
    policy_of::<J>().max_attempts
}

/// Enqueues `job` through `db`: pass the transaction of the business change
/// so the job commits or rolls back with it. Returns the job's id, or
/// `None` when an identical job (same kind and `dedup_key`) is still live.
pub async fn enqueue<J: Job>(
    db: &impl ConnectionTrait,
    job: &J,
    options: Enqueue,
) -> Result<Option<Uuid>, DbErr> {
    let payload = serde_json::to_value(job).map_err(|e| DbErr::Custom(e.to_string()))?;
    enqueue_raw(db, J::NAME, payload, policy_of::<J>().max_attempts, options).await
}

pub(crate) async fn enqueue_raw(
    db: &impl ConnectionTrait,
    kind: &str,
    payload: Value,
    max_attempts: u32,
    options: Enqueue,
) -> Result<Option<Uuid>, DbErr> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    let row = job::ActiveModel {
        id: Set(id),
        kind: Set(kind.to_owned()),
        payload: Set(payload.to_string()),
        state: Set(JobState::Queued.as_str().to_owned()),
        attempts: Set(0),
        max_attempts: Set(i32::try_from(max_attempts.max(1)).unwrap_or(i32::MAX)),
        run_at: Set(options.run_at.unwrap_or(now)),
        lease_until: Set(None),
        worker: Set(None),
        dedup_key: Set(options.dedup_key.clone()),
        dedup_active: Set(options.dedup_key),
        progress_done: Set(None),
        progress_total: Set(None),
        progress_message: Set(None),
        last_error: Set(None),
        cancel_requested: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
        request_id: Set(crate::http::current_request_id()),
    };
    let inserted = job::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([job::Column::Kind, job::Column::DedupActive])
                .do_nothing()
                .to_owned(),
        )
        .do_nothing()
        .exec_without_returning(db)
        .await?;
    Ok(match inserted {
        TryInsertResult::Inserted(n) if n > 0 => Some(id),
        _ => None,
    })
}

/// One job, from whichever storage keeps it.
pub async fn load(state: &AppState, id: Uuid) -> Result<Option<job::Model>, DbErr> {
    // The table first: a relay deletes a row only after Redis has the job,
    // so a job gone from the table is found in Redis (the other order
    // could miss a job relayed between the two reads).
    let row = job::Entity::find_by_id(id).one(state.db()).await?;
    match (row, state.jobs().redis()) {
        (Some(row), _) => Ok(Some(row)),
        (None, Some(redis)) => redis.find(id).await,
        (None, None) => Ok(None),
    }
}

/// What a running job can see and do.
#[derive(Clone)]
pub struct JobContext {
    pub state: AppState,
    pub id: Uuid,
    pub kind: &'static str,
    /// This attempt's number, from 1.
    pub attempt: u32,
}

impl JobContext {
    /// Records progress (`done` of `total`, with a message for people) on the
    /// job, where the admin page and API show it.
    pub async fn progress(&self, done: u64, total: u64, message: &str) -> Result<(), DbErr> {
        if let Some(redis) = self.state.jobs().redis() {
            redis
                .progress(
                    self.id,
                    i64::try_from(done).unwrap_or(i64::MAX),
                    i64::try_from(total).unwrap_or(i64::MAX),
                    message,
                )
                .await?;
        } else {
            self.store_progress(done, total, message).await?;
        }
        let event = serde_json::json!({
            "id": self.id, "kind": self.kind, "done": done, "total": total, "message": message,
        });
        if let Err(e) = self
            .state
            .realtime()
            .publish(TOPIC.0, "job.progress", event)
        {
            tracing::warn!(error = %e, "could not publish job progress");
        }
        Ok(())
    }

    async fn store_progress(&self, done: u64, total: u64, message: &str) -> Result<(), DbErr> {
        job::Entity::update_many()
            .col_expr(
                job::Column::ProgressDone,
                Expr::value(i64::try_from(done).unwrap_or(i64::MAX)),
            )
            .col_expr(
                job::Column::ProgressTotal,
                Expr::value(i64::try_from(total).unwrap_or(i64::MAX)),
            )
            .col_expr(job::Column::ProgressMessage, Expr::value(message))
            .col_expr(job::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(job::Column::Id.eq(self.id))
            .exec(self.state.db())
            .await?;
        Ok(())
    }

    /// Whether an admin asked for this job to stop; a long job checks it
    /// between steps and returns `Err(Cancelled.into())`.
    pub async fn cancel_requested(&self) -> Result<bool, DbErr> {
        let job = match self.state.jobs().redis() {
            Some(redis) => redis.find(self.id).await?,
            None => {
                job::Entity::find_by_id(self.id)
                    .one(self.state.db())
                    .await?
            }
        };
        Ok(job.is_some_and(|j| j.cancel_requested))
    }
}

//! The worker: claims due jobs under a lease, runs them, records the
//! outcome, and fires due schedules.
//!
//! A claim sets `state = running`, adds one to `attempts` and leases the job
//! to this worker until `lease_until`, which a heartbeat keeps pushing
//! forward while the handler runs. A worker that dies stops the heartbeat:
//! once the lease runs out the job is due again and any worker claims it.
//! On PostgreSQL concurrent workers claim with `FOR UPDATE SKIP LOCKED`; on
//! SQLite the claim is one write transaction.

use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

use chrono::Utc;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::entity::job;
use super::{Cancelled, JobState, Permanent};
use crate::state::AppState;

#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Shown on each job it runs (`server_id/pid/n`).
    pub id: String,
    /// Jobs run at once.
    pub concurrency: usize,
    /// How long a claim lasts without a heartbeat.
    pub lease: Duration,
    /// How often to look for due work when nothing wakes the worker.
    pub poll: Duration,
    /// How long a stopping worker waits for running jobs to finish.
    pub grace: Duration,
}

impl WorkerOptions {
    pub fn from_config(state: &AppState) -> Self {
        let c = &state.config().jobs;
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        WorkerOptions {
            id: format!("{}/{}/{n}", state.config().server_id, std::process::id()),
            concurrency: c.concurrency.max(1),
            lease: Duration::from_secs(c.lease_secs.max(1)),
            poll: Duration::from_millis(c.poll_interval_ms.max(10)),
            grace: Duration::from_secs(c.shutdown_grace_secs),
        }
    }
}

/// Starts a worker; it stops (letting running jobs finish within the grace
/// period) when `stop` turns true.
pub fn spawn(
    state: AppState,
    options: WorkerOptions,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        tracing::info!(worker = %options.id, concurrency = options.concurrency, "job worker started");
        let slots = Arc::new(Semaphore::new(options.concurrency));
        let finisher = Finisher::spawn(state.clone(), options.id.clone());
        let mut next_schedule_check = tokio::time::Instant::now();
        let mut next_metrics = tokio::time::Instant::now();
        let mut next_relay = tokio::time::Instant::now();
        loop {
            if *stop.borrow() {
                break;
            }
            let now = tokio::time::Instant::now();
            if now >= next_schedule_check {
                // Look again when the next schedule is due, and at least
                // once a minute (a schedule changed elsewhere); after a
                // failure, in a second.
                next_schedule_check = match super::schedule::tick(&state).await {
                    Ok(next) => {
                        let until_due = match next {
                            None => Duration::from_secs(60),
                            Some(at) => {
                                (at - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO)
                            }
                        };
                        now + until_due.clamp(Duration::from_millis(200), Duration::from_secs(60))
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "checking job schedules failed");
                        now + Duration::from_secs(1)
                    }
                };
            }
            if now >= next_metrics {
                if let Err(e) = publish_metrics(&state).await {
                    tracing::debug!(error = %e, "counting jobs failed");
                }
                next_metrics = now + Duration::from_secs(5);
            }
            let free = slots.available_permits();
            if free == 0 {
                // Wait for a slot, then look again.
                tokio::select! {
                    permit = slots.clone().acquire_owned() => drop(permit),
                    _ = stop.changed() => {}
                }
                // Outcomes are committed in batches, so slots free up
                // together: a moment's wait lets one claim fill them all
                // instead of one claim (and one commit) per slot.
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            // With Redis as the storage, the outbox is relayed when this
            // process enqueued something, and at every poll interval for
            // other processes' enqueues, not before every claim: a busy
            // worker claims many times a second.
            let relay_now = state.jobs().take_relay_hint() || now >= next_relay;
            if relay_now {
                next_relay = now + options.poll;
            }
            match claim_with(&state, &options, free as u64, relay_now).await {
                Ok(jobs) if !jobs.is_empty() => {
                    for job in jobs {
                        let Ok(permit) = slots.clone().acquire_owned().await else {
                            break;
                        };
                        let state = state.clone();
                        let options = options.clone();
                        let finisher = finisher.clone();
                        // Every line the job logs names it, and the request
                        // that enqueued it.
                        let span = tracing::info_span!(
                            "job",
                            kind = %job.kind,
                            job_id = %job.id,
                            request_id = job.request_id.as_deref().unwrap_or(""),
                        );
                        tokio::spawn(
                            async move {
                                execute(&state, &options, &finisher, job).await;
                                drop(permit);
                            }
                            .instrument(span),
                        );
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "claiming jobs failed"),
            }
            let until_schedule = next_schedule_check.saturating_duration_since(now);
            tokio::select! {
                _ = state.jobs().bell().notified() => {}
                _ = tokio::time::sleep(options.poll.min(until_schedule.max(Duration::from_millis(10)))) => {}
                _ = stop.changed() => {}
            }
        }
        // Let running jobs finish; whatever is still running after the
        // grace period is picked up elsewhere once its lease runs out.
        let all = u32::try_from(options.concurrency).unwrap_or(u32::MAX);
        if tokio::time::timeout(options.grace, slots.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!(worker = %options.id, "jobs still running at shutdown; their leases will expire");
        }
        tracing::info!(worker = %options.id, "job worker stopped");
    })
}

/// Leases up to `n` due jobs (queued and due, or running with a lapsed
/// lease) to this worker.
pub async fn claim(
    state: &AppState,
    options: &WorkerOptions,
    n: u64,
) -> Result<Vec<job::Model>, DbErr> {
    claim_with(state, options, n, true).await
}

/// `claim`, relaying the outbox first only when `relay` (Redis storage).
async fn claim_with(
    state: &AppState,
    options: &WorkerOptions,
    n: u64,
    relay_first: bool,
) -> Result<Vec<job::Model>, DbErr> {
    use job::Column as C;
    let now = Utc::now();
    let lease_until = now + options.lease;
    if let Some(redis) = state.jobs().redis() {
        if relay_first {
            relay(state, redis).await?;
        }
        return redis.claim(&options.id, n, now, lease_until).await;
    }
    if state.db_kind() == crate::db::DbKind::Postgres {
        return claim_pg(state, options, n, now, lease_until).await;
    }
    let txn = state.begin_write().await?;
    // Two index range scans on (state, run_at) rather than one OR, which
    // the planner may answer with a scan of the whole table (finished jobs
    // stay there for days): first jobs whose worker was lost, then due ones.
    let mut ids: Vec<Uuid> = job::Entity::find()
        .select_only()
        .column(C::Id)
        .filter(C::State.eq(JobState::Running.as_str()))
        .filter(C::LeaseUntil.lt(now))
        .limit(n)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .into_tuple()
        .all(&txn)
        .await?;
    let room = n.saturating_sub(ids.len() as u64);
    if room > 0 {
        let due: Vec<Uuid> = job::Entity::find()
            .select_only()
            .column(C::Id)
            .filter(C::State.eq(JobState::Queued.as_str()))
            .filter(C::RunAt.lte(now))
            .order_by_asc(C::RunAt)
            .limit(room)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .into_tuple()
            .all(&txn)
            .await?;
        ids.extend(due);
    }
    if ids.is_empty() {
        txn.commit().await?;
        return Ok(Vec::new());
    }
    job::Entity::update_many()
        .col_expr(C::State, Expr::value(JobState::Running.as_str()))
        .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
        .col_expr(C::Worker, Expr::value(options.id.clone()))
        .col_expr(C::LeaseUntil, Expr::value(lease_until))
        .col_expr(C::StartedAt, Expr::value(now))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Id.is_in(ids.clone()))
        .exec(&txn)
        .await?;
    let jobs = job::Entity::find()
        .filter(C::Id.is_in(ids))
        .order_by_asc(C::RunAt)
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(jobs)
}

/// With Redis as the storage: moves committed jobs from the outbox table
/// to Redis, a batch at a time, deleting rows only once Redis has them (a
/// relay that fails after the push leaves rows that the next one pushes
/// again, which Redis ignores). Concurrent relays skip each other's rows.
pub async fn relay(state: &AppState, redis: &super::redis_store::RedisStore) -> Result<u64, DbErr> {
    use job::Column as C;
    const BATCH: u64 = 500;
    let mut relayed = 0;
    loop {
        let txn = state.begin_write().await?;
        let rows = job::Entity::find()
            .filter(C::State.eq(JobState::Queued.as_str()))
            .order_by_asc(C::Id)
            .limit(BATCH)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(&txn)
            .await?;
        if rows.is_empty() {
            txn.commit().await?;
            return Ok(relayed);
        }
        let n = rows.len() as u64;
        let pushed = redis.push(&rows).await?;
        if pushed < n {
            tracing::debug!(
                dropped = n - pushed,
                "outbox jobs already in Redis or duplicates of live ones"
            );
        }
        job::Entity::delete_many()
            .filter(C::Id.is_in(rows.iter().map(|r| r.id)))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        relayed += n;
        if n < BATCH {
            return Ok(relayed);
        }
    }
}

/// PostgreSQL: each claim is one autocommitted `UPDATE … WHERE id IN
/// (SELECT … FOR UPDATE SKIP LOCKED) RETURNING *`, one round trip, where
/// a transaction with separate reads and writes took six. Jobs whose
/// worker was lost go first, then due ones.
async fn claim_pg(
    state: &AppState,
    options: &WorkerOptions,
    n: u64,
    now: chrono::DateTime<Utc>,
    lease_until: chrono::DateTime<Utc>,
) -> Result<Vec<job::Model>, DbErr> {
    use sea_orm::{DbBackend, Statement};
    const CLAIM: &str = "UPDATE faena_jobs SET state = 'running', attempts = attempts + 1, \
         worker = $1, lease_until = $2, started_at = $3, updated_at = $3 \
         WHERE id IN (SELECT id FROM faena_jobs WHERE {which} \
         ORDER BY run_at LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING *";
    let limit = i64::try_from(n).unwrap_or(i64::MAX);
    let mut jobs = Vec::new();
    let txn = crate::db::begin(state.db()).await?;
    asynchronous_commit(&txn).await?;
    for which in [
        "state = 'running' AND lease_until < $3",
        "state = 'queued' AND run_at <= $3",
    ] {
        let room = limit - jobs.len() as i64;
        if room <= 0 {
            break;
        }
        let sql = CLAIM.replace("{which}", which);
        let claimed = job::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                [
                    options.id.clone().into(),
                    lease_until.into(),
                    now.into(),
                    room.into(),
                ],
            ))
            .all(&txn)
            .await?;
        jobs.extend(claimed);
    }
    txn.commit().await?;
    jobs.sort_by_key(|j| j.run_at);
    Ok(jobs)
}

/// PostgreSQL: this transaction's commit does not wait for its WAL to
/// reach the disk. For the worker's own bookkeeping (claims and outcomes)
/// that is safe: a crash can only lose the last fraction of a second of
/// it, which puts those jobs back to queued or to a lapsed lease, so they
/// run again; at-least-once, as always. Enqueues (the business change)
/// and the handlers' own writes stay synchronous. Measured in
/// docs/benchmarks.md.
async fn asynchronous_commit(txn: &impl sea_orm::ConnectionTrait) -> Result<(), DbErr> {
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL synchronous_commit = off")
            .await?;
    }
    Ok(())
}

/// Runs one claimed job and records how it ended.
async fn execute(state: &AppState, options: &WorkerOptions, finisher: &Finisher, job: job::Model) {
    let attempt = u32::try_from(job.attempts).unwrap_or(u32::MAX);
    if job.attempts > job.max_attempts {
        // Its last attempt's worker was lost: no attempt is left.
        let reason = "the worker running the last attempt stopped (its lease expired)";
        finisher.finish(&job, Outcome::Dead(reason.into())).await;
        return;
    }
    let Some(kind) = state.jobs().get(&job.kind).cloned() else {
        // A worker of another version may know it: hand it back, uncounted.
        tracing::warn!(kind = %job.kind, id = %job.id, "unknown job type; handed back");
        finisher.finish(&job, Outcome::HandBack).await;
        return;
    };
    let payload = serde_json::from_str(&job.payload).unwrap_or(serde_json::Value::Null);
    let at = super::Attempt {
        id: job.id,
        kind: kind.name,
        attempt,
    };
    let heartbeat = spawn_heartbeat(state.clone(), options.clone(), job.id);
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(kind.timeout, (kind.run)(state.clone(), at, payload)).await;
    heartbeat.abort();
    let elapsed = started.elapsed().as_secs_f64();
    let outcome = match result {
        Ok(Ok(())) => Outcome::Succeeded,
        Ok(Err(e)) if e.is::<Cancelled>() => Outcome::Cancelled,
        Ok(Err(e)) if e.is::<Permanent>() => Outcome::Dead(format!("{e:#}")),
        Ok(Err(e)) if job.attempts >= job.max_attempts => Outcome::Dead(format!("{e:#}")),
        Ok(Err(e)) => Outcome::Retry(format!("{e:#}"), kind.delay(attempt)),
        Err(_) => {
            let e = format!("timed out after {} s", kind.timeout.as_secs());
            if job.attempts >= job.max_attempts {
                Outcome::Dead(e)
            } else {
                Outcome::Retry(e, kind.delay(attempt))
            }
        }
    };
    metrics::histogram!("faena_job_duration_seconds", "kind" => kind.name).record(elapsed);
    metrics::counter!("faena_job_attempts_total", "kind" => kind.name, "outcome" => outcome.label())
        .increment(1);
    match &outcome {
        Outcome::Retry(e, delay) => tracing::warn!(
            kind = kind.name, id = %job.id, attempt, error = %e,
            retry_in_ms = delay.as_millis() as u64, "job failed; will retry"
        ),
        Outcome::Dead(e) => tracing::error!(
            kind = kind.name, id = %job.id, attempt, error = %e, "job failed for good (dead letter)"
        ),
        _ => tracing::debug!(kind = kind.name, id = %job.id, attempt, "job ended"),
    }
    finisher.finish(&job, outcome).await;
}

enum Outcome {
    Succeeded,
    Retry(String, Duration),
    Dead(String),
    Cancelled,
    HandBack,
}

impl Outcome {
    /// The state a job ends in, if this outcome ends it.
    fn final_state(&self) -> Option<JobState> {
        match self {
            Outcome::Succeeded => Some(JobState::Succeeded),
            Outcome::Dead(_) => Some(JobState::Dead),
            Outcome::Cancelled => Some(JobState::Cancelled),
            Outcome::Retry(..) | Outcome::HandBack => None,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Retry(..) => "retry",
            Outcome::Dead(_) => "dead",
            Outcome::Cancelled => "cancelled",
            Outcome::HandBack => "handed_back",
        }
    }
}

/// Records outcomes for one worker, several per transaction: when jobs end
/// together (short jobs under load), one commit carries all of them. Each
/// job's task waits for its outcome to be committed before it frees its
/// slot. An outcome is written only if the job is still leased to this
/// worker (if its lease lapsed and another worker took it, that one
/// reports); if the write fails the lease lapses and the job runs again:
/// at least once.
///
/// SQLite has one writer, so batching is what lets it keep up; on
/// PostgreSQL it measured 8% faster than each job committing its own
/// outcome (docs/benchmarks.md).
#[derive(Clone)]
struct Finisher(mpsc::UnboundedSender<Done>);

struct Done {
    id: Uuid,
    kind: String,
    outcome: Outcome,
    ack: oneshot::Sender<()>,
}

impl Finisher {
    fn spawn(state: AppState, worker: String) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Done>();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(256);
            while rx.recv_many(&mut batch, 256).await > 0 {
                if let Err(e) = write_outcomes(&state, &worker, &batch).await {
                    tracing::error!(error = %e, jobs = batch.len(), "could not record job outcomes; their leases will lapse");
                }
                for done in batch.drain(..) {
                    announce(&state, &done);
                    let _ = done.ack.send(());
                }
            }
        });
        Finisher(tx)
    }

    async fn finish(&self, job: &job::Model, outcome: Outcome) {
        let (ack, done) = oneshot::channel();
        let item = Done {
            id: job.id,
            kind: job.kind.clone(),
            outcome,
            ack,
        };
        if self.0.send(item).is_ok() {
            let _ = done.await;
        }
    }
}

/// Publishes a job's end on the realtime topic.
fn announce(state: &AppState, done: &Done) {
    if let Some(end) = done.outcome.final_state() {
        let event = serde_json::json!({
            "id": done.id, "kind": done.kind, "state": end.as_str(),
        });
        if let Err(e) = state
            .realtime()
            .publish(super::TOPIC.0, "job.finished", event)
        {
            tracing::warn!(error = %e, "could not publish a job's outcome");
        }
    }
}

async fn write_outcomes(state: &AppState, worker: &str, batch: &[Done]) -> Result<(), DbErr> {
    if let Some(redis) = state.jobs().redis() {
        let now = Utc::now();
        let outcomes: Vec<_> = batch
            .iter()
            .map(|d| match &d.outcome {
                Outcome::Succeeded => (d.id, "succeeded", "", now),
                Outcome::Cancelled => (d.id, "cancelled", "", now),
                Outcome::Dead(e) => (d.id, "dead", e.as_str(), now),
                Outcome::Retry(e, delay) => (d.id, "retry", e.as_str(), now + *delay),
                Outcome::HandBack => (d.id, "handback", "", now + Duration::from_secs(60)),
            })
            .collect();
        return redis.finish(worker, now, &outcomes).await;
    }
    let txn = state.begin_write().await?;
    asynchronous_commit(&txn).await?;
    write_outcomes_in(&txn, worker, batch).await?;
    txn.commit().await
}

async fn write_outcomes_in(
    db: &impl sea_orm::ConnectionTrait,
    worker: &str,
    batch: &[Done],
) -> Result<(), DbErr> {
    use job::Column as C;
    let now = Utc::now();
    let mine = |u: sea_orm::UpdateMany<job::Entity>| {
        u.col_expr(
            C::LeaseUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Worker.eq(worker))
        .filter(C::State.eq(JobState::Running.as_str()))
    };
    let ended = |u: sea_orm::UpdateMany<job::Entity>, s: JobState| {
        mine(u)
            .col_expr(C::State, Expr::value(s.as_str()))
            .col_expr(C::FinishedAt, Expr::value(now))
            .col_expr(C::DedupActive, Expr::value(Option::<String>::None))
    };
    let succeeded: Vec<Uuid> = batch
        .iter()
        .filter(|d| matches!(d.outcome, Outcome::Succeeded))
        .map(|d| d.id)
        .collect();
    if !succeeded.is_empty() {
        ended(job::Entity::update_many(), JobState::Succeeded)
            .col_expr(C::LastError, Expr::value(Option::<String>::None))
            .filter(C::Id.is_in(succeeded))
            .exec(db)
            .await?;
    }
    for done in batch {
        let update = job::Entity::update_many().filter(C::Id.eq(done.id));
        let update = match &done.outcome {
            Outcome::Succeeded => continue,
            Outcome::Cancelled => ended(update, JobState::Cancelled),
            Outcome::Dead(e) => {
                ended(update, JobState::Dead).col_expr(C::LastError, Expr::value(e.clone()))
            }
            Outcome::Retry(e, delay) => mine(update)
                .col_expr(C::State, Expr::value(JobState::Queued.as_str()))
                .col_expr(C::RunAt, Expr::value(now + *delay))
                .col_expr(C::Worker, Expr::value(Option::<String>::None))
                .col_expr(C::LastError, Expr::value(e.clone())),
            Outcome::HandBack => mine(update)
                .col_expr(C::State, Expr::value(JobState::Queued.as_str()))
                .col_expr(C::RunAt, Expr::value(now + Duration::from_secs(60)))
                .col_expr(C::Worker, Expr::value(Option::<String>::None))
                .col_expr(C::Attempts, Expr::col(C::Attempts).sub(1)),
        };
        update.exec(db).await?;
    }
    Ok(())
}

fn spawn_heartbeat(state: AppState, options: WorkerOptions, id: Uuid) -> JoinHandle<()> {
    tokio::spawn(async move {
        let every = options.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let lease_until = Utc::now() + options.lease;
            if let Some(redis) = state.jobs().redis() {
                if let Err(e) = redis.heartbeat(&options.id, id, lease_until).await {
                    tracing::warn!(%id, error = %e, "could not extend a job's lease");
                }
                continue;
            }
            let result = job::Entity::update_many()
                .col_expr(job::Column::LeaseUntil, Expr::value(lease_until))
                .filter(job::Column::Id.eq(id))
                .filter(job::Column::Worker.eq(options.id.clone()))
                .exec(state.db())
                .await;
            if let Err(e) = result {
                tracing::warn!(%id, error = %e, "could not extend a job's lease");
            }
        }
    })
}

/// Jobs by state, as a gauge for `/metrics`.
async fn publish_metrics(state: &AppState) -> Result<(), DbErr> {
    for (s, n) in super::api::counts(state).await? {
        metrics::gauge!("faena_jobs", "state" => s.as_str()).set(n as f64);
    }
    Ok(())
}

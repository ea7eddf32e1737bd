//! No-op job throughput: enqueue a batch of jobs in one transaction and
//! time until a worker (concurrency 16) has run them all and recorded
//! their outcomes. The database is
//! SQLite by default, PostgreSQL when `FAENA_TEST_POSTGRES_URL` is set (as
//! in the tests). With `BENCH_JOBS_STORAGE=redis` the jobs are kept in the
//! Redis of `FAENA_TEST_REDIS_URL` (the database is then their outbox).
//!
//! `cargo bench -p faena-server --bench jobs`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faena_platform::Module;
use faena_platform::jobs::entity::job;
use faena_platform::jobs::worker::{self, WorkerOptions};
use faena_platform::jobs::{self, Enqueue, Job, JobContext, JobType};
use faena_testkit::TestApp;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::{Deserialize, Serialize};

const BATCH: u64 = 1000;

/// Handler runs so far: the timing loop waits on it, and asks the database
/// (whether every outcome is recorded) only once all have run, so that its
/// polling does not take CPU from the worker.
static RAN: AtomicU64 = AtomicU64::new(0);

#[derive(Serialize, Deserialize)]
struct Noop {
    n: u64,
}

#[async_trait::async_trait]
impl Job for Noop {
    const NAME: &'static str = "bench.noop";
    async fn run(self, _ctx: &JobContext) -> anyhow::Result<()> {
        RAN.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

struct BenchJobs;

impl Module for BenchJobs {
    fn name(&self) -> &'static str {
        "benchjobs"
    }
    fn jobs(&self) -> Vec<JobType> {
        vec![JobType::of::<Noop>()]
    }
}

fn noop_jobs(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let redis = std::env::var("BENCH_JOBS_STORAGE").is_ok_and(|s| s == "redis");
    let app = rt.block_on(TestApp::start(
        |config| {
            config.database.max_connections = 8;
            if redis {
                config.redis.url = faena_testkit::redis_url()
                    .expect("BENCH_JOBS_STORAGE=redis needs FAENA_TEST_REDIS_URL")
                    .into();
                config.jobs.storage = faena_platform::config::JobStorage::Redis;
                config.jobs.redis_prefix =
                    format!("faena_bench:{}:", uuid::Uuid::now_v7().simple());
            }
        },
        Some(vec![Box::new(BenchJobs)]),
    ));
    let state = app.state.clone();
    let (_stop, rx) = tokio::sync::watch::channel(false);
    let _runtime = rt.enter();
    let _worker = {
        worker::spawn(
            state.clone(),
            WorkerOptions {
                id: "bench".into(),
                concurrency: 16,
                lease: Duration::from_secs(60),
                poll: Duration::from_millis(10),
                grace: Duration::from_secs(5),
            },
            rx,
        )
    };
    let mut storage = format!("{:?}", app.db_kind()).to_lowercase();
    if redis {
        storage = format!("redis_outbox_{storage}");
    }
    let mut group = c.benchmark_group("jobs");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(BATCH));
    group.bench_function(format!("noop_{storage}"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let since = uuid::Uuid::now_v7();
                    let target = RAN.load(Ordering::Relaxed) + BATCH;
                    let started = Instant::now();
                    let txn = state.begin_write().await.unwrap();
                    for n in 0..BATCH {
                        jobs::enqueue(&txn, &Noop { n }, Enqueue::default())
                            .await
                            .unwrap();
                    }
                    txn.commit().await.unwrap();
                    state.jobs().wake();
                    while RAN.load(Ordering::Relaxed) < target {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    while unfinished(&state, since).await > 0 {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    total += started.elapsed();
                }
                total
            })
        });
    });
    group.finish();
}

/// Jobs of the batch (ids after `since`, UUIDv7) not yet succeeded.
async fn unfinished(state: &faena_platform::AppState, since: uuid::Uuid) -> u64 {
    if state.jobs().redis().is_some() {
        // Nothing left in the outbox, nothing queued or running in Redis.
        let outbox = job::Entity::find().count(state.db()).await.unwrap();
        let live: u64 = jobs::api::counts(state)
            .await
            .unwrap()
            .into_iter()
            .filter(|(s, _)| matches!(s, jobs::JobState::Queued | jobs::JobState::Running))
            .map(|(_, n)| n)
            .sum();
        return outbox + live;
    }
    job::Entity::find()
        .filter(job::Column::Id.gt(since))
        .filter(job::Column::State.ne("succeeded"))
        .count(state.db())
        .await
        .unwrap()
}

criterion_group!(benches, noop_jobs);
criterion_main!(benches);

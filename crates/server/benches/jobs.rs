//! No-op job throughput: enqueue a batch of jobs in one transaction and
//! time until a worker (concurrency 16) has run them all and recorded
//! their outcomes. The database is
//! SQLite by default, PostgreSQL when `FAENA_TEST_POSTGRES_URL` is set (as
//! in the tests).
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
    let app = rt.block_on(TestApp::start(
        |config| config.database.max_connections = 8,
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
    let storage = format!("{:?}", app.db_kind()).to_lowercase();
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
    job::Entity::find()
        .filter(job::Column::Id.gt(since))
        .filter(job::Column::State.ne("succeeded"))
        .count(state.db())
        .await
        .unwrap()
}

criterion_group!(benches, noop_jobs);
criterion_main!(benches);

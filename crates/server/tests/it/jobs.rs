//! Background jobs on the real database and on Redis: transactional
//! enqueue, leases that outlive a lost worker, retries with backoff into
//! the dead-letter state, schedules that fire once per period with two
//! workers, and the admin API. Each scenario runs on both storages (the
//! `database` and `redis` tests of its module); the database is SQLite or
//! PostgreSQL as the run chooses.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use faena_platform::jobs::entity::job;
use faena_platform::jobs::worker::{self, WorkerOptions};
use faena_platform::jobs::{
    self, Enqueue, Job, JobContext, JobState, JobType, Permanent, RetryPolicy, Schedule,
};
use faena_platform::{AppState, Module};
use faena_testkit::TestApp;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::support::RunningWorker;

/// What handlers did, by test tag: (attempt, when).
static RUNS: Mutex<Vec<(String, u32, Instant)>> = Mutex::new(Vec::new());

fn runs_of(tag: &str) -> Vec<(u32, Instant)> {
    RUNS.lock()
        .unwrap()
        .iter()
        .filter(|(t, _, _)| t == tag)
        .map(|(_, a, at)| (*a, *at))
        .collect()
}

fn record(tag: &str, attempt: u32) {
    RUNS.lock()
        .unwrap()
        .push((tag.to_owned(), attempt, Instant::now()));
}

#[derive(Serialize, Deserialize)]
struct Note {
    tag: String,
}

#[async_trait::async_trait]
impl Job for Note {
    const NAME: &'static str = "test.note";
    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        ctx.progress(1, 2, "a medio camino").await?;
        record(&self.tag, ctx.attempt);
        ctx.progress(2, 2, "listo").await?;
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
struct AlwaysFails {
    tag: String,
}

#[async_trait::async_trait]
impl Job for AlwaysFails {
    const NAME: &'static str = "test.always_fails";
    fn retry() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(300),
            max_delay: Duration::from_secs(10),
        }
    }
    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        record(&self.tag, ctx.attempt);
        anyhow::bail!("the carrier's API answered 503")
    }
}

#[derive(Serialize, Deserialize)]
struct BadInput {
    tag: String,
}

#[async_trait::async_trait]
impl Job for BadInput {
    const NAME: &'static str = "test.bad_input";
    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        record(&self.tag, ctx.attempt);
        Err(Permanent("the order no longer exists".into()).into())
    }
}

#[derive(Serialize, Deserialize)]
struct Tick {}

#[async_trait::async_trait]
impl Job for Tick {
    const NAME: &'static str = "test.tick";
    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        record("tick", ctx.attempt);
        Ok(())
    }
}

struct TestJobs {
    every_second: bool,
}

impl Module for TestJobs {
    fn name(&self) -> &'static str {
        "testjobs"
    }
    fn jobs(&self) -> Vec<JobType> {
        vec![
            JobType::of::<Note>(),
            JobType::of::<AlwaysFails>(),
            JobType::of::<BadInput>(),
            JobType::of::<Tick>(),
        ]
    }
    fn schedules(&self) -> Vec<Schedule> {
        if self.every_second {
            vec![Schedule::new("test.every_second", "* * * * * *", Tick {})]
        } else {
            Vec::new()
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Storage {
    Database,
    Redis,
}

/// An application keeping its jobs in `storage`, or `None` when Redis is
/// wanted and not configured (never in CI).
async fn app(storage: Storage, every_second: bool) -> Option<TestApp> {
    let redis = match storage {
        Storage::Database => None,
        Storage::Redis => match faena_testkit::redis_url() {
            Some(url) => Some(url),
            None => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "FAENA_TEST_REDIS_URL must be set in CI: the Redis job storage is not tested otherwise"
                );
                println!(
                    "note: FAENA_TEST_REDIS_URL is not set; the Redis job storage test did not run"
                );
                return None;
            }
        },
    };
    let app = TestApp::start(
        |c| {
            if let Some(url) = redis {
                // Keys and a channel of its own: tests run at once.
                let own = Uuid::now_v7().simple().to_string();
                c.redis.url = url.into();
                c.redis.channel = format!("faena_test_{own}");
                c.jobs.storage = faena_platform::config::JobStorage::Redis;
                c.jobs.redis_prefix = format!("faena_test:{own}:");
            }
        },
        Some(vec![Box::new(TestJobs { every_second })]),
    )
    .await;
    let expected = match storage {
        Storage::Database => "database",
        Storage::Redis => "redis",
    };
    assert_eq!(app.state.jobs().storage(), expected);
    if storage == Storage::Redis {
        // Realtime runs over the same Redis: let its subscription start.
        assert!(
            app.state
                .realtime()
                .wait_connected(Duration::from_secs(10))
                .await
        );
    }
    Some(app)
}

/// Runs the scenario `$name(storage)` once per storage, as the tests
/// `$name::database` and `$name::redis`.
macro_rules! on_each_storage {
    ($(#[$test:meta])* $name:ident) => {
        mod $name {
            use super::Storage;
            $(#[$test])*
            async fn database() {
                super::$name(Storage::Database).await
            }
            $(#[$test])*
            async fn redis() {
                super::$name(Storage::Redis).await
            }
        }
    };
}

fn options(name: &str) -> WorkerOptions {
    WorkerOptions {
        id: format!("test/{name}/{}", Uuid::now_v7()),
        concurrency: 4,
        lease: Duration::from_secs(1),
        poll: Duration::from_millis(50),
        grace: Duration::from_secs(2),
    }
}

fn start_worker(state: &AppState, name: &str) -> RunningWorker {
    RunningWorker::start(state, options(name))
}

async fn job_row(state: &AppState, id: Uuid) -> job::Model {
    jobs::load(state, id)
        .await
        .unwrap()
        .expect("the job exists")
}

/// Enqueues `job` to run now, without deduplication.
async fn enqueue_now<J: jobs::Job>(state: &AppState, job: &J) -> Uuid {
    jobs::enqueue(state.db(), job, Enqueue::default())
        .await
        .unwrap()
        .expect("enqueued")
}

/// Runs a worker named `name` until the job reaches `wanted`.
async fn run_until(state: &AppState, name: &str, id: Uuid, wanted: JobState) -> job::Model {
    let worker = start_worker(state, name);
    let row = wait_for(state, id, wanted).await;
    worker.stop().await;
    row
}

/// Waits (up to 15 s) until the job reaches `wanted`.
async fn wait_for(state: &AppState, id: Uuid, wanted: JobState) -> job::Model {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let row = job_row(state, id).await;
        if row.state == wanted.as_str() {
            return row;
        }
        assert!(
            Instant::now() < deadline,
            "job never became {wanted:?}: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

on_each_storage!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_job_enqueued_in_a_rolled_back_transaction_never_runs
);
async fn a_job_enqueued_in_a_rolled_back_transaction_never_runs(storage: Storage) {
    let Some(app) = app(storage, false).await else {
        return;
    };
    let state = &app.state;
    let lost = Uuid::now_v7().to_string();
    let kept = Uuid::now_v7().to_string();

    let txn = state.begin_write().await.unwrap();
    let lost_id = jobs::enqueue(&txn, &Note { tag: lost.clone() }, Enqueue::default())
        .await
        .unwrap()
        .unwrap();
    txn.rollback().await.unwrap();
    let txn = state.begin_write().await.unwrap();
    let kept_id = jobs::enqueue(&txn, &Note { tag: kept.clone() }, Enqueue::default())
        .await
        .unwrap()
        .unwrap();
    txn.commit().await.unwrap();

    let done = run_until(state, "a", kept_id, JobState::Succeeded).await;

    assert_eq!(runs_of(&kept).len(), 1);
    assert_eq!(done.attempts, 1);
    assert!(runs_of(&lost).is_empty(), "the rolled-back job ran");
    assert!(jobs::load(state, lost_id).await.unwrap().is_none());
    if storage == Storage::Redis {
        // The job ran from Redis: the table was only its outbox.
        let rows = job::Entity::find().count(state.db()).await.unwrap();
        assert_eq!(rows, 0, "outbox rows were left behind");
    }

    // Its progress is there for the admin API.
    let admin = app.admin().await;
    let res = admin.get(&format!("/api/jobs/{kept_id}")).await;
    res.assert_status(StatusCode::OK);
    let body = res.json();
    assert_eq!(body["state"], "succeeded");
    assert_eq!(body["progress"]["done"], 2);
    assert_eq!(body["progress"]["total"], 2);
    assert_eq!(body["progress"]["message"], "listo");
}

on_each_storage!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_duplicate_is_not_queued_while_the_first_is_live
);
async fn a_duplicate_is_not_queued_while_the_first_is_live(storage: Storage) {
    let Some(app) = app(storage, false).await else {
        return;
    };
    let state = &app.state;
    let tag = Uuid::now_v7().to_string();
    let dedup = || Enqueue {
        dedup_key: Some("order:ORD-000123".into()),
        run_at: None,
    };
    let first = jobs::enqueue(state.db(), &Note { tag: tag.clone() }, dedup())
        .await
        .unwrap();
    let second = jobs::enqueue(state.db(), &Note { tag: tag.clone() }, dedup())
        .await
        .unwrap();
    assert!(first.is_some());
    assert_eq!(second, None, "the same job was queued twice");

    let worker = start_worker(state, "a");
    wait_for(state, first.unwrap(), JobState::Succeeded).await;
    worker.stop().await;
    assert_eq!(runs_of(&tag).len(), 1);
    // Once it has ended, the same key may be queued again.
    assert!(
        jobs::enqueue(state.db(), &Note { tag }, dedup())
            .await
            .unwrap()
            .is_some()
    );
}

on_each_storage!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_job_whose_worker_is_lost_runs_again_and_completes
);
async fn a_job_whose_worker_is_lost_runs_again_and_completes(storage: Storage) {
    let Some(app) = app(storage, false).await else {
        return;
    };
    let state = &app.state;
    let tag = Uuid::now_v7().to_string();
    let id = enqueue_now(state, &Note { tag: tag.clone() }).await;

    // A worker claims the job and dies before finishing it: no heartbeat,
    // no outcome, only its lease (1 s) left behind.
    let claimed = worker::claim(state, &options("doomed"), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(job_row(state, id).await.state, "running");

    let survivor = start_worker(state, "survivor");
    let done = wait_for(state, id, JobState::Succeeded).await;
    survivor.stop().await;
    assert_eq!(done.attempts, 2, "the lost attempt counts");
    assert!(done.worker.unwrap().contains("survivor"));
    let attempts: Vec<u32> = runs_of(&tag).iter().map(|r| r.0).collect();
    assert_eq!(attempts, vec![2]);
}

on_each_storage!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_failing_job_is_retried_with_backoff_then_dead_lettered
);
async fn a_failing_job_is_retried_with_backoff_then_dead_lettered(storage: Storage) {
    let Some(app) = app(storage, false).await else {
        return;
    };
    let state = &app.state;
    let tag = Uuid::now_v7().to_string();
    let id = enqueue_now(state, &AlwaysFails { tag: tag.clone() }).await;
    let dead = run_until(state, "a", id, JobState::Dead).await;

    let runs = runs_of(&tag);
    assert_eq!(runs.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    // Equal jitter: at least half the exponential delay (300 ms, 600 ms).
    let first_gap = runs[1].1 - runs[0].1;
    let second_gap = runs[2].1 - runs[1].1;
    assert!(first_gap >= Duration::from_millis(150), "{first_gap:?}");
    assert!(second_gap >= Duration::from_millis(300), "{second_gap:?}");
    assert!(first_gap <= Duration::from_millis(1500), "{first_gap:?}");
    assert_eq!(dead.attempts, 3);
    assert_eq!(
        dead.last_error.as_deref(),
        Some("the carrier's API answered 503")
    );

    // The admin sees it among the dead, retries it, then discards it.
    let admin = app.admin().await;
    let list = admin.get("/api/jobs?state=dead").await.json();
    assert_eq!(list["items"][0]["id"], id.to_string());
    assert_eq!(admin.get("/api/jobs/counts").await.json()["dead"], 1);
    let res = admin
        .post_json(&format!("/api/jobs/{id}/retry"), &serde_json::json!({}))
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["state"], "queued");
    assert_eq!(res.json()["attempts"], 0);
    // Retrying a queued job is refused, with the reason.
    let res = admin
        .post_json(&format!("/api/jobs/{id}/retry"), &serde_json::json!({}))
        .await;
    res.assert_status(StatusCode::CONFLICT);
    assert_eq!(res.json()["code"], "job_not_retryable");

    run_until(state, "b", id, JobState::Dead).await;
    assert_eq!(runs_of(&tag).len(), 6);
    let res = admin
        .post_json(&format!("/api/jobs/{id}/cancel"), &serde_json::json!({}))
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["state"], "cancelled");
    let trail = admin
        .get(&format!("/api/audit?entity=job&entity_id={id}"))
        .await
        .json();
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["job.discarded", "job.retried"]);
}

on_each_storage!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_permanent_failure_goes_straight_to_the_dead_letters
);
async fn a_permanent_failure_goes_straight_to_the_dead_letters(storage: Storage) {
    let Some(app) = app(storage, false).await else {
        return;
    };
    let state = &app.state;
    let tag = Uuid::now_v7().to_string();
    let id = enqueue_now(state, &BadInput { tag: tag.clone() }).await;
    let dead = run_until(state, "a", id, JobState::Dead).await;
    assert_eq!(runs_of(&tag).len(), 1);
    assert_eq!(
        dead.last_error.as_deref(),
        Some("the order no longer exists")
    );
}

on_each_storage!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    a_schedule_fires_once_per_period_with_two_workers
);
async fn a_schedule_fires_once_per_period_with_two_workers(storage: Storage) {
    let Some(app) = app(storage, true).await else {
        return;
    };
    let state = &app.state;
    let ticks = || async {
        jobs::api::list(
            state,
            &jobs::api::JobFilter {
                kind: Some("test.tick".into()),
                ..Default::default()
            },
            &faena_platform::http::pagination::PageQuery::first(500),
        )
        .await
        .unwrap()
        .items
    };
    let a = start_worker(state, "a");
    let b = start_worker(state, "b");
    // Both workers run the scheduler; wait (up to 15 s) until three
    // periods' jobs have run, however long the machine takes for them.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ran = ticks()
            .await
            .iter()
            .filter(|j| j.state == JobState::Succeeded)
            .count();
        if ran >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "only {ran} periods ran in 15 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.stop().await;
    b.stop().await;

    let fired = ticks().await;
    let mut per_period: HashMap<String, u32> = HashMap::new();
    for j in &fired {
        *per_period.entry(j.dedup_key.clone().unwrap()).or_default() += 1;
    }
    assert!(
        per_period.values().all(|n| *n == 1),
        "each period fired once although two schedulers ran: {per_period:?}"
    );
    assert!(
        fired
            .iter()
            .all(|j| matches!(j.state, JobState::Succeeded | JobState::Queued)),
        "every tick ran or waits to run: {fired:?}"
    );
}

#[tokio::test]
async fn the_admin_api_names_a_bad_filter() {
    let app = app(Storage::Database, false).await.unwrap();
    let admin = app.admin().await;
    let res = admin.get("/api/jobs?state=stuck").await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "state");
    let viewer = app.client_for("viewer").await;
    viewer
        .get("/api/jobs")
        .await
        .assert_status(StatusCode::FORBIDDEN);
}

on_each_storage!(
    #[tokio::test]
    an_admin_retries_a_dead_job_from_its_page
);
async fn an_admin_retries_a_dead_job_from_its_page(storage: Storage) {
    let Some(app) = app(storage, false).await else {
        return;
    };
    let state = &app.state;
    let id = enqueue_now(
        state,
        &BadInput {
            tag: Uuid::now_v7().to_string(),
        },
    )
    .await;
    run_until(state, "a", id, JobState::Dead).await;

    let browser = app.admin_browser().await;
    let list = browser.get("/admin/jobs?state=dead").await;
    list.assert_status(StatusCode::OK);
    let html = list.text();
    assert!(
        html.contains("test.bad_input") && html.contains("Fallido"),
        "{html}"
    );
    let detail = browser.get(&format!("/admin/jobs/{id}")).await.text();
    assert!(detail.contains("the order no longer exists"), "{detail}");
    assert!(detail.contains("Reintentar") && detail.contains("Descartar"));

    let res = browser.post(&format!("/admin/jobs/{id}/retry"), &[]).await;
    res.assert_status(StatusCode::SEE_OTHER);
    let page = browser.get(res.header("location").unwrap()).await.text();
    assert!(page.contains("El trabajo volvió a la cola."), "{page}");
    assert!(page.contains("En cola"));
    assert_eq!(job_row(state, id).await.state, "queued");
}

on_each_storage!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    progress_and_the_outcome_are_published_live
);
async fn progress_and_the_outcome_are_published_live(storage: Storage) {
    let Some(app) = app(storage, false).await else {
        return;
    };
    use faena_platform::realtime::Signal;
    let state = &app.state;
    let mut events = state.realtime().subscribe(None);
    let id = enqueue_now(
        state,
        &Note {
            tag: Uuid::now_v7().to_string(),
        },
    )
    .await;
    let worker = start_worker(state, "a");
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen
        .last()
        .map(|(k, _): &(String, serde_json::Value)| k.as_str())
        != Some("job.finished")
    {
        let next = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("the job's events arrive");
        if let Some(Signal::Event(e)) = next
            && e.topic == "jobs"
            && e.data["id"] == id.to_string()
        {
            seen.push((e.kind.clone(), e.data.clone()));
        }
    }
    worker.stop().await;
    let kinds: Vec<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, vec!["job.progress", "job.progress", "job.finished"]);
    assert_eq!(seen[0].1["done"], 1);
    assert_eq!(seen[0].1["message"], "a medio camino");
    assert_eq!(seen[2].1["state"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_storage_relays_each_job_once_and_prunes_ended_ones() {
    let Some(app) = app(Storage::Redis, false).await else {
        return;
    };
    let state = &app.state;
    let redis = state.jobs().redis().expect("the Redis storage");
    let tag = Uuid::now_v7().to_string();
    let id = enqueue_now(state, &Note { tag: tag.clone() }).await;
    // A relay that pushed and then died before deleting its rows: the next
    // relay pushes them again, and Redis keeps one job.
    let rows = job::Entity::find().all(state.db()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(redis.push(&rows).await.unwrap(), 1);
    assert_eq!(redis.push(&rows).await.unwrap(), 0, "pushed twice");
    assert_eq!(worker::relay(state, redis).await.unwrap(), 1);
    assert_eq!(job::Entity::find().count(state.db()).await.unwrap(), 0);

    run_until(state, "a", id, JobState::Succeeded).await;
    assert_eq!(runs_of(&tag).len(), 1, "the job ran once");

    // Housekeeping's pruning: not before the retention, then gone.
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
    assert_eq!(redis.prune(yesterday).await.unwrap(), 0);
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    assert_eq!(redis.prune(tomorrow).await.unwrap(), 1);
    assert!(jobs::load(state, id).await.unwrap().is_none());
    let counts = jobs::api::counts(state).await.unwrap();
    assert!(counts.iter().all(|(_, n)| *n == 0), "{counts:?}");
}

on_each_storage!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_job_names_the_request_that_enqueued_it
);
async fn a_job_names_the_request_that_enqueued_it(storage: Storage) {
    let Some(app) = app(storage, false).await else {
        return;
    };
    let admin = app
        .admin()
        .await
        .with_header("x-request-id", "rastreo-de-prueba-42");
    admin
        .post_json(
            "/api/mail/test",
            &serde_json::json!({"to": "soporte@empresa.cl"}),
        )
        .await
        .assert_status(StatusCode::ACCEPTED);
    // It keeps the id through the worker (and, on Redis, the relay).
    let worker = start_worker(&app.state, "a");
    let deadline = Instant::now() + Duration::from_secs(15);
    let job = loop {
        let page = admin.get("/api/jobs?kind=platform.mail.send").await.json();
        if let Some(job) = page["items"]
            .as_array()
            .and_then(|items| items.first())
            .filter(|j| j["state"] == "succeeded")
        {
            break job.clone();
        }
        assert!(Instant::now() < deadline, "the mail job never ran: {page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    worker.stop().await;
    assert_eq!(job["request_id"], "rastreo-de-prueba-42", "{job}");
    let detail = admin
        .get(&format!("/admin/jobs/{}", job["id"].as_str().unwrap()))
        .await
        .text();
    assert!(
        detail.contains("rastreo-de-prueba-42"),
        "the job page shows it"
    );
}

//! Admin API over the queue: list by state and type, see one job, retry a
//! dead or cancelled one, cancel a waiting or running one, discard a dead
//! one. Every admin action is audited.

use axum::extract::{OriginalUri, Path, State};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::JobState;
use super::entity::job;
use super::redis_store::Admin;
use crate::audit::{self, Entry};
use crate::auth::perms;
use crate::auth::principal::Actor;
use crate::auth::secured;
use crate::error::{AppError, AppResult, FieldError, FieldErrors};
use crate::http::pagination::{List, Page, PageQuery};
use crate::http::{Json, Query};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    pub id: Uuid,
    /// The job type (`module.what`).
    pub kind: String,
    pub state: JobState,
    pub payload: serde_json::Value,
    /// Attempts made so far, and at most.
    pub attempts: i32,
    pub max_attempts: i32,
    /// When it runs next (queued) or ran last.
    pub run_at: DateTime<Utc>,
    pub lease_until: Option<DateTime<Utc>>,
    pub worker: Option<String>,
    pub dedup_key: Option<String>,
    pub progress: Option<Progress>,
    pub last_error: Option<String>,
    pub cancel_requested: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The id of the request that enqueued it (its log lines carry it).
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Progress {
    pub done: i64,
    pub total: i64,
    pub message: Option<String>,
}

impl From<job::Model> for JobView {
    fn from(j: job::Model) -> Self {
        let progress = match (j.progress_done, j.progress_total) {
            (Some(done), Some(total)) => Some(Progress {
                done,
                total,
                message: j.progress_message,
            }),
            _ => None,
        };
        JobView {
            id: j.id,
            kind: j.kind,
            state: JobState::parse(&j.state).unwrap_or(JobState::Queued),
            payload: serde_json::from_str(&j.payload).unwrap_or(serde_json::Value::Null),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: j.run_at,
            lease_until: j.lease_until,
            worker: j.worker,
            dedup_key: j.dedup_key,
            progress,
            last_error: j.last_error,
            cancel_requested: j.cancel_requested,
            created_at: j.created_at,
            updated_at: j.updated_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
            request_id: j.request_id,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct JobFilter {
    /// `queued`, `running`, `succeeded`, `dead` or `cancelled`.
    pub state: Option<String>,
    /// A job type, e.g. `platform.housekeeping`.
    pub kind: Option<String>,
}

/// Jobs, newest first: the position is the last job's id (UUIDv7).
const JOBS: List<Uuid> = List::new("platform.jobs");

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobCounts {
    pub queued: u64,
    pub running: u64,
    pub succeeded: u64,
    pub dead: u64,
    pub cancelled: u64,
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::JOBS_READ, routes!(list_jobs)))
        .routes(secured(perms::JOBS_READ, routes!(count_jobs)))
        .routes(secured(perms::JOBS_READ, routes!(get_job)))
        .routes(secured(perms::JOBS_MANAGE, routes!(retry_job)))
        .routes(secured(perms::JOBS_MANAGE, routes!(cancel_job)))
}

/// Jobs, newest first, by state and type.
#[utoipa::path(get, path = "/api/jobs", tag = "jobs",
    params(JobFilter, PageQuery),
    responses((status = 200, body = Page<JobView>), (status = 422, description = "Invalid filter")))]
async fn list_jobs(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<JobFilter>,
    Query(page): Query<PageQuery>,
) -> AppResult<Json<Page<JobView>>> {
    Ok(Json(list(&state, &f, &page).await?.linked(&uri)))
}

pub async fn list(state: &AppState, f: &JobFilter, page: &PageQuery) -> AppResult<Page<JobView>> {
    let mut errors = FieldErrors::new();
    let (limit, cursor) = JOBS.read(page, &mut errors);
    let wanted = f.state.as_deref().filter(|s| !s.is_empty()).and_then(|s| {
        errors.take(JobState::parse(s).ok_or_else(|| {
            FieldError::new("state", "one_of")
                .with("allowed", JobState::ALL.map(JobState::as_str).join(", "))
        }))
    });
    errors.finish()?;
    let kind = f.kind.as_deref().filter(|k| !k.is_empty());
    if let Some(redis) = state.jobs().redis() {
        let rows = redis.list(wanted, kind, cursor, limit + 1).await?;
        let rows: Vec<JobView> = rows.into_iter().map(JobView::from).collect();
        return Ok(JOBS.page(rows, limit, |j| j.id));
    }
    let mut q = job::Entity::find().order_by_desc(job::Column::Id);
    if let Some(c) = cursor {
        q = q.filter(job::Column::Id.lt(c));
    }
    if let Some(s) = wanted {
        q = q.filter(job::Column::State.eq(s.as_str()));
    }
    if let Some(k) = kind {
        q = q.filter(job::Column::Kind.eq(k));
    }
    let rows = q.limit(limit + 1).all(state.db()).await?;
    let rows: Vec<JobView> = rows.into_iter().map(JobView::from).collect();
    Ok(JOBS.page(rows, limit, |j| j.id))
}

/// How many jobs are in each state.
#[utoipa::path(get, path = "/api/jobs/counts", tag = "jobs",
    responses((status = 200, body = JobCounts)))]
async fn count_jobs(State(state): State<AppState>) -> AppResult<Json<JobCounts>> {
    let mut c = JobCounts {
        queued: 0,
        running: 0,
        succeeded: 0,
        dead: 0,
        cancelled: 0,
    };
    for (s, n) in counts(&state).await? {
        let slot = match s {
            JobState::Queued => &mut c.queued,
            JobState::Running => &mut c.running,
            JobState::Succeeded => &mut c.succeeded,
            JobState::Dead => &mut c.dead,
            JobState::Cancelled => &mut c.cancelled,
        };
        *slot = n;
    }
    Ok(Json(c))
}

/// Jobs per state (every state, zeros included), from the storage in use.
pub async fn counts(state: &AppState) -> Result<Vec<(JobState, u64)>, DbErr> {
    match state.jobs().redis() {
        Some(redis) => redis.counts().await,
        None => table_counts(state.db()).await,
    }
}

/// Rows of the jobs table per state.
pub async fn table_counts(db: &impl ConnectionTrait) -> Result<Vec<(JobState, u64)>, DbErr> {
    let rows: Vec<(String, i64)> = job::Entity::find()
        .select_only()
        .column(job::Column::State)
        .column_as(job::Column::Id.count(), "n")
        .group_by(job::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    Ok(JobState::ALL
        .into_iter()
        .map(|s| {
            let n = rows
                .iter()
                .find(|(name, _)| name == s.as_str())
                .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
            (s, n)
        })
        .collect())
}

/// One job: attempts, last error, progress.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "jobs",
    params(("id" = Uuid, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 404, description = "No such job")))]
async fn get_job(State(state): State<AppState>, Path(id): Path<Uuid>) -> AppResult<Json<JobView>> {
    Ok(Json(find(&state, id).await?))
}

pub async fn find(state: &AppState, id: Uuid) -> AppResult<JobView> {
    super::load(state, id)
        .await?
        .map(JobView::from)
        .ok_or(AppError::NotFound)
}

/// Runs a dead or cancelled job again, with a fresh set of attempts.
#[utoipa::path(post, path = "/api/jobs/{id}/retry", tag = "jobs",
    params(("id" = Uuid, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 404, description = "No such job"),
        (status = 409, description = "The job is not dead or cancelled, or the same job is already waiting")))]
async fn retry_job(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<Json<JobView>> {
    Ok(Json(retry(&state, &actor, id).await?))
}

#[tracing::instrument(skip_all, fields(id = %id, actor = %actor.label))]
pub async fn retry(state: &AppState, actor: &Actor, id: Uuid) -> AppResult<JobView> {
    if let Some(redis) = state.jobs().redis() {
        let mut outcome = redis.retry(id).await?;
        if matches!(outcome, Admin::Missing) {
            // Not relayed yet (still a row of the table), or relayed just
            // after Redis was asked.
            match retry_in_table(state, actor, id).await {
                Err(AppError::NotFound) => outcome = redis.retry(id).await?,
                other => return other,
            }
        }
        let (before, attempts) = match outcome {
            Admin::Done { before, attempts } => (before, attempts),
            Admin::Missing => return Err(AppError::NotFound),
            Admin::NotNow(s) => return Err(refused("job_not_retryable", s)),
            Admin::Duplicate(_) => {
                return Err(AppError::Conflict {
                    code: "duplicate",
                    field: Some("dedup_key".into()),
                    params: Vec::new(),
                });
            }
        };
        let txn = state.begin_write().await?;
        audit::record(
            &txn,
            actor,
            Entry::new("job.retried", "job", id.to_string())
                .before(serde_json::json!({"state": before, "attempts": attempts})),
        )
        .await?;
        txn.commit().await?;
        state.jobs().wake();
        return find(state, id).await;
    }
    retry_in_table(state, actor, id).await
}

async fn retry_in_table(state: &AppState, actor: &Actor, id: Uuid) -> AppResult<JobView> {
    use job::Column as C;
    let txn = state.begin_write().await?;
    let before = job::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if !matches!(
        JobState::parse(&before.state),
        Some(JobState::Dead | JobState::Cancelled)
    ) {
        return Err(not_now("job_not_retryable", &before));
    }
    let now = Utc::now();
    job::Entity::update_many()
        .col_expr(C::State, Expr::value(JobState::Queued.as_str()))
        .col_expr(C::Attempts, Expr::value(0))
        .col_expr(C::RunAt, Expr::value(now))
        .col_expr(C::DedupActive, Expr::value(before.dedup_key.clone()))
        .col_expr(C::CancelRequested, Expr::value(false))
        .col_expr(C::FinishedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Id.eq(id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor,
        Entry::new("job.retried", "job", id.to_string())
            .before(serde_json::json!({"state": before.state, "attempts": before.attempts})),
    )
    .await?;
    txn.commit().await?;
    state.jobs().wake();
    find(state, id).await
}

/// Cancels a waiting job at once, asks a running one to stop (it stops at
/// its next check), or discards a dead one.
#[utoipa::path(post, path = "/api/jobs/{id}/cancel", tag = "jobs",
    params(("id" = Uuid, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 404, description = "No such job"),
        (status = 409, description = "The job has already ended")))]
async fn cancel_job(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<Json<JobView>> {
    Ok(Json(cancel(&state, &actor, id).await?))
}

#[tracing::instrument(skip_all, fields(id = %id, actor = %actor.label))]
pub async fn cancel(state: &AppState, actor: &Actor, id: Uuid) -> AppResult<JobView> {
    if let Some(redis) = state.jobs().redis() {
        let mut outcome = redis.cancel(id).await?;
        if matches!(outcome, Admin::Missing) {
            match cancel_in_table(state, actor, id).await {
                Err(AppError::NotFound) => outcome = redis.cancel(id).await?,
                other => return other,
            }
        }
        let before = match outcome {
            Admin::Done { before, .. } => before,
            Admin::Missing => return Err(AppError::NotFound),
            Admin::NotNow(s) | Admin::Duplicate(s) => return Err(refused("job_finished", s)),
        };
        let action = match before.as_str() {
            "dead" => "job.discarded",
            "running" => "job.cancel_requested",
            _ => "job.cancelled",
        };
        let txn = state.begin_write().await?;
        audit::record(
            &txn,
            actor,
            Entry::new(action, "job", id.to_string()).before(serde_json::json!({"state": before})),
        )
        .await?;
        txn.commit().await?;
        return find(state, id).await;
    }
    cancel_in_table(state, actor, id).await
}

async fn cancel_in_table(state: &AppState, actor: &Actor, id: Uuid) -> AppResult<JobView> {
    use job::Column as C;
    let txn = state.begin_write().await?;
    let before = job::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = Utc::now();
    let update = job::Entity::update_many()
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Id.eq(id));
    let (update, action) = match JobState::parse(&before.state) {
        Some(JobState::Queued | JobState::Dead) => (
            update
                .col_expr(C::State, Expr::value(JobState::Cancelled.as_str()))
                .col_expr(C::DedupActive, Expr::value(Option::<String>::None))
                .col_expr(C::FinishedAt, Expr::value(now)),
            if before.state == "dead" {
                "job.discarded"
            } else {
                "job.cancelled"
            },
        ),
        Some(JobState::Running) => (
            update.col_expr(C::CancelRequested, Expr::value(true)),
            "job.cancel_requested",
        ),
        _ => return Err(not_now("job_finished", &before)),
    };
    update.exec(&txn).await?;
    audit::record(
        &txn,
        actor,
        Entry::new(action, "job", id.to_string())
            .before(serde_json::json!({"state": before.state})),
    )
    .await?;
    txn.commit().await?;
    find(state, id).await
}

fn not_now(code: &'static str, job: &job::Model) -> AppError {
    refused(code, job.state.clone())
}

fn refused(code: &'static str, state: String) -> AppError {
    AppError::Conflict {
        code,
        field: None,
        params: vec![("state", state)],
    }
}

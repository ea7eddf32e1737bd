//! The platform's nightly chores, as a scheduled job (so with several
//! replicas they run once, on whichever worker gets there first): audit
//! retention (archive, never silent deletion), pruning of old login
//! failures, idempotency keys, finished jobs and old sent mail, what
//! interrupted uploads left in the file store, and fresh planner
//! statistics.

use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::jobs::entity::job;
use crate::jobs::{Job, JobContext, JobState, JobType, Schedule};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Housekeeping {}

#[async_trait::async_trait]
impl Job for Housekeeping {
    const NAME: &'static str = "platform.housekeeping";

    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        let state = &ctx.state;
        let steps = 4;
        ctx.progress(0, steps, "audit").await?;
        let days = state.config().audit.retention_days;
        if days > 0
            && let Some((file, n)) =
                crate::audit::retention::archive(state.db(), &state.config().data_dir, days).await?
        {
            tracing::info!(file = %file.display(), entries = n, "audit entries archived");
        }
        ctx.progress(1, steps, "login failures").await?;
        crate::auth::throttle::prune(state.db()).await?;
        ctx.progress(2, steps, "idempotency keys").await?;
        crate::idempotency::prune(state.db()).await?;
        ctx.progress(3, steps, "finished jobs").await?;
        let keep = i64::from(state.config().jobs.keep_finished_days);
        let cutoff = Utc::now() - chrono::Duration::days(keep);
        let pruned = job::Entity::delete_many()
            .filter(
                job::Column::State
                    .is_in([JobState::Succeeded.as_str(), JobState::Cancelled.as_str()]),
            )
            .filter(job::Column::FinishedAt.lt(cutoff))
            .exec(state.db())
            .await?
            .rows_affected;
        let pruned = match state.jobs().redis() {
            Some(redis) => pruned + redis.prune(cutoff).await?,
            None => pruned,
        };
        let mail_pruned = crate::mail::prune(state).await?;
        let swept = crate::files::sweep::sweep(state).await?;
        // Planner statistics (SQLite's `PRAGMA optimize`; autovacuum does
        // it on PostgreSQL, and an ANALYZE there is cheap).
        crate::db::analyze(state.db()).await?;
        ctx.progress(steps, steps, "done").await?;
        tracing::info!(
            jobs_pruned = pruned,
            mail_pruned,
            orphan_objects = swept.objects,
            staging_files = swept.staging,
            "housekeeping done"
        );
        Ok(())
    }
}

/// The platform's own job types.
pub fn job_types() -> Vec<JobType> {
    vec![JobType::of::<Housekeeping>()]
}

/// The platform's own schedules: housekeeping every night at 04:00 UTC.
pub fn schedules() -> Vec<Schedule> {
    vec![Schedule::new(
        "platform.housekeeping.nightly",
        "0 4 * * *",
        Housekeeping {},
    )]
}

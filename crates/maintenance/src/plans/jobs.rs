//! The schedule that keeps plans moving: every hour it opens the work that
//! falls due and sends the overdue notices (`service::run_due`, safe on
//! several workers at once).

use faena_platform::jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PlansDue {}

#[async_trait::async_trait]
impl Job for PlansDue {
    const NAME: &'static str = "maintenance.plans_due";

    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        let today = faena_platform::ui::today(ctx.state.time_zone());
        let run = super::service::run_due(&ctx.state, today).await?;
        tracing::info!(
            opened = run.opened,
            overdue_notices = run.overdue_notices,
            "maintenance plans checked"
        );
        Ok(())
    }
}

//! The nightly backup job and its schedule.

use serde::{Deserialize, Serialize};

use crate::jobs::{Job, JobContext, JobType, RetryPolicy, Schedule};

use super::*;

/// The nightly backup: a backup into `backup.dir`, then the rotation.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct NightlyBackup {}

/// Reports a job's progress as percent of each stage, at most once per
/// percent step.
pub(super) struct JobProgress {
    stage: String,
    total: u64,
    last: u64,
    updates: tokio::sync::mpsc::UnboundedSender<(u64, u64, String)>,
}

impl Progress for JobProgress {
    fn stage(&mut self, name: &str, total: u64) {
        self.stage = name.to_owned();
        self.total = total.max(1);
        self.last = u64::MAX;
        self.advance(0);
    }
    fn advance(&mut self, done: u64) {
        let percent = done.min(self.total) * 100 / self.total;
        if percent != self.last {
            self.last = percent;
            self.updates.send((percent, 100, self.stage.clone())).ok();
        }
    }
}

#[async_trait::async_trait]
impl Job for NightlyBackup {
    const NAME: &'static str = "platform.backup";

    /// Three attempts, an hour apart at most: a backup that fails at 03:30
    /// should still exist in the morning, or be visibly dead.
    fn retry() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base: std::time::Duration::from_secs(300),
            max_delay: std::time::Duration::from_secs(3600),
        }
    }

    fn timeout() -> std::time::Duration {
        std::time::Duration::from_secs(6 * 3600)
    }

    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        let state = &ctx.state;
        let config = state.config();
        let dir = config.backup.dir(&config.data_dir);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut progress = JobProgress {
            stage: String::new(),
            total: 1,
            last: u64::MAX,
            updates: tx,
        };
        let work = create(state.db(), config, &dir, &mut progress);
        tokio::pin!(work);
        let created = loop {
            tokio::select! {
                result = &mut work => break result?,
                Some((done, total, stage)) = rx.recv() => {
                    ctx.progress(done, total, &stage).await?;
                }
            }
        };
        let removed = rotate(&dir, &config.backup)?;
        if config.backup.upload {
            upload(config, &created.path, &mut Silent).await?;
            let gone = rotate_uploaded(config).await?;
            tracing::info!(removed = gone.len(), "backup uploaded to the file store");
        }
        ctx.progress(100, 100, "done").await?;
        tracing::info!(
            backup = %created.path.display(),
            bytes = created.bytes(),
            rows = created.rows(),
            removed = removed.len(),
            "backup done"
        );
        Ok(())
    }
}

pub fn job_types() -> Vec<JobType> {
    vec![JobType::of::<NightlyBackup>()]
}

/// The nightly backup's schedule, unless `backup.schedule` is empty.
pub fn schedules(config: &BackupConfig) -> anyhow::Result<Vec<Schedule>> {
    let pattern = config.schedule.trim();
    if pattern.is_empty() {
        return Ok(Vec::new());
    }
    crate::jobs::schedule::parse(pattern)
        .map_err(|e| anyhow::anyhow!("invalid backup.schedule `{pattern}`: {e}"))?;
    // Read once at start; the schedule lives as long as the program.
    let pattern: &'static str = Box::leak(pattern.to_owned().into_boxed_str());
    Ok(vec![Schedule::new(
        "platform.backup.nightly",
        pattern,
        NightlyBackup {},
    )])
}

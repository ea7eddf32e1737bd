//! Admin API over backups: what is in the backup folder, how the last
//! backup job ended (a failed nightly backup must be seen), and a backup
//! now, as a job with progress. Restoring stays on the command line: it
//! needs every process of the installation stopped.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::NightlyBackup;
use crate::audit::{self, Entry};
use crate::auth::perms;
use crate::auth::principal::Actor;
use crate::auth::secured;
use crate::db::DbKind;
use crate::error::{AppError, AppResult};
use crate::http::Json;
use crate::jobs::api::JobView;
use crate::jobs::entity::schedule;
use crate::jobs::{self, Enqueue, Job};
use crate::state::AppState;

/// One backup in the folder.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackupView {
    /// Folder name, `faena-YYYYMMDDTHHMMSSZ`.
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub database: DbKind,
    pub faena_version: String,
    /// Bytes in all.
    pub size: u64,
    pub tables: usize,
    pub rows: u64,
    /// Files of the data dir it holds (stored files, keys, archives).
    pub files: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackupsOverview {
    /// The folder backups go to.
    pub dir: String,
    /// Cron pattern of the nightly backup (UTC); empty when off.
    pub schedule: String,
    pub next_run_at: Option<DateTime<Utc>>,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    /// Newest first.
    pub backups: Vec<BackupView>,
    /// The last backup job, however it ended.
    pub last_job: Option<JobView>,
}

/// A backup job was queued (or one was already queued or running).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackupQueued {
    pub job_id: Uuid,
    /// True when a backup was already queued or running: no second one.
    pub already_queued: bool,
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::BACKUPS_MANAGE, routes!(list_backups)))
        .routes(secured(perms::BACKUPS_MANAGE, routes!(start_backup)))
}

/// The backups in the backup folder, the schedule and the last job.
#[utoipa::path(get, path = "/api/backups", tag = "backups",
    responses((status = 200, body = BackupsOverview)))]
async fn list_backups(State(state): State<AppState>) -> AppResult<Json<BackupsOverview>> {
    Ok(Json(overview(&state).await?))
}

/// Takes a backup now, as a job: follow it at `/api/jobs/{job_id}` or on
/// the `jobs` realtime topic. At most one backup runs at a time.
#[utoipa::path(post, path = "/api/backups", tag = "backups",
    responses((status = 202, body = BackupQueued)))]
async fn start_backup(
    State(state): State<AppState>,
    actor: Actor,
) -> AppResult<(StatusCode, Json<BackupQueued>)> {
    Ok((StatusCode::ACCEPTED, Json(start(&state, &actor).await?)))
}

pub async fn overview(state: &AppState) -> AppResult<BackupsOverview> {
    let config = state.config();
    let dir = config.backup.dir(&config.data_dir);
    let listed = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || super::list(&dir))
            .await
            .map_err(|e| AppError::Internal(e.into()))?
            .map_err(AppError::Internal)?
    };
    let mut backups = Vec::with_capacity(listed.len());
    for (path, _) in listed {
        // A folder being deleted by the rotation right now is skipped.
        let Ok(m) = super::read_manifest(&path) else {
            continue;
        };
        backups.push(BackupView {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            created_at: m.created_at,
            database: m.database,
            faena_version: m.faena_version.clone(),
            size: m.files.iter().map(|f| f.size).sum(),
            tables: m.tables.len(),
            rows: m.tables.values().sum(),
            files: m.data_files().count(),
        });
    }
    let last_job = crate::jobs::api::list(
        state,
        &crate::jobs::api::JobFilter {
            kind: Some(NightlyBackup::NAME.into()),
            ..Default::default()
        },
        &crate::http::pagination::PageQuery::first(1),
    )
    .await?
    .items
    .into_iter()
    .next();
    let next_run_at = schedule::Entity::find_by_id("platform.backup.nightly".to_owned())
        .one(state.db())
        .await?
        .map(|s| s.next_run_at);
    Ok(BackupsOverview {
        dir: dir.display().to_string(),
        schedule: config.backup.schedule.trim().to_owned(),
        next_run_at,
        keep_daily: config.backup.keep_daily,
        keep_weekly: config.backup.keep_weekly,
        backups,
        last_job,
    })
}

/// The deduplication key of backups asked for from the page or API.
const NOW_KEY: &str = "backup:now";

/// Queues a backup unless one is queued or running; audited.
pub async fn start(state: &AppState, actor: &Actor) -> AppResult<BackupQueued> {
    let txn = state.begin_write().await?;
    let queued = jobs::enqueue(
        &txn,
        &NightlyBackup {},
        Enqueue {
            dedup_key: Some(NOW_KEY.into()),
            run_at: None,
        },
    )
    .await?;
    let result = match queued {
        Some(id) => {
            audit::record(
                &txn,
                actor,
                Entry::new("backup.requested", "job", id.to_string()),
            )
            .await?;
            BackupQueued {
                job_id: id,
                already_queued: false,
            }
        }
        None => {
            let live = state
                .jobs()
                .live(&txn, NightlyBackup::NAME, NOW_KEY)
                .await?
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("backup job vanished")))?;
            BackupQueued {
                job_id: live.id,
                already_queued: true,
            }
        }
    };
    txn.commit().await?;
    state.jobs().wake();
    Ok(result)
}

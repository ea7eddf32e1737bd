//! `/admin/backups`: the backups in the folder, the schedule, how the last
//! backup job ended, and a button for a backup now (which opens the job's
//! page, where its progress shows live).

use axum::extract::State;
use axum::response::{Html, Redirect};
use minijinja::context;
use serde::Deserialize;

use super::api::{overview, start};
use crate::auth::perms;
use crate::auth::principal::Actor;
use crate::auth::{Access, Pages};
use crate::error::AppResult;
use crate::http::Query;
use crate::state::AppState;
use crate::ui::{PageContext, render_page};

pub fn pages() -> Pages {
    Pages::new()
        .get(
            "/admin/backups",
            Access::perm(perms::BACKUPS_MANAGE),
            backups_page,
        )
        .post(
            "/admin/backups",
            Access::perm(perms::BACKUPS_MANAGE),
            backup_now,
        )
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    ok: Option<String>,
}

async fn backups_page(
    State(state): State<AppState>,
    page: PageContext,
    Query(q): Query<PageQuery>,
) -> AppResult<Html<String>> {
    let o = overview(&state).await?;
    render_page(
        &state,
        "admin/backups.html",
        &page,
        context! { o => o, ok => q.ok },
    )
}

async fn backup_now(State(state): State<AppState>, actor: Actor) -> AppResult<Redirect> {
    let queued = start(&state, &actor).await?;
    Ok(Redirect::to(&format!(
        "/admin/jobs/{}?ok=backup_queued",
        queued.job_id
    )))
}

//! Admin pages of the queue: `/admin/jobs` (counts by state, filter by
//! state and type) and `/admin/jobs/{id}` (attempts, last error, progress,
//! retry / cancel / discard).

use axum::extract::{Path, State};
use axum::response::{Html, Redirect};
use minijinja::context;
use uuid::Uuid;

use super::api::{JobFilter, cancel, counts, find, list, retry};
use crate::auth::perms;
use crate::auth::principal::Actor;
use crate::auth::{Access, Pages};
use crate::error::AppResult;
use crate::http::Query;
use crate::http::pagination::PageQuery;
use crate::state::AppState;
use crate::ui::{PageContext, render_page};

pub fn pages() -> Pages {
    Pages::new()
        .get("/admin/jobs", Access::perm(perms::JOBS_READ), jobs_list)
        .get(
            "/admin/jobs/{id}",
            Access::perm(perms::JOBS_READ),
            job_detail,
        )
        .post(
            "/admin/jobs/{id}/retry",
            Access::perm(perms::JOBS_MANAGE),
            job_retry,
        )
        .post(
            "/admin/jobs/{id}/cancel",
            Access::perm(perms::JOBS_MANAGE),
            job_cancel,
        )
}

async fn jobs_list(
    State(state): State<AppState>,
    page: PageContext,
    Query(filter): Query<JobFilter>,
    Query(paging): Query<PageQuery>,
) -> AppResult<Html<String>> {
    let result = list(&state, &filter, &paging).await?;
    let counts: Vec<_> = counts(&state)
        .await?
        .into_iter()
        .map(|(s, n)| context! { state => s.as_str(), count => n })
        .collect();
    render_page(
        &state,
        "admin/jobs.html",
        &page,
        context! {
            jobs => result.items,
            next_cursor => result.next_cursor,
            counts => counts,
            kinds => state.jobs().names(),
            filter => context! { state => filter.state, kind => filter.kind },
        },
    )
}

#[derive(Debug, serde::Deserialize)]
struct DetailQuery {
    ok: Option<String>,
}

async fn job_detail(
    State(state): State<AppState>,
    page: PageContext,
    Path(id): Path<Uuid>,
    Query(q): Query<DetailQuery>,
) -> AppResult<Html<String>> {
    let job = find(&state, id).await?;
    let can_manage = page.can(perms::JOBS_MANAGE);
    let payload = serde_json::to_string_pretty(&job.payload).unwrap_or_default();
    render_page(
        &state,
        "admin/job.html",
        &page,
        context! { job => job, payload => payload, can_manage => can_manage, ok => q.ok },
    )
}

async fn job_retry(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<Redirect> {
    retry(&state, &actor, id).await?;
    Ok(Redirect::to(&format!("/admin/jobs/{id}?ok=job_retried")))
}

async fn job_cancel(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(id): Path<Uuid>,
    axum::Form(form): axum::Form<crate::ui::ConfirmForm>,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    if !form.confirmed() {
        let job = super::load(&state, id)
            .await?
            .ok_or(crate::error::AppError::NotFound)?;
        let t = |k: &str, params: &[(&str, String)]| state.i18n().t(page.locale, k, params);
        return crate::ui::confirm_page(
            &state,
            &page,
            &crate::ui::Confirmation {
                question: t("jobs.cancel_confirm", &[("kind", job.kind)]),
                detail: None,
                button: t("jobs.cancel", &[]),
                action: format!("/admin/jobs/{id}/cancel"),
                fields: Vec::new(),
                cancel: format!("/admin/jobs/{id}"),
                error: None,
            },
        );
    }
    cancel(&state, &actor, id).await?;
    Ok(Redirect::to(&format!("/admin/jobs/{id}?ok=job_cancelled")).into_response())
}

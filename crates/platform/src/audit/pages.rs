//! The audit log page: entries newest first, filtered like the API.

use axum::extract::State;
use axum::response::Html;
use minijinja::context;

use crate::audit::api::{AuditFilter, query as audit_query};
use crate::auth::perms;
use crate::auth::{Access, Pages};
use crate::error::AppResult;
use crate::http::Query;
use crate::state::AppState;
use crate::ui::{PageContext, render_page};

pub fn pages() -> Pages {
    Pages::new().get("/admin/audit", Access::perm(perms::AUDIT_READ), audit_list)
}

async fn audit_list(
    State(state): State<AppState>,
    page: PageContext,
    Query(filter): Query<AuditFilter>,
    Query(paging): Query<crate::http::pagination::PageQuery>,
) -> AppResult<Html<String>> {
    let result = audit_query(&state, &filter, &paging).await?;
    let shown = serde_json::json!({"entity": filter.entity, "action": filter.action, "actor": filter.actor});
    render_page(
        &state,
        "admin/audit.html",
        &page,
        context! { entries => result.items, next_cursor => result.next_cursor, filter => shown },
    )
}

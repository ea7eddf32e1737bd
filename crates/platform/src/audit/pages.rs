//! The audit log page: entries newest first, filtered like the API.

use axum::extract::State;
use axum::response::Html;
use minijinja::context;

use crate::audit::api::{AuditFilter, query as audit_query};
use crate::auth::perms;
use crate::auth::{Access, Pages};
use crate::error::AppResult;
use crate::http::Query;
use crate::i18n::Locale;
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
    let entries: Vec<serde_json::Value> = result
        .items
        .iter()
        .map(|e| {
            let (sentence, href) = describe(&state, &page, e);
            serde_json::json!({
                "at": e.at, "actor": actor_label(&state, &page, &e.actor), "sentence": sentence,
                "href": href, "action": e.action, "entity": e.entity, "ip": e.ip, "seq": e.seq,
            })
        })
        .collect();
    render_page(
        &state,
        "admin/audit.html",
        &page,
        context! { entries => entries, next_cursor => result.next_cursor, filter => shown },
    )
}

/// Who did it, as people say it: a user's label, or the catalogue's words
/// for the system's actors (`anonymous`, `first start`, `command line`).
fn actor_label(state: &AppState, page: &PageContext, actor: &str) -> String {
    let key = format!("audit.actor.{}", actor.replace(' ', "_"));
    if state.i18n().has(Locale::Es, &key) {
        state.i18n().t(page.locale, &key, &[])
    } else {
        actor.to_owned()
    }
}

/// What was done, as a sentence naming the record ("creó la orden
/// ORD-000123"), and where the record is shown (not for a deletion).
fn describe(
    state: &AppState,
    page: &PageContext,
    e: &crate::audit::api::AuditEntryView,
) -> (String, Option<String>) {
    let i18n = state.i18n();
    let what_key = format!("audit.what.{}", e.entity);
    let what = if i18n.has(Locale::Es, &what_key) {
        i18n.t(page.locale, &what_key, &[])
    } else {
        e.entity.clone()
    };
    // A record's name: from what was written, else its id when that is a
    // name people use (an order number, a role), never a bare UUID.
    let named = |v: &Option<serde_json::Value>| {
        v.as_ref().and_then(|v| {
            ["name", "number", "original_name", "email"]
                .iter()
                .find_map(|k| v.get(k).and_then(|x| x.as_str()).map(str::to_owned))
        })
    };
    let id = e.entity_id.clone().unwrap_or_default();
    let name = named(&e.after)
        .or_else(|| named(&e.before))
        .or_else(|| (!id.is_empty() && uuid::Uuid::parse_str(&id).is_err()).then(|| id.clone()))
        .unwrap_or_default();
    let params = [("what", what), ("name", name)];
    let key = format!("audit.do.{}", e.action);
    let sentence = if i18n.has(Locale::Es, &key) {
        i18n.t(page.locale, &key, &params)
    } else {
        i18n.t(
            page.locale,
            "audit.do.other",
            &[
                ("action", e.action.clone()),
                ("what", params[0].1.clone()),
                ("name", params[1].1.clone()),
            ],
        )
    };
    let href = (!id.is_empty() && e.action != "delete")
        .then(|| state.record_link(&e.entity))
        .flatten()
        .map(|link| link.replace("{id}", &urlencode(&id)));
    (sentence.trim().to_owned(), href)
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

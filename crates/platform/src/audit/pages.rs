//! The audit log page: entries newest first, filtered like the API.

use axum::extract::{RawQuery, State};
use axum::response::Html;
use minijinja::context;
use sea_orm::IntoSimpleExpr;

use crate::FieldErrors;
use crate::audit::api::{AuditFilter, select};
use crate::auth::perms;
use crate::auth::{Access, Pages};
use crate::error::AppResult;
use crate::http::Query;
use crate::i18n::Locale;
use crate::state::AppState;
use crate::ui::list::{self, Column, ListRequest, ListSpec};
use crate::ui::{PageContext, filter_instant, render_page};

pub fn pages() -> Pages {
    Pages::new()
        .get("/admin/audit", Access::perm(perms::AUDIT_READ), audit_list)
        .get(
            "/admin/audit/export.csv",
            Access::perm(perms::AUDIT_READ),
            audit_export,
        )
}

/// The audit page's filters: days (`2026-12-07`) in the configured zone.
#[derive(Debug, serde::Deserialize)]
struct PageFilter {
    entity: Option<String>,
    action: Option<String>,
    actor: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

const LIST: ListSpec = ListSpec {
    path: "/admin/audit",
    columns: &[
        Column::new("at", "audit.at").sortable(),
        Column::new("what", "audit.what_happened"),
        Column::new("ip", "audit.ip"),
        Column::new("seq", "audit.seq").num(),
    ],
    default_sort: "at",
    default_desc: true,
    csv: Some("/admin/audit/export.csv"),
};

/// The page's filters as the audit query takes them; a day that cannot
/// be read is named.
fn page_filter(zone: chrono_tz::Tz, q: &PageFilter) -> AppResult<AuditFilter> {
    let given = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let mut errors = FieldErrors::new();
    let mut day = |field: &'static str, raw: &Option<String>, end: bool| {
        errors.take(filter_instant(field, &given(raw)?, end, zone))
    };
    let filter = AuditFilter {
        entity: given(&q.entity),
        entity_id: None,
        actor: given(&q.actor),
        action: given(&q.action),
        from: day("from", &q.from, false),
        to: day("to", &q.to, true),
    };
    errors.finish()?;
    Ok(filter)
}

fn audit_order(request: &ListRequest) -> [(sea_orm::sea_query::SimpleExpr, sea_orm::Order); 1] {
    [(
        crate::audit::entity::audit_log::Column::Id.into_simple_expr(),
        request.order(),
    )]
}

/// The audit log as CSV, with the page's filters and order: each entry's
/// sentence, and its codes for those who search logs.
async fn audit_export(
    State(state): State<AppState>,
    page: PageContext,
    RawQuery(raw): RawQuery,
    Query(q): Query<PageFilter>,
) -> AppResult<axum::response::Response> {
    use crate::csv::{CsvWriter, Delimiter};
    let request = ListRequest::parse(&LIST, raw.as_deref())?;
    let filter = page_filter(state.zone_for(page.principal.as_ref()), &q)?;
    state.audit_writer().flush().await;
    let rows = list::all_rows(&request, |mut p| {
        let (state, filter) = (&state, &filter);
        async move {
            let order = audit_order(&p);
            Ok(list::fetch(state.db(), select(filter), order, &mut p).await?)
        }
    })
    .await?;
    let t = |k: &str| state.i18n().t(page.locale, k, &[]);
    let zone = state.zone_for(page.principal.as_ref());
    let mut out = CsvWriter::new(Delimiter::Semicolon);
    out.row(
        [
            "audit.at",
            "audit.actor",
            "audit.what_happened",
            "audit.action",
            "audit.entity",
            "audit.entity_id",
            "audit.ip",
            "audit.seq",
        ]
        .iter()
        .map(|k| t(k)),
    );
    for e in rows
        .into_iter()
        .map(crate::audit::api::AuditEntryView::from)
    {
        let (sentence, _) = describe(&state, &page, &e);
        out.row([
            crate::ui::csv_time(e.at, zone),
            actor_label(&state, &page, &e.actor),
            sentence,
            e.action,
            e.entity,
            e.entity_id.unwrap_or_default(),
            e.ip.unwrap_or_default(),
            e.seq.map(|s| s.to_string()).unwrap_or_default(),
        ]);
    }
    Ok(out.into_download("auditoria.csv"))
}

async fn audit_list(
    State(state): State<AppState>,
    page: PageContext,
    RawQuery(raw): RawQuery,
    Query(q): Query<PageFilter>,
) -> AppResult<Html<String>> {
    let mut request = ListRequest::parse(&LIST, raw.as_deref())?;
    let filter = page_filter(state.zone_for(page.principal.as_ref()), &q)?;
    let order = audit_order(&request);
    state.audit_writer().flush().await;
    let (rows, total) = list::fetch(state.db(), select(&filter), order, &mut request).await?;
    let entries: Vec<serde_json::Value> = rows
        .into_iter()
        .map(crate::audit::api::AuditEntryView::from)
        .map(|e| {
            let (sentence, href) = describe(&state, &page, &e);
            serde_json::json!({
                "at": e.at, "actor": actor_label(&state, &page, &e.actor), "sentence": sentence,
                "href": href, "action": e.action, "entity": e.entity, "ip": e.ip, "seq": e.seq,
            })
        })
        .collect();
    let shown = serde_json::json!({
        "entity": q.entity, "action": q.action, "actor": q.actor, "from": q.from, "to": q.to,
    });
    render_page(
        &state,
        "admin/audit.html",
        &page,
        context! { entries => entries, list => request.view(total), filter => shown },
    )
}

/// Who did it, as people say it: a user's label, or the catalogue's words
/// for the system's actors (`anonymous`, `first start`, `command line`).
fn actor_label(state: &AppState, page: &PageContext, actor: &str) -> String {
    let key = format!("audit.actor.{}", actor.replace(' ', "_"));
    state.i18n().t_or(page.locale, &key, actor)
}

/// What was done, as a sentence naming the record ("creó la orden
/// ORD-000123"), and where the record is shown (not for a deletion).
fn describe(
    state: &AppState,
    page: &PageContext,
    e: &crate::audit::api::AuditEntryView,
) -> (String, Option<String>) {
    let i18n = state.i18n();
    let what = i18n.t_or(page.locale, &format!("audit.what.{}", e.entity), &e.entity);
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

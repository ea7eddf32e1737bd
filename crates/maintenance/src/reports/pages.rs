//! The calibration register and report pages.

use faena_platform::prelude::*;

use super::{calibrations, report};
use crate::perms;
use crate::records::RecordKind;
use crate::records::service::RecordFilter;

pub fn pages() -> Pages {
    Pages::new()
        .get("/maintenance/calibrations", perms::RECORDS_READ, register)
        .get("/maintenance/report", perms::RECORDS_READ, report_page)
}

async fn register(State(state): State<AppState>, page: PageContext) -> AppResult<Html<String>> {
    let today = crate::machines::service::company_today(&state);
    let rows = calibrations::register(&state, today).await?;
    render_page(
        &state,
        "reports/calibrations.html",
        &page,
        context! { rows => rows },
    )
}

#[derive(Debug, Deserialize)]
struct ReportForm {
    from: Option<String>,
    to: Option<String>,
    lab: Option<String>,
    kind: Option<String>,
    machine: Option<String>,
}

async fn report_page(
    State(state): State<AppState>,
    page: PageContext,
    RawQuery(raw): RawQuery,
    Query(q): Query<ReportForm>,
    Zone(zone): Zone,
) -> AppResult<Html<String>> {
    let given = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let today = faena_platform::ui::today(zone);
    let first = today - chrono::Duration::days(30);
    let f = RecordFilter {
        from: given(&q.from).or_else(|| Some(first.to_string())),
        to: given(&q.to).or_else(|| Some(today.to_string())),
        lab: given(&q.lab),
        kind: given(&q.kind),
        machine: given(&q.machine),
        ..RecordFilter::default()
    };
    let r = report::build(&state, &f, zone).await?;
    let (labs, _) = crate::machines::store::labs_and_kinds(state.db()).await?;
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("from", &f.from),
        ("to", &f.to),
        ("lab", &f.lab),
        ("kind", &f.kind),
        ("machine", &f.machine),
    ] {
        if let Some(v) = v {
            query.append_pair(k, v);
        }
    }
    let _ = raw;
    render_page(
        &state,
        "reports/report.html",
        &page,
        context! {
            report => r, from => f.from, to => f.to, lab => f.lab.unwrap_or_default(),
            kind => f.kind.unwrap_or_default(), machine => f.machine.unwrap_or_default(),
            labs => labs, kinds => RecordKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            query => query.finish(),
        },
    )
}

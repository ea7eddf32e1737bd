//! The maintenance dashboard (seed 002's `/api/maquinas/dashboard`):
//! machines by status, overdue and due-soon work, work and cost per month
//! and per lab over the last 12 months, and each machine's failures with
//! its mean time between failures and mean time to repair.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, Utc};
use faena_platform::dashboard::Chart;
use faena_platform::prelude::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::machines::{MachineStatus, store as machines};
use crate::perms;
use crate::plans::service::{WorkOrderView, open_work};
use crate::records::store as records;
use crate::records::{PartUsed, Record, RecordKind};

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(secured(perms::RECORDS_READ, routes!(maintenance_dashboard)))
}

pub fn pages() -> Pages {
    Pages::new().get("/maintenance/dashboard", perms::RECORDS_READ, page)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Month {
    /// `2026-11`.
    pub month: String,
    pub records: u64,
    pub cost_clp: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LabLine {
    pub lab: String,
    pub records: u64,
    pub cost_clp: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reliability {
    pub code: String,
    pub name: String,
    /// Corrective work in the last 12 months.
    pub failures: u64,
    /// Days in service over the period divided by the failures.
    pub mtbf_days: Option<f64>,
    /// Mean minutes a corrective job took.
    pub mttr_minutes: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    /// Machines in each status.
    pub by_status: BTreeMap<String, u64>,
    pub overdue: Vec<WorkOrderView>,
    pub due_soon: Vec<WorkOrderView>,
    /// The last 12 months, oldest first.
    pub per_month: Vec<Month>,
    pub per_lab: Vec<LabLine>,
    /// Machines with failures, most first (at most 20).
    pub reliability: Vec<Reliability>,
}

fn month_of(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

pub async fn build(state: &AppState, zone: chrono_tz::Tz) -> AppResult<Dashboard> {
    let db = state.db();
    let today = faena_platform::ui::today(zone);
    let counts = machines::count_by_status(db).await?;
    let by_status = MachineStatus::ALL
        .iter()
        .map(|s| {
            (
                s.as_str().to_owned(),
                counts.get(s.as_str()).copied().unwrap_or(0),
            )
        })
        .collect();
    let open = open_work(state, None, crate::machines::service::company_today(state)).await?;
    let (overdue, due_soon): (Vec<_>, Vec<_>) = open.into_iter().partition(|w| w.overdue);

    // The 12 months up to this one, in the reader's zone.
    let first = (today - Duration::days(334)).with_day(1).unwrap_or(today);
    let since = faena_platform::ui::day_start(first, zone);
    let rows = records::Entity::find()
        .filter(records::Column::PerformedAt.gte(since))
        .all(db)
        .await?;
    let mut months: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    let mut d = first;
    while d <= today {
        months.insert(month_of(d), (0, 0));
        d = d
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(today + Duration::days(1));
    }
    let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.machine_id).collect();
    let facts = machines::facts(db, &ids).await?;
    let mut labs: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    let mut failures: BTreeMap<uuid::Uuid, (u64, i64, u64)> = BTreeMap::new();
    let no_lab = state
        .i18n()
        .t(faena_platform::Locale::Es, "report.no_lab", &[]);
    for r in &rows {
        let parts: Vec<PartUsed> = serde_json::from_str(&r.parts).unwrap_or_default();
        let cost = r.cost_clp.saturating_add(Record::parts_cost(&parts));
        let day = r.performed_at.with_timezone(&zone).date_naive();
        if let Some(m) = months.get_mut(&month_of(day)) {
            m.0 += 1;
            m.1 = m.1.saturating_add(cost);
        }
        let lab = facts
            .get(&r.machine_id)
            .and_then(|f| f.2.clone())
            .unwrap_or_else(|| no_lab.clone());
        let l = labs.entry(lab).or_default();
        l.0 += 1;
        l.1 = l.1.saturating_add(cost);
        if r.kind == RecordKind::Corrective.as_str() {
            let f = failures.entry(r.machine_id).or_default();
            f.0 += 1;
            if let Some(min) = r.duration_minutes {
                f.1 += i64::from(min);
                f.2 += 1;
            }
        }
    }
    let period_days = (Utc::now() - since).num_days().max(1);
    let mut reliability: Vec<Reliability> = failures
        .into_iter()
        .map(|(id, (n, minutes, timed))| {
            let (code, name, _) = facts.get(&id).cloned().unwrap_or_default();
            Reliability {
                code,
                name,
                failures: n,
                mtbf_days: (n > 0).then(|| (period_days as f64 / n as f64 * 10.0).round() / 10.0),
                mttr_minutes: (timed > 0)
                    .then(|| (minutes as f64 / timed as f64 * 10.0).round() / 10.0),
            }
        })
        .collect();
    reliability.sort_by(|a, b| b.failures.cmp(&a.failures).then(a.code.cmp(&b.code)));
    reliability.truncate(20);
    Ok(Dashboard {
        by_status,
        overdue: overdue.into_iter().take(20).collect(),
        due_soon: due_soon.into_iter().take(20).collect(),
        per_month: months
            .into_iter()
            .map(|(month, (records, cost_clp))| Month {
                month,
                records,
                cost_clp,
            })
            .collect(),
        per_lab: labs
            .into_iter()
            .map(|(lab, (records, cost_clp))| LabLine {
                lab,
                records,
                cost_clp,
            })
            .collect(),
        reliability,
    })
}

/// The dashboard's figures.
#[utoipa::path(get, path = "/api/maintenance/dashboard", tag = "maintenance",
    responses((status = 200, body = Dashboard)))]
async fn maintenance_dashboard(
    State(state): State<AppState>,
    Zone(zone): Zone,
) -> AppResult<Json<Dashboard>> {
    Ok(Json(build(&state, zone).await?))
}

async fn page(
    State(state): State<AppState>,
    page: PageContext,
    Zone(zone): Zone,
) -> AppResult<Html<String>> {
    let d = build(&state, zone).await?;
    let t = |k: &str| state.i18n().t(page.locale, k, &[]);
    let month_href = |m: &str| format!("/maintenance?from={m}-01&to={}", last_day(m));
    let work = Chart::bars(
        t("maintenance_dashboard.work_per_month"),
        d.per_month
            .iter()
            .map(|m| (m.month.clone(), m.records, month_href(&m.month)))
            .collect(),
    );
    let cost = Chart::bars(
        t("maintenance_dashboard.cost_per_month"),
        d.per_month
            .iter()
            .map(|m| {
                (
                    m.month.clone(),
                    u64::try_from(m.cost_clp).unwrap_or(0),
                    month_href(&m.month),
                )
            })
            .collect(),
    );
    render_page(
        &state,
        "reports/dashboard.html",
        &page,
        context! { d => d, charts => vec![work, cost] },
    )
}

/// The last day of the month `2026-02` (`2026-02-28`).
fn last_day(month: &str) -> String {
    NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
        .map(|d| (d - Duration::days(1)).to_string())
        .unwrap_or_default()
}

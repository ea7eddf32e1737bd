//! The maintenance dashboard (seed 002's `/api/maquinas/dashboard`):
//! machines by status, overdue and due-soon work, work and cost per month
//! and per lab over the last 12 months, and each machine's failures with
//! its mean time between failures and mean time to repair.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate, Utc};
use faena_platform::dashboard::Chart;
use faena_platform::prelude::*;

use crate::machines::{MachineStatus, store as machines};
use crate::perms;
use crate::plans::service::{WorkOrderView, work_summary};
use crate::records::store as records;

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
    /// The 20 most overdue work orders, and how many there are.
    pub overdue: Vec<WorkOrderView>,
    pub overdue_count: u64,
    /// The next 20 work orders not yet due, and how many there are.
    pub due_soon: Vec<WorkOrderView>,
    pub due_soon_count: u64,
    /// The last 12 months, oldest first.
    pub per_month: Vec<Month>,
    pub per_lab: Vec<LabLine>,
    /// Machines with failures, most first (at most 20).
    pub reliability: Vec<Reliability>,
}

fn month_of(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

/// The dashboard as `zone` reads it, from the platform cache while no
/// maintenance event (a record, a machine, work opened or overdue, a
/// failure report) has changed it on any replica; summed again otherwise.
pub async fn cached(state: &AppState, zone: chrono_tz::Tz) -> AppResult<Arc<Dashboard>> {
    let key = format!(
        "dashboard:{}:{}:{}",
        zone.name(),
        faena_platform::ui::today(zone),
        crate::machines::service::company_today(state)
    );
    state
        .cache()
        .get_or_compute(crate::machines::service::TOPIC, &key, || build(state, zone))
        .await
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
    let work = work_summary(state, crate::machines::service::company_today(state), 20).await?;

    // The 12 months up to this one, in the reader's zone.
    let first = (today - Duration::days(334)).with_day(1).unwrap_or(today);
    let since = faena_platform::ui::day_start(first, zone);
    let mut starts = Vec::new();
    let mut d = first;
    while d <= today {
        starts.push(d);
        d = d
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(today + Duration::days(1));
    }
    let bounds: Vec<_> = starts
        .iter()
        .map(|d| faena_platform::ui::day_start(*d, zone))
        .collect();
    let months = records::sums_by_period(db, &bounds).await?;
    let per_month = starts
        .iter()
        .zip(months)
        .map(|(d, s)| Month {
            month: month_of(*d),
            records: u64::try_from(s.records).unwrap_or(0),
            cost_clp: s.cost.unwrap_or(0),
        })
        .collect();
    let no_lab = state
        .i18n()
        .t(faena_platform::Locale::Es, "report.no_lab", &[]);
    let mut per_lab: Vec<LabLine> = records::sums_by_lab(db, since)
        .await?
        .into_iter()
        .map(|l| LabLine {
            lab: l.lab.unwrap_or_else(|| no_lab.clone()),
            records: u64::try_from(l.sums.records).unwrap_or(0),
            cost_clp: l.sums.cost.unwrap_or(0),
        })
        .collect();
    per_lab.sort_by(|a, b| a.lab.cmp(&b.lab));
    let period_days = (Utc::now() - since).num_days().max(1);
    let reliability = records::failures_since(db, since, 20)
        .await?
        .into_iter()
        .map(|f| {
            let n = u64::try_from(f.records).unwrap_or(0);
            let timed = u64::try_from(f.timed).unwrap_or(0);
            let minutes = f.minutes.unwrap_or(0);
            Reliability {
                code: f.code,
                name: f.name,
                failures: n,
                mtbf_days: (n > 0).then(|| (period_days as f64 / n as f64 * 10.0).round() / 10.0),
                mttr_minutes: (timed > 0)
                    .then(|| (minutes as f64 / timed as f64 * 10.0).round() / 10.0),
            }
        })
        .collect();
    Ok(Dashboard {
        by_status,
        overdue_count: work.overdue_count,
        due_soon_count: work.due_soon_count,
        overdue: work.overdue,
        due_soon: work.due_soon,
        per_month,
        per_lab,
        reliability,
    })
}

/// The dashboard's figures.
#[utoipa::path(get, path = "/api/maintenance/dashboard", tag = "maintenance",
    responses((status = 200, body = Dashboard)))]
async fn maintenance_dashboard(
    State(state): State<AppState>,
    Zone(zone): Zone,
) -> AppResult<Json<Arc<Dashboard>>> {
    Ok(Json(cached(&state, zone).await?))
}

async fn page(
    State(state): State<AppState>,
    page: PageContext,
    Zone(zone): Zone,
) -> AppResult<Html<String>> {
    let d = cached(&state, zone).await?;
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

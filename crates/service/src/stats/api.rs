//! `/api/service/stats` (seed 003's `/api/estadisticas/`) and its CSV.

use std::sync::Arc;

use faena_platform::csv::{CsvWriter, Delimiter};
use faena_platform::prelude::*;

use super::{ServiceStats, StatsQuery, cached};
use crate::perms;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::ORDERS_ALL, routes!(service_stats)))
        .routes(secured(perms::ORDERS_ALL, routes!(service_stats_csv)))
}

/// The shop's figures: orders by status now, and over the period (`from`
/// and `to`, days in the reader's zone; default the last 30 days) the
/// average stay in each status, each technician's load and deliveries,
/// repeat repairs; revenue of the 12 months up to `to`.
#[utoipa::path(get, path = "/api/service/stats", tag = "service",
    params(StatsQuery),
    responses((status = 200, body = ServiceStats),
              (status = 422, description = "A day that is not aaaa-mm-dd, from after to, or an unknown delimiter")))]
async fn service_stats(
    State(state): State<AppState>,
    Zone(zone): Zone,
    Query(q): Query<StatsQuery>,
) -> AppResult<Json<Arc<ServiceStats>>> {
    let period = q.period(zone)?;
    Ok(Json(cached(&state, zone, period).await?))
}

/// The same figures as CSV (UTF-8 with BOM, `;` unless `delimiter=comma`):
/// one row per figure, `section;key;name;value;value 2`.
#[utoipa::path(get, path = "/api/service/stats.csv", tag = "service",
    params(StatsQuery),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 422, description = "A day that is not aaaa-mm-dd, from after to, or an unknown delimiter")))]
async fn service_stats_csv(
    State(state): State<AppState>,
    Zone(zone): Zone,
    page: PageContext,
    Query(q): Query<StatsQuery>,
) -> AppResult<Response> {
    let period = q.period(zone)?;
    let d = cached(&state, zone, period).await?;
    let t = |k: &str| state.i18n().t(page.locale, k, &[]);
    let mut out = CsvWriter::new(Delimiter::from_query(q.delimiter.as_deref()));
    out.row([
        t("service.stats.csv_section"),
        t("service.stats.csv_key"),
        t("service.stats.csv_name"),
        t("service.stats.csv_value"),
        t("service.stats.csv_value2"),
    ]);
    for (s, n) in &d.by_status {
        out.row([
            "status".to_owned(),
            s.clone(),
            t(&format!("service.status.{s}")),
            n.to_string(),
            String::new(),
        ]);
    }
    for s in &d.turnaround {
        out.row([
            "turnaround_hours".to_owned(),
            s.status.clone(),
            t(&format!("service.status.{}", s.status)),
            s.average_hours.map(|h| h.to_string()).unwrap_or_default(),
            s.orders.to_string(),
        ]);
    }
    for x in &d.technicians {
        out.row([
            "technician".to_owned(),
            x.id.to_string(),
            x.name.clone(),
            x.open_orders.to_string(),
            x.delivered.to_string(),
        ]);
    }
    for m in &d.revenue {
        out.row([
            "revenue_clp".to_owned(),
            m.month.clone(),
            m.month.clone(),
            m.total_clp.to_string(),
            m.orders.to_string(),
        ]);
    }
    out.row([
        "repeats".to_owned(),
        "warranty".to_owned(),
        t("service.stats.repeat_warranty"),
        d.repeats.warranty.to_string(),
        String::new(),
    ]);
    out.row([
        "repeats".to_owned(),
        "same_serial".to_owned(),
        t("service.stats.repeat_serial"),
        d.repeats.same_serial.to_string(),
        d.repeats.same_serial_orders.join(" "),
    ]);
    Ok(out.into_download(&format!("estadisticas-servicio-{}-{}.csv", d.from, d.to)))
}

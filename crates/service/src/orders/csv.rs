//! CSV export of service orders: the list's filters, newest first.

use faena_platform::csv::{CsvWriter, Delimiter};
use faena_platform::{AppResult, AppState, Locale};
use serde::Deserialize;

use super::Caller;
use super::search::{OrderFilter, all_matching};

/// The list's filters (without paging) and the delimiter. Spelled out:
/// serde's `flatten` loses the types of query-string values.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// One status or several, comma-separated.
    pub status: Option<String>,
    /// One priority or several, comma-separated.
    pub priority: Option<String>,
    pub client_id: Option<uuid::Uuid>,
    pub technician_id: Option<uuid::Uuid>,
    pub unassigned: Option<bool>,
    pub open: Option<bool>,
    /// Searches the number, serial/IMEI, device and customer's name.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// `semicolon` (default) or `comma`.
    pub delimiter: Option<String>,
}

pub async fn export(
    state: &AppState,
    who: &Caller,
    locale: Locale,
    zone: chrono_tz::Tz,
    q: ExportQuery,
) -> AppResult<axum::response::Response> {
    let t = |k: &str| state.i18n().t(locale, k, &[]);
    let at = |d: chrono::DateTime<chrono::Utc>| faena_platform::ui::csv_time(d, zone);
    let headers = [
        "service.csv.number",
        "service.csv.client",
        "service.csv.status",
        "service.csv.priority",
        "service.csv.device",
        "service.csv.serial",
        "service.csv.technician",
        "service.csv.promised_date",
        "service.csv.net",
        "service.csv.vat",
        "service.csv.total",
        "service.csv.created_at",
    ];
    let mut out = CsvWriter::new(Delimiter::from_query(q.delimiter.as_deref()));
    out.row(headers.iter().map(|h| t(h)));
    let filter = OrderFilter {
        status: q.status,
        priority: q.priority,
        client_id: q.client_id,
        technician_id: q.technician_id,
        unassigned: q.unassigned,
        open: q.open,
        q: q.q,
    };
    for o in all_matching(state, who, &filter).await? {
        let device = format!("{} {} {}", o.device_type, o.brand, o.model);
        out.row([
            o.number,
            o.client_name.unwrap_or_default(),
            t(&format!("service.status.{}", o.status.as_str())),
            t(&format!("service.priority.{}", o.priority.as_str())),
            device,
            o.serial.unwrap_or_default(),
            o.technician_name.unwrap_or_default(),
            o.promised_date
                .map(|d| d.format("%d-%m-%Y").to_string())
                .unwrap_or_default(),
            o.totals.net_clp.to_string(),
            o.totals.vat_clp.to_string(),
            o.totals.total_clp.to_string(),
            at(o.created_at),
        ]);
    }
    Ok(out.into_download("ordenes-de-servicio.csv"))
}

//! CSV export of orders: the list's filters and order, read from the
//! database in pages of 500.

use faena_platform::csv::{CsvWriter, Delimiter};
use faena_platform::ui::list::{self, ListRequest, ListSpec};
use faena_platform::{AppResult, AppState, Locale};
use serde::Deserialize;

use super::service::list_page;
use super::store::OrderFilter;

/// The list's filters (without paging) and the delimiter. Spelled out:
/// serde's `flatten` loses the types of query-string values.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// One status or several, comma-separated.
    pub status: Option<String>,
    pub client_id: Option<uuid::Uuid>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Searches the order number, any line's SKU and the client's name.
    pub q: Option<String>,
    /// `semicolon` (default) or `comma`.
    pub delimiter: Option<String>,
    /// A column of the list (`number`, `status`, `created_at`); default
    /// `created_at`, newest first.
    pub sort: Option<String>,
    /// `asc` or `desc`.
    pub dir: Option<String>,
}

/// The list's columns, for the order the export is asked in.
const EXPORT: ListSpec = ListSpec {
    path: "/api/orders/export.csv",
    columns: super::service::LIST_COLUMNS,
    default_sort: "created_at",
    default_desc: true,
    csv: None,
};

pub async fn export(
    state: &AppState,
    locale: Locale,
    zone: chrono_tz::Tz,
    query: Option<&str>,
    q: ExportQuery,
) -> AppResult<axum::response::Response> {
    let request = ListRequest::parse(&EXPORT, query)?;
    let t = |k: &str| state.i18n().t(locale, k, &[]);
    let at = |d: chrono::DateTime<chrono::Utc>| faena_platform::ui::csv_time(d, zone);
    let headers = [
        "csv.number",
        "csv.client",
        "csv.status",
        "csv.lines",
        "csv.units",
        "csv.returned_units",
        "csv.created_at",
        "csv.return_reason",
        "csv.returned_at",
    ];
    let mut out = CsvWriter::new(Delimiter::from_query(q.delimiter.as_deref()));
    out.row(headers.iter().map(|h| t(h)));
    let filter = OrderFilter {
        status: q.status,
        client_id: q.client_id,
        from: q.from,
        to: q.to,
        q: q.q,
    };
    let orders = list::all_rows(&request, |mut page| {
        let filter = &filter;
        async move { list_page(state, filter, &mut page, None, zone).await }
    })
    .await?;
    for o in &orders {
        let units: i64 = o.lines.iter().map(|l| i64::from(l.quantity)).sum();
        let returned: i64 = o.lines.iter().map(|l| i64::from(l.returned)).sum();
        let row = [
            o.number.clone(),
            o.client_name.clone().unwrap_or_default(),
            t(&format!("status.{}", o.status.as_str())),
            o.lines.len().to_string(),
            units.to_string(),
            returned.to_string(),
            at(o.created_at),
            o.return_reason.clone().unwrap_or_default(),
            o.returned_at.map(at).unwrap_or_default(),
        ];
        out.row(row);
    }
    Ok(out.into_download("ordenes.csv"))
}

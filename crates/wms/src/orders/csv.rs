//! CSV export of orders: the list's filters, read from the database in
//! pages of 500.

use faena_platform::csv::{CsvWriter, Delimiter};
use faena_platform::http::pagination::PageQuery;
use faena_platform::{AppResult, AppState, Locale};
use serde::Deserialize;

use super::service::search;
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
    /// Searches the order number and the client's name.
    pub q: Option<String>,
    /// `semicolon` (default) or `comma`.
    pub delimiter: Option<String>,
}

pub async fn export(
    state: &AppState,
    locale: Locale,
    q: ExportQuery,
) -> AppResult<axum::response::Response> {
    let t = |k: &str| state.i18n().t(locale, k, &[]);
    let zone = state.time_zone();
    let at = |d: chrono::DateTime<chrono::Utc>| faena_platform::ui::csv_time(d, zone);
    let headers = [
        "csv.number",
        "csv.client",
        "csv.status",
        "csv.lines",
        "csv.units",
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
    let mut paging = PageQuery::first(500);
    loop {
        let page = search(state, &filter, &paging, None).await?;
        for o in &page.items {
            let units: i64 = o.lines.iter().map(|l| i64::from(l.quantity)).sum();
            let row = [
                o.number.clone(),
                o.client_name.clone().unwrap_or_default(),
                t(&format!("status.{}", o.status.as_str())),
                o.lines.len().to_string(),
                units.to_string(),
                at(o.created_at),
                o.return_reason.clone().unwrap_or_default(),
                o.returned_at.map(at).unwrap_or_default(),
            ];
            out.row(row);
        }
        match page.next_cursor {
            Some(c) => paging.cursor = Some(c),
            None => break,
        }
    }
    Ok(out.into_download("ordenes.csv"))
}
